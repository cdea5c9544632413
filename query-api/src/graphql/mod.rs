//! GraphQL at `/graphql`: queries over HTTP POST, subscriptions over
//! WebSocket (graphql-transport-ws, and the older graphql-ws). HTTP callers
//! authenticate with `Authorization: Bearer`, WebSocket callers with the
//! `connection_init` payload `{"Authorization": "Bearer <token>"}`.

mod admin;
mod analysis;
mod errors;
mod graph;
mod query;
mod search;
mod subscription;
mod types;

use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource};
use async_graphql::{Data, Schema};
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::Router;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use studio_http::{ApiError, Caller};

use crate::consistency::{token_from, wait_for};
use crate::{QueryApi, viewer};

pub use admin::MutationRoot;
pub use query::QueryRoot;
pub use subscription::SubscriptionRoot;

pub type StudioSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Deep enough for any real client view, shallow enough that a hostile
/// query cannot make the server walk the graph forever.
pub const MAX_DEPTH: usize = 12;
pub const MAX_COMPLEXITY: usize = 10_000;

pub fn schema(api: QueryApi) -> StudioSchema {
    Schema::build(QueryRoot::default(), MutationRoot, SubscriptionRoot)
        .data(api)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_recursive_depth(64)
        .limit_directives(16)
        .finish()
}

#[derive(Clone)]
struct GraphqlState {
    api: QueryApi,
    schema: StudioSchema,
}

impl axum::extract::FromRef<GraphqlState> for studio_auth::Tokens {
    fn from_ref(state: &GraphqlState) -> Self {
        state.api.tokens.clone()
    }
}

pub fn router(api: QueryApi) -> Router {
    let state = GraphqlState {
        schema: schema(api.clone()),
        api,
    };
    Router::new()
        .route("/graphql", get(subscribe_or_ide).post(execute))
        .with_state(state)
}

async fn execute(
    State(state): State<GraphqlState>,
    Caller(caller): Caller,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Result<GraphQLResponse, ApiError> {
    wait_for(&state.api, token_from(&headers, None)?.as_ref()).await?;
    let request = request.into_inner().data(viewer(&caller)).data(caller);
    Ok(state.schema.execute(request).await.into())
}

/// A WebSocket upgrade starts a subscription session; a plain GET gets
/// the GraphiQL IDE.
async fn subscribe_or_ide(
    State(state): State<GraphqlState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    protocol: Result<GraphQLProtocol, StatusCode>,
) -> Response {
    let (Ok(upgrade), Ok(protocol)) = (upgrade, protocol) else {
        return Html(
            GraphiQLSource::build()
                .endpoint("/graphql")
                .subscription_endpoint("/graphql")
                .finish(),
        )
        .into_response();
    };
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            let tokens = state.api.tokens.clone();
            GraphQLWebSocket::new(socket, state.schema.clone(), protocol)
                .on_connection_init(move |payload| async move {
                    let principal = subscription::authenticate(&tokens, &payload)?;
                    let mut data = Data::default();
                    data.insert(viewer(&principal));
                    Ok(data)
                })
                .serve()
        })
}
