use std::collections::BTreeMap;

use async_trait::async_trait;
use uuid::Uuid;

use crate::{
    CharacterView, DocumentView, EventView, FeedCursor, Page, PageRequest, ProjectionError,
    UserView, Viewer,
};

/// What the query side may ask of the relational read model. Every method
/// takes the viewer and answers only with what the viewer may see.
#[async_trait]
pub trait ReadModel: Send + Sync + 'static {
    /// The next offset per partition the read model has applied.
    async fn checkpoints(&self) -> Result<BTreeMap<u32, u64>, ProjectionError>;

    async fn user(&self, viewer: &Viewer, id: Uuid) -> Result<Option<UserView>, ProjectionError>;

    async fn document(
        &self,
        viewer: &Viewer,
        id: Uuid,
    ) -> Result<Option<DocumentView>, ProjectionError>;

    async fn documents(
        &self,
        viewer: &Viewer,
        page: &PageRequest,
    ) -> Result<Page<DocumentView>, ProjectionError>;

    async fn character(
        &self,
        viewer: &Viewer,
        id: Uuid,
    ) -> Result<Option<CharacterView>, ProjectionError>;

    async fn characters(
        &self,
        viewer: &Viewer,
        document: Option<Uuid>,
        page: &PageRequest,
    ) -> Result<Page<CharacterView>, ProjectionError>;

    async fn stream_events(
        &self,
        viewer: &Viewer,
        aggregate_id: Uuid,
        page: &PageRequest,
    ) -> Result<Page<EventView>, ProjectionError>;

    async fn feed_after(
        &self,
        viewer: &Viewer,
        cursor: &mut FeedCursor,
        partitions: &[u32],
        limit: usize,
    ) -> Result<Vec<EventView>, ProjectionError>;
}
