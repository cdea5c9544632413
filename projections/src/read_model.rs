use std::collections::BTreeMap;

use async_trait::async_trait;
use uuid::Uuid;

use crate::{
    CastMemberView, ChapterView, CharacterView, DocumentView, EventView, FeedCursor,
    InteractionView, MentionView, NamedCharacter, Page, PageRequest, ProjectionError, TermView,
    UserView, Viewer,
};

/// What the query side may ask of the relational read model. Every method
/// takes the viewer and answers only with what the viewer may see.
#[async_trait]
pub trait ReadModel: Send + Sync + 'static {
    /// The next offset per partition the read model has applied.
    async fn checkpoints(&self) -> Result<BTreeMap<u32, u64>, ProjectionError>;

    /// How many events wait in the dead-letter table (parked, or held back
    /// behind a parked one).
    async fn open_dead_letters(&self) -> Result<u64, ProjectionError>;

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

    /// Documents still processing, or failed, oldest first.
    async fn jobs(
        &self,
        viewer: &Viewer,
        page: &PageRequest,
    ) -> Result<Page<DocumentView>, ProjectionError>;

    /// The chapters of a document the viewer may see, in order.
    async fn chapters(
        &self,
        viewer: &Viewer,
        document: Uuid,
    ) -> Result<Vec<ChapterView>, ProjectionError>;

    /// The words a document uses far more than English prose does.
    async fn distinctive_terms(
        &self,
        viewer: &Viewer,
        document: Uuid,
    ) -> Result<Vec<TermView>, ProjectionError>;

    /// The characters of a document, most mentioned first.
    async fn cast(
        &self,
        viewer: &Viewer,
        document: Uuid,
    ) -> Result<Vec<CastMemberView>, ProjectionError>;

    /// The documents a character appears in, most mentioned first.
    async fn appearances(
        &self,
        viewer: &Viewer,
        character: Uuid,
    ) -> Result<Vec<CastMemberView>, ProjectionError>;

    /// Who is mentioned near whom in a document, heaviest first.
    async fn interactions(
        &self,
        viewer: &Viewer,
        document: Uuid,
        min_weight: u64,
        limit: usize,
    ) -> Result<Vec<InteractionView>, ProjectionError>;

    /// Mentions in a document, in text order, optionally of one character.
    async fn mentions(
        &self,
        viewer: &Viewer,
        document: Uuid,
        character: Option<Uuid>,
        page: &PageRequest,
    ) -> Result<Page<MentionView>, ProjectionError>;

    /// The owner's characters bearing any of `names` as name or alias
    /// (compared as `rules::name_key` does), with the key each matched:
    /// how the pipeline joins what it detects to what the owner has.
    async fn characters_named(
        &self,
        owner: Uuid,
        names: &[String],
    ) -> Result<Vec<NamedCharacter>, ProjectionError>;

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
