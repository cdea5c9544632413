//! The dead-letter table: events the projection could not apply, parked
//! with their error, and the later events of their aggregate held back
//! behind them (applying those first would build rows on a missing one).
//! An operator lists them, retries them after a fix, or skips them.

use std::collections::HashSet;

use sqlx::{AnyConnection, Row};
use studio_event_log::{EventLog, StoredEvent};
use uuid::Uuid;

use super::apply::{int, timestamp};
use super::dialect::Dialect;
use super::rows::{self, Ty, Val};
use super::{PROJECTION_NAME, Relational, apply};
use crate::{DeadLetterView, ProjectionError};

/// What an entry records: an event that failed, or one that waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Parked,
    Blocked,
    Retried,
    Skipped,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Self::Parked => "parked",
            Self::Blocked => "blocked",
            Self::Retried => "retried",
            Self::Skipped => "skipped",
        }
    }
}

const BLOCKED: &str = "held behind an earlier event of its aggregate that could not be applied";

fn query(
    d: Dialect,
    template: &str,
) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    sqlx::query(sqlx::AssertSqlSafe(d.sql(template)))
}

/// The aggregates of `batch` that have an open (parked or blocked) entry.
pub(super) async fn blocked_aggregates(
    conn: &mut AnyConnection,
    d: Dialect,
    batch: &[StoredEvent],
) -> Result<HashSet<Uuid>, ProjectionError> {
    let mut ids: Vec<String> = batch
        .iter()
        .map(|e| e.envelope.subject.to_string())
        .collect();
    ids.sort();
    ids.dedup();
    let mut blocked = HashSet::new();
    let select = query(
        d,
        &format!(
            "SELECT DISTINCT aggregate_id::text AS aggregate_id FROM dead_letters
             WHERE projection = $1 AND status IN ('parked', 'blocked')
               AND aggregate_id IN {}",
            rows::list(d, 2, Ty::Uuid)
        ),
    )
    .bind(PROJECTION_NAME)
    .bind(rows::list_values(&ids));
    for row in select.fetch_all(&mut *conn).await? {
        let id: String = row.try_get("aggregate_id")?;
        if let Ok(id) = Uuid::parse_str(&id) {
            blocked.insert(id);
        }
    }
    Ok(blocked)
}

/// Records events with `status`, as of now.
pub(super) async fn record(
    conn: &mut AnyConnection,
    d: Dialect,
    events: &[&StoredEvent],
    status: Status,
    error: &str,
    attempts: u32,
) -> Result<(), ProjectionError> {
    let now = timestamp(&chrono::Utc::now());
    let mut values = Vec::with_capacity(events.len());
    for e in events {
        values.push(vec![
            Val::Text(Uuid::now_v7().to_string()),
            Val::Text(PROJECTION_NAME.to_owned()),
            Val::Int(i64::from(e.position.partition)),
            Val::Int(int(e.position.offset)?),
            Val::Text(e.envelope.id.to_string()),
            Val::Text(e.envelope.event_type.clone()),
            Val::Text(e.envelope.subject.to_string()),
            Val::Text(error.chars().take(2000).collect()),
            Val::Int(i64::from(attempts)),
            Val::Text(status.as_str().to_owned()),
            Val::Text(now.clone()),
        ]);
    }
    rows::run(
        conn,
        d,
        r#"INSERT INTO dead_letters (id, projection, partition, "offset", event_id, event_type,
             aggregate_id, error, attempts, status, parked_at) "#,
        &[
            Ty::Uuid,
            Ty::Text,
            Ty::Int,
            Ty::Int,
            Ty::Uuid,
            Ty::Text,
            Ty::Uuid,
            Ty::Text,
            Ty::Int,
            Ty::Text,
            Ty::Time,
        ],
        values,
        r#" ON CONFLICT (projection, partition, "offset") DO NOTHING"#,
    )
    .await?;
    Ok(())
}

/// Records the events of `batch` whose aggregate has an open entry as
/// blocked, and returns the others, to apply.
pub(super) async fn hold_back<'a>(
    conn: &mut AnyConnection,
    d: Dialect,
    batch: &'a [StoredEvent],
) -> Result<Vec<StoredEvent>, ProjectionError> {
    let blocked = blocked_aggregates(conn, d, batch).await?;
    if blocked.is_empty() {
        return Ok(batch.to_vec());
    }
    let (held, free): (Vec<&'a StoredEvent>, Vec<&'a StoredEvent>) = batch
        .iter()
        .partition(|e| blocked.contains(&e.envelope.subject));
    record(conn, d, &held, Status::Blocked, BLOCKED, 0).await?;
    Ok(free.into_iter().cloned().collect())
}

const COLUMNS: &str = r#"id::text AS id, partition, "offset", event_id::text AS event_id,
    event_type, aggregate_id::text AS aggregate_id, error, attempts, status,
    TS(parked_at) AS parked_at"#;

fn view(row: &sqlx::any::AnyRow) -> Result<DeadLetterView, ProjectionError> {
    let uuid = |column: &str| -> Result<Uuid, ProjectionError> {
        let text: String = row.try_get(column)?;
        Uuid::parse_str(&text).map_err(|e| ProjectionError::Corrupt(format!("{column}: {e}")))
    };
    let number = |column: &str| -> Result<u64, ProjectionError> {
        let n: i64 = row.try_get(column)?;
        u64::try_from(n).map_err(|_| ProjectionError::Corrupt(format!("{column} is negative")))
    };
    Ok(DeadLetterView {
        id: uuid("id")?,
        partition: u32::try_from(number("partition")?)
            .map_err(|_| ProjectionError::Corrupt("partition".into()))?,
        offset: number("offset")?,
        event_id: uuid("event_id")?,
        event_type: row.try_get("event_type")?,
        aggregate_id: uuid("aggregate_id")?,
        error: row.try_get("error")?,
        attempts: number("attempts")?,
        status: row.try_get("status")?,
        parked_at: row.try_get("parked_at")?,
    })
}

impl Relational {
    /// Open entries (parked and blocked), oldest first; every entry with
    /// `all`.
    pub async fn dead_letters(&self, all: bool) -> Result<Vec<DeadLetterView>, ProjectionError> {
        let writer = self.writer()?;
        let filter = if all {
            ""
        } else {
            "AND status IN ('parked', 'blocked')"
        };
        let rows = query(
            self.dialect,
            &format!(
                r#"SELECT {COLUMNS} FROM dead_letters WHERE projection = $1 {filter}
                   ORDER BY parked_at, partition, "offset""#
            ),
        )
        .bind(PROJECTION_NAME)
        .fetch_all(&writer)
        .await?;
        rows.iter().map(view).collect()
    }

    /// Applies a parked event and the events held back behind it, in order,
    /// in one transaction; they are marked retried. On failure nothing
    /// changes but the entry's attempts and error. Returns how many events
    /// were applied.
    pub async fn retry_dead_letter(
        &self,
        id: Uuid,
        log: &dyn EventLog,
    ) -> Result<usize, ProjectionError> {
        self.resolve(id, log, false).await
    }

    /// Gives up on a parked event (marked skipped, never applied) and
    /// applies the events held back behind it.
    pub async fn skip_dead_letter(
        &self,
        id: Uuid,
        log: &dyn EventLog,
    ) -> Result<usize, ProjectionError> {
        self.resolve(id, log, true).await
    }

    async fn resolve(
        &self,
        id: Uuid,
        log: &dyn EventLog,
        skip: bool,
    ) -> Result<usize, ProjectionError> {
        let d = self.dialect;
        let writer = self.writer()?;
        let head = query(
            d,
            &format!("SELECT {COLUMNS} FROM dead_letters WHERE id = $1::uuid AND projection = $2"),
        )
        .bind(id.to_string())
        .bind(PROJECTION_NAME)
        .fetch_optional(&writer)
        .await?
        .as_ref()
        .map(view)
        .transpose()?
        .ok_or_else(|| ProjectionError::NotFound(format!("no dead letter {id}")))?;
        if head.status != Status::Parked.as_str() {
            return Err(ProjectionError::NotFound(format!(
                "dead letter {id} is {}, not parked",
                head.status
            )));
        }
        let open: Vec<DeadLetterView> = query(
            d,
            &format!(
                r#"SELECT {COLUMNS} FROM dead_letters
                   WHERE projection = $1 AND aggregate_id = $2::uuid AND status IN ('parked', 'blocked')
                   ORDER BY partition, "offset""#
            ),
        )
        .bind(PROJECTION_NAME)
        .bind(head.aggregate_id.to_string())
        .fetch_all(&writer)
        .await?
        .iter()
        .map(view)
        .collect::<Result<_, _>>()?;
        let stream = log.read_stream(head.aggregate_id).await?;
        let wanted: HashSet<Uuid> = open
            .iter()
            .filter(|e| !(skip && e.id == head.id))
            .map(|e| e.event_id)
            .collect();
        let events: Vec<StoredEvent> = stream
            .into_iter()
            .filter(|e| wanted.contains(&e.envelope.id))
            .collect();
        let (personal, blobs) = self.writers_tools()?;
        let mut tx = writer.begin().await?;
        // The checkpoints are past these events already.
        let applied = apply::batch(&mut tx, d, personal, blobs, &events, &[]).await;
        if let Err(e) = applied {
            drop(tx);
            query(
                d,
                "UPDATE dead_letters SET attempts = attempts + 1, error = $1 WHERE id = $2::uuid",
            )
            .bind(e.to_string().chars().take(2000).collect::<String>())
            .bind(id.to_string())
            .execute(&writer)
            .await?;
            return Err(e);
        }
        let now = timestamp(&chrono::Utc::now());
        for entry in &open {
            let status = if skip && entry.id == head.id {
                Status::Skipped
            } else {
                Status::Retried
            };
            query(
                d,
                "UPDATE dead_letters SET status = $1, resolved_at = $2::timestamptz WHERE id = $3::uuid",
            )
            .bind(status.as_str())
            .bind(now.clone())
            .bind(entry.id.to_string())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(events.len())
    }
}
