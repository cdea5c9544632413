//! Events as Kafka records: the key is the aggregate id, the value the
//! CloudEvents JSON (structured mode), and `ce_*` headers repeat the
//! attributes tools route by, so they need not parse the value.

use rdkafka::Message;
use rdkafka::message::{Header, Headers, OwnedHeaders};
use studio_event_log::{EventEnvelope, LogError, Position, StoredEvent};

pub(crate) const CONTENT_TYPE: &str = "application/cloudevents+json; charset=UTF-8";

pub(crate) fn headers(e: &EventEnvelope) -> OwnedHeaders {
    let (id, subject) = (e.id.to_string(), e.subject.to_string());
    let time = e.time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let sequence = e.aggregatesequence.to_string();
    [
        ("content-type", CONTENT_TYPE),
        ("ce_specversion", e.specversion.as_str()),
        ("ce_id", id.as_str()),
        ("ce_source", e.source.as_str()),
        ("ce_type", e.event_type.as_str()),
        ("ce_subject", subject.as_str()),
        ("ce_time", time.as_str()),
        ("ce_aggregatetype", e.aggregatetype.as_str()),
        ("ce_aggregatesequence", sequence.as_str()),
    ]
    .into_iter()
    .fold(OwnedHeaders::new(), |headers, (key, value)| {
        headers.insert(Header {
            key,
            value: Some(value),
        })
    })
}

/// What `headers` add to a record, in bytes.
pub(crate) fn header_bytes(headers: &OwnedHeaders) -> usize {
    headers
        .iter()
        .map(|h| h.key.len() + h.value.map_or(0, <[u8]>::len))
        .sum()
}

/// A record of the events topic as an event. Its shape is checked here;
/// its hash and chain are the audit's to judge (as with the embedded log),
/// so that a tampered record is reported where it is, not as an unreadable
/// log.
pub(crate) fn stored_event(record: &impl Message) -> Result<StoredEvent, LogError> {
    let position = position(record)?;
    let corrupt = |what: String| {
        LogError::Corrupt(format!(
            "record {}:{} of the events topic: {what}",
            position.partition, position.offset
        ))
    };
    let payload = record
        .payload_view::<str>()
        .ok_or_else(|| corrupt("no value".into()))?
        .map_err(|e| corrupt(format!("not UTF-8: {e}")))?;
    let envelope: EventEnvelope =
        serde_json::from_str(payload).map_err(|e| corrupt(e.to_string()))?;
    Ok(StoredEvent { position, envelope })
}

pub(crate) fn position(record: &impl Message) -> Result<Position, LogError> {
    let partition = u32::try_from(record.partition())
        .map_err(|_| LogError::Corrupt(format!("partition {}", record.partition())))?;
    let offset = u64::try_from(record.offset())
        .map_err(|_| LogError::Corrupt(format!("offset {}", record.offset())))?;
    Ok(Position { partition, offset })
}
