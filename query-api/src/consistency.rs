//! Read-your-writes: a command answers with a position token; a read that
//! carries it waits (bounded) until the read model has applied it.

use axum::http::{HeaderMap, StatusCode};
use studio_event_log::PositionToken;
use studio_http::ApiError;
use studio_projections::WaitError;

use crate::QueryApi;

/// The request header that carries a position token.
pub const POSITION_HEADER: &str = "x-studio-position";

pub(crate) fn token_from(
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Option<PositionToken>, ApiError> {
    let text = match (headers.get(POSITION_HEADER), query) {
        (Some(value), _) => value.to_str().unwrap_or("invalid").to_owned(),
        (None, Some(q)) => q.to_owned(),
        (None, None) => return Ok(None),
    };
    text.parse()
        .map(Some)
        .map_err(|e: studio_event_log::PositionTokenError| {
            ApiError::bad_request("invalid_position", e.to_string())
        })
}

pub(crate) async fn wait_for(
    api: &QueryApi,
    token: Option<&PositionToken>,
) -> Result<(), ApiError> {
    let Some(token) = token else { return Ok(()) };
    api.progress
        .wait_for(token, api.consistency_wait)
        .await
        .map_err(|e| match e {
            WaitError::Timeout { .. } => ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "position_not_reached",
                format!("{e}; retry, or read without the position"),
            ),
            WaitError::Closed => ApiError::unavailable(e.to_string()),
        })
}
