//! The relational read model: users, documents, characters, what
//! processing found, and the event feed, in SQLite (embedded) or
//! PostgreSQL. One code path serves both (sqlx's `Any` driver): the SQL is
//! written once, for PostgreSQL, and [`dialect`] renders it for SQLite.
//!
//! On PostgreSQL every version of the model lives in a schema of its own
//! (`rm_<n>`); readers see the current one through the views of the
//! `studio` schema, which [`Relational::switch_to`] repoints in one
//! transaction (a rebuild builds the next version beside the live one).

mod apply;
mod dead_letters;
mod dialect;
mod fold;
mod merge;
pub mod postgres;
mod processing;
mod query;
mod rows;
mod watch;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor, Row};
use studio_blob_store::BlobStore;
use studio_event_log::StoredEvent;
use studio_privacy::PersonalData;
use tokio_util::task::AbortOnDropHandle;

pub use dialect::Dialect;
pub use postgres::{PostgresListener, ReadModelVersion};
pub use watch::WatchedProgress;

use crate::{Projection, ProjectionError};

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/read-model/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator =
    sqlx::migrate!("../migrations/read-model/postgres");

pub const PROJECTION_NAME: &str = "relational";

/// The tables a replay must reproduce exactly, with their sort keys.
pub const TABLES: &[(&str, &str)] = &[
    ("users", "user_id"),
    ("documents", "document_id"),
    ("characters", "character_id"),
    ("document_chapters", "document_id, ordinal"),
    ("document_terms", "document_id, rank"),
    ("document_characters", "document_id, character_id"),
    ("mentions", "document_id, start_offset"),
    ("interactions", "document_id, a, b"),
    ("character_names", "owner_id, name_key, character_id"),
    ("event_feed", "partition, \"offset\""),
    ("checkpoints", "projection, partition"),
];

pub struct Relational {
    dialect: Dialect,
    /// `None` when this process only reads the read model. Replaced when a
    /// rebuild makes another version current (PostgreSQL).
    writer: RwLock<Option<AnyPool>>,
    /// PostgreSQL: which version this writes, and whether it follows the
    /// current one (the live projector) or stays on its own (a rebuild).
    target: Option<PostgresTarget>,
    /// Opens personal data for the rows that show it; the event feed keeps
    /// it sealed, as in the log.
    personal: Option<Arc<PersonalData>>,
    /// Where the analysis blobs the processing events reference are read.
    blobs: Option<Arc<dyn BlobStore>>,
    reader: AnyPool,
    /// SQLite: folds the write-ahead log between commits.
    checkpointer: Option<AbortOnDropHandle<()>>,
}

struct PostgresTarget {
    url: String,
    version: Mutex<ReadModelVersion>,
    follows_current: bool,
}

/// SQLite's settings, as every connection of the read model sets them: a
/// read model is rebuilt from the log, so losing its last commits to a
/// power cut costs a few re-applied events, not data; deleted and
/// overwritten rows are zeroed, so erased personal data does not linger in
/// free pages.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
    PRAGMA busy_timeout = 10000; PRAGMA wal_autocheckpoint = 10000;
    PRAGMA journal_size_limit = 67108864; PRAGMA secure_delete = ON;";

fn sqlite_url(path: &Path, mode: &str) -> String {
    // The path as a URL path: the characters a URL gives meaning to escaped.
    let mut escaped = String::new();
    for ch in path.to_string_lossy().chars() {
        match ch {
            '%' | '?' | '#' | ' ' => escaped.push_str(&format!("%{:02X}", ch as u32)),
            other => escaped.push(other),
        }
    }
    format!("sqlite://{escaped}?mode={mode}")
}

async fn sqlite_pool(
    path: &Path,
    mode: &str,
    max: u32,
    read_only: bool,
) -> Result<AnyPool, ProjectionError> {
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(max)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                conn.execute(SQLITE_PRAGMAS).await?;
                if read_only {
                    conn.execute("PRAGMA query_only = ON").await?;
                }
                Ok(())
            })
        })
        .connect(&sqlite_url(path, mode))
        .await?;
    Ok(pool)
}

impl Relational {
    pub async fn open_sqlite(
        path: &Path,
        personal: Arc<PersonalData>,
        blobs: Arc<dyn BlobStore>,
    ) -> Result<Self, ProjectionError> {
        let writer = sqlite_pool(path, "rwc", 1, false).await?;
        SQLITE_MIGRATOR
            .run(&writer)
            .await
            .map_err(|e| ProjectionError::Corrupt(format!("read model schema: {e}")))?;
        let reader = sqlite_pool(path, "ro", 8, true).await?;
        let checkpointer = studio_sqlite::spawn_checkpointer(
            studio_sqlite::options(path, studio_sqlite::Durability::ProcessCrash),
            Duration::from_millis(100),
        );
        Ok(Self {
            dialect: Dialect::Sqlite,
            target: None,
            writer: RwLock::new(Some(writer)),
            personal: Some(personal),
            blobs: Some(blobs),
            reader,
            checkpointer: Some(checkpointer),
        })
    }

    /// Opens a read model that another process (the projector) writes, to
    /// answer queries from it.
    pub async fn open_sqlite_reader(path: &Path) -> Result<Self, ProjectionError> {
        if !path.exists() {
            return Err(ProjectionError::Corrupt(format!(
                "no read model at {}: start the projector (or studio serve) first",
                path.display()
            )));
        }
        let reader = sqlite_pool(path, "ro", 8, true).await?;
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_optional(&reader)
                .await
                .ok()
                .flatten();
        let latest = SQLITE_MIGRATOR.iter().map(|m| m.version).max();
        if applied.is_none() || applied < latest {
            return Err(ProjectionError::Corrupt(format!(
                "the read model at {} is not (yet) at the current schema: start the projector",
                path.display()
            )));
        }
        Ok(Self {
            dialect: Dialect::Sqlite,
            target: None,
            writer: RwLock::new(None),
            personal: None,
            blobs: None,
            reader,
            checkpointer: None,
        })
    }

    /// The current version of the model on PostgreSQL, created (with its
    /// views) when the database has none yet; writes go to it.
    pub async fn open_postgres(
        url: &str,
        personal: Arc<PersonalData>,
        blobs: Arc<dyn BlobStore>,
    ) -> Result<Self, ProjectionError> {
        let version = postgres::current_or_first(url).await?;
        let writer = postgres::writer(url, &version).await?;
        let reader = postgres::pool(url, postgres::VIEWS, 8).await?;
        Ok(Self {
            dialect: Dialect::Postgres,
            target: Some(PostgresTarget {
                url: url.to_owned(),
                version: Mutex::new(version),
                follows_current: true,
            }),
            writer: RwLock::new(Some(writer)),
            personal: Some(personal),
            blobs: Some(blobs),
            reader,
            checkpointer: None,
        })
    }

    /// A given version of the model on PostgreSQL (a rebuild's), created
    /// and migrated if missing; it stays on that version, and reads it
    /// directly.
    pub async fn open_postgres_version(
        url: &str,
        version: &ReadModelVersion,
        personal: Arc<PersonalData>,
        blobs: Arc<dyn BlobStore>,
    ) -> Result<Self, ProjectionError> {
        let writer = postgres::writer(url, version).await?;
        let reader = postgres::pool(url, &version.search_path(), 8).await?;
        Ok(Self {
            dialect: Dialect::Postgres,
            target: Some(PostgresTarget {
                url: url.to_owned(),
                version: Mutex::new(*version),
                follows_current: false,
            }),
            writer: RwLock::new(Some(writer)),
            personal: Some(personal),
            blobs: Some(blobs),
            reader,
            checkpointer: None,
        })
    }

    /// The current model on PostgreSQL, through the `studio` views, to
    /// answer queries (also across a rebuild's switch).
    pub async fn open_postgres_reader(url: &str) -> Result<Self, ProjectionError> {
        postgres::wait_for_current(url).await?;
        let reader = postgres::pool(url, postgres::VIEWS, 16).await?;
        Ok(Self {
            dialect: Dialect::Postgres,
            target: None,
            writer: RwLock::new(None),
            personal: None,
            blobs: None,
            reader,
            checkpointer: None,
        })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    fn writer(&self) -> Result<AnyPool, ProjectionError> {
        self.writer
            .read()
            .map_err(|_| ProjectionError::Corrupt("the writer lock is poisoned".into()))?
            .clone()
            .ok_or_else(|| {
                ProjectionError::Corrupt("this process opened the read model read-only".into())
            })
    }

    fn writers_tools(&self) -> Result<(&PersonalData, &dyn BlobStore), ProjectionError> {
        let personal = self.personal.as_deref().ok_or_else(|| {
            ProjectionError::Corrupt("a read model without personal data access".into())
        })?;
        let blobs = self
            .blobs
            .as_deref()
            .ok_or_else(|| ProjectionError::Corrupt("a read model without blob access".into()))?;
        Ok((personal, blobs))
    }

    fn begin_statement(&self) -> &'static str {
        match self.dialect {
            // The write lock up front, instead of failing on upgrade.
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        }
    }

    /// The version this writes (PostgreSQL).
    pub fn version(&self) -> Option<ReadModelVersion> {
        self.target
            .as_ref()
            .and_then(|t| t.version.lock().ok().map(|v| *v))
    }

    /// How many rows each table holds.
    pub async fn row_counts(&self) -> Result<Vec<(String, usize)>, ProjectionError> {
        postgres::row_counts(&self.reader).await
    }

    /// After a rebuild made `current` the version readers see, the live
    /// writer moves to it.
    async fn follow_switch(&self, current: ReadModelVersion) -> Result<(), ProjectionError> {
        let Some(target) = &self.target else {
            return Ok(());
        };
        // The rebuild that made it current created and migrated it.
        let writer = postgres::pool(&target.url, &current.search_path(), 4).await?;
        if let Ok(mut version) = target.version.lock() {
            *version = current;
        }
        if let Ok(mut slot) = self.writer.write() {
            *slot = Some(writer);
        }
        Ok(())
    }

    /// Every row of every table, sorted and rendered as JSON: two read
    /// models are equal when their contents are.
    pub async fn contents(&self) -> Result<BTreeMap<String, Vec<String>>, ProjectionError> {
        let mut contents = BTreeMap::new();
        for (table, order) in TABLES {
            let sql = match self.dialect {
                Dialect::Sqlite => {
                    let columns: Vec<String> =
                        sqlx::query_scalar("SELECT name FROM pragma_table_info($1) ORDER BY cid")
                            .bind(*table)
                            .fetch_all(&self.reader)
                            .await?;
                    let quoted: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
                    format!(
                        "SELECT json_array({}) AS row FROM {table} ORDER BY {order}",
                        quoted.join(", ")
                    )
                }
                Dialect::Postgres => {
                    format!("SELECT to_jsonb(t)::text AS row FROM {table} t ORDER BY {order}")
                }
            };
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(&self.reader)
                .await?;
            let rendered = rows
                .iter()
                .map(|r| r.try_get::<String, _>("row"))
                .collect::<Result<Vec<_>, _>>()?;
            contents.insert((*table).to_owned(), rendered);
        }
        Ok(contents)
    }

    /// Closes every connection; on SQLite, folds the write-ahead log into
    /// the database file first, so the file alone holds the model and can
    /// be moved.
    pub async fn close(&self) -> Result<(), ProjectionError> {
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.abort();
        }
        if let Ok(writer) = self.writer() {
            if self.dialect == Dialect::Sqlite {
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(&writer)
                    .await?;
            }
            writer.close().await;
        }
        self.reader.close().await;
        Ok(())
    }
}

#[async_trait]
impl Projection for Relational {
    fn name(&self) -> &'static str {
        PROJECTION_NAME
    }

    async fn checkpoints(&self) -> Result<BTreeMap<u32, u64>, ProjectionError> {
        query::checkpoints(&self.writer()?).await
    }

    async fn apply(&self, batch: &[StoredEvent]) -> Result<(), ProjectionError> {
        let writer = self.writer()?;
        let (personal, blobs) = self.writers_tools()?;
        let mut tx = writer.begin_with(self.begin_statement()).await?;
        if self.target.as_ref().is_some_and(|t| t.follows_current) {
            // Shares the lock a switch takes: a batch runs wholly before a
            // switch or wholly after it, on the version then current.
            let current = postgres::current_locked(&mut tx).await?;
            if Some(current) != self.version() {
                tx.rollback().await?;
                self.follow_switch(current).await?;
                return Err(ProjectionError::Superseded(current.schema()));
            }
        }
        let free = dead_letters::hold_back(&mut tx, self.dialect, batch).await?;
        let erased = apply::batch(&mut tx, self.dialect, personal, blobs, &free, batch).await?;
        if self.dialect == Dialect::Postgres {
            postgres::notify(&mut tx, batch).await?;
        }
        tx.commit().await?;
        if erased && self.dialect == Dialect::Sqlite {
            // Old images of the erased rows must not survive in the WAL.
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&writer)
                .await?;
        }
        Ok(())
    }

    async fn park(
        &self,
        event: &StoredEvent,
        error: &ProjectionError,
        attempts: u32,
    ) -> Result<(), ProjectionError> {
        let writer = self.writer()?;
        let mut tx = writer.begin_with(self.begin_statement()).await?;
        let batch = std::slice::from_ref(event);
        dead_letters::record(
            &mut tx,
            self.dialect,
            &[event],
            dead_letters::Status::Parked,
            &error.to_string(),
            attempts,
        )
        .await?;
        apply::checkpoints(&mut tx, self.dialect, batch).await?;
        if self.dialect == Dialect::Postgres {
            postgres::notify(&mut tx, batch).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
