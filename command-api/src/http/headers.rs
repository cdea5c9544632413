//! The request headers a command honours: `Idempotency-Key` (a retried
//! request is executed once) and `If-Match` (optimistic concurrency).

use axum::http::HeaderMap;
use studio_domain::UserId;
use studio_http::ApiError;
use uuid::Uuid;

/// Command ids derived from idempotency keys live in their own namespace.
const IDEMPOTENCY_NAMESPACE: Uuid = Uuid::from_u128(0x6c69_7465_7261_7279_6169_2d69_646b_6579);
const MAX_KEY_LEN: usize = 255;

/// The command id for this request, and whether it may be a retry:
/// derived from the caller and their `Idempotency-Key` (so retries meet
/// their first outcome), or fresh.
pub fn command_id(headers: &HeaderMap, caller: Option<UserId>) -> Result<(Uuid, bool), ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok((Uuid::now_v7(), false));
    };
    let key = value.to_str().unwrap_or_default();
    let visible = key.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if key.is_empty() || key.len() > MAX_KEY_LEN || !visible {
        return Err(ApiError::bad_request(
            "invalid_idempotency_key",
            format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
        ));
    }
    let scope = caller.map(|c| c.to_string()).unwrap_or_default();
    let id = Uuid::new_v5(&IDEMPOTENCY_NAMESPACE, format!("{scope}\n{key}").as_bytes());
    Ok((id, true))
}

/// Command metadata for a request by `caller`, honouring
/// `Idempotency-Key` and `If-Match`.
pub fn command_meta(headers: &HeaderMap, caller: UserId) -> Result<crate::CommandMeta, ApiError> {
    let (command_id, may_be_retry) = command_id(headers, Some(caller))?;
    let mut meta = crate::CommandMeta::new(command_id, caller.to_string(), chrono::Utc::now());
    meta.may_be_retry = may_be_retry;
    meta.expected_version = expected_version(headers)?;
    Ok(meta)
}

/// The id of a resource a command creates: derived from the command id, so
/// that a retried creation names the same resource.
pub fn created_id(command_id: Uuid) -> Uuid {
    Uuid::new_v5(&IDEMPOTENCY_NAMESPACE, command_id.as_bytes())
}

/// `If-Match: "<version>"`, the ETag the read side returns.
pub fn expected_version(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(axum::http::header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    text.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .filter(|t| !t.is_empty() && t.len() <= 20 && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_if_match",
                "If-Match must be the resource's ETag, a quoted version such as \"3\"",
            )
        })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(value) {
            map.insert(name, v);
        }
        map
    }

    #[test]
    fn idempotency_keys_are_scoped_to_the_caller() {
        let a = UserId::from_uuid(Uuid::from_u128(1));
        let b = UserId::from_uuid(Uuid::from_u128(2));
        let h = headers("idempotency-key", "order-7");
        let first = command_id(&h, Some(a)).ok();
        assert_eq!(first.map(|(_, retry)| retry), Some(true));
        assert_eq!(first, command_id(&h, Some(a)).ok());
        assert_ne!(first, command_id(&h, Some(b)).ok());
        assert_eq!(
            command_id(&HeaderMap::new(), Some(a))
                .ok()
                .map(|(_, retry)| retry),
            Some(false)
        );
        assert!(command_id(&headers("idempotency-key", "has space"), Some(a)).is_err());
        assert!(command_id(&headers("idempotency-key", &"k".repeat(256)), Some(a)).is_err());
    }

    #[test]
    fn if_match_is_a_quoted_version() {
        assert_eq!(
            expected_version(&headers("if-match", "\"3\"")).ok(),
            Some(Some(3))
        );
        assert_eq!(expected_version(&HeaderMap::new()).ok(), Some(None));
        for bad in [
            "3",
            "W/\"3\"",
            "\"\"",
            "\"-1\"",
            "*",
            "\"99999999999999999999999\"",
        ] {
            assert!(
                expected_version(&headers("if-match", bad)).is_err(),
                "{bad}"
            );
        }
    }
}
