//! The read model's progress seen from another process: when the projector
//! runs apart from the query API, the query API learns of each commit from
//! file notifications, reads what the commit changed from the event feed,
//! and announces it exactly as an in-process projector would.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use studio_event_log::PositionToken;
use studio_sqlite::FileChanges;
use tokio::sync::broadcast;
use tokio_util::task::AbortOnDropHandle;

use super::{PROJECTION_NAME, SqliteRelational};
use crate::{LocalProgress, ProgressFeed, ProjectionError, ProjectionUpdate, ReadModel, WaitError};

pub struct WatchedProgress {
    local: LocalProgress,
    _changes: FileChanges,
    _follower: AbortOnDropHandle<()>,
}

impl WatchedProgress {
    pub async fn start(
        read_model: Arc<SqliteRelational>,
        path: &Path,
    ) -> Result<Self, ProjectionError> {
        let changes = FileChanges::watch(path).map_err(|e| {
            ProjectionError::Corrupt(format!("cannot watch {}: {e}", path.display()))
        })?;
        let local = LocalProgress::new();
        let applied = ReadModel::checkpoints(read_model.as_ref()).await?;
        local.advance(PROJECTION_NAME, &applied, vec![]);
        let follower = tokio::spawn(follow(
            read_model,
            changes.subscribe(),
            local.clone(),
            applied,
        ));
        Ok(Self {
            local,
            _changes: changes,
            _follower: AbortOnDropHandle::new(follower),
        })
    }
}

async fn follow(
    read_model: Arc<SqliteRelational>,
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
