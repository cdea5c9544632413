//! What processing found in a document, as GraphQL serves it: its stage,
//! statistics, chapters, cast, interactions and mentions.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Object, Result, SimpleObject};
use studio_projections::{
    CastMemberView, ChapterView, InteractionView, MentionView, ProcessingView, StatisticsView,
    TermView, TextView, Viewer,
};
use uuid::Uuid;

use super::errors::read_failed;
use super::types::{Character, Document, connection, page_request};
use crate::QueryApi;

/// Where processing of a document stands.
#[derive(SimpleObject, Clone)]
pub struct Processing {
    /// `processing`, `completed` or `failed`.
    pub status: String,
    /// The last stage done: `uploaded`, `text_extracted`, `analysed`,
    /// `characters_detected`, `interactions_recorded` or `completed`.
    pub stage: String,
    pub percent: u8,
    pub failure: Option<Failure>,
    pub completed_at: Option<String>,
}

#[derive(SimpleObject, Clone, PartialEq)]
pub struct Failure {
    /// The step that failed: `extract_text`, `analyse`, ...
    pub step: String,
    pub reason: String,
    /// Whether restarting processing may succeed.
    pub retryable: bool,
    pub attempts: u32,
}

impl From<ProcessingView> for Processing {
    fn from(p: ProcessingView) -> Self {
        Self {
            status: p.status,
            stage: p.stage,
            percent: p.percent,
            failure: p.failure.map(|f| Failure {
                step: f.step,
                reason: f.reason,
                retryable: f.retryable,
                attempts: f.attempts,
            }),
            completed_at: p.completed_at,
        }
    }
}

/// How the text was read.
#[derive(SimpleObject)]
pub struct TextInfo {
    /// Unicode scalars; every offset counts these.
    pub chars: u64,
    /// `plain_text`, `markdown`, `html`, `epub`, `pdf` or `docx`.
    pub format: String,
    pub encoding: Option<String>,
    pub boilerplate_removed: bool,
    pub pages: Option<u32>,
}

impl From<TextView> for TextInfo {
    fn from(t: TextView) -> Self {
        Self {
            chars: t.chars,
            format: t.format,
            encoding: t.encoding,
            boilerplate_removed: t.boilerplate_removed,
            pages: t.pages,
        }
    }
}

pub struct Statistics {
    pub document_id: Uuid,
    pub view: StatisticsView,
}

#[Object]
impl Statistics {
    async fn words(&self) -> u64 {
        self.view.words
    }
    async fn sentences(&self) -> u64 {
        self.view.sentences
    }
    async fn paragraphs(&self) -> u64 {
        self.view.paragraphs
    }
    async fn chapters(&self) -> u64 {
        self.view.chapters
    }
    async fn flesch_reading_ease(&self) -> f64 {
        self.view.flesch_reading_ease
    }
    async fn flesch_kincaid_grade(&self) -> f64 {
        self.view.flesch_kincaid_grade
    }
    /// Share of words inside quotation marks, 0 to 1.
    async fn dialogue_share(&self) -> f64 {
        self.view.dialogue_share
    }
    /// The analyser and its version.
    async fn analyser(&self) -> &str {
        &self.view.analyser
    }
    /// Words this text uses far more than English prose does, most
    /// distinctive first, with their log-likelihood scores.
    #[graphql(complexity = "25 * child_complexity")]
    async fn distinctive_terms(&self, ctx: &Context<'_>) -> Result<Vec<Term>> {
        let (api, viewer) = context(ctx)?;
        let terms = api
            .read
            .distinctive_terms(viewer, self.document_id)
            .await
            .map_err(read_failed)?;
        Ok(terms.into_iter().map(Term::from).collect())
    }
}

#[derive(SimpleObject)]
pub struct Term {
    pub term: String,
    pub count: u64,
    pub score: f64,
}

impl From<TermView> for Term {
    fn from(t: TermView) -> Self {
        Self {
            term: t.term,
            count: t.count,
            score: t.score,
        }
    }
}

/// A chapter: its heading and where it lies in the text.
#[derive(SimpleObject)]
pub struct Chapter {
    pub ordinal: u64,
    pub title: String,
    /// Character offsets into the extracted text, `end` exclusive.
    pub start: u64,
    pub end: u64,
}

impl From<ChapterView> for Chapter {
    fn from(c: ChapterView) -> Self {
        Self {
            ordinal: c.ordinal,
            title: c.title,
            start: c.start,
            end: c.end,
        }
    }
}

/// A character as it appears in one document.
pub struct CastMember(pub CastMemberView);

#[Object]
impl CastMember {
    async fn character_id(&self) -> ID {
        ID(self.0.character_id.to_string())
    }
    async fn character(&self, ctx: &Context<'_>) -> Result<Option<Character>> {
        let (api, viewer) = context(ctx)?;
        let character = api
            .read
            .character(viewer, self.0.character_id)
            .await
            .map_err(read_failed)?;
        Ok(character.map(Character))
    }
    async fn document_id(&self) -> ID {
        ID(self.0.document_id.to_string())
    }
    async fn document(&self, ctx: &Context<'_>) -> Result<Option<Document>> {
        let (api, viewer) = context(ctx)?;
        let document = api
            .read
            .document(viewer, self.0.document_id)
            .await
            .map_err(read_failed)?;
        Ok(document.map(Document))
    }
    /// The name the analysis found.
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn mentions(&self) -> u64 {
        self.0.mentions
    }
    /// Character offset of the first mention.
    async fn first_mention(&self) -> u64 {
        self.0.first_mention
    }
    /// Joined to a character the owner already had, rather than detected.
    async fn linked(&self) -> bool {
        self.0.linked
    }
}

/// Two characters mentioned near each other: the weight is the number of
/// sentences in which one is named with the other in the same paragraph
/// or within the two sentences before.
pub struct Interaction(pub InteractionView);

#[Object]
impl Interaction {
    async fn a_id(&self) -> ID {
        ID(self.0.a.to_string())
    }
    async fn b_id(&self) -> ID {
        ID(self.0.b.to_string())
    }
    async fn a(&self, ctx: &Context<'_>) -> Result<Option<Character>> {
        character(ctx, self.0.a).await
    }
    async fn b(&self, ctx: &Context<'_>) -> Result<Option<Character>> {
        character(ctx, self.0.b).await
    }
    async fn weight(&self) -> u64 {
        self.0.weight
    }
}

/// Where a character is named in the extracted text.
#[derive(SimpleObject)]
pub struct Mention {
    pub character_id: ID,
    /// Character offsets, `end` exclusive.
    pub start: u64,
    pub end: u64,
}

impl From<MentionView> for Mention {
    fn from(m: MentionView) -> Self {
        Self {
            character_id: ID(m.character_id.to_string()),
            start: m.start,
            end: m.end,
        }
    }
}

fn context<'a>(ctx: &'a Context<'_>) -> Result<(&'a QueryApi, &'a Viewer)> {
    Ok((ctx.data::<QueryApi>()?, ctx.data::<Viewer>()?))
}

async fn character(ctx: &Context<'_>, id: Uuid) -> Result<Option<Character>> {
    let (api, viewer) = context(ctx)?;
    let character = api.read.character(viewer, id).await.map_err(read_failed)?;
    Ok(character.map(Character))
}

pub async fn chapters(ctx: &Context<'_>, document: Uuid) -> Result<Vec<Chapter>> {
    let (api, viewer) = context(ctx)?;
    let chapters = api
        .read
        .chapters(viewer, document)
        .await
        .map_err(read_failed)?;
    Ok(chapters.into_iter().map(Chapter::from).collect())
}

pub async fn cast(ctx: &Context<'_>, document: Uuid) -> Result<Vec<CastMember>> {
    let (api, viewer) = context(ctx)?;
    let cast = api.read.cast(viewer, document).await.map_err(read_failed)?;
    Ok(cast.into_iter().map(CastMember).collect())
}

pub async fn appearances(ctx: &Context<'_>, character: Uuid) -> Result<Vec<CastMember>> {
    let (api, viewer) = context(ctx)?;
    let found = api
        .read
        .appearances(viewer, character)
        .await
        .map_err(read_failed)?;
    Ok(found.into_iter().map(CastMember).collect())
}

pub async fn interactions(
    ctx: &Context<'_>,
    document: Uuid,
    min_weight: u64,
    first: usize,
) -> Result<Vec<Interaction>> {
    let (api, viewer) = context(ctx)?;
    let found = api
        .read
        .interactions(viewer, document, min_weight, first)
        .await
        .map_err(read_failed)?;
    Ok(found.into_iter().map(Interaction).collect())
}

pub async fn mentions(
    ctx: &Context<'_>,
    document: Uuid,
    character: Option<Uuid>,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Connection<String, Mention>> {
    let (api, viewer) = context(ctx)?;
    let had_cursor = after.is_some();
    let page = api
        .read
        .mentions(viewer, document, character, &page_request(first, after)?)
        .await
        .map_err(read_failed)?;
    Ok(connection(page, had_cursor))
}
