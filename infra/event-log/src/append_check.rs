//! What every adapter checks of an append before it writes it.

use crate::{AppendRequest, LogError};

/// The events must continue the stream exactly: at least one, same
/// subject, command and aggregate type, the next sequences, each chained
/// to the one before with a correct hash. Returns the aggregate type.
/// Every adapter checks an append with this before it writes.
pub fn check_append<'a>(
    request: &'a AppendRequest,
    stream_type: Option<&str>,
    version: u64,
    head_hash: &str,
) -> Result<&'a str, LogError> {
    let refuse = |what: String| Err(LogError::InvalidAppend(what));
    if request.events.is_empty() {
        return refuse("an append needs at least one event".into());
    }
    let aggregate_type = request
        .events
        .first()
        .map(|e| e.aggregatetype.as_str())
        .unwrap_or_default();
    if stream_type.is_some_and(|t| t != aggregate_type) {
        return refuse(format!(
            "stream {} holds {} events, not {aggregate_type}",
            request.aggregate_id,
            stream_type.unwrap_or_default()
        ));
    }
    let mut prev = head_hash;
    for (event, sequence) in request.events.iter().zip(version + 1..) {
        if event.subject != request.aggregate_id {
            return refuse(format!(
                "event {} is about {}, not {}",
                event.id, event.subject, request.aggregate_id
            ));
        }
        if event.aggregatetype != aggregate_type {
            return refuse(format!("event {} mixes aggregate types", event.id));
        }
        if event.commandid != request.command_id {
            return refuse(format!(
                "event {} belongs to command {}",
                event.id, event.commandid
            ));
        }
        if event.aggregatesequence != sequence {
            return refuse(format!(
                "event {} has sequence {}, the stream expects {sequence}",
                event.id, event.aggregatesequence
            ));
        }
        if event.prevhash != prev {
            return refuse(format!(
                "event {} does not chain to the stream head",
                event.id
            ));
        }
        if event.hash != event.computed_hash() {
            return refuse(format!("event {} carries a wrong hash", event.id));
        }
        prev = &event.hash;
    }
    Ok(aggregate_type)
}
