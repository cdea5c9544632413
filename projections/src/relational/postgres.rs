//! The read model's life on PostgreSQL: versions in schemas of their own,
//! the `studio` views readers go through, the switch from one version to
//! the next, and the notifications a commit sends to every query API.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::any::AnyPoolOptions;
use sqlx::postgres::PgListener;
use sqlx::{AnyConnection, AnyPool, Executor, Row};
use studio_event_log::StoredEvent;
use tokio::sync::watch;
use tokio_util::task::AbortOnDropHandle;

use super::TABLES;
use crate::ProjectionError;

/// The schema of the views readers query.
pub const VIEWS: &str = "studio";
/// The schema that records which version is current.
const ADMIN: &str = "studio_admin";
/// The channel commits are announced on.
pub const CHANNEL: &str = "studio_projection";
/// Serialises creating, switching and dropping versions across processes.
const LOCK_KEY: i64 = 0x5354_5544_494f; // "STUDIO"

/// A version of the read model: the schema `rm_<number>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReadModelVersion(pub u32);

impl ReadModelVersion {
    pub fn schema(&self) -> String {
        format!("rm_{}", self.0)
    }

    pub fn search_path(&self) -> String {
        self.schema()
    }

    fn parse(schema: &str) -> Option<Self> {
        schema.strip_prefix("rm_")?.parse().ok().map(Self)
    }
}

/// A pool whose connections see `search_path` first, in UTC. The settings
/// ride on the connection string (`options=-c ...`), so every connection
/// the pool opens, or reopens, has them.
pub async fn pool(url: &str, search_path: &str, max: u32) -> Result<AnyPool, ProjectionError> {
    sqlx::any::install_default_drivers();
    if !search_path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(ProjectionError::Corrupt(format!(
            "schema name {search_path:?}"
        )));
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    let url = format!(
        "{url}{separator}options=-c%20search_path%3D{search_path}%2Cpublic%20-c%20TimeZone%3DUTC"
    );
    let pool = AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(30))
        .connect(&url)
        .await?;
    Ok(pool)
}

async fn admin(url: &str) -> Result<AnyPool, ProjectionError> {
    let pool = pool(url, "public", 2).await?;
    pool.execute(sqlx::AssertSqlSafe(format!(
        "CREATE SCHEMA IF NOT EXISTS {ADMIN};
         CREATE SCHEMA IF NOT EXISTS {VIEWS};
         CREATE TABLE IF NOT EXISTS {ADMIN}.read_model (
             singleton   boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
             schema_name text        NOT NULL,
             switched_at timestamptz NOT NULL DEFAULT now()
         )"
    )))
    .await
    .or_else(|e| match &e {
        // Two processes creating the same schema at once: one wins.
        sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => {
            Ok(Default::default())
        }
        _ => Err(e),
    })?;
    Ok(pool)
}

pub async fn current(url: &str) -> Result<Option<ReadModelVersion>, ProjectionError> {
    let admin = admin(url).await?;
    let schema: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT schema_name FROM {ADMIN}.read_model"
    )))
    .fetch_optional(&admin)
    .await?;
    admin.close().await;
    Ok(schema.as_deref().and_then(ReadModelVersion::parse))
}

/// Every version schema in the database, oldest first.
pub async fn versions(url: &str) -> Result<Vec<ReadModelVersion>, ProjectionError> {
    let admin = admin(url).await?;
    let schemas: Vec<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'rm\\_%'")
            .fetch_all(&admin)
            .await?;
    admin.close().await;
    let mut versions: Vec<ReadModelVersion> = schemas
        .iter()
        .filter_map(|s| ReadModelVersion::parse(s))
        .collect();
    versions.sort();
    Ok(versions)
}

/// The current version; on a database without one, version 1, created,
/// migrated and made current under a lock.
pub async fn current_or_first(url: &str) -> Result<ReadModelVersion, ProjectionError> {
    if let Some(version) = current(url).await? {
        return Ok(version);
    }
    let admin = admin(url).await?;
    let mut conn = admin.acquire().await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *conn)
        .await?;
    let result = async {
        if let Some(version) = current(url).await? {
            return Ok(version);
        }
        let first = ReadModelVersion(1);
        writer(url, &first).await?.close().await;
        point_views(&mut conn, &first).await?;
        Ok(first)
    }
    .await;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *conn)
        .await?;
    result
}

/// A writer of `version`: its schema created and migrated when missing.
pub async fn writer(url: &str, version: &ReadModelVersion) -> Result<AnyPool, ProjectionError> {
    let writer = pool(url, &version.search_path(), 4).await?;
    create_schema(&writer, version).await?;
    let mut conn = writer.acquire().await?;
    super::POSTGRES_MIGRATOR
        .run(&mut *conn)
        .await
        .map_err(|e| ProjectionError::Corrupt(format!("read model schema: {e}")))?;
    drop(conn);
    Ok(writer)
}

/// The current version, read under a share lock on the record a switch
/// updates: held until the caller's transaction ends.
pub async fn current_locked(conn: &mut AnyConnection) -> Result<ReadModelVersion, ProjectionError> {
    let schema: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT schema_name FROM {ADMIN}.read_model FOR SHARE"
    )))
    .fetch_one(&mut *conn)
    .await?;
    ReadModelVersion::parse(&schema)
        .ok_or_else(|| ProjectionError::Corrupt(format!("current read model {schema:?}")))
}

pub async fn create_schema(
    pool: &AnyPool,
    version: &ReadModelVersion,
) -> Result<(), ProjectionError> {
    pool.execute(sqlx::AssertSqlSafe(format!(
        "CREATE SCHEMA IF NOT EXISTS {}",
        version.schema()
    )))
    .await
    .or_else(|e| match &e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => {
            Ok(Default::default())
        }
        _ => Err(e),
    })?;
    Ok(())
}

/// The statements that point every view of the `studio` schema at
/// `version` and record it as current; run in one transaction, readers see
/// the old version or the new, never a mix.
fn repoint(version: &ReadModelVersion) -> String {
    let schema = version.schema();
    let mut sql = String::new();
    let tables = TABLES.iter().map(|(t, _)| *t).chain(["dead_letters"]);
    for table in tables {
        sql.push_str(&format!(
            "DROP VIEW IF EXISTS {VIEWS}.{table}; CREATE VIEW {VIEWS}.{table} AS SELECT * FROM {schema}.{table};"
        ));
    }
    sql.push_str(&format!(
        "INSERT INTO {ADMIN}.read_model (singleton, schema_name, switched_at) VALUES (true, '{schema}', now())
         ON CONFLICT (singleton) DO UPDATE SET schema_name = excluded.schema_name, switched_at = now();"
    ));
    sql
}

async fn point_views(
    conn: &mut AnyConnection,
    version: &ReadModelVersion,
) -> Result<(), ProjectionError> {
    conn.execute(sqlx::AssertSqlSafe(format!(
        "BEGIN; {} COMMIT;",
        repoint(version)
    )))
    .await?;
    Ok(())
}

/// Makes `version` the one readers see. Holds the lock every live batch
/// shares (so the live projector pauses) while `catch_up` brings the new
/// version level with the log, then switches in the same transaction.
pub async fn switch_to<F>(
    url: &str,
    version: &ReadModelVersion,
    catch_up: F,
) -> Result<(), ProjectionError>
where
    F: std::future::Future<Output = Result<(), ProjectionError>>,
{
    let admin = admin(url).await?;
    let mut conn = admin.acquire().await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *conn)
        .await?;
    let switched = async {
        conn.execute("BEGIN").await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT schema_name FROM {ADMIN}.read_model FOR UPDATE"
        )))
        .fetch_optional(&mut *conn)
        .await?;
        match catch_up.await {
            Ok(()) => {
                conn.execute(sqlx::AssertSqlSafe(format!("{} COMMIT;", repoint(version))))
                    .await?;
                Ok(())
            }
            Err(e) => {
                conn.execute("ROLLBACK").await?;
                Err(e)
            }
        }
    }
    .await;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *conn)
        .await?;
    switched
}

/// Drops a version no reader sees any more.
pub async fn drop_version(url: &str, version: &ReadModelVersion) -> Result<(), ProjectionError> {
    if current(url).await? == Some(*version) {
        return Err(ProjectionError::Corrupt(format!(
            "{} is the current read model",
            version.schema()
        )));
    }
    let admin = admin(url).await?;
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {} CASCADE",
            version.schema()
        )))
        .await?;
    admin.close().await;
    Ok(())
}

/// Waits (up to a minute) until a projector has created the read model.
pub async fn wait_for_current(url: &str) -> Result<ReadModelVersion, ProjectionError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match current(url).await {
            Ok(Some(version)) => return Ok(version),
            Ok(None) | Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Ok(None) => {
                return Err(ProjectionError::Corrupt(
                    "no read model in the database: start the projector first".into(),
                ));
            }
            Err(e) => return Err(e),
        }
    }
}

/// What a commit announces: up to where the read model now reaches. The
/// query APIs read what changed from the event feed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committed {
    pub projection: String,
    pub next_offsets: BTreeMap<u32, u64>,
}

/// Queues the commit's announcement in the transaction: PostgreSQL sends
/// it when (and only when) the transaction commits.
pub async fn notify(
    conn: &mut AnyConnection,
    batch: &[StoredEvent],
) -> Result<(), ProjectionError> {
    let mut next: BTreeMap<u32, u64> = BTreeMap::new();
    for e in batch {
        let entry = next.entry(e.position.partition).or_default();
        *entry = (*entry).max(e.position.offset + 1);
    }
    let payload = serde_json::to_string(&Committed {
        projection: super::PROJECTION_NAME.into(),
        next_offsets: next,
    })
    .map_err(|e| ProjectionError::Corrupt(e.to_string()))?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(payload)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Listens for commits (and for a switch of version) and counts them on a
/// watch channel, as file notifications do for SQLite.
pub struct PostgresListener {
    changes: watch::Receiver<u64>,
    _task: AbortOnDropHandle<()>,
}

impl PostgresListener {
    pub async fn start(url: &str) -> Result<Self, ProjectionError> {
        let mut listener = PgListener::connect(url).await?;
        listener.listen(CHANNEL).await?;
        let (sender, changes) = watch::channel(0u64);
        let task = tokio::spawn(async move {
            loop {
                match listener.try_recv().await {
                    // `None`: the connection dropped and was re-established;
                    // something may have been missed, so look anyway.
                    Ok(_) => {
                        sender.send_modify(|n| *n += 1);
                    }
                    Err(error) => {
                        tracing::warn!(%error, "listening for read model commits failed; retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
                if sender.is_closed() {
                    return;
                }
            }
        });
        Ok(Self {
            changes,
            _task: AbortOnDropHandle::new(task),
        })
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.clone()
    }
}

/// How many rows each table of a version holds (a rebuild's summary).
pub async fn row_counts(pool: &AnyPool) -> Result<Vec<(String, usize)>, ProjectionError> {
    let mut counts = Vec::new();
    for (table, _) in TABLES {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n FROM {table}"
        )))
        .fetch_one(pool)
        .await?;
        let n: i64 = row.try_get("n")?;
        counts.push(((*table).to_owned(), usize::try_from(n).unwrap_or(0)));
    }
    Ok(counts)
}
