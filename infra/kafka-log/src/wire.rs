//! The messages clients and command processors exchange over the requests
//! and replies topics (JSON). A request names the reply partition its
//! client reads; a reply names the request it answers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use studio_event_log::{AppendOutcome, EventEnvelope, LogError, Position, StoredEvent};
use uuid::Uuid;

#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub id: Uuid,
    /// The partition of the replies topic the client reads.
    pub reply_partition: i32,
    /// When the client stops waiting. A processor that reads the request
    /// well after that (past `EXPIRY_GRACE`, which absorbs clock skew)
    /// refuses it unread: a command whose sender gave up long ago is not
    /// carried out hours later, after an outage.
    pub expires_at: DateTime<Utc>,
    pub body: RequestBody,
}

/// How long past its `expires_at` a request is still carried out.
pub const EXPIRY_GRACE: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

impl Request {
    /// A deadline too far off to add the grace to (the end of chrono's
    /// calendar) never passes: any producer may write to the requests
    /// topic, and such a request must not crash its partition's owner.
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at
            .checked_add_signed(EXPIRY_GRACE)
            .is_some_and(|deadline| now > deadline)
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RequestBody {
    Append {
        aggregate_id: Uuid,
        expected_version: u64,
        command_id: Uuid,
        events: Vec<EventEnvelope>,
    },
    /// A page of a stream: the events from `from_sequence` on.
    ReadStream {
        aggregate_id: Uuid,
        from_sequence: u64,
    },
    CommandOutcome {
        aggregate_id: Uuid,
        command_id: Uuid,
    },
}

impl RequestBody {
    pub fn aggregate_id(&self) -> Uuid {
        match self {
            Self::Append { aggregate_id, .. }
            | Self::ReadStream { aggregate_id, .. }
            | Self::CommandOutcome { aggregate_id, .. } => *aggregate_id,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Reply {
    pub request: Uuid,
    pub result: Result<ReplyBody, WireError>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReplyBody {
    Appended(WireOutcome),
    Stream {
        events: Vec<WireEvent>,
        /// More events follow: ask again from the next sequence.
        more: bool,
    },
    /// The first outcome of a command, if it was carried out.
    Outcome {
        outcome: Option<WireOutcome>,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WireOutcome {
    pub command_id: Uuid,
    pub aggregate_id: Uuid,
    pub positions: Vec<Position>,
    pub version: u64,
    pub duplicate: bool,
}

impl From<WireOutcome> for AppendOutcome {
    fn from(o: WireOutcome) -> Self {
        AppendOutcome {
            command_id: o.command_id,
            aggregate_id: o.aggregate_id,
            positions: o.positions,
            version: o.version,
            duplicate: o.duplicate,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct WireEvent {
    pub position: Position,
    /// The envelope exactly as stored, so its hash can be checked.
    pub envelope: String,
}

impl WireEvent {
    pub fn into_stored(self) -> Result<StoredEvent, LogError> {
        let envelope = EventEnvelope::from_json(&self.envelope).map_err(|e| {
            LogError::Corrupt(format!(
                "event at {}:{}: {e}",
                self.position.partition, self.position.offset
            ))
        })?;
        Ok(StoredEvent {
            position: self.position,
            envelope,
        })
    }
}

/// The errors a processor answers with.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WireError {
    Conflict {
        aggregate_id: Uuid,
        expected: u64,
        actual: u64,
    },
    InvalidAppend {
        message: String,
    },
    CommandIdReused {
        command_id: Uuid,
    },
    Unavailable {
        message: String,
    },
    Corrupt {
        message: String,
    },
}

impl From<LogError> for WireError {
    fn from(e: LogError) -> Self {
        match e {
            LogError::Conflict {
                aggregate_id,
                expected,
                actual,
            } => Self::Conflict {
                aggregate_id,
                expected,
                actual,
            },
            LogError::InvalidAppend(message) => Self::InvalidAppend { message },
            LogError::CommandIdReused(command_id) => Self::CommandIdReused { command_id },
            LogError::Corrupt(message) => Self::Corrupt { message },
            other => Self::Unavailable {
                message: other.to_string(),
            },
        }
    }
}

impl From<WireError> for LogError {
    fn from(e: WireError) -> Self {
        match e {
            WireError::Conflict {
                aggregate_id,
                expected,
                actual,
            } => LogError::Conflict {
                aggregate_id,
                expected,
                actual,
            },
            WireError::InvalidAppend { message } => LogError::InvalidAppend(message),
            WireError::CommandIdReused { command_id } => LogError::CommandIdReused(command_id),
            WireError::Unavailable { message } => LogError::Unavailable(message),
            WireError::Corrupt { message } => LogError::Corrupt(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome() -> WireOutcome {
        WireOutcome {
            command_id: Uuid::now_v7(),
            aggregate_id: Uuid::now_v7(),
            positions: vec![Position {
                partition: 1,
                offset: 7,
            }],
            version: 3,
            duplicate: false,
        }
    }

    #[test]
    fn a_request_expires_only_past_its_grace() {
        let sent = Utc::now();
        let request = Request {
            id: Uuid::now_v7(),
            reply_partition: 0,
            expires_at: sent,
            body: RequestBody::ReadStream {
                aggregate_id: Uuid::now_v7(),
                from_sequence: 1,
            },
        };
        assert!(!request.expired(sent + EXPIRY_GRACE));
        assert!(request.expired(sent + EXPIRY_GRACE + chrono::TimeDelta::milliseconds(1)));
    }

    #[test]
    fn a_deadline_at_the_end_of_the_calendar_never_passes() {
        let json = format!(
            r#"{{"id":"{}","reply_partition":0,"expires_at":"+262142-12-31T23:59:59Z",
               "body":{{"kind":"read_stream","aggregate_id":"{}","from_sequence":1}}}}"#,
            Uuid::now_v7(),
            Uuid::now_v7()
        );
        let request: Request = serde_json::from_str(&json).expect("a request");
        assert!(!request.expired(Utc::now()));
        assert!(!request.expired(DateTime::<Utc>::MAX_UTC));
    }

    /// Every reply a processor can send survives the trip.
    #[test]
    fn every_reply_encodes_and_decodes() {
        let results = [
            Ok(ReplyBody::Appended(outcome())),
            Ok(ReplyBody::Outcome { outcome: None }),
            Ok(ReplyBody::Outcome {
                outcome: Some(outcome()),
            }),
            Ok(ReplyBody::Stream {
                events: vec![],
                more: true,
            }),
            Err(WireError::Conflict {
                aggregate_id: Uuid::now_v7(),
                expected: 1,
                actual: 2,
            }),
            Err(WireError::CommandIdReused {
                command_id: Uuid::now_v7(),
            }),
        ];
        for result in results {
            let reply = Reply {
                request: Uuid::now_v7(),
                result,
            };
            let json = serde_json::to_vec(&reply).expect("encodes");
            let back: Reply = serde_json::from_slice(&json).expect("decodes");
            assert_eq!(format!("{back:?}"), format!("{reply:?}"));
        }
    }
}
