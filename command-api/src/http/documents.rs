use axum::Json;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode, header};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use studio_blob_store::{BlobError, StoredBlob};
use studio_domain::document::{DocumentAggregate, DocumentCommand, UploadDocument};
use studio_domain::{DocumentId, rules};
use studio_http::{ApiError, ApiJson, ApiPath, Caller, ErrorBody};
use utoipa::ToSchema;
use uuid::Uuid;

use super::CommandApi;
use super::errors::command_error;
use super::headers::{command_meta, created_id};

/// The formats the platform reads, by file extension.
const MEDIA_TYPES: &[(&str, &str)] = &[
    ("txt", "text/plain"),
    ("text", "text/plain"),
    ("md", "text/markdown"),
    ("markdown", "text/markdown"),
    ("html", "text/html"),
    ("htm", "text/html"),
    ("xhtml", "application/xhtml+xml"),
    ("epub", "application/epub+zip"),
    ("pdf", "application/pdf"),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
];

/// The media type of an upload: from its file extension, else from the
/// declared type when that is one we read; `None` for anything else.
pub fn media_type_for(filename: &str, declared: Option<&str>) -> Option<&'static str> {
    let extension = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase());
    let by_extension = extension
        .as_deref()
        .and_then(|e| MEDIA_TYPES.iter().find(|(ext, _)| *ext == e))
        .map(|(_, t)| *t);
    by_extension.or_else(|| {
        let declared = declared?.split(';').next()?.trim().to_ascii_lowercase();
        MEDIA_TYPES.iter().map(|(_, t)| *t).find(|t| *t == declared)
    })
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DocumentAccepted {
    pub document_id: Uuid,
    /// Read-your-writes token.
    pub position: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DocumentWritten {
    pub document_id: Uuid,
    pub version: u64,
    pub position: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameDocumentRequest {
    pub title: String,
}

/// The multipart form of an upload. It only describes the form in the
/// OpenAPI document (the handler streams the fields), hence never built.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The document: .txt, .md, .html, .epub, .pdf or .docx.
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    file: String,
    /// Defaults to the file name without its extension.
    title: Option<String>,
}

const MAX_TITLE_FIELD_BYTES: usize = 4096;

fn multipart_error(e: MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the upload is too large",
        )
    } else {
        ApiError::bad_request("malformed_multipart", e.body_text())
    }
}

async fn small_text(field: Field<'_>) -> Result<String, ApiError> {
    let mut bytes = Vec::new();
    let mut stream = field;
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.map_err(multipart_error)?);
        if bytes.len() > MAX_TITLE_FIELD_BYTES {
            return Err(ApiError::invalid("the title field is too long"));
        }
    }
    String::from_utf8(bytes).map_err(|_| ApiError::invalid("the title is not UTF-8"))
}

struct ReceivedFile {
    stored: StoredBlob,
    filename: String,
    media_type: &'static str,
}

async fn receive_file(api: &CommandApi, field: Field<'_>) -> Result<ReceivedFile, ApiError> {
    let filename = field
        .file_name()
        .map(str::to_owned)
        .ok_or_else(|| ApiError::invalid("the file field needs a file name"))?;
    let filename = rules::filename(&filename).map_err(|e| ApiError::invalid(e.to_string()))?;
    let media_type = media_type_for(&filename, field.content_type()).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "upload .txt, .md, .html, .epub, .pdf or .docx files",
        )
    })?;
    let content = field.map_err(std::io::Error::other).boxed();
    let stored = api
        .blobs
        .put(content, api.upload_limit)
        .await
        .map_err(|e| match e {
            BlobError::TooLarge { limit } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("uploads are limited to {limit} bytes"),
            ),
            BlobError::Source(reason) => ApiError::bad_request("malformed_multipart", reason),
            other => ApiError::internal("storing the upload", &other),
        })?;
    Ok(ReceivedFile {
        stored,
        filename,
        media_type,
    })
}

/// Uploads a document (multipart field `file`, optional `title`). The bytes
/// are stored by content; processing follows in the background.
#[utoipa::path(
    post,
    path = "/api/v1/documents/upload",
    tag = "documents",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key upload once")),
    responses(
        (status = 202, description = "Accepted for processing", body = DocumentAccepted),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, description = "Larger than the upload limit", body = ErrorBody),
        (status = 415, description = "Not a format the platform reads", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn upload(
    State(api): State<CommandApi>,
    Caller(caller): Caller,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, HeaderMap, Json<DocumentAccepted>), ApiError> {
    if !caller.actor().may_write() {
        return Err(ApiError::forbidden("viewers cannot upload documents"));
    }
    let meta = command_meta(&headers, caller.user_id)?;
    let mut multipart = multipart.map_err(|e| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("send the upload as multipart/form-data: {}", e.body_text()),
        )
    })?;
    let mut title = None;
    let mut file = None;
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name() {
            Some("file") if file.is_none() => file = Some(receive_file(&api, field).await?),
            Some("title") if title.is_none() => title = Some(small_text(field).await?),
            Some(name) => {
                return Err(ApiError::invalid(format!(
                    "unexpected form field {:?}: send `file` once and optionally `title`",
                    name.chars().take(64).collect::<String>()
                )));
            }
            None => return Err(ApiError::invalid("a form field without a name")),
        }
    }
    let file = file.ok_or_else(|| ApiError::invalid("the form has no `file` field"))?;
    let title = title.unwrap_or_else(|| {
        file.filename
            .rsplit_once('.')
            .map_or(file.filename.as_str(), |(stem, _)| stem)
            .to_owned()
    });
    let document_id = DocumentId::from_uuid(created_id(meta.command_id));
    let command = DocumentCommand::Upload(UploadDocument {
        actor: caller.actor(),
        owner: caller.user_id,
        title,
        original_filename: file.filename,
        media_type: file.media_type.to_owned(),
        size_bytes: file.stored.size_bytes,
        sha256: file.stored.blob_ref.sha256().to_owned(),
        blob_ref: file.stored.blob_ref.to_string(),
        at: meta.at,
    });
    let executed = api
        .service
        .execute::<DocumentAggregate>(document_id, &meta, vec![command])
        .await
        .map_err(|e| command_error(e, false))?;
    let mut response_headers = HeaderMap::new();
    if let Ok(location) = format!("/api/v1/documents/{document_id}").parse() {
        response_headers.insert(header::LOCATION, location);
    }
    Ok((
        StatusCode::ACCEPTED,
        response_headers,
        Json(DocumentAccepted {
            document_id: document_id.into(),
            position: executed.token.to_string(),
        }),
    ))
}

async fn change(
    api: &CommandApi,
    caller: studio_auth::Principal,
    headers: &HeaderMap,
    id: Uuid,
    command: DocumentCommand,
) -> Result<Json<DocumentWritten>, ApiError> {
    let meta = command_meta(headers, caller.user_id)?;
    let executed = api
        .service
        .execute::<DocumentAggregate>(DocumentId::from_uuid(id), &meta, vec![command])
        .await
        .map_err(|e| command_error(e, meta.expected_version.is_some()))?;
    Ok(Json(DocumentWritten {
        document_id: id,
        version: executed.version,
        position: executed.token.to_string(),
    }))
}

/// Renames a document.
#[utoipa::path(
    patch,
    path = "/api/v1/documents/{id}",
    tag = "documents",
    request_body = RenameDocumentRequest,
    params(
        ("id" = Uuid, Path),
        ("If-Match" = Option<String>, Header, description = "The ETag read: refuse if the document changed since"),
        ("Idempotency-Key" = Option<String>, Header),
    ),
    responses(
        (status = 200, body = DocumentWritten),
        (status = 404, body = ErrorBody), (status = 410, body = ErrorBody),
        (status = 412, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn rename(
    State(api): State<CommandApi>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<RenameDocumentRequest>,
) -> Result<Json<DocumentWritten>, ApiError> {
    let command = DocumentCommand::Rename {
        actor: caller.actor(),
        title: request.title,
    };
    change(&api, caller, &headers, id, command).await
}

/// Deletes a document. Its events stay in the log; read models drop it.
#[utoipa::path(
    delete,
    path = "/api/v1/documents/{id}",
    tag = "documents",
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header)),
    responses(
        (status = 200, body = DocumentWritten),
        (status = 404, body = ErrorBody), (status = 410, body = ErrorBody), (status = 412, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    State(api): State<CommandApi>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> Result<Json<DocumentWritten>, ApiError> {
    let command = DocumentCommand::Delete {
        actor: caller.actor(),
    };
    change(&api, caller, &headers, id, command).await
}

/// Starts processing a document again, from text extraction, after it
/// failed (a store was out of reach, or a new version of the platform reads
/// what an older one could not).
#[utoipa::path(
    post,
    path = "/api/v1/documents/{id}/reprocess",
    tag = "documents",
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header)),
    responses(
        (status = 200, body = DocumentWritten),
        (status = 404, body = ErrorBody), (status = 410, body = ErrorBody),
        (status = 412, body = ErrorBody),
        (status = 422, description = "Processing has not failed", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn reprocess(
    State(api): State<CommandApi>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> Result<Json<DocumentWritten>, ApiError> {
    let at = chrono::Utc::now();
    let command = DocumentCommand::RestartProcessing {
        actor: caller.actor(),
        at,
    };
    change(&api, caller, &headers, id, command).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_by_extension_then_declaration() {
        assert_eq!(media_type_for("Book.TXT", None), Some("text/plain"));
        assert_eq!(
            media_type_for("novel.epub", Some("application/octet-stream")),
            Some("application/epub+zip")
        );
        assert_eq!(
            media_type_for("noext", Some("text/html; charset=utf-8")),
            Some("text/html")
        );
        assert_eq!(
            media_type_for("virus.exe", Some("application/x-msdownload")),
            None
        );
        assert_eq!(media_type_for("image.png", None), None);
    }
}
