//! The processor's local copy of its partitions' events (SQLite): a cache
//! of the events topic, written only with committed events, so it can
//! always be brought up to date (or rebuilt) from the topic.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::{SqlitePool, SqlitePoolOptions};
use sqlx::{Row, SqliteConnection};
use studio_event_log::{AppendOutcome, LogError, Position, StoredEvent};
use studio_sqlite::Durability;
use uuid::Uuid;

use crate::wire::WireEvent;

static MIGRATOR: sqlx::migrate::Migrator =
    sqlx::migrate!("../../migrations/command-processor/sqlite");

/// A stream's head: its type, version and last hash.
#[derive(Clone, Debug)]
pub(crate) struct Head {
    pub aggregate_type: Option<String>,
    pub version: u64,
    pub hash: String,
}

/// What the store already holds of a batch's commands, streams and events.
#[derive(Default)]
pub(crate) struct Known {
    pub outcomes: HashMap<Uuid, AppendOutcome>,
    pub heads: HashMap<Uuid, Head>,
    pub events: HashSet<Uuid>,
}

impl Known {
    /// Takes `carried` events, left open but to be committed with the
    /// batch, for committed: their commands, heads and event ids.
    pub(crate) fn carry(&mut self, carried: &[StoredEvent]) {
        for event in carried {
            let envelope = &event.envelope;
            self.events.insert(envelope.id);
            self.heads.insert(
                envelope.subject,
                Head {
                    aggregate_type: Some(envelope.aggregatetype.clone()),
                    version: envelope.aggregatesequence,
                    hash: envelope.hash.clone(),
                },
            );
            self.add_to_outcome(
                envelope.commandid,
                envelope.subject,
                event.position,
                envelope.aggregatesequence,
            );
        }
    }

    /// One more event of a command's first outcome, in offset order.
    fn add_to_outcome(
        &mut self,
        command_id: Uuid,
        aggregate_id: Uuid,
        position: Position,
        sequence: u64,
    ) {
        let outcome = self
            .outcomes
            .entry(command_id)
            .or_insert_with(|| AppendOutcome {
                command_id,
                aggregate_id,
                positions: Vec::new(),
                version: 0,
                duplicate: true,
            });
        outcome.positions.push(position);
        outcome.version = outcome.version.max(sequence);
    }

    /// A stream's head, new streams at the genesis.
    pub(crate) fn head(&self, aggregate_id: &Uuid) -> Head {
        self.heads
            .get(aggregate_id)
            .cloned()
            .unwrap_or_else(|| Head {
                aggregate_type: None,
                version: 0,
                hash: studio_event_log::GENESIS_HASH.to_owned(),
            })
    }
}

fn uuid(text: String) -> Result<Uuid, LogError> {
    Uuid::from_str(&text).map_err(|e| LogError::Corrupt(format!("id {text}: {e}")))
}

#[derive(Clone)]
pub(crate) struct Store {
    pool: SqlitePool,
}

fn int(n: u64) -> Result<i64, LogError> {
    i64::try_from(n).map_err(|_| LogError::Corrupt(format!("{n} is out of range")))
}

fn unsigned(n: i64) -> Result<u64, LogError> {
    u64::try_from(n).map_err(|_| LogError::Corrupt(format!("negative number {n}")))
}

impl Store {
    pub(crate) async fn open(path: &Path) -> Result<Self, LogError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| LogError::Unavailable(format!("{}: {e}", dir.display())))?;
        }
        let options = studio_sqlite::options(path, Durability::ProcessCrash);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| LogError::Corrupt(format!("command processor store: {e}")))?;
        Ok(Self { pool })
    }

    pub(crate) async fn next_offset(&self, partition: u32) -> Result<u64, LogError> {
        let next: Option<i64> =
            sqlx::query_scalar("SELECT next_offset FROM partitions WHERE partition = $1")
                .bind(i64::from(partition))
                .fetch_optional(&self.pool)
                .await?;
        unsigned(next.unwrap_or(0))
    }

    /// Forgets the partition (its topic was recreated).
    pub(crate) async fn reset(&self, partition: u32) -> Result<(), LogError> {
        let mut tx = self.pool.begin().await?;
        for sql in [
            "DELETE FROM events WHERE partition = $1",
            "DELETE FROM partitions WHERE partition = $1",
        ] {
            sqlx::query(sql)
                .bind(i64::from(partition))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records committed events of `partition` and that the copy has read
    /// up to `next_offset`.
    pub(crate) async fn record(
        &self,
        partition: u32,
        events: &[StoredEvent],
        next_offset: u64,
    ) -> Result<(), LogError> {
        let mut tx = self.pool.begin().await?;
        for event in events {
            insert(&mut tx, event).await?;
        }
        set_next(&mut tx, partition, next_offset).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records the events of the owner's own commit, in place of the
    /// `lost` ones they append again, and where they begin: until a take
    /// finds them committed in Kafka, they are the last commit's.
    pub(crate) async fn record_commit(
        &self,
        partition: u32,
        events: &[StoredEvent],
        lost: &[StoredEvent],
    ) -> Result<(), LogError> {
        let (Some(first), Some(next)) = (
            events.iter().map(|e| e.position.offset).min(),
            events.iter().map(|e| e.position.offset + 1).max(),
        ) else {
            return Ok(());
        };
        let mut tx = self.pool.begin().await?;
        for event in lost {
            sqlx::query(r#"DELETE FROM events WHERE partition = $1 AND "offset" = $2"#)
                .bind(i64::from(partition))
                .bind(int(event.position.offset)?)
                .execute(&mut *tx)
                .await?;
        }
        for event in events {
            insert(&mut tx, event).await?;
        }
        set_next(&mut tx, partition, next).await?;
        sqlx::query("UPDATE partitions SET last_commit_from = $2 WHERE partition = $1")
            .bind(i64::from(partition))
            .bind(int(first)?)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Where the events of the owner's last recorded commit begin, if a
    /// take has not found them committed since.
    pub(crate) async fn last_commit_from(&self, partition: u32) -> Result<Option<u64>, LogError> {
        let from: Option<Option<i64>> =
            sqlx::query_scalar("SELECT last_commit_from FROM partitions WHERE partition = $1")
                .bind(i64::from(partition))
                .fetch_optional(&self.pool)
                .await?;
        from.flatten().map(unsigned).transpose()
    }

    /// The last commit's events were found committed.
    pub(crate) async fn confirm(&self, partition: u32) -> Result<(), LogError> {
        sqlx::query("UPDATE partitions SET last_commit_from = NULL WHERE partition = $1")
            .bind(i64::from(partition))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The partition's events from `offset` on, in order.
    pub(crate) async fn events_from(
        &self,
        partition: u32,
        offset: u64,
    ) -> Result<Vec<StoredEvent>, LogError> {
        let rows = sqlx::query(
            r#"SELECT "offset", envelope FROM events
               WHERE partition = $1 AND "offset" >= $2 ORDER BY "offset""#,
        )
        .bind(i64::from(partition))
        .bind(int(offset)?)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                WireEvent {
                    position: Position {
                        partition,
                        offset: unsigned(row.try_get("offset")?)?,
                    },
                    envelope: row.try_get("envelope")?,
                }
                .into_stored()
            })
            .collect()
    }

    /// What a batch of appends is checked against, in three queries
    /// whatever its size: the first outcomes of its command ids (in
    /// `partition`), the heads of its streams, and which of its event ids
    /// are already in the log.
    pub(crate) async fn known(
        &self,
        partition: u32,
        commands: &[Uuid],
        aggregates: &[Uuid],
        events: &[Uuid],
    ) -> Result<Known, LogError> {
        let list = |ids: &[Uuid]| {
            serde_json::to_string(&ids.iter().map(Uuid::to_string).collect::<Vec<_>>())
                .unwrap_or_else(|_| "[]".into())
        };
        let mut known = Known::default();
        let rows = sqlx::query(
            r#"SELECT command_id, aggregate_id, "offset", sequence FROM events
               WHERE partition = $1 AND command_id IN (SELECT value FROM json_each($2))
               ORDER BY command_id, "offset""#,
        )
        .bind(i64::from(partition))
        .bind(list(commands))
        .fetch_all(&self.pool)
        .await?;
        for row in &rows {
            let command_id = uuid(row.try_get("command_id")?)?;
            let aggregate_id = uuid(row.try_get("aggregate_id")?)?;
            let position = Position {
                partition,
                offset: unsigned(row.try_get("offset")?)?,
            };
            let sequence = unsigned(row.try_get("sequence")?)?;
            known.add_to_outcome(command_id, aggregate_id, position, sequence);
        }
        let rows = sqlx::query(
            "SELECT e.aggregate_id, e.aggregate_type, e.sequence, e.hash FROM events e
             JOIN (SELECT aggregate_id, max(sequence) AS sequence FROM events
                   WHERE aggregate_id IN (SELECT value FROM json_each($1))
                   GROUP BY aggregate_id) last
               ON e.aggregate_id = last.aggregate_id AND e.sequence = last.sequence",
        )
        .bind(list(aggregates))
        .fetch_all(&self.pool)
        .await?;
        for row in &rows {
            known.heads.insert(
                uuid(row.try_get("aggregate_id")?)?,
                Head {
                    aggregate_type: Some(row.try_get("aggregate_type")?),
                    version: unsigned(row.try_get("sequence")?)?,
                    hash: row.try_get("hash")?,
                },
            );
        }
        let found: Vec<String> = sqlx::query_scalar(
            "SELECT event_id FROM events WHERE event_id IN (SELECT value FROM json_each($1))",
        )
        .bind(list(events))
        .fetch_all(&self.pool)
        .await?;
        for id in found {
            known.events.insert(uuid(id)?);
        }
        Ok(known)
    }

    /// The first outcome of a command appended in `partition`.
    pub(crate) async fn outcome(
        &self,
        partition: u32,
        command_id: Uuid,
    ) -> Result<Option<AppendOutcome>, LogError> {
        let rows = sqlx::query(
            r#"SELECT aggregate_id, "offset", sequence FROM events
               WHERE partition = $1 AND command_id = $2 ORDER BY "offset""#,
        )
        .bind(i64::from(partition))
        .bind(command_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let aggregate: String = first.try_get("aggregate_id")?;
        let mut positions = Vec::with_capacity(rows.len());
        let mut version = 0;
        for row in &rows {
            positions.push(Position {
                partition,
                offset: unsigned(row.try_get("offset")?)?,
            });
            version = version.max(unsigned(row.try_get("sequence")?)?);
        }
        Ok(Some(AppendOutcome {
            command_id,
            aggregate_id: Uuid::from_str(&aggregate)
                .map_err(|e| LogError::Corrupt(format!("aggregate id {aggregate}: {e}")))?,
            positions,
            version,
            duplicate: true,
        }))
    }

    /// Events of a stream from `from_sequence` on, as many as fit in
    /// about `max_bytes`; and whether more follow.
    pub(crate) async fn read_stream(
        &self,
        aggregate_id: Uuid,
        from_sequence: u64,
        max_bytes: usize,
    ) -> Result<(Vec<WireEvent>, bool), LogError> {
        let rows = sqlx::query(
            r#"SELECT partition, "offset", envelope FROM events
               WHERE aggregate_id = $1 AND sequence >= $2 ORDER BY sequence"#,
        )
        .bind(aggregate_id.to_string())
        .bind(int(from_sequence)?)
        .fetch_all(&self.pool)
        .await?;
        let mut events = Vec::new();
        let mut size = 0;
        for row in &rows {
            let envelope: String = row.try_get("envelope")?;
            if !events.is_empty() && size + envelope.len() > max_bytes {
                return Ok((events, true));
            }
            size += envelope.len();
            events.push(WireEvent {
                position: Position {
                    partition: u32::try_from(row.try_get::<i64, _>("partition")?)
                        .map_err(|_| LogError::Corrupt("partition out of range".into()))?,
                    offset: unsigned(row.try_get("offset")?)?,
                },
                envelope,
            });
        }
        Ok((events, false))
    }
}

async fn set_next(
    tx: &mut SqliteConnection,
    partition: u32,
    next_offset: u64,
) -> Result<(), LogError> {
    sqlx::query(
        "INSERT INTO partitions (partition, next_offset) VALUES ($1, $2)
         ON CONFLICT (partition) DO UPDATE SET next_offset = max(next_offset, excluded.next_offset)",
    )
    .bind(i64::from(partition))
    .bind(int(next_offset)?)
    .execute(tx)
    .await?;
    Ok(())
}

async fn insert(conn: &mut SqliteConnection, event: &StoredEvent) -> Result<(), LogError> {
    let e = &event.envelope;
    sqlx::query(
        r#"INSERT INTO events (partition, "offset", aggregate_id, aggregate_type, sequence,
             event_id, command_id, hash, envelope)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (partition, "offset") DO NOTHING"#,
    )
    .bind(i64::from(event.position.partition))
    .bind(int(event.position.offset)?)
    .bind(e.subject.to_string())
    .bind(&e.aggregatetype)
    .bind(int(e.aggregatesequence)?)
    .bind(e.id.to_string())
    .bind(e.commandid.to_string())
    .bind(&e.hash)
    .bind(e.to_json())
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use studio_event_log::conformance::request;
    use studio_event_log::{GENESIS_HASH, Position, StoredEvent};
    use uuid::Uuid;

    use super::Known;

    #[test]
    fn carried_events_are_checked_against_as_committed() {
        let (stream, other) = (Uuid::now_v7(), Uuid::now_v7());
        let append = request(stream, 0, GENESIS_HASH, 2);
        let at = |offset| Position {
            partition: 3,
            offset,
        };
        let carried: Vec<StoredEvent> = append
            .events
            .iter()
            .zip(40..)
            .map(|(envelope, offset)| StoredEvent {
                position: at(offset),
                envelope: envelope.clone(),
            })
            .collect();
        let mut known = Known::default();
        known.carry(&carried);

        let head = known.head(&stream);
        assert_eq!(
            (
                head.version,
                head.hash.as_str(),
                head.aggregate_type.as_deref()
            ),
            (
                2,
                append.events[1].hash.as_str(),
                Some(append.events[1].aggregatetype.as_str())
            )
        );
        let outcome = &known.outcomes[&append.command_id];
        assert_eq!(outcome.positions, vec![at(40), at(41)]);
        assert_eq!((outcome.version, outcome.duplicate), (2, true));
        assert!(append.events.iter().all(|e| known.events.contains(&e.id)));
        assert_eq!(known.head(&other).version, 0, "other streams are untouched");
    }
}
