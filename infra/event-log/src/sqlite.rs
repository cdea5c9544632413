//! The embedded event log: one SQLite file in WAL mode.
//!
//! All appends go through one writer task that commits whatever appends are
//! waiting as one transaction (group commit), each in its own savepoint so
//! one refused append never affects another. Readers use a separate pool and
//! learn of new events from a watch channel of partition end offsets, so
//! tailing never polls.
//!
//! Several processes may append to one file (the pipeline beside the
//! command API, say): SQLite serialises their transactions, every check
//! (versions, command ids, chains) reads the database inside the
//! transaction, a writer re-reads the partition ends when another process
//! has committed since its last transaction (`PRAGMA data_version`), and
//! every process follows the file to learn of the others' appends.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::{Acquire, Connection, Row, SqliteConnection, SqlitePool};
use studio_sqlite::{Durability, FileChanges};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::task::AbortOnDropHandle;
use uuid::Uuid;

use crate::envelope::GENESIS_HASH;
use crate::{
    AppendOutcome, AppendRequest, EventEnvelope, EventLog, LogCursor, LogError, Position,
    StoredEvent, check_append, partition_for,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/event-log/sqlite");

/// How many waiting appends one transaction takes at most.
const MAX_GROUP: usize = 512;
const WRITE_QUEUE: usize = 4096;
/// Checkpoints run off the commit path, this often.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

#[derive(Clone, Debug)]
pub struct SqliteLogOptions {
    /// Partitions of a new log; an existing log keeps its own and refuses a
    /// different number.
    pub partitions: u32,
    /// `synchronous=FULL`: every commit is on disk before it is
    /// acknowledged. `NORMAL` may lose the last commits on power loss
    /// (never on a process crash) and is faster.
    pub fsync_each_commit: bool,
}

impl Default for SqliteLogOptions {
    fn default() -> Self {
        Self {
            partitions: 8,
            fsync_each_commit: false,
        }
    }
}

type Ends = Arc<Vec<u64>>;

struct WriteJob {
    request: AppendRequest,
    reply: oneshot::Sender<Result<AppendOutcome, LogError>>,
}

pub struct SqliteEventLog {
    pool: SqlitePool,
    /// `None` when this process opened the log to read it only.
    writer: Option<mpsc::Sender<WriteJob>>,
    ends: watch::Receiver<Ends>,
    partitions: u32,
    _background: Background,
}

/// What keeps the partition ends current: a watch on the file, which
/// learns of other processes' appends (a writer also publishes its own),
/// and, for a writer, the checkpointer.
struct Background {
    _checkpointer: Option<AbortOnDropHandle<()>>,
    _changes: FileChanges,
    _follower: AbortOnDropHandle<()>,
}

impl SqliteEventLog {
    pub async fn open(path: &Path, options: SqliteLogOptions) -> Result<Self, LogError> {
        if options.partitions == 0 || options.partitions > 1024 {
            return Err(LogError::InvalidAppend(format!(
                "a log needs 1 to 1024 partitions, not {}",
                options.partitions
            )));
        }
        let connect = studio_sqlite::options(
            path,
            if options.fsync_each_commit {
                Durability::EveryCommit
            } else {
                Durability::ProcessCrash
            },
        );

        let mut writer_conn = SqliteConnection::connect_with(&connect).await?;
        MIGRATOR
            .run(&mut writer_conn)
            .await
            .map_err(|e| LogError::Corrupt(format!("event log schema: {e}")))?;
        let partitions = settle_partitions(&mut writer_conn, options.partitions).await?;
        let ends = load_ends(&mut writer_conn, partitions).await?;

        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(connect.clone().read_only(true))
            .await?;
        let checkpointer = studio_sqlite::spawn_checkpointer(connect, CHECKPOINT_EVERY);

        let (ends_tx, ends_rx) = watch::channel(Arc::new(ends));
        let (changes, follower) = follow(path, &pool, &ends_tx, partitions)?;
        let (writer, jobs) = mpsc::channel(WRITE_QUEUE);
        tokio::spawn(write_loop(writer_conn, jobs, ends_tx, partitions));

        Ok(Self {
            pool,
            writer: Some(writer),
            ends: ends_rx,
            partitions,
            _background: Background {
                _checkpointer: Some(checkpointer),
                _changes: changes,
                _follower: follower,
            },
        })
    }

    /// Opens a log that another process writes, to read and tail it. New
    /// events are noticed through file notifications, not polling.
    pub async fn open_reader(path: &Path) -> Result<Self, LogError> {
        if !path.exists() {
            return Err(LogError::Unavailable(format!(
                "no event log at {}: start the command API (or studio serve) first",
                path.display()
            )));
        }
        let connect = studio_sqlite::options(path, Durability::ProcessCrash).read_only(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(connect)
            .await?;
        let mut conn = pool.acquire().await?;
        let stored: Option<String> =
            sqlx::query_scalar("SELECT value FROM log_meta WHERE key = 'partitions'")
                .fetch_optional(&mut *conn)
                .await
                .map_err(|e| LogError::Corrupt(format!("event log schema: {e}")))?;
        let partitions: u32 = stored
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| LogError::Corrupt("the event log has no partition count".into()))?;
        let ends = load_ends(&mut conn, partitions).await?;
        drop(conn);
        let (ends_tx, ends_rx) = watch::channel(Arc::new(ends));
        let (changes, follower) = follow(path, &pool, &ends_tx, partitions)?;
        Ok(Self {
            pool,
            writer: None,
            ends: ends_rx,
            partitions,
            _background: Background {
                _checkpointer: None,
                _changes: changes,
                _follower: follower,
            },
        })
    }
}

/// Watches the log file so that appends of other processes reach `ends`.
fn follow(
    path: &Path,
    pool: &SqlitePool,
    ends: &watch::Sender<Ends>,
    partitions: u32,
) -> Result<(FileChanges, AbortOnDropHandle<()>), LogError> {
    let changes = FileChanges::watch(path)
        .map_err(|e| LogError::Unavailable(format!("cannot watch {}: {e}", path.display())))?;
    let follower = tokio::spawn(follow_ends(
        pool.clone(),
        changes.subscribe(),
        ends.clone(),
        partitions,
    ));
    Ok((changes, AbortOnDropHandle::new(follower)))
}

/// Re-reads the partition ends each time the file changes.
async fn follow_ends(
    pool: SqlitePool,
    mut changes: watch::Receiver<u64>,
    ends_tx: watch::Sender<Ends>,
    partitions: u32,
) {
    while changes.changed().await.is_ok() {
        if ends_tx.is_closed() {
            return;
        }
        let ends = match pool.acquire().await {
            Ok(mut conn) => load_ends(&mut conn, partitions).await,
            Err(e) => Err(e.into()),
        };
        match ends {
            Ok(ends) => {
                ends_tx.send_if_modified(|current| {
                    let grown = ends.iter().zip(current.iter()).any(|(new, old)| new > old);
                    if grown {
                        *current = Arc::new(ends);
                    }
                    grown
                });
            }
            Err(error) => tracing::warn!(%error, "re-reading the event log's ends failed"),
        }
    }
}

async fn settle_partitions(conn: &mut SqliteConnection, wanted: u32) -> Result<u32, LogError> {
    let stored: Option<String> =
        sqlx::query_scalar("SELECT value FROM log_meta WHERE key = 'partitions'")
            .fetch_optional(&mut *conn)
            .await?;
    match stored {
        Some(text) => {
            let stored: u32 = text
                .parse()
                .map_err(|_| LogError::Corrupt(format!("partition count {text:?}")))?;
            if stored != wanted {
                tracing::warn!(
                    stored,
                    configured = wanted,
                    "the event log keeps the partition count it was created with"
                );
            }
            Ok(stored)
        }
        None => {
            sqlx::query("INSERT INTO log_meta (key, value) VALUES ('partitions', $1)")
                .bind(wanted.to_string())
                .execute(&mut *conn)
                .await?;
            Ok(wanted)
        }
    }
}

/// The next offset of every partition: one index lookup each, cheap
/// enough to run after every commit another process makes.
async fn load_ends(conn: &mut SqliteConnection, partitions: u32) -> Result<Vec<u64>, LogError> {
    let mut ends = Vec::with_capacity(partitions as usize);
    for partition in 0..partitions {
        let next: Option<i64> =
            sqlx::query_scalar(r#"SELECT MAX("offset") + 1 FROM events WHERE partition = $1"#)
                .bind(i64::from(partition))
                .fetch_one(&mut *conn)
                .await?;
        ends.push(
            u64::try_from(next.unwrap_or(0))
                .map_err(|_| LogError::Corrupt("negative offset".into()))?,
        );
    }
    Ok(ends)
}

/// Changes whenever another connection (another process) commits.
async fn data_version(conn: &mut SqliteConnection) -> Result<i64, LogError> {
    Ok(sqlx::query_scalar("PRAGMA data_version")
        .fetch_one(&mut *conn)
        .await?)
}

async fn write_loop(
    mut conn: SqliteConnection,
    mut jobs: mpsc::Receiver<WriteJob>,
    ends_tx: watch::Sender<Ends>,
    partitions: u32,
) {
    // Other processes may append too: the ends are re-read whenever one
    // has committed since this writer last looked.
    let mut seen_version = None;
    while let Some(first) = jobs.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let mut ends = ends_tx.borrow().as_ref().clone();
        match commit_group(&mut conn, &mut ends, &mut seen_version, partitions, &group).await {
            Ok(results) => {
                ends_tx.send_replace(Arc::new(ends));
                for (job, result) in group.into_iter().zip(results) {
                    let _ = job.reply.send(result);
                }
            }
            Err(err) => {
                tracing::error!(error = %err, "event log commit failed");
                let message = err.to_string();
                for job in group {
                    let _ = job.reply.send(Err(LogError::Unavailable(message.clone())));
                }
            }
        }
    }
}

/// One transaction for the whole group; each append in a savepoint. The
/// outer error means nothing of the group was committed.
async fn commit_group(
    conn: &mut SqliteConnection,
    ends: &mut [u64],
    seen_version: &mut Option<i64>,
    partitions: u32,
    group: &[WriteJob],
) -> Result<Vec<Result<AppendOutcome, LogError>>, LogError> {
    // IMMEDIATE: the write lock up front, waiting (busy timeout) for a
    // checkpoint to finish, instead of failing when a read snapshot taken
    // at the start of the transaction turns stale.
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let version = data_version(&mut tx).await?;
    if *seen_version != Some(version) {
        ends.copy_from_slice(&load_ends(&mut tx, partitions).await?);
        *seen_version = Some(version);
    }
    let mut results = Vec::with_capacity(group.len());
    for job in group {
        let mut savepoint = Acquire::begin(&mut *tx).await?;
        let mut working = ends.to_vec();
        match append_one(&mut savepoint, &mut working, partitions, &job.request).await {
            Ok(outcome) => {
                savepoint.commit().await?;
                ends.copy_from_slice(&working);
                results.push(Ok(outcome));
            }
            Err(err) => {
                savepoint.rollback().await?;
                results.push(Err(err));
            }
        }
    }
    tx.commit().await?;
    Ok(results)
}

async fn append_one(
    conn: &mut SqliteConnection,
    ends: &mut [u64],
    partitions: u32,
    request: &AppendRequest,
) -> Result<AppendOutcome, LogError> {
    if let Some(outcome) = find_outcome(&mut *conn, request.command_id).await? {
        if outcome.aggregate_id != request.aggregate_id {
            return Err(LogError::CommandIdReused(request.command_id));
        }
        return Ok(outcome);
    }
    let aggregate_id = request.aggregate_id.to_string();
    let head = sqlx::query(
        "SELECT aggregate_type, version, head_hash FROM streams WHERE aggregate_id = $1",
    )
    .bind(&aggregate_id)
    .fetch_optional(&mut *conn)
    .await?;
    let (stream_type, version, head_hash) = match head {
        Some(row) => (
            Some(row.try_get::<String, _>("aggregate_type")?),
            u64::try_from(row.try_get::<i64, _>("version")?)
                .map_err(|_| LogError::Corrupt("negative version".into()))?,
            row.try_get::<String, _>("head_hash")?,
        ),
        None => (None, 0, GENESIS_HASH.to_owned()),
    };
    if version != request.expected_version {
        return Err(LogError::Conflict {
            aggregate_id: request.aggregate_id,
            expected: request.expected_version,
            actual: version,
        });
    }
    let aggregate_type = check_append(request, stream_type.as_deref(), version, &head_hash)?;

    let partition = partition_for(aggregate_id.as_bytes(), partitions);
    let slot = ends
        .get_mut(partition as usize)
        .ok_or_else(|| LogError::Corrupt(format!("no partition {partition}")))?;
    let mut positions = Vec::with_capacity(request.events.len());
    for event in &request.events {
        let offset = *slot;
        sqlx::query(
            r#"INSERT INTO events (partition, "offset", aggregate_id, aggregate_type, sequence,
                 event_id, event_type, command_id, actor, tenant, time, envelope)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"#,
        )
        .bind(i64::from(partition))
        .bind(to_i64(offset)?)
        .bind(&aggregate_id)
        .bind(&event.aggregatetype)
        .bind(to_i64(event.aggregatesequence)?)
        .bind(event.id.to_string())
        .bind(&event.event_type)
        .bind(event.commandid.to_string())
        .bind(&event.actor)
        .bind(event.tenant.to_string())
        .bind(
            event
                .time
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        )
        .bind(event.to_json())
        .execute(&mut *conn)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                LogError::InvalidAppend(format!("event id {} is already in the log", event.id))
            }
            _ => LogError::Storage(e),
        })?;
        positions.push(Position { partition, offset });
        *slot += 1;
    }
    let last = request
        .events
        .last()
        .map(|e| (e.aggregatesequence, e.hash.clone()));
    let (new_version, new_hash) = last.unwrap_or((version, head_hash));
    sqlx::query(
        "INSERT INTO streams (aggregate_id, aggregate_type, version, head_hash) VALUES ($1, $2, $3, $4)
         ON CONFLICT (aggregate_id) DO UPDATE SET version = excluded.version, head_hash = excluded.head_hash",
    )
    .bind(&aggregate_id)
    .bind(aggregate_type)
    .bind(to_i64(new_version)?)
    .bind(&new_hash)
    .execute(&mut *conn)
    .await?;
    let positions_json = serde_json::to_string(&positions)
        .map_err(|e| LogError::Corrupt(format!("positions: {e}")))?;
    sqlx::query("INSERT INTO commands (command_id, aggregate_id, version, positions) VALUES ($1, $2, $3, $4)")
        .bind(request.command_id.to_string())
        .bind(&aggregate_id)
        .bind(to_i64(new_version)?)
        .bind(positions_json)
        .execute(&mut *conn)
        .await?;
    Ok(AppendOutcome {
        command_id: request.command_id,
        aggregate_id: request.aggregate_id,
        positions,
        version: new_version,
        duplicate: false,
    })
}

fn to_i64(n: u64) -> Result<i64, LogError> {
    i64::try_from(n).map_err(|_| LogError::InvalidAppend(format!("{n} is out of range")))
}

fn to_u64(n: i64) -> Result<u64, LogError> {
    u64::try_from(n).map_err(|_| LogError::Corrupt(format!("negative number {n}")))
}

async fn find_outcome(
    conn: &mut SqliteConnection,
    command_id: Uuid,
) -> Result<Option<AppendOutcome>, LogError> {
    let row =
        sqlx::query("SELECT aggregate_id, version, positions FROM commands WHERE command_id = $1")
            .bind(command_id.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    row.map(|row| {
        let aggregate_id: String = row.try_get("aggregate_id")?;
        let positions: String = row.try_get("positions")?;
        Ok(AppendOutcome {
            command_id,
            aggregate_id: Uuid::from_str(&aggregate_id)
                .map_err(|e| LogError::Corrupt(format!("aggregate id: {e}")))?,
            positions: serde_json::from_str(&positions)
                .map_err(|e| LogError::Corrupt(format!("positions: {e}")))?,
            version: to_u64(row.try_get("version")?)?,
            duplicate: true,
        })
    })
    .transpose()
}

fn stored_event(row: &sqlx::sqlite::SqliteRow) -> Result<StoredEvent, LogError> {
    let partition: i64 = row.try_get("partition")?;
    let offset: i64 = row.try_get("offset")?;
    let text: String = row.try_get("envelope")?;
    let envelope: EventEnvelope = serde_json::from_str(&text)
        .map_err(|e| LogError::Corrupt(format!("event at {partition}:{offset}: {e}")))?;
    Ok(StoredEvent {
        position: Position {
            partition: u32::try_from(partition)
                .map_err(|_| LogError::Corrupt(format!("partition {partition}")))?,
            offset: to_u64(offset)?,
        },
        envelope,
    })
}

#[async_trait]
impl EventLog for SqliteEventLog {
    fn partitions(&self) -> u32 {
        self.partitions
    }

    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, LogError> {
        let writer = self.writer.as_ref().ok_or(LogError::ReadOnly)?;
        let (reply, outcome) = oneshot::channel();
        writer
            .send(WriteJob { request, reply })
            .await
            .map_err(|_| LogError::Unavailable("the log writer has stopped".into()))?;
        outcome
            .await
            .map_err(|_| LogError::Unavailable("the log writer has stopped".into()))?
    }

    async fn command_outcome(
        &self,
        aggregate_id: Uuid,
        command_id: Uuid,
    ) -> Result<Option<AppendOutcome>, LogError> {
        let mut conn = self.pool.acquire().await?;
        match find_outcome(&mut conn, command_id).await? {
            Some(outcome) if outcome.aggregate_id != aggregate_id => {
                Err(LogError::CommandIdReused(command_id))
            }
            found => Ok(found),
        }
    }

    async fn read_stream(&self, aggregate_id: Uuid) -> Result<Vec<StoredEvent>, LogError> {
        let rows = sqlx::query(
            r#"SELECT partition, "offset", envelope FROM events WHERE aggregate_id = $1 ORDER BY sequence"#,
        )
        .bind(aggregate_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored_event).collect()
    }

    async fn end_offsets(&self) -> Result<BTreeMap<u32, u64>, LogError> {
        Ok(self
            .ends
            .borrow()
            .iter()
            .copied()
            .zip(0..)
            .map(|(end, p)| (p, end))
            .collect())
    }

    async fn streams_of_tenant(&self, tenant: Uuid) -> Result<Vec<(Uuid, String)>, LogError> {
        let rows = sqlx::query(
            "SELECT DISTINCT aggregate_id, aggregate_type FROM events WHERE tenant = $1 ORDER BY aggregate_id",
        )
        .bind(tenant.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("aggregate_id")?;
                let id = Uuid::from_str(&id)
                    .map_err(|e| LogError::Corrupt(format!("aggregate id: {e}")))?;
                Ok((id, row.try_get("aggregate_type")?))
            })
            .collect()
    }

    async fn cursor(&self, from: BTreeMap<u32, u64>) -> Result<Box<dyn LogCursor>, LogError> {
        let next = (0..self.partitions)
            .map(|p| (p, from.get(&p).copied().unwrap_or(0)))
            .collect();
        Ok(Box::new(SqliteCursor {
            pool: self.pool.clone(),
            ends: self.ends.clone(),
            next,
        }))
    }
}

struct SqliteCursor {
    pool: SqlitePool,
    ends: watch::Receiver<Ends>,
    next: BTreeMap<u32, u64>,
}

impl SqliteCursor {
    fn behind(&self, ends: &[u64]) -> Vec<u32> {
        self.next
            .iter()
            .filter(|&(&p, &next)| ends.get(p as usize).is_some_and(|&end| end > next))
            .map(|(&p, _)| p)
            .collect()
    }

    async fn read(&mut self, partitions: &[u32], max: usize) -> Result<Vec<StoredEvent>, LogError> {
        let share = max.div_ceil(partitions.len()).max(1);
        let mut batch = Vec::new();
        for &partition in partitions {
            let from = self.next.get(&partition).copied().unwrap_or(0);
            let rows = sqlx::query(
                r#"SELECT partition, "offset", envelope FROM events
                   WHERE partition = $1 AND "offset" >= $2 ORDER BY "offset" LIMIT $3"#,
            )
            .bind(i64::from(partition))
            .bind(to_i64(from)?)
            .bind(to_i64(share as u64)?)
            .fetch_all(&self.pool)
            .await?;
            for row in &rows {
                let event = stored_event(row)?;
                self.next.insert(partition, event.position.offset + 1);
                batch.push(event);
            }
        }
        Ok(batch)
    }
}

#[async_trait]
impl LogCursor for SqliteCursor {
    async fn next_batch(
        &mut self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<StoredEvent>, LogError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let ends = self.ends.borrow_and_update().clone();
            let behind = self.behind(&ends);
            if !behind.is_empty() {
                return self.read(&behind, max.max(1)).await;
            }
            match tokio::time::timeout_at(deadline, self.ends.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) => return Err(LogError::Unavailable("the event log was closed".into())),
                Err(_) => return Ok(Vec::new()),
            }
        }
    }

    fn next_offsets(&self) -> BTreeMap<u32, u64> {
        self.next.clone()
    }
}
