//! The read model's progress seen from another process: when the projector
//! runs apart from the query API, the query API learns of each commit
//! (from file notifications on SQLite, from LISTEN/NOTIFY on PostgreSQL),
//! reads what the commit changed from the event feed, and announces it
//! exactly as an in-process projector would.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use studio_event_log::PositionToken;
use studio_sqlite::FileChanges;
use tokio::sync::broadcast;
use tokio_util::task::AbortOnDropHandle;

use super::{PROJECTION_NAME, PostgresListener, Relational};
use crate::{LocalProgress, ProgressFeed, ProjectionError, ProjectionUpdate, ReadModel, WaitError};

pub struct WatchedProgress {
    local: LocalProgress,
    /// What tells of a commit in another process (a file watch, a
    /// PostgreSQL listener), kept alive as long as this.
    _trigger: Box<dyn std::any::Any + Send + Sync>,
    _follower: AbortOnDropHandle<()>,
}

impl WatchedProgress {
    /// Follows a SQLite read model by its file.
    pub async fn for_file(
        read_model: Arc<Relational>,
        path: &Path,
    ) -> Result<Self, ProjectionError> {
        let changes = FileChanges::watch(path).map_err(|e| {
            ProjectionError::Corrupt(format!("cannot watch {}: {e}", path.display()))
        })?;
        let subscription = changes.subscribe();
        Self::start(read_model, Box::new(changes), subscription).await
    }

    /// Follows a PostgreSQL read model by its notifications.
    pub async fn for_postgres(
        read_model: Arc<Relational>,
        url: &str,
    ) -> Result<Self, ProjectionError> {
        let listener = PostgresListener::start(url).await?;
        let subscription = listener.subscribe();
        Self::start(read_model, Box::new(listener), subscription).await
    }

    async fn start(
        read_model: Arc<Relational>,
        trigger: Box<dyn std::any::Any + Send + Sync>,
        changes: tokio::sync::watch::Receiver<u64>,
    ) -> Result<Self, ProjectionError> {
        let local = LocalProgress::new();
        let applied = ReadModel::checkpoints(read_model.as_ref()).await?;
        local.advance(PROJECTION_NAME, &applied, vec![]);
        let follower = tokio::spawn(follow(read_model, changes, local.clone(), applied));
        Ok(Self {
            local,
            _trigger: trigger,
            _follower: AbortOnDropHandle::new(follower),
        })
    }
}

async fn follow(
    read_model: Arc<Relational>,
    mut changes: tokio::sync::watch::Receiver<u64>,
    local: LocalProgress,
    mut applied: BTreeMap<u32, u64>,
) {
    while changes.changed().await.is_ok() {
        let result = async {
            let now = ReadModel::checkpoints(read_model.as_ref()).await?;
            if now == applied {
                return Ok(());
            }
            let changed = read_model.changes_between(&applied, &now).await?;
            local.advance(PROJECTION_NAME, &now, changed);
            applied = now;
            Ok::<_, ProjectionError>(())
        }
        .await;
        if let Err(error) = result {
            tracing::warn!(%error, "reading the read model's progress failed");
        }
    }
}

#[async_trait]
impl ProgressFeed for WatchedProgress {
    fn subscribe(&self) -> broadcast::Receiver<Arc<ProjectionUpdate>> {
        self.local.subscribe()
    }

    fn applied(&self) -> BTreeMap<u32, u64> {
        self.local.applied()
    }

    async fn wait_for(&self, token: &PositionToken, timeout: Duration) -> Result<(), WaitError> {
        self.local.wait_for(token, timeout).await
    }
}
