//! The relational read model: users, documents, characters and the event
//! feed, in SQLite (embedded). The SQL is written to run unchanged on
//! PostgreSQL (`$n` parameters, `ON CONFLICT`, row-value comparisons).

mod apply;
mod processing;
mod query;
mod watch;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::{Row, SqlitePool};
use studio_blob_store::BlobStore;
use studio_event_log::StoredEvent;
use studio_privacy::PersonalData;
use studio_sqlite::Durability;
use tokio_util::task::AbortOnDropHandle;

use crate::{Projection, ProjectionError};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/read-model/sqlite");

pub use watch::WatchedProgress;

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

pub struct SqliteRelational {
    /// `None` when this process only reads the read model.
    writer: Option<SqlitePool>,
    /// Opens personal data for the rows that show it; the event feed keeps
    /// it sealed, as in the log.
    personal: Option<Arc<PersonalData>>,
    /// Where the analysis blobs the processing events reference are read.
    blobs: Option<Arc<dyn BlobStore>>,
    reader: SqlitePool,
    checkpointer: Option<AbortOnDropHandle<()>>,
}

impl SqliteRelational {
    pub async fn open(
        path: &Path,
        personal: Arc<PersonalData>,
        blobs: Arc<dyn BlobStore>,
    ) -> Result<Self, ProjectionError> {
        // A read model is rebuilt from the log: losing its last commits to
        // a power cut costs a few re-applied events, not data. Deleted and
        // overwritten rows are zeroed on disk, so erased personal data does
        // not linger in free pages.
        let options =
            studio_sqlite::options(path, Durability::ProcessCrash).pragma("secure_delete", "ON");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        MIGRATOR
            .run(&writer)
            .await
            .map_err(|e| ProjectionError::Corrupt(format!("read model schema: {e}")))?;
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.clone().read_only(true))
            .await?;
        let checkpointer = studio_sqlite::spawn_checkpointer(options, Duration::from_millis(100));
        Ok(Self {
            writer: Some(writer),
            personal: Some(personal),
            blobs: Some(blobs),
            reader,
            checkpointer: Some(checkpointer),
        })
    }

    /// Opens a read model that another process (the projector) writes, to
    /// answer queries from it.
    pub async fn open_reader(path: &Path) -> Result<Self, ProjectionError> {
        if !path.exists() {
            return Err(ProjectionError::Corrupt(format!(
                "no read model at {}: start the projector (or studio serve) first",
                path.display()
            )));
        }
        let options = studio_sqlite::options(path, Durability::ProcessCrash).read_only(true);
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_optional(&reader)
                .await
                .ok()
                .flatten();
        let latest = MIGRATOR.iter().map(|m| m.version).max();
        if applied.is_none() || applied < latest {
            return Err(ProjectionError::Corrupt(format!(
                "the read model at {} is not (yet) at the current schema: start the projector",
                path.display()
            )));
        }
        Ok(Self {
            writer: None,
            personal: None,
            blobs: None,
            reader,
            checkpointer: None,
        })
    }

    fn writer(&self) -> Result<&SqlitePool, ProjectionError> {
        self.writer.as_ref().ok_or_else(|| {
            ProjectionError::Corrupt("this process opened the read model read-only".into())
        })
    }

    /// Every row of every table, sorted and rendered as JSON arrays: two
    /// read models are equal when their contents are.
    pub async fn contents(&self) -> Result<BTreeMap<String, Vec<String>>, ProjectionError> {
        let mut contents = BTreeMap::new();
        for (table, order) in TABLES {
            let columns: Vec<String> =
                sqlx::query_scalar("SELECT name FROM pragma_table_info($1) ORDER BY cid")
                    .bind(*table)
                    .fetch_all(&self.reader)
                    .await?;
            let quoted: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
            let sql = format!(
                "SELECT json_array({}) AS row FROM {table} ORDER BY {order}",
                quoted.join(", ")
            );
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

    /// Folds the write-ahead log into the database file and closes every
    /// connection: the file alone then holds the read model and can be moved.
    pub async fn close(&self) -> Result<(), ProjectionError> {
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.abort();
        }
        if let Some(writer) = &self.writer {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(writer)
                .await?;
            writer.close().await;
        }
        self.reader.close().await;
        Ok(())
    }
}

#[async_trait]
impl Projection for SqliteRelational {
    fn name(&self) -> &'static str {
        PROJECTION_NAME
    }

    async fn checkpoints(&self) -> Result<BTreeMap<u32, u64>, ProjectionError> {
        query::checkpoints(self.writer()?).await
    }

    async fn apply(&self, batch: &[StoredEvent]) -> Result<(), ProjectionError> {
        let writer = self.writer()?;
        let personal = self.personal.as_ref().ok_or_else(|| {
            ProjectionError::Corrupt("a read model without personal data access".into())
        })?;
        let blobs = self
            .blobs
            .as_deref()
            .ok_or_else(|| ProjectionError::Corrupt("a read model without blob access".into()))?;
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
        let mut erased = false;
        for event in batch {
            erased |= apply::event(&mut tx, personal, blobs, event).await?;
        }
        apply::checkpoints(&mut tx, batch).await?;
        tx.commit().await?;
        if erased {
            // Old images of the erased rows must not survive in the WAL.
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(writer)
                .await?;
        }
        Ok(())
    }
}
