//! Where the pipeline resumes after a restart. Jobs are idempotent, so the
//! checkpoint only has to be conservative: it never passes an upload whose
//! processing is still running.

use std::collections::BTreeMap;
use std::path::Path;

use async_trait::async_trait;
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::{Row, SqlitePool};
use studio_sqlite::Durability;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/processor/sqlite");

#[derive(Debug, thiserror::Error)]
#[error("pipeline checkpoint storage failed: {0}")]
pub struct CheckpointError(String);

impl From<sqlx::Error> for CheckpointError {
    fn from(e: sqlx::Error) -> Self {
        Self(e.to_string())
    }
}

#[async_trait]
pub trait CheckpointStore: Send + Sync + 'static {
    /// The next offset to read, per partition.
    async fn load(&self) -> Result<BTreeMap<u32, u64>, CheckpointError>;

    async fn save(&self, next: &BTreeMap<u32, u64>) -> Result<(), CheckpointError>;
}

/// Checkpoints in a SQLite file of their own (`processor.db`).
pub struct SqliteCheckpoints {
    pool: SqlitePool,
}

impl SqliteCheckpoints {
    pub async fn open(path: &Path) -> Result<Self, CheckpointError> {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(studio_sqlite::options(path, Durability::ProcessCrash))
            .await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| CheckpointError(format!("schema: {e}")))?;
        Ok(Self { pool })
    }
}

#[async_trait]
impl CheckpointStore for SqliteCheckpoints {
    async fn load(&self) -> Result<BTreeMap<u32, u64>, CheckpointError> {
        let rows = sqlx::query("SELECT partition, next_offset FROM checkpoints")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let partition: i64 = row.try_get("partition")?;
                let next: i64 = row.try_get("next_offset")?;
                match (u32::try_from(partition), u64::try_from(next)) {
                    (Ok(p), Ok(n)) => Ok((p, n)),
                    _ => Err(CheckpointError(format!(
                        "checkpoint {partition}:{next} is out of range"
                    ))),
                }
            })
            .collect()
    }

    async fn save(&self, next: &BTreeMap<u32, u64>) -> Result<(), CheckpointError> {
        let mut tx = self.pool.begin().await?;
        for (&partition, &offset) in next {
            sqlx::query(
                "INSERT INTO checkpoints (partition, next_offset) VALUES ($1, $2)
                 ON CONFLICT (partition) DO UPDATE SET next_offset = excluded.next_offset",
            )
            .bind(i64::from(partition))
            .bind(i64::try_from(offset).map_err(|_| CheckpointError("offset out of range".into()))?)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
