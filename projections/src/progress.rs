use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use studio_event_log::PositionToken;
use tokio::sync::{broadcast, watch};

use crate::{Change, ProjectionUpdate};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WaitError {
    #[error("the read model did not reach position {token} within {waited:?}")]
    Timeout { token: String, waited: Duration },
    #[error("the read model is shutting down")]
    Closed,
}

/// How the query side learns what the read model holds: a stream of
/// updates, and waits for a read-your-writes token.
#[async_trait]
pub trait ProgressFeed: Send + Sync + 'static {
    fn subscribe(&self) -> broadcast::Receiver<Arc<ProjectionUpdate>>;

    /// The next offset per partition the read model has applied up to.
    fn applied(&self) -> BTreeMap<u32, u64>;

    async fn wait_for(&self, token: &PositionToken, timeout: Duration) -> Result<(), WaitError>;
}

/// The in-process feed, for a projector and query API in the same process.
#[derive(Clone)]
pub struct LocalProgress {
    applied: watch::Sender<BTreeMap<u32, u64>>,
    updates: broadcast::Sender<Arc<ProjectionUpdate>>,
}

impl Default for LocalProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalProgress {
    pub fn new() -> Self {
        let (applied, _) = watch::channel(BTreeMap::new());
        let (updates, _) = broadcast::channel(1024);
        Self { applied, updates }
    }

    pub(crate) fn advance(
        &self,
        projection: &str,
        next_offsets: &BTreeMap<u32, u64>,
        changes: Vec<Change>,
    ) {
        self.applied.send_replace(next_offsets.clone());
        let _ = self.updates.send(Arc::new(ProjectionUpdate {
            projection: projection.to_owned(),
            next_offsets: next_offsets.clone(),
            changes,
        }));
    }
}

#[async_trait]
impl ProgressFeed for LocalProgress {
    fn subscribe(&self) -> broadcast::Receiver<Arc<ProjectionUpdate>> {
        self.updates.subscribe()
    }

    fn applied(&self) -> BTreeMap<u32, u64> {
        self.applied.borrow().clone()
    }

    async fn wait_for(&self, token: &PositionToken, timeout: Duration) -> Result<(), WaitError> {
        let mut applied = self.applied.subscribe();
        let reached = applied.wait_for(|next| token.is_reached_by(next));
        match tokio::time::timeout(timeout, reached).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(WaitError::Closed),
            Err(_) => Err(WaitError::Timeout {
                token: token.to_string(),
                waited: timeout,
            }),
        }
    }
}
