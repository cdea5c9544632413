//! Relationships between characters, and merges. Both name a second
//! character, which the handler loads first and checks (the actor sees it,
//! it is active, it is not the same one) before the command is decided.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use studio_auth::Principal;
use studio_domain::CharacterId;
use studio_domain::character::{Absorption, CharacterAggregate, CharacterCommand, Peer};
use studio_http::{ApiError, ApiJson, ApiPath, ApiQuery, Caller, ErrorBody};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::CommandApi;
use super::characters::{CharacterWritten, write};
use super::errors::command_error;
use super::headers::command_meta;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RelationshipRequest {
    /// The other character (yours).
    pub other_id: Uuid,
    /// `sibling_of`, `married_to`, `rival_of`, `parent_of`, `friend_of`,
    /// ... or a free label of at most 64 characters. Read in the direction
    /// declared: this character is `kind` the other.
    pub kind: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RelationshipKind {
    /// The kind, as declared.
    pub kind: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The character that lives on; this one is merged into it.
    pub into_id: Uuid,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MergeWritten {
    /// The character merged (it answers 410 from now on).
    pub merged_id: Uuid,
    pub merged_version: u64,
    /// The survivor, which took the merged character's aliases and
    /// relationships.
    pub into_id: Uuid,
    pub into_version: u64,
    /// Read-your-writes token of the survivor's change.
    pub position: String,
}

async fn peer(
    api: &CommandApi,
    caller: &Principal,
    this: Uuid,
    other: Uuid,
) -> Result<Peer, ApiError> {
    let loaded = api
        .service
        .load::<CharacterAggregate>(other)
        .await
        .map_err(|e| command_error(e, false))?;
    Peer::of(
        &caller.actor(),
        CharacterId::from_uuid(this),
        CharacterId::from_uuid(other),
        &loaded.state.state,
    )
    .map_err(|e| match e {
        studio_domain::DomainError::Invalid { .. } => ApiError::invalid(e.to_string()),
        other => ApiError::not_found(format!("the other character: {other}")),
    })
}

/// Declares a relationship of this character with another of yours.
/// Declaring it again changes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/characters/{id}/relationships",
    tag = "characters",
    request_body = RelationshipRequest,
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header)),
    responses(
        (status = 200, body = CharacterWritten),
        (status = 403, description = "The characters have different owners", body = ErrorBody),
        (status = 404, description = "Either character is not yours or does not exist", body = ErrorBody),
        (status = 410, body = ErrorBody), (status = 412, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn declare(
    State(api): State<CommandApi>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<RelationshipRequest>,
) -> Result<Json<CharacterWritten>, ApiError> {
    let other = peer(&api, &caller, id, request.other_id).await?;
    let commands = vec![CharacterCommand::DeclareRelationship {
        actor: caller.actor(),
        other,
        kind: request.kind,
    }];
    write(&api, caller, &headers, id, commands).await
}

/// Removes a relationship this character declared.
#[utoipa::path(
    delete,
    path = "/api/v1/characters/{id}/relationships/{other_id}",
    tag = "characters",
    params(
        ("id" = Uuid, Path), ("other_id" = Uuid, Path), RelationshipKind,
        ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header),
    ),
    responses(
        (status = 200, body = CharacterWritten),
        (status = 400, description = "No kind given", body = ErrorBody),
        (status = 404, description = "No such character or relationship", body = ErrorBody),
        (status = 410, body = ErrorBody), (status = 412, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn remove(
    State(api): State<CommandApi>,
    Caller(caller): Caller,
    ApiPath((id, other_id)): ApiPath<(Uuid, Uuid)>,
    ApiQuery(kind): ApiQuery<RelationshipKind>,
    headers: HeaderMap,
) -> Result<Json<CharacterWritten>, ApiError> {
    let commands = vec![CharacterCommand::RemoveRelationship {
        actor: caller.actor(),
        other: CharacterId::from_uuid(other_id),
        kind: kind.kind,
    }];
    write(&api, caller, &headers, id, commands).await
}

/// Merges this character into another of yours: its aliases, mentions and
/// relationships go to the survivor, and it answers 410 from then on. An
/// interrupted merge is finished by sending it again.
#[utoipa::path(
    post,
    path = "/api/v1/characters/{id}/merge",
    tag = "characters",
    request_body = MergeRequest,
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "Applies to the merged character"), ("Idempotency-Key" = Option<String>, Header)),
    responses(
        (status = 200, body = MergeWritten),
        (status = 403, description = "The characters have different owners", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 410, body = ErrorBody),
        (status = 412, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn merge(
    State(api): State<CommandApi>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<MergeRequest>,
) -> Result<Json<MergeWritten>, ApiError> {
    let survivor = peer(&api, &caller, id, request.into_id).await?;
    let meta = command_meta(&headers, caller.user_id)?;
    let merged = api
        .service
        .execute::<CharacterAggregate>(
            CharacterId::from_uuid(id),
            &meta,
            vec![CharacterCommand::MergeInto {
                actor: caller.actor(),
                survivor,
            }],
        )
        .await
        .map_err(|e| command_error(e, meta.expected_version.is_some()))?;
    let loaded = api
        .service
        .load::<CharacterAggregate>(id)
        .await
        .map_err(|e| command_error(e, false))?;
    let absorption = Absorption::of(survivor.id, CharacterId::from_uuid(id), &loaded.state.state)
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    // The survivor's half: a command of its own, retried with the first.
    let mut absorb_meta = meta.clone();
    absorb_meta.command_id = Uuid::new_v5(&meta.command_id, b"absorb");
    absorb_meta.causation_id = meta.command_id;
    absorb_meta.expected_version = None;
    let absorbed = api
        .service
        .execute::<CharacterAggregate>(
            survivor.id,
            &absorb_meta,
            vec![CharacterCommand::Absorb {
                actor: caller.actor(),
                absorption,
            }],
        )
        .await
        .map_err(|e| command_error(e, false))?;
    Ok(Json(MergeWritten {
        merged_id: id,
        merged_version: merged.version,
        into_id: survivor.id.into(),
        into_version: absorbed.version,
        position: absorbed.token.to_string(),
    }))
}
