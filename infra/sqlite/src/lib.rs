//! SQLite as the embedded stores use it: WAL mode, and a background task
//! that folds the write-ahead log into the database file between commits,
//! so that the checkpoint a commit still triggers now and then finds
//! almost nothing left to copy.

use std::path::Path;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use tokio_util::task::AbortOnDropHandle;

/// About 40 MB of write-ahead log between the checkpoints a commit runs.
const AUTOCHECKPOINT_PAGES: &str = "10000";

/// How durable each commit is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// On disk before the commit returns (`synchronous=FULL`).
    EveryCommit,
    /// Survives a process crash, may lose the last commits on power loss
    /// (`synchronous=NORMAL`).
    ProcessCrash,
}

/// Options for the connections of one database file. SQLite's own
/// checkpoint, run by the committing writer, stays on: it is the only one
/// that completes under a steady stream of writes, and lets the log
/// restart from its beginning instead of growing. It runs every
/// [`AUTOCHECKPOINT_PAGES`] pages: the background checkpointer has copied
/// most of them by then, so it costs the commit little more than one sync.
pub fn options(path: &Path, durability: Durability) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(match durability {
            Durability::EveryCommit => SqliteSynchronous::Full,
            Durability::ProcessCrash => SqliteSynchronous::Normal,
        })
        .busy_timeout(Duration::from_secs(10))
        .pragma("wal_autocheckpoint", AUTOCHECKPOINT_PAGES)
        .pragma("journal_size_limit", "67108864")
}

/// Checkpoints the database every `every` from a connection of its own, in
/// PASSIVE mode: it neither waits for nor blocks the writer or readers.
/// Stops when the returned handle is dropped.
pub fn spawn_checkpointer(options: SqliteConnectOptions, every: Duration) -> AbortOnDropHandle<()> {
    AbortOnDropHandle::new(tokio::spawn(async move {
        let mut conn = match options.connect().await {
            Ok(conn) => conn,
            Err(error) => {
                tracing::error!(%error, "cannot open a checkpoint connection; the WAL will grow");
                return;
            }
        };
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let checkpoint = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&mut conn)
                .await;
            if let Err(error) = checkpoint {
                tracing::warn!(%error, "checkpoint failed; retrying later");
            }
        }
    }))
}

/// Wakes whenever another process changes a database file (its WAL or the
/// file itself), by inotify on Linux: how a process that does not write a
/// store learns, without polling, that the writer committed.
pub struct FileChanges {
    _watcher: notify::RecommendedWatcher,
    changes: tokio::sync::watch::Receiver<u64>,
}

impl FileChanges {
    pub fn watch(database: &Path) -> Result<Self, notify::Error> {
        use notify::{RecursiveMode, Watcher};

        let name = database
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let directory = database
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_owned();
        let (tx, changes) = tokio::sync::watch::channel(0u64);
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                if matches!(event.kind, notify::EventKind::Access(_)) {
                    return;
                }
                let ours = event.paths.iter().any(|p| {
                    p.file_name()
                        .is_some_and(|f| f.to_string_lossy().starts_with(name.as_str()))
                });
                if ours {
                    tx.send_modify(|n| *n = n.wrapping_add(1));
                }
            })?;
        watcher.watch(&directory, RecursiveMode::NonRecursive)?;
        Ok(Self {
            _watcher: watcher,
            changes,
        })
    }

    /// A receiver that wakes on every change from now on.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        let mut receiver = self.changes.clone();
        receiver.mark_unchanged();
        receiver
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sqlx::{ConnectOptions, Executor};

    use super::*;

    #[tokio::test]
    async fn another_connection_s_commit_wakes_the_watcher() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store.db");
        let mut writer = options(&path, Durability::ProcessCrash)
            .connect()
            .await
            .expect("open");
        writer
            .execute("CREATE TABLE t (x INTEGER)")
            .await
            .expect("create");
        let watcher = FileChanges::watch(&path).expect("watch");
        let mut changes = watcher.subscribe();
        writer
            .execute("INSERT INTO t VALUES (1)")
            .await
            .expect("insert");
        tokio::time::timeout(Duration::from_secs(5), changes.changed())
            .await
            .expect("woken within 5 s")
            .expect("watcher alive");
        // One commit touches the WAL and its index several times, and
        // inotify may deliver those events over a few milliseconds; once
        // they are in, nothing happening must mean no wake-up.
        let settled = async {
            while tokio::time::timeout(Duration::from_millis(300), changes.changed())
                .await
                .is_ok()
            {}
        };
        tokio::time::timeout(Duration::from_secs(3), settled)
            .await
            .expect("the watcher goes quiet when nothing changes");
    }
}
