//! What both HTTP APIs share at their edge: one error body
//! (`{"error": {"code", "message"}}`), bearer-token authentication, and
//! extractors that turn every malformed request into that body instead of
//! axum's plain-text rejections.

mod error;
mod extract;

pub use error::{ApiError, ErrorBody, ErrorDetail};
pub use extract::{ApiJson, ApiPath, ApiQuery, Caller, bearer_token};
