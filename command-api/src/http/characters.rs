use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use studio_auth::Principal;
use studio_domain::character::{
    CharacterAggregate, CharacterCommand, CharacterOrigin, CreateCharacter, check_source_document,
};
use studio_domain::document::DocumentAggregate;
use studio_domain::{CharacterId, DocumentId};
use studio_http::{ApiError, ApiJson, ApiPath, Caller, ErrorBody};
use utoipa::ToSchema;
use uuid::Uuid;

use super::CommandApi;
use super::errors::command_error;
use super::headers::{command_meta, created_id};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCharacterRequest {
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Any JSON object (at most 32 KiB, 16 levels deep).
    #[schema(value_type = Option<Object>)]
    pub personality_profile: Option<Value>,
    /// A document of yours this character comes from.
    pub source_document_id: Option<Uuid>,
}

/// A partial update: each field present is applied, all or none.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCharacterRequest {
    pub name: Option<String>,
    /// Replaces the whole profile.
    #[schema(value_type = Option<Object>)]
    pub personality_profile: Option<Value>,
    /// Aliases to add.
    #[serde(default)]
    pub add_aliases: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CharacterWritten {
    pub character_id: Uuid,
    pub version: u64,
    /// Read-your-writes token.
    pub position: String,
}

/// Creates a character by hand.
#[utoipa::path(
    post,
    path = "/api/v1/characters",
    tag = "characters",
    request_body = CreateCharacterRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key create once")),
    responses(
        (status = 201, body = CharacterWritten),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "The source document is not yours or does not exist", body = ErrorBody),
        (status = 409, description = "Duplicate aliases", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(api): State<CommandApi>,
    Caller(caller): Caller,
    headers: HeaderMap,
    ApiJson(request): ApiJson<CreateCharacterRequest>,
) -> Result<(StatusCode, HeaderMap, Json<CharacterWritten>), ApiError> {
    let meta = command_meta(&headers, caller.user_id)?;
    let source_document = request.source_document_id.map(DocumentId::from_uuid);
    if let Some(document) = source_document {
        let loaded = api
            .service
            .load::<DocumentAggregate>(document.into())
            .await
            .map_err(|e| command_error(e, false))?;
        check_source_document(&caller.actor(), &loaded.state.state)
            .map_err(|e| ApiError::not_found(format!("source document: {e}")))?;
    }
    let character_id = CharacterId::from_uuid(created_id(meta.command_id));
    let command = CharacterCommand::Create(CreateCharacter {
        actor: caller.actor(),
        owner: caller.user_id,
        name: request.name,
        aliases: request.aliases,
        personality_profile: request
            .personality_profile
            .unwrap_or_else(|| Value::Object(Default::default())),
        source_document,
        origin: CharacterOrigin::Manual,
        at: meta.at,
    });
    let executed = api
        .service
        .execute::<CharacterAggregate>(character_id, &meta, vec![command])
        .await
        .map_err(|e| command_error(e, false))?;
    let mut response_headers = HeaderMap::new();
    if let Ok(location) = format!("/api/v1/characters/{character_id}").parse() {
        response_headers.insert(header::LOCATION, location);
    }
    if let Ok(etag) = format!("\"{}\"", executed.version).parse() {
        response_headers.insert(header::ETAG, etag);
    }
    Ok((
        StatusCode::CREATED,
        response_headers,
        Json(CharacterWritten {
            character_id: character_id.into(),
            version: executed.version,
            position: executed.token.to_string(),
        }),
    ))
}

/// Renames, replaces the profile and adds aliases, in one atomic change.
#[utoipa::path(
    patch,
    path = "/api/v1/characters/{id}",
    tag = "characters",
    request_body = UpdateCharacterRequest,
    params(
        ("id" = Uuid, Path),
        ("If-Match" = Option<String>, Header, description = "The ETag read: refuse if the character changed since"),
        ("Idempotency-Key" = Option<String>, Header),
    ),
    responses(
        (status = 200, body = CharacterWritten),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 410, body = ErrorBody),
        (status = 412, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn update(
    State(api): State<CommandApi>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<UpdateCharacterRequest>,
) -> Result<Json<CharacterWritten>, ApiError> {
    let actor = caller.actor();
    let mut commands = Vec::new();
    if let Some(name) = request.name {
        commands.push(CharacterCommand::Rename { actor, name });
    }
    if let Some(personality_profile) = request.personality_profile {
        commands.push(CharacterCommand::UpdateProfile {
            actor,
            personality_profile,
        });
    }
    for alias in request.add_aliases {
        commands.push(CharacterCommand::AddAlias { actor, alias });
    }
    if commands.is_empty() {
        return Err(ApiError::invalid(
            "nothing to change: send name, personality_profile or add_aliases",
        ));
    }
    write(&api, caller, &headers, id, commands).await
}

/// Deletes a character.
#[utoipa::path(
    delete,
    path = "/api/v1/characters/{id}",
    tag = "characters",
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header)),
    responses(
        (status = 200, body = CharacterWritten),
        (status = 404, body = ErrorBody), (status = 410, body = ErrorBody), (status = 412, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    State(api): State<CommandApi>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> Result<Json<CharacterWritten>, ApiError> {
    let commands = vec![CharacterCommand::Delete {
        actor: caller.actor(),
    }];
    write(&api, caller, &headers, id, commands).await
}

pub(super) async fn write(
    api: &CommandApi,
    caller: Principal,
    headers: &HeaderMap,
    id: Uuid,
    commands: Vec<CharacterCommand>,
) -> Result<Json<CharacterWritten>, ApiError> {
    let meta = command_meta(headers, caller.user_id)?;
    let executed = api
        .service
        .execute::<CharacterAggregate>(CharacterId::from_uuid(id), &meta, commands)
        .await
        .map_err(|e| command_error(e, meta.expected_version.is_some()))?;
    Ok(Json(CharacterWritten {
        character_id: id,
        version: executed.version,
        position: executed.token.to_string(),
    }))
}
