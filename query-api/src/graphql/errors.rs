use async_graphql::{Error, ErrorExtensions};
use studio_projections::ProjectionError;

pub fn not_found(what: &str) -> Error {
    Error::new(format!("no such {what}")).extend_with(|_, e| e.set("code", "NOT_FOUND"))
}

pub fn bad_input(message: impl Into<String>) -> Error {
    Error::new(message.into()).extend_with(|_, e| e.set("code", "BAD_USER_INPUT"))
}

pub fn unauthenticated(message: impl Into<String>) -> Error {
    Error::new(message.into()).extend_with(|_, e| e.set("code", "UNAUTHENTICATED"))
}

pub fn read_failed(e: ProjectionError) -> Error {
    tracing::error!(error = %e, "reading the read model failed");
    Error::new("reading failed; the details are in the server log")
        .extend_with(|_, e| e.set("code", "INTERNAL"))
}

pub fn unsealing_failed(e: studio_privacy::PrivacyError) -> Error {
    tracing::error!(error = %e, "opening personal data failed");
    Error::new("reading failed; the details are in the server log")
        .extend_with(|_, e| e.set("code", "INTERNAL"))
}
