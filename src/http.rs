//! The one HTTP server of `studio serve`: the command API, the query API,
//! the OpenAPI document, health and readiness.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use studio_command_api::http::CommandApi;
use studio_event_log::EventLog;
use studio_http::ApiError;
use studio_projections::ReadModel;
use studio_query_api::QueryApi;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "LiteraryAI Studio",
        description = "Commands (writes) and reads of documents, characters and users. \
                       GraphQL queries and subscriptions are at /graphql.",
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Registration and sign-in"),
        (name = "documents", description = "Uploaded books and manuscripts"),
        (name = "characters", description = "Characters and their profiles"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// What `/ready` checks: the log always, the read model where the role
/// reads one.
#[derive(Clone)]
pub struct Probes {
    pub log: Arc<dyn EventLog>,
    pub read_model: Option<Arc<dyn ReadModel>>,
}

/// The HTTP surface of a role: the command API, the query API, or both.
pub fn router(commands: Option<CommandApi>, queries: Option<QueryApi>, probes: Probes) -> Router {
    let mut api = OpenApiRouter::with_openapi(ApiDoc::openapi());
    if let Some(commands) = commands {
        api = api.merge(studio_command_api::http::router(commands));
    }
    if let Some(queries) = &queries {
        api = api.merge(studio_query_api::rest::router(queries.clone()));
    }
    let (rest, openapi) = api.split_for_parts();
    let openapi = Arc::new(openapi);
    let mut router = rest.route(
        "/api/v1/openapi.json",
        get(move || async move { Json(openapi.as_ref().clone()) }),
    );
    if let Some(queries) = queries {
        router = router.merge(studio_query_api::graphql::router(queries));
    }
    let request_id = HeaderName::from_static("x-request-id");
    router
        .merge(
            Router::new()
                .route("/health", get(health))
                .route("/ready", get(ready))
                .with_state(probes),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(CatchPanicLayer::new())
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method here",
    )
}

/// Alive: the process answers.
async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready: the log (and the read model, where the role reads one) answer;
/// reports how many events the read model has yet to apply.
async fn ready(State(probes): State<Probes>) -> Response {
    let check = async {
        let ends = probes.log.end_offsets().await.map_err(|e| e.to_string())?;
        let Some(read_model) = &probes.read_model else {
            return Ok::<_, String>(json!({ "status": "ready" }));
        };
        let applied = read_model.checkpoints().await.map_err(|e| e.to_string())?;
        let lag: u64 = ends
            .iter()
            .map(|(p, end)| end.saturating_sub(applied.get(p).copied().unwrap_or(0)))
            .sum();
        Ok(json!({ "status": "ready", "projection_lag": lag }))
    };
    match tokio::time::timeout(Duration::from_secs(2), check).await {
        Ok(Ok(body)) => Json(body).into_response(),
        Ok(Err(reason)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "reason": reason })),
        )
            .into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "reason": "timed out" })),
        )
            .into_response(),
    }
}
