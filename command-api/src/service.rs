use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use studio_domain::{DomainAggregate, DomainError, DomainEvent, Versioned, decide_all};
use studio_event_log::{
    AppendRequest, EventEnvelope, EventLog, GENESIS_HASH, LogError, NewEvent, Position,
    PositionToken, StreamHeader,
};
use uuid::Uuid;

/// How often a command whose caller did not pin a version is decided again
/// after losing a race for its stream.
const MAX_ATTEMPTS: u32 = 8;

/// Who, why and when: everything about a command that is not its content.
#[derive(Clone, Debug)]
pub struct CommandMeta {
    /// The idempotency key: the same id twice is executed once.
    pub command_id: Uuid,
    pub correlation_id: Uuid,
    pub causation_id: Uuid,
    /// As the envelope records it: a user id, or `system`.
    pub actor: String,
    /// Set when the caller read the aggregate at a version and wants the
    /// command refused if it moved since (HTTP `If-Match`).
    pub expected_version: Option<u64>,
    pub at: DateTime<Utc>,
}

impl CommandMeta {
    /// A command that starts its own correlation. Times keep microseconds,
    /// the precision of every stored timestamp.
    pub fn new(command_id: Uuid, actor: String, at: DateTime<Utc>) -> Self {
        Self {
            command_id,
            correlation_id: command_id,
            causation_id: command_id,
            actor,
            expected_version: None,
            at: at.trunc_subsecs(6),
        }
    }
}

/// What a command did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Executed {
    pub aggregate_id: Uuid,
    /// The stream's version afterwards.
    pub version: u64,
    /// The positions of the events this command appended (none when the
    /// command changed nothing).
    pub positions: Vec<Position>,
    /// Read-your-writes: a read model that reached this token reflects
    /// the command.
    pub token: PositionToken,
    /// The command had already been executed; this is its first outcome.
    pub duplicate: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The caller's expected version is stale, or every attempt lost its race.
    #[error("the aggregate is at version {actual}, not {expected}")]
    Conflict { expected: u64, actual: u64 },
    #[error("stored event {event_id} cannot be read: {reason}")]
    Undecodable { event_id: Uuid, reason: String },
    #[error(transparent)]
    Log(LogError),
}

impl From<LogError> for CommandError {
    fn from(e: LogError) -> Self {
        match e {
            LogError::Conflict {
                expected, actual, ..
            } => Self::Conflict { expected, actual },
            other => Self::Log(other),
        }
    }
}

/// An aggregate as the log holds it now.
#[derive(Debug)]
pub struct Loaded<A: DomainAggregate> {
    pub state: Versioned<A::State>,
    pub head_hash: String,
    pub last_position: Option<Position>,
}

pub struct CommandService {
    log: Arc<dyn EventLog>,
    /// The envelope `source` of what this service records.
    source: String,
}

impl CommandService {
    pub fn new(log: Arc<dyn EventLog>, source: impl Into<String>) -> Self {
        Self {
            log,
            source: source.into(),
        }
    }

    pub fn log(&self) -> &Arc<dyn EventLog> {
        &self.log
    }

    /// Folds the aggregate's stream.
    pub async fn load<A: DomainAggregate>(&self, id: Uuid) -> Result<Loaded<A>, CommandError> {
        let stream = self.log.read_stream(id).await?;
        let mut state = Versioned::<A::State>::default();
        let mut head_hash = GENESIS_HASH.to_owned();
        let mut last_position = None;
        for stored in stream {
            let envelope = stored.envelope;
            let event = A::Event::decode(&envelope.event_type, &envelope.data).map_err(|e| {
                CommandError::Undecodable {
                    event_id: envelope.id,
                    reason: e.to_string(),
                }
            })?;
            state = state.apply::<A>(envelope.aggregatesequence, event)?;
            head_hash = envelope.hash;
            last_position = Some(stored.position);
        }
        Ok(Loaded {
            state,
            head_hash,
            last_position,
        })
    }

    /// Decides `commands` (all or nothing) against the aggregate and appends
    /// the events. Without an expected version, a lost race is decided again
    /// against the newer state.
    pub async fn execute<A>(
        &self,
        id: A::Id,
        meta: &CommandMeta,
        commands: Vec<A::Command>,
    ) -> Result<Executed, CommandError>
    where
        A: DomainAggregate,
        A::Id: Copy + Into<Uuid>,
        A::Command: Clone,
    {
        let aggregate_id: Uuid = id.into();
        if let Some(outcome) = self.log.command_outcome(meta.command_id).await? {
            return Ok(Executed {
                aggregate_id: outcome.aggregate_id,
                version: outcome.version,
                token: PositionToken::from_positions(outcome.positions.iter().copied()),
                positions: outcome.positions,
                duplicate: true,
            });
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let loaded = self.load::<A>(aggregate_id).await?;
            let version = loaded.state.version;
            if let Some(expected) = meta.expected_version
                && expected != version
            {
                return Err(CommandError::Conflict {
                    expected,
                    actual: version,
                });
            }
            let events = decide_all::<A>(&loaded.state.state, commands.clone())?;
            if events.is_empty() {
                return Ok(Executed {
                    aggregate_id,
                    version,
                    positions: vec![],
                    token: PositionToken::from_positions(loaded.last_position),
                    duplicate: false,
                });
            }
            let after = events
                .iter()
                .cloned()
                .try_fold(loaded.state.state.clone(), A::apply)?;
            let tenant = A::owner(&id, &after).ok_or_else(|| {
                DomainError::CorruptHistory("an aggregate with events but no owner".into())
            })?;
            let header = StreamHeader {
                aggregate_id,
                aggregate_type: A::TYPE.as_str().to_owned(),
                tenant: tenant.into(),
                actor: meta.actor.clone(),
                source: self.source.clone(),
                command_id: meta.command_id,
                correlation_id: meta.correlation_id,
                causation_id: meta.causation_id,
                time: meta.at,
            };
            let new_events = events
                .iter()
                .map(|e| {
                    let encoded = e.encode();
                    NewEvent {
                        event_type: encoded.event_type,
                        data: encoded.data,
                    }
                })
                .collect();
            let envelopes = EventEnvelope::chain(
                &header,
                version,
                &loaded.head_hash,
                new_events,
                Uuid::now_v7,
            );
            let request = AppendRequest {
                aggregate_id,
                expected_version: version,
                command_id: meta.command_id,
                events: envelopes,
            };
            match self.log.append(request).await {
                Ok(outcome) => {
                    return Ok(Executed {
                        aggregate_id,
                        version: outcome.version,
                        token: PositionToken::from_positions(outcome.positions.iter().copied()),
                        positions: outcome.positions,
                        duplicate: outcome.duplicate,
                    });
                }
                Err(LogError::Conflict { .. })
                    if meta.expected_version.is_none() && attempt < MAX_ATTEMPTS =>
                {
                    tracing::debug!(%aggregate_id, attempt, "lost a race for the stream; deciding again");
                    // Racers that retry in lockstep collide again: spread them.
                    let jitter = rand::random_range(0..=attempt * 1000);
                    tokio::time::sleep(std::time::Duration::from_micros(u64::from(jitter))).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}
