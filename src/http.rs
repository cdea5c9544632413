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
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
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
                .route("/metrics", get(metrics))
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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartitionLabels {
    partition: u32,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProjectionPartitionLabels {
    projection: String,
    partition: u32,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProjectionLabels {
    projection: String,
}

/// Prometheus metrics (OpenMetrics text), measured when scraped: the log's
/// end per partition and, where the role reads the read model, how far it
/// has applied the log, its lag, and its dead letters.
async fn metrics(State(probes): State<Probes>) -> Response {
    let measured = async {
        let mut registry = Registry::with_prefix("studio");
        let ends = probes.log.end_offsets().await.map_err(|e| e.to_string())?;
        let log_end = Family::<PartitionLabels, Gauge>::default();
        for (&partition, &end) in &ends {
            log_end
                .get_or_create(&PartitionLabels { partition })
                .set(i64::try_from(end).unwrap_or(i64::MAX));
        }
        registry.register(
            "log_end_offset",
            "The offset the next event appended to a partition gets",
            log_end,
        );
        if let Some(read_model) = &probes.read_model {
            let applied = read_model.checkpoints().await.map_err(|e| e.to_string())?;
            let applied_gauge = Family::<ProjectionPartitionLabels, Gauge>::default();
            let lag = Family::<ProjectionPartitionLabels, Gauge>::default();
            for (&partition, &end) in &ends {
                let done = applied.get(&partition).copied().unwrap_or(0);
                let labels = ProjectionPartitionLabels {
                    projection: "relational".into(),
                    partition,
                };
                applied_gauge
                    .get_or_create(&labels)
                    .set(i64::try_from(done).unwrap_or(i64::MAX));
                lag.get_or_create(&labels)
                    .set(i64::try_from(end.saturating_sub(done)).unwrap_or(i64::MAX));
            }
            registry.register(
                "projection_applied_offset",
                "The offset of the next event a projection applies, per partition",
                applied_gauge,
            );
            registry.register(
                "projection_lag_events",
                "Events in a partition a projection has yet to apply",
                lag,
            );
            let dead = Family::<ProjectionLabels, Gauge>::default();
            let open = read_model
                .open_dead_letters()
                .await
                .map_err(|e| e.to_string())?;
            dead.get_or_create(&ProjectionLabels {
                projection: "relational".into(),
            })
            .set(i64::try_from(open).unwrap_or(i64::MAX));
            registry.register(
                "projection_dead_letters",
                "Events parked in a projection's dead-letter table, or held back behind one",
                dead,
            );
        }
        let mut text = String::new();
        encode(&mut text, &registry).map_err(|e| e.to_string())?;
        Ok::<_, String>(text)
    };
    match tokio::time::timeout(Duration::from_secs(5), measured).await {
        Ok(Ok(text)) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Ok(Err(reason)) => ApiError::unavailable(reason).into_response(),
        Err(_) => ApiError::unavailable("measuring timed out").into_response(),
    }
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
