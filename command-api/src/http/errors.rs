use axum::http::StatusCode;
use studio_domain::DomainError;
use studio_event_log::LogError;
use studio_http::ApiError;
use studio_privacy::PrivacyError;

use crate::CommandError;

/// How a command's failure reads to an HTTP client. `pinned` is whether
/// the client sent `If-Match`: a stale version is then a failed
/// precondition rather than a conflict.
pub fn command_error(error: CommandError, pinned: bool) -> ApiError {
    match error {
        CommandError::Domain(e) => domain_error(e),
        CommandError::Conflict { expected, actual } if pinned => ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            format!("the resource is at version {actual}, not {expected}; read it again"),
        ),
        CommandError::Conflict { .. } => ApiError::new(
            StatusCode::CONFLICT,
            "version_conflict",
            "the resource kept changing while this request was decided; retry",
        ),
        CommandError::Undecodable { .. } => ApiError::internal("reading the event log", &error),
        CommandError::Privacy(PrivacyError::Forgotten(_)) => ApiError::new(
            StatusCode::GONE,
            "forgotten",
            "this account was forgotten at its owner's request",
        ),
        CommandError::Privacy(e) => ApiError::internal("sealing personal data", &e),
        CommandError::Log(e) => log_error(e),
    }
}

fn domain_error(error: DomainError) -> ApiError {
    let message = error.to_string();
    match error {
        DomainError::NotFound(_) => ApiError::not_found(message),
        DomainError::Deleted(_) => ApiError::new(StatusCode::GONE, "deleted", message),
        DomainError::AlreadyExists(_) => {
            ApiError::new(StatusCode::CONFLICT, "already_exists", message)
        }
        DomainError::Forbidden(_) => ApiError::forbidden(message),
        DomainError::Invalid { .. } => ApiError::invalid(message),
        DomainError::NoSuchRelationship { .. } => ApiError::not_found(message),
        DomainError::Merged(_) => ApiError::new(StatusCode::GONE, "merged", message),
        DomainError::DuplicateAlias(_) => {
            ApiError::new(StatusCode::CONFLICT, "duplicate_alias", message)
        }
        DomainError::CorruptHistory(_) => ApiError::internal("folding an aggregate", &message),
    }
}

fn log_error(error: LogError) -> ApiError {
    match error {
        LogError::CommandIdReused(_) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was already used for another resource",
        ),
        e if e.is_retryable() => {
            tracing::warn!(error = %e, "event log unavailable");
            ApiError::unavailable("the event log is unavailable; retry shortly")
        }
        e => ApiError::internal("appending to the event log", &e),
    }
}
