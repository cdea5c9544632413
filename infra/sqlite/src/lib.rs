//! SQLite as the embedded stores use it: WAL mode, one writer connection
//! whose commits never pay for a checkpoint, and a background task that
//! folds the write-ahead log into the database file instead.

use std::path::Path;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

/// How durable each commit is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// On disk before the commit returns (`synchronous=FULL`).
    EveryCommit,
    /// Survives a process crash, may lose the last commits on power loss
    /// (`synchronous=NORMAL`).
    ProcessCrash,
}

/// Options for the connections of one database file. The writer's options
/// turn automatic checkpoints off: [`spawn_checkpointer`] does them.
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
        .pragma("wal_autocheckpoint", "0")
        .pragma("journal_size_limit", "67108864")
}

/// Checkpoints the database every `every` from a connection of its own,
/// in PASSIVE mode: it never waits for, nor blocks, the writer or readers.
/// Stops when the returned guard is dropped.
pub fn spawn_checkpointer(options: SqliteConnectOptions, every: Duration) -> Checkpointer {
    Checkpointer(tokio::spawn(async move {
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
            if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&mut conn)
                .await
            {
                tracing::warn!(%error, "checkpoint failed; retrying later");
            }
        }
    }))
}

/// The background checkpoint task; dropping it stops the task.
pub struct Checkpointer(tokio::task::JoinHandle<()>);

impl Checkpointer {
    pub fn stop(&self) {
        self.0.abort();
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.0.abort();
    }
}
