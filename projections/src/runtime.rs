use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use studio_event_log::{EventLog, LogError, Position, StoredEvent};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::LocalProgress;

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("read model storage failed: {0}")]
    Storage(#[from] sqlx::Error),
    #[error("event {event_id} cannot be projected: {reason}")]
    Event { event_id: Uuid, reason: String },
    #[error("corrupt read model: {0}")]
    Corrupt(String),
    #[error("reading a blob failed: {0}")]
    Blob(String),
    /// A rebuild made another version current; the writer moved to it and
    /// the projector resumes from that version's checkpoints.
    #[error("the read model moved to {0}")]
    Superseded(String),
    #[error(transparent)]
    Log(#[from] LogError),
}

/// A read model fed by a projector.
#[async_trait]
pub trait Projection: Send + Sync + 'static {
    fn name(&self) -> &'static str;

    /// The next offset to apply, per partition.
    async fn checkpoints(&self) -> Result<BTreeMap<u32, u64>, ProjectionError>;

    /// Applies the batch and advances the checkpoints in one transaction:
    /// either all of it is visible afterwards, or none.
    async fn apply(&self, batch: &[StoredEvent]) -> Result<(), ProjectionError>;
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
    /// Most events per transaction.
    pub batch_size: usize,
    /// How long a caught-up projector waits for appends before it checks
    /// for shutdown again.
    pub idle_wait: Duration,
    /// First and largest pause after a failed batch.
    pub retry_backoff: (Duration, Duration),
}

impl Default for ProjectorConfig {
    fn default() -> Self {
        Self {
            batch_size: 1000,
            idle_wait: Duration::from_millis(500),
            retry_backoff: (Duration::from_millis(50), Duration::from_secs(10)),
        }
    }
}

pub struct Projector {
    log: Arc<dyn EventLog>,
    projection: Arc<dyn Projection>,
    progress: LocalProgress,
    config: ProjectorConfig,
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
        }
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
        let checkpoints = self.projection.checkpoints().await?;
        self.progress
            .advance(self.projection.name(), &checkpoints, vec![]);
        let mut cursor = self.log.cursor(checkpoints).await?;
        loop {
            let batch = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                batch = cursor.next_batch(self.config.batch_size, self.config.idle_wait) => batch?,
            };
            if batch.is_empty() {
                continue;
            }
            self.projection.apply(&batch).await?;
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
                .advance(self.projection.name(), &cursor.next_offsets(), changes);
        }
    }
}
