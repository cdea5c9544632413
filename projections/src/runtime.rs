use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use studio_event_log::{EventLog, LogError, Position, ReadAhead, StoredEvent};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::LocalProgress;

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// An event no retry will apply (it does not decode, a blob it names
    /// is missing, the database refuses its data): parked, not retried
    /// forever.
    #[error("read model storage failed: {0}")]
    Storage(#[from] sqlx::Error),
    #[error("event {event_id} cannot be projected: {reason}")]
    Event { event_id: Uuid, reason: String },
    #[error("corrupt read model: {0}")]
    Corrupt(String),
    #[error("{0}")]
    NotFound(String),
    #[error("reading a blob failed: {0}")]
    Blob(String),
    /// A rebuild made another version current; the writer moved to it and
    /// the projector resumes from that version's checkpoints.
    #[error("the read model moved to {0}")]
    Superseded(String),
    #[error(transparent)]
    Log(#[from] LogError),
    /// A graph database (Neo4j) failed or is out of reach: retried.
    #[error("graph store failed: {0}")]
    Graph(String),
    /// The vector store or the embedder failed or is out of reach: retried.
    #[error("vector projection failed: {0}")]
    Vectors(String),
}

/// A read model fed by a projector.
#[async_trait]
pub trait Projection: Send + Sync + 'static {
    fn name(&self) -> &'static str;

    /// The next offset to apply, per partition.
    async fn checkpoints(&self) -> Result<BTreeMap<u32, u64>, ProjectionError>;

    /// Applies the batch and advances the checkpoints in one transaction:
    /// either all of it is visible afterwards, or none. Events of an
    /// aggregate with a parked event wait behind it (recorded as blocked).
    async fn apply(&self, batch: &[StoredEvent]) -> Result<(), ProjectionError>;

    /// Parks an event that cannot be applied: records it, with the error
    /// and the attempts made, in the dead-letter table, and moves the
    /// checkpoint past it, in one transaction.
    async fn park(
        &self,
        event: &StoredEvent,
        error: &ProjectionError,
        attempts: u32,
    ) -> Result<(), ProjectionError>;
}

impl ProjectionError {
    /// Whether the error comes from the event itself rather than from a
    /// store being out of reach.
    pub fn is_poison(&self) -> bool {
        match self {
            Self::Event { .. } | Self::Blob(_) => true,
            // SQLSTATE classes 22 (data exception) and 23 (integrity
            // constraint) are about the data; SQLite's constraint errors too.
            Self::Storage(sqlx::Error::Database(db)) => {
                let code = db.code().unwrap_or_default();
                code.starts_with("22")
                    || code.starts_with("23")
                    || db.is_unique_violation()
                    || db.is_check_violation()
                    || db.is_foreign_key_violation()
            }
            _ => false,
        }
    }
}

/// One change a committed batch made visible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub aggregate_type: String,
    pub aggregate_id: Uuid,
    pub tenant: Uuid,
    pub event_type: String,
    pub position: Position,
}

/// Announced after each commit: the read model now reflects everything
/// before `next_offsets`, including `changes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectionUpdate {
    pub projection: String,
    pub next_offsets: BTreeMap<u32, u64>,
    pub changes: Vec<Change>,
}

#[derive(Clone, Debug)]
pub struct ProjectorConfig {
    /// Most events per transaction. A batch holds what the log has, up to
    /// this, without waiting for more: a large bound costs live updates
    /// nothing and lets a projector that is behind catch up in big steps.
    pub batch_size: usize,
    /// How long a caught-up projector waits for appends before it checks
    /// for shutdown again.
    pub idle_wait: Duration,
    /// First and largest pause after a failed batch.
    pub retry_backoff: (Duration, Duration),
    /// Tries of an event that fails on its own before it is parked.
    pub poison_attempts: u32,
}

impl Default for ProjectorConfig {
    fn default() -> Self {
        Self {
            batch_size: 5000,
            idle_wait: Duration::from_millis(500),
            retry_backoff: (Duration::from_millis(50), Duration::from_secs(10)),
            poison_attempts: 3,
        }
    }
}

pub struct Projector {
    log: Arc<dyn EventLog>,
    projection: Arc<dyn Projection>,
    progress: LocalProgress,
    config: ProjectorConfig,
    /// The partitions it applies, when it shares the log with others.
    partitions: Option<BTreeSet<u32>>,
}

impl Projector {
    pub fn new(
        log: Arc<dyn EventLog>,
        projection: Arc<dyn Projection>,
        progress: LocalProgress,
        config: ProjectorConfig,
    ) -> Self {
        Self {
            log,
            projection,
            progress,
            config,
            partitions: None,
        }
    }

    /// Applies `partitions` only (the others are other projectors' work).
    pub fn over(mut self, partitions: BTreeSet<u32>) -> Self {
        self.partitions = Some(partitions);
        self
    }

    /// Runs until `shutdown` is cancelled. A failing batch is retried with
    /// backoff from the last checkpoint; nothing is skipped.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), ProjectionError> {
        let mut backoff = self.config.retry_backoff.0;
        while !shutdown.is_cancelled() {
            match self.follow(&shutdown).await {
                Ok(()) => return Ok(()),
                Err(ProjectionError::Superseded(version)) => {
                    tracing::info!(projection = self.projection.name(), %version, "following the rebuilt read model");
                }
                Err(error) => {
                    tracing::error!(
                        projection = self.projection.name(),
                        %error,
                        retry_in = ?backoff,
                        "projection failed; retrying from its checkpoint"
                    );
                    tokio::select! {
                        _ = shutdown.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(self.config.retry_backoff.1);
                }
            }
        }
        Ok(())
    }

    /// Follows the log from the checkpoint until shutdown (Ok) or a failure.
    async fn follow(&self, shutdown: &CancellationToken) -> Result<(), ProjectionError> {
        let mut checkpoints = self.projection.checkpoints().await?;
        let cursor = match &self.partitions {
            Some(partitions) => {
                checkpoints.retain(|p, _| partitions.contains(p));
                self.log
                    .cursor_over(partitions, checkpoints.clone())
                    .await?
            }
            None => self.log.cursor(checkpoints.clone()).await?,
        };
        self.progress
            .advance(self.projection.name(), &checkpoints, vec![]);
        let mut batches = ReadAhead::new(cursor, self.config.batch_size, self.config.idle_wait);
        loop {
            let (batch, next_offsets) = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                batch = batches.next() => batch?,
            };
            if batch.is_empty() {
                continue;
            }
            match self.projection.apply(&batch).await {
                Ok(()) => {}
                Err(e) if e.is_poison() => self.isolate(&batch, shutdown).await?,
                Err(e) => return Err(e),
            }
            let changes = batch
                .iter()
                .map(|e| Change {
                    aggregate_type: e.envelope.aggregatetype.clone(),
                    aggregate_id: e.envelope.subject,
                    tenant: e.envelope.tenant,
                    event_type: e.envelope.event_type.clone(),
                    position: e.position,
                })
                .collect();
            self.progress
                .advance(self.projection.name(), &next_offsets, changes);
        }
    }

    /// A batch failed because of one of its events: applies them one at a
    /// time, retrying each that fails a few times, and parks those that
    /// still fail, so the events after them go on being applied.
    async fn isolate(
        &self,
        batch: &[StoredEvent],
        shutdown: &CancellationToken,
    ) -> Result<(), ProjectionError> {
        for event in batch {
            let mut backoff = self.config.retry_backoff.0;
            let mut attempt = 0;
            loop {
                attempt += 1;
                match self.projection.apply(std::slice::from_ref(event)).await {
                    Ok(()) => break,
                    Err(e) if e.is_poison() && attempt >= self.config.poison_attempts => {
                        tracing::error!(
                            projection = self.projection.name(),
                            event_id = %event.envelope.id,
                            position = %format!("{}:{}", event.position.partition, event.position.offset),
                            error = %e,
                            "parking an event the projection cannot apply"
                        );
                        self.projection.park(event, &e, attempt).await?;
                        break;
                    }
                    Err(e) if e.is_poison() => {
                        tokio::select! {
                            _ = shutdown.cancelled() => return Ok(()),
                            _ = tokio::time::sleep(backoff) => {}
                        }
                        backoff = (backoff * 2).min(self.config.retry_backoff.1);
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }
}
