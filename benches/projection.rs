//! Projection throughput into PostgreSQL, beside a raw bulk insert (COPY)
//! of the same rows into the same database in the same run, and into the
//! embedded SQLite read model for reference.
//!
//!     eval "$(bash infra/local/up.sh postgres)"
//!     cargo bench --bench projection                       # 200,000 events
//!     BENCH_EVENTS=1000000 cargo bench --bench projection  # the rebuild of a million
//!
//! The log (embedded, in a temporary directory) holds streams of ten
//! character events each: created, then renames, aliases and profile
//! updates, as people edit a cast. Projecting it into a fresh database is
//! exactly a rebuild. The raw baseline copies the rows the projection
//! wrote (event feed, characters, name index) with COPY into empty tables
//! of the same shape and indexes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use sqlx::{Connection, PgConnection};
use studio_blob_store::local::LocalBlobStore;
use studio_event_log::sqlite::{SqliteEventLog, SqliteLogOptions};
use studio_event_log::{
    AppendRequest, EventEnvelope, EventLog, GENESIS_HASH, NewEvent, ReadAhead, StreamHeader,
};
use studio_privacy::{PersonalData, SqliteKeyStore};
use studio_projections::relational::Relational;
use studio_projections::{Projection, ProjectorConfig};
use uuid::Uuid;

const STREAM_LENGTH: u64 = 10;
const TABLES: [&str; 3] = ["event_feed", "characters", "character_names"];

fn stream_events(n: u64) -> Vec<NewEvent> {
    (0..STREAM_LENGTH)
        .map(|i| match i {
            0 => NewEvent {
                event_type: "studio.character.created.v2".into(),
                data: json!({
                    "owner": Uuid::from_u128(u128::from(n % 50)),
                    "name": format!("Character {n}"),
                    "aliases": [format!("C{n}")],
                    "personality_profile": { "traits": ["curious"] },
                    "source_document_id": null,
                    "origin": "manual",
                    "created_at": Utc::now().to_rfc3339(),
                }),
            },
            1 | 5 => NewEvent {
                event_type: "studio.character.renamed.v1".into(),
                data: json!({ "name": format!("Character {n} ({i})") }),
            },
            2 | 6 | 8 => NewEvent {
                event_type: "studio.character.alias_added.v1".into(),
                data: json!({ "alias": format!("Alias {n}.{i}") }),
            },
            _ => NewEvent {
                event_type: "studio.character.profile_updated.v1".into(),
                data: json!({ "personality_profile": {
                    "traits": ["curious", "stubborn"],
                    "notes": format!("revision {i} of a profile that grows with the story"),
                }}),
            },
        })
        .collect()
}

async fn write_log(log: Arc<dyn EventLog>, streams: u64) -> Result<(), String> {
    let (tx, rx) = tokio::sync::mpsc::channel::<u64>(256);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let writers: Vec<_> = (0..8)
        .map(|_| {
            let (log, rx) = (log.clone(), rx.clone());
            tokio::spawn(async move {
                loop {
                    let next = rx.lock().await.recv().await;
                    let Some(n) = next else {
                        return Ok::<_, String>(());
                    };
                    let id = Uuid::now_v7();
                    let command_id = Uuid::now_v7();
                    let tenant = Uuid::from_u128(u128::from(n % 50));
                    let header = StreamHeader {
                        aggregate_id: id,
                        aggregate_type: "character".into(),
                        tenant,
                        actor: tenant.to_string(),
                        source: "urn:studio:bench".into(),
                        command_id,
                        correlation_id: command_id,
                        causation_id: command_id,
                        time: Utc::now(),
                    };
                    let events = EventEnvelope::chain(
                        &header,
                        0,
                        GENESIS_HASH,
                        stream_events(n),
                        Uuid::now_v7,
                    );
                    log.append(AppendRequest {
                        aggregate_id: id,
                        expected_version: 0,
                        command_id,
                        events,
                    })
                    .await
                    .map_err(|e| e.to_string())?;
                }
            })
        })
        .collect();
    drop(rx);
    for n in 0..streams {
        if tx.send(n).await.is_err() {
            break;
        }
    }
    drop(tx);
    for writer in writers {
        writer.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

/// Applies the whole log to `read_model` as the projector does (its batch
/// size, a batch read ahead); how long it took.
async fn project(
    log: &Arc<dyn EventLog>,
    read_model: &Relational,
) -> Result<(u64, Duration), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let cursor = log.cursor(BTreeMap::new()).await?;
    let batch_size = ProjectorConfig::default().batch_size;
    let mut batches = ReadAhead::new(cursor, batch_size, Duration::from_millis(20));
    let mut applied = 0u64;
    loop {
        let (batch, _) = batches.next().await?;
        if batch.is_empty() {
            break;
        }
        read_model.apply(&batch).await?;
        applied += batch.len() as u64;
    }
    Ok((applied, started.elapsed()))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total: u64 = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let base = std::env::var("STUDIO_READ_MODEL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
        .ok_or("set STUDIO_READ_MODEL: eval \"$(bash infra/local/up.sh postgres)\"")?;
    let dir = tempfile::tempdir()?;
    let log: Arc<dyn EventLog> = Arc::new(
        SqliteEventLog::open(&dir.path().join("events.db"), SqliteLogOptions::default()).await?,
    );
    let started = Instant::now();
    write_log(log.clone(), total.div_ceil(STREAM_LENGTH)).await?;
    let events: u64 = log.end_offsets().await?.values().sum();
    println!("generated {events} events in {:.1?}", started.elapsed());

    let keys = SqliteKeyStore::open(&dir.path().join("keys.db")).await?;
    let personal = Arc::new(PersonalData::new(Arc::new(keys)));
    let blobs = Arc::new(LocalBlobStore::open(&dir.path().join("blobs")).await?);
    let rate = |n: u64, t: Duration| n as f64 / t.as_secs_f64();

    // PostgreSQL: a database of its own.
    let name = format!("studio_bench_{}", Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&base).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await?;
    let (prefix, _) = base.rsplit_once('/').ok_or("a database URL")?;
    let url = format!("{prefix}/{name}");
    let postgres = Relational::open_postgres(&url, personal.clone(), blobs.clone()).await?;
    let (applied, projected) = project(&log, &postgres).await?;
    println!(
        "projection into PostgreSQL:  {applied} events in {projected:.2?} ({:.0} events/s)",
        rate(applied, projected)
    );

    // The same rows, copied raw into tables of the same shape.
    let mut conn = PgConnection::connect(&url).await?;
    let mut dumps = Vec::new();
    let mut rows = 0u64;
    for table in TABLES {
        let mut out = conn
            .copy_out_raw(&format!("COPY rm_1.{table} TO STDOUT"))
            .await?;
        let mut bytes = Vec::new();
        while let Some(chunk) = futures::StreamExt::next(&mut out).await {
            bytes.extend_from_slice(&chunk?);
        }
        drop(out);
        rows += bytes.iter().filter(|b| **b == b'\n').count() as u64;
        sqlx::Executor::execute(
            &mut conn,
            sqlx::AssertSqlSafe(format!(
                "CREATE SCHEMA IF NOT EXISTS raw; CREATE TABLE raw.{table} (LIKE rm_1.{table} INCLUDING ALL)"
            )),
        )
        .await?;
        dumps.push((table, bytes));
    }
    let started = Instant::now();
    for (table, bytes) in &dumps {
        let mut copy = conn
            .copy_in_raw(&format!("COPY raw.{table} FROM STDIN"))
            .await?;
        copy.send(bytes.as_slice()).await?;
        copy.finish().await?;
    }
    let copied = started.elapsed();
    println!(
        "raw COPY of the same rows:   {rows} rows in {copied:.2?} ({:.0} events/s equivalent)",
        rate(applied, copied)
    );
    println!(
        "projection / raw: {:.2}",
        rate(applied, projected) / rate(applied, copied)
    );
    conn.close().await?;
    postgres.close().await?;

    // Embedded, for reference.
    let sqlite =
        Relational::open_sqlite(&dir.path().join("read-model.db"), personal, blobs).await?;
    let (applied, projected) = project(&log, &sqlite).await?;
    println!(
        "projection into SQLite:      {applied} events in {projected:.2?} ({:.0} events/s)",
        rate(applied, projected)
    );
    sqlite.close().await?;

    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}")))
        .execute(&mut admin)
        .await?;
    Ok(())
}
