use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use studio_auth::{AccessToken, PasswordError, Principal};
use studio_domain::user::{RegisterUser, Registrar, UserAggregate, UserCommand, UserState};
use studio_domain::{Role, rules};
use studio_http::{ApiError, ApiJson, ErrorBody, bearer_token};
use utoipa::ToSchema;
use uuid::Uuid;

use super::CommandApi;
use super::errors::command_error;
use crate::CommandMeta;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: String,
    /// At least 8 characters.
    pub password: String,
    /// `admin`, `editor` or `viewer`. People registering themselves may
    /// choose `editor` or `viewer`; only admins grant `admin`.
    pub role: Option<String>,
    pub display_name: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Registered {
    pub user_id: Uuid,
    /// Read-your-writes token: pass it to queries to see this registration.
    pub position: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccessTokenBody {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

impl From<AccessToken> for AccessTokenBody {
    fn from(t: AccessToken) -> Self {
        Self {
            access_token: t.access_token,
            token_type: t.token_type,
            expires_in: t.expires_in,
        }
    }
}

/// Registers a user. An admin's bearer token may accompany the request to
/// register someone else, with any role.
#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered", body = Registered),
        (status = 403, description = "Registration closed, or role not grantable", body = ErrorBody),
        (status = 409, description = "The e-mail address is already registered", body = ErrorBody),
        (status = 422, description = "Invalid e-mail, password or role", body = ErrorBody),
    )
)]
pub async fn register(
    State(api): State<CommandApi>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    let admin = match bearer_token(&headers) {
        Some(token) => {
            let principal = api
                .tokens
                .verify(token?)
                .map_err(|_| ApiError::unauthorized("the access token is not valid"))?;
            Some(principal).filter(Principal::is_admin)
        }
        None => None,
    };
    if admin.is_none() && !api.open_registration {
        return Err(ApiError::forbidden(
            "registration is by invitation: ask an admin",
        ));
    }
    let role = match request.role.as_deref() {
        None => api.self_service_role,
        Some(text) => {
            Role::parse(text).ok_or_else(|| ApiError::invalid(format!("unknown role {text:?}")))?
        }
    };
    let email = rules::email(&request.email).map_err(|e| ApiError::invalid(e.to_string()))?;
    let password_hash = api
        .passwords
        .hash(request.password)
        .await
        .map_err(|e| match e {
            PasswordError::Hashing(_) => ApiError::internal("hashing the password", &e),
            policy => ApiError::invalid(policy.to_string()),
        })?;
    let user_id = api.user_ids.user_id(&email);
    let (registrar, actor) = match admin {
        Some(admin) => (Registrar::Admin(admin.user_id), admin.user_id.to_string()),
        None => (Registrar::SelfService, user_id.to_string()),
    };
    let meta = CommandMeta::new(Uuid::now_v7(), actor, Utc::now());
    let command = UserCommand::Register(RegisterUser {
        user_id,
        email,
        password_hash,
        role,
        display_name: request.display_name,
        registrar,
        at: meta.at,
    });
    let executed = api
        .service
        .execute::<UserAggregate>(user_id, &meta, vec![command])
        .await
        .map_err(|e| command_error(e, false))?;
    Ok((
        StatusCode::CREATED,
        Json(Registered {
            user_id: user_id.into(),
            position: executed.token.to_string(),
        }),
    ))
}

/// A hash of a password nobody has, verified when the e-mail is unknown so
/// that unknown and known addresses take the same time to refuse.
const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$ZGVjb3lzYWx0ZGVjb3k$3Yd2nbZb1jB9qz0ouW5YBy4CRxTRsvFw7KE3J0b0k3U";

/// Exchanges an e-mail address and password for an access token.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = AccessTokenBody),
        (status = 401, description = "Unknown e-mail or wrong password", body = ErrorBody),
    )
)]
pub async fn login(
    State(api): State<CommandApi>,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<Json<AccessTokenBody>, ApiError> {
    let refused = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "unknown e-mail address or wrong password",
        )
    };
    let Ok(email) = rules::email(&request.email) else {
        return Err(refused());
    };
    let user_id = api.user_ids.user_id(&email);
    let loaded = api
        .service
        .load::<UserAggregate>(user_id.into())
        .await
        .map_err(|e| command_error(e, false))?;
    let (hash, role) = match loaded.state.state {
        UserState::Active(user) => (user.password_hash, Some(user.role)),
        UserState::Unregistered | UserState::Forgotten => (DECOY_HASH.to_owned(), None),
    };
    let matches = api.passwords.verify(request.password, hash).await;
    let role = role.filter(|_| matches).ok_or_else(refused)?;
    let now = u64::try_from(Utc::now().timestamp()).unwrap_or_default();
    let token = api
        .tokens
        .issue(Principal { user_id, role }, now)
        .map_err(|e| ApiError::internal("signing a token", &e))?;
    Ok(Json(token.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_decoy_is_a_real_argon2_hash_that_matches_nothing() {
        let phc = argon2::password_hash::phc::PasswordHash::new(DECOY_HASH);
        assert!(phc.is_ok(), "{phc:?}");
        assert!(
            !studio_auth::Passwords
                .verify("password".into(), DECOY_HASH.into())
                .await
        );
    }
}
