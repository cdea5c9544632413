//! The one envelope of every event: CloudEvents 1.0 in structured JSON mode,
//! with our extensions, chained per stream by SHA-256 over the RFC 8785
//! canonical form.

use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const SPEC_VERSION: &str = "1.0";
pub const DATA_CONTENT_TYPE: &str = "application/json";
/// The `prevhash` of the first event of every stream.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope {
    pub specversion: String,
    /// UUIDv7: unique, and roughly ordered by creation time.
    pub id: Uuid,
    /// The component that recorded the event, e.g. `urn:studio:command-api`.
    pub source: String,
    /// Versioned, e.g. `studio.document.uploaded.v1`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The aggregate id.
    pub subject: Uuid,
    #[serde(with = "micros")]
    pub time: DateTime<Utc>,
    pub datacontenttype: String,
    pub data: Value,
    /// `user`, `document` or `character`.
    pub aggregatetype: String,
    /// 1 for the first event of the aggregate, then contiguous.
    pub aggregatesequence: u64,
    /// Who caused it: a user id, or `system`.
    pub actor: String,
    /// The user whose data this is.
    pub tenant: Uuid,
    pub correlationid: Uuid,
    pub causationid: Uuid,
    /// The command that produced it; the idempotency key of the append.
    pub commandid: Uuid,
    /// The `hash` of the previous event of the same stream, or [`GENESIS_HASH`].
    pub prevhash: String,
    /// SHA-256 (hex) of the JCS form of this envelope without `hash`.
    pub hash: String,
    /// Extension attributes this version does not know (written by a newer
    /// producer or a standard tool): kept, re-serialised and hashed, never
    /// dropped.
    #[serde(flatten)]
    pub extensions: BTreeMap<String, Value>,
}

/// An event as a command produces it, before it is placed in its stream.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub event_type: String,
    pub data: Value,
}

/// What every event of one append shares.
#[derive(Clone, Debug)]
pub struct StreamHeader {
    pub aggregate_id: Uuid,
    pub aggregate_type: String,
    pub tenant: Uuid,
    pub actor: String,
    pub source: String,
    pub command_id: Uuid,
    pub correlation_id: Uuid,
    pub causation_id: Uuid,
    pub time: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("not a JSON event envelope: {0}")]
    Malformed(String),
    #[error("unsupported CloudEvents specversion {0:?}")]
    SpecVersion(String),
    #[error("the hash does not match the content")]
    HashMismatch,
}

impl EventEnvelope {
    /// Places `events` after the stream head (`version`, `head_hash`),
    /// numbering, identifying and chaining them.
    pub fn chain(
        header: &StreamHeader,
        version: u64,
        head_hash: &str,
        events: Vec<NewEvent>,
        mut new_id: impl FnMut() -> Uuid,
    ) -> Vec<EventEnvelope> {
        let mut prev = head_hash.to_owned();
        let time = header.time.trunc_subsecs(6);
        events
            .into_iter()
            .zip(version + 1..)
            .map(|(event, sequence)| {
                let mut envelope = EventEnvelope {
                    specversion: SPEC_VERSION.to_owned(),
                    id: new_id(),
                    source: header.source.clone(),
                    event_type: event.event_type,
                    subject: header.aggregate_id,
                    time,
                    datacontenttype: DATA_CONTENT_TYPE.to_owned(),
                    data: event.data,
                    aggregatetype: header.aggregate_type.clone(),
                    aggregatesequence: sequence,
                    actor: header.actor.clone(),
                    tenant: header.tenant,
                    correlationid: header.correlation_id,
                    causationid: header.causation_id,
                    commandid: header.command_id,
                    prevhash: prev.clone(),
                    hash: String::new(),
                    extensions: BTreeMap::new(),
                };
                envelope.hash = envelope.computed_hash();
                prev = envelope.hash.clone();
                envelope
            })
            .collect()
    }

    /// The hash this envelope should carry: SHA-256 of the RFC 8785 form
    /// of every member but `hash`, serialised straight from the fields.
    pub fn computed_hash(&self) -> String {
        let unhashed = Unhashed {
            specversion: &self.specversion,
            id: &self.id,
            source: &self.source,
            event_type: &self.event_type,
            subject: &self.subject,
            time: Micros(&self.time),
            datacontenttype: &self.datacontenttype,
            data: &self.data,
            aggregatetype: &self.aggregatetype,
            aggregatesequence: self.aggregatesequence,
            actor: &self.actor,
            tenant: &self.tenant,
            correlationid: &self.correlationid,
            causationid: &self.causationid,
            commandid: &self.commandid,
            prevhash: &self.prevhash,
            extensions: &self.extensions,
        };
        let canonical = serde_jcs::to_vec(&unhashed).unwrap_or_default();
        hex::encode(Sha256::digest(&canonical))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses a stored envelope and checks its shape and its own hash
    /// against the exact stored form.
    pub fn from_json(text: &str) -> Result<Self, EnvelopeError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        let stored_hash = value.get("hash").and_then(Value::as_str).map(str::to_owned);
        let envelope: EventEnvelope = serde_json::from_value(value.clone())
            .map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        if envelope.specversion != SPEC_VERSION {
            return Err(EnvelopeError::SpecVersion(envelope.specversion));
        }
        if stored_hash.as_deref() != Some(envelope_hash(&value).as_str()) {
            return Err(EnvelopeError::HashMismatch);
        }
        Ok(envelope)
    }
}

/// The envelope without its hash, borrowed: what the hash covers.
#[derive(Serialize)]
struct Unhashed<'a> {
    specversion: &'a str,
    id: &'a Uuid,
    source: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    subject: &'a Uuid,
    time: Micros<'a>,
    datacontenttype: &'a str,
    data: &'a Value,
    aggregatetype: &'a str,
    aggregatesequence: u64,
    actor: &'a str,
    tenant: &'a Uuid,
    correlationid: &'a Uuid,
    causationid: &'a Uuid,
    commandid: &'a Uuid,
    prevhash: &'a str,
    #[serde(flatten)]
    extensions: &'a BTreeMap<String, Value>,
}

struct Micros<'a>(&'a DateTime<Utc>);

impl Serialize for Micros<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        micros::serialize(self.0, s)
    }
}

/// SHA-256 (hex) of the RFC 8785 canonical form of `envelope` without its
/// `hash` member.
pub fn envelope_hash(envelope: &Value) -> String {
    let mut unhashed = envelope.clone();
    if let Value::Object(fields) = &mut unhashed {
        fields.remove("hash");
    }
    let canonical = serde_jcs::to_vec(&unhashed).unwrap_or_default();
    hex::encode(Sha256::digest(&canonical))
}

/// Times are written with microseconds and `Z`, one spelling per instant,
/// so that re-serialising a stored envelope reproduces it byte for byte.
mod micros {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    const FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

    pub fn serialize<S: Serializer>(time: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&time.format(FORMAT))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    fn header() -> StreamHeader {
        StreamHeader {
            aggregate_id: Uuid::from_u128(7),
            aggregate_type: "document".into(),
            tenant: Uuid::from_u128(1),
            actor: Uuid::from_u128(1).to_string(),
            source: "urn:studio:test".into(),
            command_id: Uuid::from_u128(2),
            correlation_id: Uuid::from_u128(3),
            causation_id: Uuid::from_u128(2),
            time: Utc
                .with_ymd_and_hms(2026, 5, 1, 8, 30, 0)
                .single()
                .unwrap_or_default(),
        }
    }

    fn two_events() -> Vec<EventEnvelope> {
        let mut n = 100;
        EventEnvelope::chain(
            &header(),
            0,
            GENESIS_HASH,
            vec![
                NewEvent {
                    event_type: "studio.document.uploaded.v1".into(),
                    data: json!({"title": "A"}),
                },
                NewEvent {
                    event_type: "studio.document.renamed.v1".into(),
                    data: json!({"title": "B"}),
                },
            ],
            || {
                n += 1;
                Uuid::from_u128(n)
            },
        )
    }

    #[test]
    fn chains_sequences_and_hashes() {
        let events = two_events();
        assert_eq!(events[0].aggregatesequence, 1);
        assert_eq!(events[1].aggregatesequence, 2);
        assert_eq!(events[0].prevhash, GENESIS_HASH);
        assert_eq!(events[1].prevhash, events[0].hash);
        assert_eq!(events[0].hash.len(), 64);
    }

    #[test]
    fn is_cloudevents_structured_json() {
        let value = serde_json::to_value(&two_events()[0]).unwrap_or_default();
        assert_eq!(value["specversion"], "1.0");
        assert_eq!(value["type"], "studio.document.uploaded.v1");
        assert_eq!(value["subject"], Uuid::from_u128(7).to_string());
        assert_eq!(value["time"], "2026-05-01T08:30:00.000000Z");
        assert_eq!(value["datacontenttype"], "application/json");
        // CloudEvents extension names are lower-case letters and digits.
        for key in value
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            assert!(
                key.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
                "{key}"
            );
            assert!(key.len() <= 20, "{key}");
        }
    }

    #[test]
    fn stored_form_round_trips_and_verifies() {
        for event in two_events() {
            let text = event.to_json();
            assert_eq!(EventEnvelope::from_json(&text), Ok(event));
        }
    }

    #[test]
    fn hashes_ignore_member_order_but_not_content() {
        let event = &two_events()[0];
        let text = event.to_json();
        let mut value: Value = serde_json::from_str(&text).unwrap_or_default();
        let reordered: serde_json::Map<String, Value> = value
            .as_object()
            .map(|o| {
                o.iter()
                    .rev()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(envelope_hash(&Value::Object(reordered)), event.hash);

        value["data"]["title"] = json!("Tampered");
        assert_eq!(
            EventEnvelope::from_json(&value.to_string()),
            Err(EnvelopeError::HashMismatch)
        );
    }

    #[test]
    fn unknown_extensions_are_kept_and_covered_by_the_hash() {
        let event = &two_events()[0];
        let mut value = serde_json::to_value(event).unwrap_or_default();
        value["traceparent"] = json!("00-abc-def-01");
        let rehashed = envelope_hash(&value);
        value["hash"] = json!(rehashed);
        let parsed = EventEnvelope::from_json(&value.to_string());
        let parsed = parsed.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            parsed.extensions.get("traceparent"),
            Some(&json!("00-abc-def-01"))
        );
        assert_eq!(parsed.computed_hash(), parsed.hash);
        // Smuggling an attribute in without re-hashing is caught.
        let mut smuggled = serde_json::to_value(event).unwrap_or_default();
        smuggled["evil"] = json!(true);
        assert_eq!(
            EventEnvelope::from_json(&smuggled.to_string()),
            Err(EnvelopeError::HashMismatch)
        );
    }

    #[test]
    fn hostile_text_is_refused() {
        for bad in ["", "null", "[]", "{}", "{\"specversion\":\"1.0\"}"] {
            assert!(EventEnvelope::from_json(bad).is_err(), "{bad}");
        }
        let mut value = serde_json::to_value(&two_events()[0]).unwrap_or_default();
        value["specversion"] = json!("0.3");
        assert!(matches!(
            EventEnvelope::from_json(&value.to_string()),
            Err(EnvelopeError::SpecVersion(_))
        ));
    }
}
