//! The REST reads of documents and characters (the write endpoints live in
//! the command API). Lists are keyset-paginated with opaque cursors.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use studio_blob_store::{BlobError, BlobRef};
use studio_http::{ApiError, ApiPath, Caller, ErrorBody};
use studio_projections::{
    CharacterView, DocumentView, Keyset, Page, PageRequest, ProcessingView, ProjectionError,
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::consistency::{token_from, wait_for};
use crate::{QueryApi, viewer};

pub fn router(api: QueryApi) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(list_documents))
        .routes(routes!(get_document))
        .routes(routes!(get_document_text))
        .routes(routes!(get_document_status))
        .routes(routes!(list_characters))
        .routes(routes!(get_character))
        .with_state(api)
}

fn read_error(e: ProjectionError) -> ApiError {
    ApiError::internal("reading the read model", &e)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// At most 100; 20 when absent.
    pub first: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
    /// A read-your-writes token from a command (or the `X-Studio-Position` header).
    pub position: Option<String>,
    /// Characters only: those of this document.
    pub document_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReadParams {
    pub position: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentBody {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub title: String,
    pub original_filename: String,
    pub media_type: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub uploaded_at: String,
    pub updated_at: String,
    pub version: u64,
    pub processing: ProcessingBody,
    /// Once the text is extracted.
    pub text: Option<TextBody>,
    /// Once the document is analysed.
    pub statistics: Option<StatisticsBody>,
}

/// Where processing of a document stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProcessingBody {
    /// `processing`, `completed` or `failed`.
    pub status: String,
    /// The last stage done: `uploaded`, `text_extracted`, `analysed`,
    /// `characters_detected`, `interactions_recorded` or `completed`.
    pub stage: String,
    pub percent: u8,
    pub failure: Option<FailureBody>,
    pub completed_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FailureBody {
    /// The step that failed, e.g. `extract_text`.
    pub step: String,
    pub reason: String,
    /// Whether restarting processing may succeed.
    pub retryable: bool,
    pub attempts: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TextBody {
    /// Unicode scalars; every offset counts these.
    pub chars: u64,
    /// `plain_text`, `markdown`, `html`, `epub`, `pdf` or `docx`.
    pub format: String,
    pub encoding: Option<String>,
    pub boilerplate_removed: bool,
    pub pages: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatisticsBody {
    pub words: u64,
    pub sentences: u64,
    pub paragraphs: u64,
    pub chapters: u64,
    pub flesch_reading_ease: f64,
    pub flesch_kincaid_grade: f64,
    pub dialogue_share: f64,
    pub analyser: String,
}

impl From<ProcessingView> for ProcessingBody {
    fn from(p: ProcessingView) -> Self {
        Self {
            status: p.status,
            stage: p.stage,
            percent: p.percent,
            failure: p.failure.map(|f| FailureBody {
                step: f.step,
                reason: f.reason,
                retryable: f.retryable,
                attempts: f.attempts,
            }),
            completed_at: p.completed_at,
        }
    }
}

impl From<DocumentView> for DocumentBody {
    fn from(d: DocumentView) -> Self {
        Self {
            id: d.document_id,
            owner_id: d.owner_id,
            title: d.title,
            original_filename: d.original_filename,
            media_type: d.media_type,
            size_bytes: d.size_bytes,
            sha256: d.sha256,
            uploaded_at: d.uploaded_at,
            updated_at: d.updated_at,
            version: d.version,
            processing: d.processing.into(),
            text: d.text.map(|t| TextBody {
                chars: t.chars,
                format: t.format,
                encoding: t.encoding,
                boilerplate_removed: t.boilerplate_removed,
                pages: t.pages,
            }),
            statistics: d.statistics.map(|s| StatisticsBody {
                words: s.words,
                sentences: s.sentences,
                paragraphs: s.paragraphs,
                chapters: s.chapters,
                flesch_reading_ease: s.flesch_reading_ease,
                flesch_kincaid_grade: s.flesch_kincaid_grade,
                dialogue_share: s.dialogue_share,
                analyser: s.analyser,
            }),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CharacterBody {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    pub aliases: Vec<String>,
    #[schema(value_type = Object)]
    pub personality_profile: serde_json::Value,
    pub source_document_id: Option<Uuid>,
    /// `manual`, `detected` or `imported`.
    pub origin: String,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

impl From<CharacterView> for CharacterBody {
    fn from(c: CharacterView) -> Self {
        Self {
            id: c.character_id,
            owner_id: c.owner_id,
            name: c.name,
            aliases: c.aliases,
            personality_profile: c.personality_profile,
            source_document_id: c.source_document_id,
            origin: c.origin,
            created_at: c.created_at,
            updated_at: c.updated_at,
            version: c.version,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListBody<T> {
    pub items: Vec<T>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn list<V, B: From<V>>(page: Page<V>) -> ListBody<B> {
    let next_cursor = if page.has_next {
        page.items.last().map(|(k, _)| k.encode())
    } else {
        None
    };
    ListBody {
        items: page.items.into_iter().map(|(_, v)| B::from(v)).collect(),
        next_cursor,
    }
}

fn page_request(params: &ListParams) -> Result<PageRequest, ApiError> {
    let after = params
        .after
        .as_deref()
        .map(|c| {
            Keyset::decode(c).ok_or_else(|| {
                ApiError::bad_request("invalid_cursor", "not a cursor this API issued")
            })
        })
        .transpose()?;
    Ok(PageRequest::new(params.first, after))
}

fn with_etag<T: Serialize>(version: u64, body: T) -> Response {
    let mut response = Json(body).into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

fn query_params<T>(
    params: Result<Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, ApiError> {
    params
        .map(|Query(p)| p)
        .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))
}

/// Lists the caller's documents (all of them, for admins), oldest first.
#[utoipa::path(
    get, path = "/api/v1/documents", tag = "documents", params(ListParams),
    responses((status = 200, body = ListBody<DocumentBody>), (status = 401, body = ErrorBody), (status = 504, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn list_documents(
    State(api): State<QueryApi>,
    Caller(caller): Caller,
    headers: HeaderMap,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ListBody<DocumentBody>>, ApiError> {
    let params = query_params(params)?;
    wait_for(
        &api,
        token_from(&headers, params.position.as_deref())?.as_ref(),
    )
    .await?;
    let page = api
        .read
        .documents(&viewer(&caller), &page_request(&params)?)
        .await
        .map_err(read_error)?;
    Ok(Json(list(page)))
}

/// A document's description; its `ETag` is its version, for `If-Match`.
#[utoipa::path(
    get, path = "/api/v1/documents/{id}", tag = "documents",
    params(("id" = Uuid, Path), ReadParams),
    responses((status = 200, body = DocumentBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn get_document(
    State(api): State<QueryApi>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    params: Result<Query<ReadParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query_params(params)?;
    wait_for(
        &api,
        token_from(&headers, params.position.as_deref())?.as_ref(),
    )
    .await?;
    let document = api
        .read
        .document(&viewer(&caller), id)
        .await
        .map_err(read_error)?;
    let document = document.ok_or_else(|| ApiError::not_found("no such document"))?;
    Ok(with_etag(document.version, DocumentBody::from(document)))
}

/// Where processing of a document stands: stage, percent, failure.
#[utoipa::path(
    get, path = "/api/v1/documents/{id}/status", tag = "documents",
    params(("id" = Uuid, Path), ReadParams),
    responses((status = 200, body = ProcessingBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn get_document_status(
    State(api): State<QueryApi>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    params: Result<Query<ReadParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ProcessingBody>, ApiError> {
    let params = query_params(params)?;
    wait_for(
        &api,
        token_from(&headers, params.position.as_deref())?.as_ref(),
    )
    .await?;
    let document = api
        .read
        .document(&viewer(&caller), id)
        .await
        .map_err(read_error)?;
    let document = document.ok_or_else(|| ApiError::not_found("no such document"))?;
    Ok(Json(document.processing.into()))
}

fn is_text(media_type: &str) -> bool {
    matches!(media_type, "text/plain" | "text/markdown" | "text/html")
}

/// The document's clean text, once extracted (Project Gutenberg
/// boilerplate removed; every offset the API reports counts its Unicode
/// scalars). Before that, a plain-text upload is served as it came.
#[utoipa::path(
    get, path = "/api/v1/documents/{id}/text", tag = "documents",
    params(("id" = Uuid, Path), ReadParams),
    responses(
        (status = 200, content_type = "text/plain; charset=utf-8", body = String),
        (status = 404, body = ErrorBody),
        (status = 409, description = "No text is available for this document yet", body = ErrorBody),
        (status = 413, description = "The text is larger than this endpoint serves", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_document_text(
    State(api): State<QueryApi>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    params: Result<Query<ReadParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query_params(params)?;
    wait_for(
        &api,
        token_from(&headers, params.position.as_deref())?.as_ref(),
    )
    .await?;
    let document = api
        .read
        .document(&viewer(&caller), id)
        .await
        .map_err(read_error)?;
    let document = document.ok_or_else(|| ApiError::not_found("no such document"))?;
    let not_available = || {
        ApiError::new(
            StatusCode::CONFLICT,
            "text_not_available",
            "this document's text has not been extracted",
        )
    };
    let source = match &document.text {
        Some(text) => &text.text_ref,
        None if is_text(&document.media_type) => &document.blob_ref,
        None => return Err(not_available()),
    };
    let blob =
        BlobRef::parse(source).map_err(|e| ApiError::internal("reading the blob reference", &e))?;
    let bytes = api
        .blobs
        .get(&blob, api.text_limit)
        .await
        .map_err(|e| match e {
            BlobError::TooLarge { limit } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "text_too_large",
                format!("the text is larger than the {limit} bytes this endpoint serves"),
            ),
            other => ApiError::internal("reading the document", &other),
        })?;
    let text = String::from_utf8(bytes.to_vec()).map_err(|_| not_available())?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

/// Lists the caller's characters (all, for admins), oldest first.
#[utoipa::path(
    get, path = "/api/v1/characters", tag = "characters", params(ListParams),
    responses((status = 200, body = ListBody<CharacterBody>), (status = 401, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn list_characters(
    State(api): State<QueryApi>,
    Caller(caller): Caller,
    headers: HeaderMap,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ListBody<CharacterBody>>, ApiError> {
    let params = query_params(params)?;
    wait_for(
        &api,
        token_from(&headers, params.position.as_deref())?.as_ref(),
    )
    .await?;
    let page = api
        .read
        .characters(
            &viewer(&caller),
            params.document_id,
            &page_request(&params)?,
        )
        .await
        .map_err(read_error)?;
    Ok(Json(list(page)))
}

/// A character; its `ETag` is its version, for `If-Match`.
#[utoipa::path(
    get, path = "/api/v1/characters/{id}", tag = "characters",
    params(("id" = Uuid, Path), ReadParams),
    responses((status = 200, body = CharacterBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn get_character(
    State(api): State<QueryApi>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    params: Result<Query<ReadParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query_params(params)?;
    wait_for(
        &api,
        token_from(&headers, params.position.as_deref())?.as_ref(),
    )
    .await?;
    let character = api
        .read
        .character(&viewer(&caller), id)
        .await
        .map_err(read_error)?;
    let character = character.ok_or_else(|| ApiError::not_found("no such character"))?;
    Ok(with_etag(character.version, CharacterBody::from(character)))
}
