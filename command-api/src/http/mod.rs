//! REST endpoints of the write side, documented by OpenAPI from the code.

mod auth;
mod characters;
mod documents;
mod errors;
mod headers;
mod relationships;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRef};
use studio_auth::{Passwords, Tokens, UserIdDeriver};
use studio_blob_store::BlobStore;
use studio_domain::Role;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::CommandService;

pub use auth::{LoginRequest, RegisterRequest, Registered};
pub use characters::{CharacterWritten, CreateCharacterRequest, UpdateCharacterRequest};
pub use documents::{DocumentAccepted, DocumentWritten, RenameDocumentRequest, media_type_for};
pub use relationships::{MergeRequest, MergeWritten, RelationshipRequest};

/// JSON bodies are small: the largest legitimate one is a character with a
/// full personality profile (32 KiB).
pub const JSON_BODY_LIMIT: usize = 64 * 1024;

/// Everything the write endpoints need.
#[derive(Clone)]
pub struct CommandApi {
    pub service: Arc<CommandService>,
    pub blobs: Arc<dyn BlobStore>,
    pub tokens: Tokens,
    pub passwords: Passwords,
    pub user_ids: UserIdDeriver,
    /// Largest accepted upload, in bytes.
    pub upload_limit: u64,
    /// The role of people who register themselves.
    pub self_service_role: Role,
    /// Whether anyone may register, or only admins may register others.
    pub open_registration: bool,
}

impl FromRef<CommandApi> for Tokens {
    fn from_ref(api: &CommandApi) -> Tokens {
        api.tokens.clone()
    }
}

pub fn router(api: CommandApi) -> OpenApiRouter {
    let upload_limit = usize::try_from(api.upload_limit)
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024);
    let uploads = OpenApiRouter::new()
        .routes(routes!(documents::upload))
        .layer(DefaultBodyLimit::max(upload_limit));
    OpenApiRouter::new()
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(documents::rename, documents::delete))
        .routes(routes!(documents::reprocess))
        .routes(routes!(characters::create))
        .routes(routes!(characters::update, characters::delete))
        .routes(routes!(relationships::declare))
        .routes(routes!(relationships::remove))
        .routes(routes!(relationships::merge))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .merge(uploads)
        .with_state(api)
}
