//! The query side. It reads only from read models: GraphQL queries and
//! subscriptions at `/graphql`, and the REST reads of `/api/v1`. Every
//! answer is filtered by the caller; a query may carry a read-your-writes
//! position token and is then answered only once the read model has
//! reached it.

mod consistency;
pub mod graphql;
pub mod rest;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use studio_auth::{Principal, Tokens};
use studio_blob_store::BlobStore;
use studio_privacy::PersonalData;
use studio_projections::{EventView, ProgressFeed, ReadModel, Viewer};

pub use consistency::POSITION_HEADER;

/// Everything the query side needs.
#[derive(Clone)]
pub struct QueryApi {
    pub read: Arc<dyn ReadModel>,
    /// The character graph (embedded or Neo4j).
    pub graph: Arc<dyn studio_projections::graph::GraphStore>,
    /// The log, to tell how far behind it the read model is.
    pub log: Arc<dyn studio_event_log::EventLog>,
    /// Opens the personal data the event feed keeps sealed.
    pub personal: Arc<PersonalData>,
    pub progress: Arc<dyn ProgressFeed>,
    pub blobs: Arc<dyn BlobStore>,
    /// Semantic search, unless the vectors are off.
    pub vectors: Option<Vectors>,
    pub tokens: Tokens,
    /// How long a query waits for the read model to reach its position.
    pub consistency_wait: Duration,
    /// Largest raw text `GET /documents/{id}/text` serves.
    pub text_limit: u64,
    /// The administrative commands GraphQL offers admins, where this
    /// process also runs the command side.
    pub administration: Option<Arc<dyn Administration>>,
}

/// The vector read model, with the embedder that made its vectors (and
/// embeds the queries, so both are of one model).
#[derive(Clone)]
pub struct Vectors {
    pub store: Arc<dyn studio_projections::vectors::VectorStore>,
    pub embedder: Arc<dyn studio_embedder::Embedder>,
}

/// Commands an admin may give through GraphQL.
#[async_trait::async_trait]
pub trait Administration: Send + Sync + 'static {
    /// Forgets a person; `delete_work` overrides the configured policy.
    async fn forget_user(
        &self,
        admin: Principal,
        user: uuid::Uuid,
        delete_work: Option<bool>,
    ) -> Result<ForgetSummary, AdministrationError>;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForgetSummary {
    pub key_destroyed: bool,
    pub documents_deleted: u64,
    pub characters_deleted: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum AdministrationError {
    #[error("no such user")]
    NotFound,
    #[error("{0}")]
    Failed(String),
}

impl FromRef<QueryApi> for Tokens {
    fn from_ref(api: &QueryApi) -> Tokens {
        api.tokens.clone()
    }
}

/// An event as the viewer may read it: personal data opened, or erased.
pub(crate) async fn opened(
    api: &QueryApi,
    mut event: EventView,
) -> Result<EventView, studio_privacy::PrivacyError> {
    event.data = api
        .personal
        .unseal(event.tenant, &event.event_type, &event.data)
        .await?;
    Ok(event)
}

pub(crate) fn viewer(principal: &Principal) -> Viewer {
    Viewer {
        user_id: principal.user_id.into(),
        admin: principal.is_admin(),
    }
}
