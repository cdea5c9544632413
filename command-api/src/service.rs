use std::any::Any;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SubsecRound, Utc};
use studio_domain::{DomainAggregate, DomainError, DomainEvent, Versioned, decide_all};
use studio_event_log::{
    AppendRequest, EventEnvelope, EventLog, GENESIS_HASH, LogError, NewEvent, Position,
    PositionToken, StreamHeader,
};
use studio_privacy::{PersonalData, PrivacyError};
use uuid::Uuid;

/// How often a command whose caller did not pin a version is decided again
/// after losing a race for its stream.
const MAX_ATTEMPTS: u32 = 8;
/// Streams whose folded state is kept between commands.
const CACHED_STREAMS: usize = 10_000;

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
    /// The command id came from the client (an idempotency key), so this
    /// may be a retry of a command already executed. Fresh ids cannot be.
    pub may_be_retry: bool,
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
            may_be_retry: false,
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
    #[error(transparent)]
    Privacy(#[from] PrivacyError),
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

/// The folded head of a stream, kept between commands. A stale entry costs
/// a conflict and a reload, never a wrong decision: the append checks the
/// version against the log.
struct CachedStream {
    version: u64,
    head_hash: String,
    last_position: Option<Position>,
    state: Arc<dyn Any + Send + Sync>,
}

pub struct CommandService {
    log: Arc<dyn EventLog>,
    personal: Arc<PersonalData>,
    /// The envelope `source` of what this service records.
    source: String,
    streams: Mutex<lru::LruCache<Uuid, CachedStream>>,
}

impl CommandService {
    pub fn new(
        log: Arc<dyn EventLog>,
        personal: Arc<PersonalData>,
        source: impl Into<String>,
    ) -> Self {
        let capacity = NonZeroUsize::new(CACHED_STREAMS).unwrap_or(NonZeroUsize::MIN);
        Self {
            log,
            personal,
            source: source.into(),
            streams: Mutex::new(lru::LruCache::new(capacity)),
        }
    }

    pub fn personal_data(&self) -> &Arc<PersonalData> {
        &self.personal
    }

    fn cached<A: DomainAggregate>(&self, id: Uuid) -> Option<Loaded<A>>
    where
        A::State: Send + Sync + 'static,
    {
        let mut streams = self.streams.lock().ok()?;
        let cached = streams.get(&id)?;
        let state = cached.state.downcast_ref::<A::State>()?.clone();
        Some(Loaded {
            state: Versioned {
                version: cached.version,
                state,
            },
            head_hash: cached.head_hash.clone(),
            last_position: cached.last_position,
        })
    }

    fn remember<A: DomainAggregate>(&self, id: Uuid, loaded: Loaded<A>)
    where
        A::State: Send + Sync + 'static,
    {
        if let Ok(mut streams) = self.streams.lock() {
            streams.put(
                id,
                CachedStream {
                    version: loaded.state.version,
                    head_hash: loaded.head_hash,
                    last_position: loaded.last_position,
                    state: Arc::new(loaded.state.state),
                },
            );
        }
    }

    fn forget(&self, id: Uuid) {
        if let Ok(mut streams) = self.streams.lock() {
            streams.pop(&id);
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
            let undecodable = |reason: String| CommandError::Undecodable {
                event_id: envelope.id,
                reason,
            };
            let data = self
                .personal
                .unseal(envelope.tenant, &envelope.event_type, &envelope.data)
                .await
                .map_err(|e| undecodable(e.to_string()))?;
            let event = A::Event::decode(&envelope.event_type, &data)
                .map_err(|e| undecodable(e.to_string()))?;
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
        A::State: Send + Sync + 'static,
    {
        self.run::<A>(id, meta, commands, false).await
    }

    /// Executes commands that create the aggregate, without reading its
    /// stream first (bulk imports): the stream is expected empty. If it is
    /// not, the append answers: the first outcome of a command id executed
    /// before (`duplicate`), else a conflict.
    pub async fn create<A>(
        &self,
        id: A::Id,
        meta: &CommandMeta,
        commands: Vec<A::Command>,
    ) -> Result<Executed, CommandError>
    where
        A: DomainAggregate,
        A::Id: Copy + Into<Uuid>,
        A::Command: Clone,
        A::State: Send + Sync + 'static,
    {
        let meta = CommandMeta {
            expected_version: Some(0),
            ..meta.clone()
        };
        self.run::<A>(id, &meta, commands, true).await
    }

    async fn run<A>(
        &self,
        id: A::Id,
        meta: &CommandMeta,
        commands: Vec<A::Command>,
        expect_empty: bool,
    ) -> Result<Executed, CommandError>
    where
        A: DomainAggregate,
        A::Id: Copy + Into<Uuid>,
        A::Command: Clone,
        A::State: Send + Sync + 'static,
    {
        let aggregate_id: Uuid = id.into();
        if meta.may_be_retry
            && let Some(outcome) = self
                .log
                .command_outcome(aggregate_id, meta.command_id)
                .await?
        {
            self.forget(aggregate_id);
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
            // The cached head is trusted only on a first attempt that does
            // not pin a version it disagrees with.
            let cached = match self.cached::<A>(aggregate_id) {
                Some(c)
                    if attempt == 1
                        && meta.expected_version.is_none_or(|v| v == c.state.version) =>
                {
                    Some(c)
                }
                _ => None,
            };
            let loaded = match cached {
                Some(loaded) => loaded,
                None if expect_empty => Loaded {
                    state: Versioned::default(),
                    head_hash: GENESIS_HASH.to_owned(),
                    last_position: None,
                },
                None => self.load::<A>(aggregate_id).await?,
            };
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
            let mut new_events = Vec::with_capacity(events.len());
            for event in &events {
                let encoded = event.encode();
                let personal = A::personal_fields(&encoded.event_type);
                let data = self
                    .personal
                    .seal(tenant.into(), &encoded.event_type, personal, encoded.data)
                    .await?;
                new_events.push(NewEvent {
                    event_type: encoded.event_type,
                    data,
                });
            }
            let envelopes = EventEnvelope::chain(
                &header,
                version,
                &loaded.head_hash,
                new_events,
                Uuid::now_v7,
            );
            let head_hash = envelopes.last().map(|e| e.hash.clone()).unwrap_or_default();
            let request = AppendRequest {
                aggregate_id,
                expected_version: version,
                command_id: meta.command_id,
                events: envelopes,
            };
            match self.log.append(request).await {
                Ok(outcome) if outcome.duplicate => {
                    self.forget(aggregate_id);
                    return Ok(Executed {
                        aggregate_id,
                        version: outcome.version,
                        token: PositionToken::from_positions(outcome.positions.iter().copied()),
                        positions: outcome.positions,
                        duplicate: true,
                    });
                }
                Ok(outcome) => {
                    self.remember::<A>(
                        aggregate_id,
                        Loaded {
                            state: Versioned {
                                version: outcome.version,
                                state: after,
                            },
                            head_hash,
                            last_position: outcome.positions.last().copied(),
                        },
                    );
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
                    self.forget(aggregate_id);
                    tracing::debug!(%aggregate_id, attempt, "lost a race for the stream; deciding again");
                    // Racers that retry in lockstep collide again: spread them.
                    let jitter = rand::random_range(0..=attempt * 1000);
                    tokio::time::sleep(std::time::Duration::from_micros(u64::from(jitter))).await;
                }
                Err(e) => {
                    self.forget(aggregate_id);
                    return Err(e.into());
                }
            }
        }
    }
}
