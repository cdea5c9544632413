use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Json, Object, Result, SimpleObject};
use studio_projections::{
    CharacterView, DocumentView, EventView, Keyset, Page, PageRequest, UserView, Viewer,
};

use super::analysis::{
    self, CastMember, Chapter, Interaction, Mention, Processing, Statistics, TextInfo,
};
use super::errors::{bad_input, read_failed};
use crate::QueryApi;

pub fn page_request(first: Option<i32>, after: Option<String>) -> Result<PageRequest> {
    let first = match first {
        Some(n) if n < 0 => return Err(bad_input("first must not be negative")),
        Some(n) => Some(n as usize),
        None => None,
    };
    let after = after
        .map(|c| {
            Keyset::decode(&c).ok_or_else(|| bad_input("after is not a cursor this API issued"))
        })
        .transpose()?;
    Ok(PageRequest::new(first, after))
}

pub fn connection<V, N: From<V> + async_graphql::OutputType>(
    page: Page<V>,
    had_cursor: bool,
) -> Connection<String, N> {
    let mut connection = Connection::new(had_cursor, page.has_next);
    connection.edges.extend(
        page.items
            .into_iter()
            .map(|(keyset, view)| Edge::new(keyset.encode(), N::from(view))),
    );
    connection
}

pub struct User(pub UserView);

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.user_id.to_string())
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn display_name(&self) -> Option<&str> {
        self.0.display_name.as_deref()
    }
    /// `admin`, `editor` or `viewer`.
    async fn role(&self) -> &str {
        &self.0.role
    }
    async fn registered_at(&self) -> &str {
        &self.0.registered_at
    }
}

pub struct Document(pub DocumentView);

impl From<DocumentView> for Document {
    fn from(v: DocumentView) -> Self {
        Self(v)
    }
}

#[Object]
impl Document {
    async fn id(&self) -> ID {
        ID(self.0.document_id.to_string())
    }
    async fn owner_id(&self) -> ID {
        ID(self.0.owner_id.to_string())
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn original_filename(&self) -> &str {
        &self.0.original_filename
    }
    async fn media_type(&self) -> &str {
        &self.0.media_type
    }
    async fn size_bytes(&self) -> u64 {
        self.0.size_bytes
    }
    async fn sha256(&self) -> &str {
        &self.0.sha256
    }
    async fn uploaded_at(&self) -> &str {
        &self.0.uploaded_at
    }
    async fn updated_at(&self) -> &str {
        &self.0.updated_at
    }
    /// The aggregate version: send it as `If-Match` to change the document
    /// only if nobody else did meanwhile.
    async fn version(&self) -> u64 {
        self.0.version
    }

    /// Where processing stands: stage, percent, failure.
    async fn processing(&self) -> Processing {
        self.0.processing.clone().into()
    }

    /// How the text was read, once it is.
    async fn text(&self) -> Option<TextInfo> {
        self.0.text.clone().map(TextInfo::from)
    }

    /// Counts and readability, once the document is analysed.
    async fn statistics(&self) -> Option<Statistics> {
        self.0.statistics.clone().map(|view| Statistics {
            document_id: self.0.document_id,
            view,
        })
    }

    /// The chapters, in order.
    #[graphql(complexity = "100 * child_complexity")]
    async fn chapters(&self, ctx: &Context<'_>) -> Result<Vec<Chapter>> {
        analysis::chapters(ctx, self.0.document_id).await
    }

    /// The characters the document names, most mentioned first.
    #[graphql(complexity = "100 * child_complexity")]
    async fn cast(&self, ctx: &Context<'_>) -> Result<Vec<CastMember>> {
        analysis::cast(ctx, self.0.document_id).await
    }

    /// Who is mentioned near whom, heaviest first.
    #[graphql(complexity = "first.unwrap_or(100).clamp(1, 2000) as usize * child_complexity / 10")]
    async fn interactions(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 1)] min_weight: u64,
        first: Option<i32>,
    ) -> Result<Vec<Interaction>> {
        let first = first.unwrap_or(100).clamp(1, 2000) as usize;
        analysis::interactions(ctx, self.0.document_id, min_weight, first).await
    }

    /// Where characters are named, in text order; `characterId` keeps
    /// one character's.
    #[graphql(complexity = "first.unwrap_or(20).clamp(1, 100) as usize * child_complexity")]
    async fn mentions(
        &self,
        ctx: &Context<'_>,
        character_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Mention>> {
        let character = character_id
            .map(|c| super::query::parse_id(&c, "characterId"))
            .transpose()?;
        analysis::mentions(ctx, self.0.document_id, character, first, after).await
    }

    /// Characters whose source is this document.
    #[graphql(complexity = "first.unwrap_or(20).clamp(1, 100) as usize * child_complexity")]
    async fn characters(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Character>> {
        let api = ctx.data::<QueryApi>()?;
        let viewer = ctx.data::<Viewer>()?;
        let had_cursor = after.is_some();
        let page = api
            .read
            .characters(
                viewer,
                Some(self.0.document_id),
                &page_request(first, after)?,
            )
            .await
            .map_err(read_failed)?;
        Ok(connection(page, had_cursor))
    }
}

pub struct Character(pub CharacterView);

impl From<CharacterView> for Character {
    fn from(v: CharacterView) -> Self {
        Self(v)
    }
}

#[Object]
impl Character {
    async fn id(&self) -> ID {
        ID(self.0.character_id.to_string())
    }
    async fn owner_id(&self) -> ID {
        ID(self.0.owner_id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn aliases(&self) -> &[String] {
        &self.0.aliases
    }
    async fn personality_profile(&self) -> Json<serde_json::Value> {
        Json(self.0.personality_profile.clone())
    }
    async fn source_document_id(&self) -> Option<ID> {
        self.0.source_document_id.map(|d| ID(d.to_string()))
    }
    async fn source_document(&self, ctx: &Context<'_>) -> Result<Option<Document>> {
        let Some(id) = self.0.source_document_id else {
            return Ok(None);
        };
        let api = ctx.data::<QueryApi>()?;
        let viewer = ctx.data::<Viewer>()?;
        let document = api.read.document(viewer, id).await.map_err(read_failed)?;
        Ok(document.map(Document))
    }
    /// `manual`, `detected` (by the analysis pipeline) or `imported`.
    async fn origin(&self) -> &str {
        &self.0.origin
    }
    async fn created_at(&self) -> &str {
        &self.0.created_at
    }
    async fn updated_at(&self) -> &str {
        &self.0.updated_at
    }
    async fn version(&self) -> u64 {
        self.0.version
    }
    /// The documents this character appears in, with its mentions in each.
    #[graphql(complexity = "20 * child_complexity")]
    async fn appearances(&self, ctx: &Context<'_>) -> Result<Vec<CastMember>> {
        analysis::appearances(ctx, self.0.character_id).await
    }
}

/// An event, as the log recorded it.
#[derive(SimpleObject)]
pub struct Event {
    pub id: ID,
    /// Versioned, e.g. `studio.document.uploaded.v1`.
    #[graphql(name = "type")]
    pub event_type: String,
    pub aggregate_id: ID,
    pub aggregate_type: String,
    pub sequence: u64,
    pub time: String,
    pub actor: String,
    pub data: Json<serde_json::Value>,
    /// `partition:offset` in the log; also a read-your-writes token.
    pub position: String,
}

impl From<EventView> for Event {
    fn from(e: EventView) -> Self {
        Self {
            id: ID(e.event_id.to_string()),
            event_type: e.event_type,
            aggregate_id: ID(e.aggregate_id.to_string()),
            aggregate_type: e.aggregate_type,
            sequence: e.sequence,
            time: e.time,
            actor: e.actor,
            data: Json(e.data),
            position: format!("{}:{}", e.partition, e.offset),
        }
    }
}
