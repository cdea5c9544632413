//! `studio audit verify` throughput over a large log, beside reading the
//! same log without verification, in the same run.
//!
//!     cargo bench --bench audit                    # 1,000,000 events
//!     BENCH_EVENTS=200000 cargo bench --bench audit
//!
//! The log is generated first (streams of 100 events, appended 20 at a
//! time by 8 concurrent writers) in a temporary directory.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use studio_event_log::audit::walk;
use studio_event_log::sqlite::{SqliteEventLog, SqliteLogOptions};
use studio_event_log::{
    AppendRequest, EventEnvelope, EventLog, GENESIS_HASH, NewEvent, StreamHeader,
};
use uuid::Uuid;

const STREAM_LENGTH: u64 = 100;
const PER_APPEND: u64 = 20;

async fn write_stream(log: Arc<dyn EventLog>, id: Uuid) -> Result<(), String> {
    let tenant = Uuid::from_u128(7);
    let (mut version, mut head) = (0u64, GENESIS_HASH.to_owned());
    while version < STREAM_LENGTH {
        let command_id = Uuid::now_v7();
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
        let events = (0..PER_APPEND)
            .map(|i| NewEvent {
                event_type: "studio.character.profile_updated.v1".into(),
                data: json!({ "personality_profile": {
                    "traits": ["curious", "stubborn", "kind"],
                    "notes": format!("revision {} of a profile that grows with the story", version + i + 1),
                }}),
            })
            .collect();
        let envelopes = EventEnvelope::chain(&header, version, &head, events, Uuid::now_v7);
        head = envelopes.last().map(|e| e.hash.clone()).unwrap_or_default();
        let outcome = log
            .append(AppendRequest {
                aggregate_id: id,
                expected_version: version,
                command_id,
                events: envelopes,
            })
            .await
            .map_err(|e| e.to_string())?;
        version = outcome.version;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total: u64 = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let streams = total.div_ceil(STREAM_LENGTH);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("events.db");
    let log: Arc<dyn EventLog> =
        Arc::new(SqliteEventLog::open(&path, SqliteLogOptions::default()).await?);

    let started = Instant::now();
    let (tx, rx) = tokio::sync::mpsc::channel::<Uuid>(64);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let writers: Vec<_> = (0..8)
        .map(|_| {
            let log = log.clone();
            let rx = rx.clone();
            tokio::spawn(async move {
                loop {
                    let next = rx.lock().await.recv().await;
                    let Some(id) = next else {
                        return Ok::<_, String>(());
                    };
                    write_stream(log.clone(), id).await?;
                }
            })
        })
        .collect();
    // Only the writers hold the receiving end: if they all fail, sending fails too.
    drop(rx);
    for _ in 0..streams {
        if tx.send(Uuid::now_v7()).await.is_err() {
            break;
        }
    }
    drop(tx);
    for writer in writers {
        writer.await??;
    }
    let events: u64 = log.end_offsets().await?.values().sum();
    let size = std::fs::metadata(&path)?.len()
        + std::fs::metadata(dir.path().join("events.db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    println!(
        "generated {events} events in {streams} streams ({:.0} MB) in {:.1?}",
        size as f64 / 1e6,
        started.elapsed()
    );
    drop(log);

    // A fresh handle for each pass, so neither profits from the other's cache
    // of this process (the OS page cache is warm for both).
    let reader: Arc<dyn EventLog> = Arc::new(SqliteEventLog::open_reader(&path).await?);
    let started = Instant::now();
    let mut cursor = reader.cursor(BTreeMap::new()).await?;
    let mut read = 0u64;
    loop {
        let batch = cursor.next_batch(10_000, Duration::from_millis(50)).await?;
        if batch.is_empty() {
            break;
        }
        read += batch.len() as u64;
    }
    let read_time = started.elapsed();

    let reader: Arc<dyn EventLog> = Arc::new(SqliteEventLog::open_reader(&path).await?);
    let started = Instant::now();
    let report = walk(reader.as_ref(), None, |_| {}).await?;
    let verify_time = started.elapsed();
    assert!(report.is_intact(), "the generated log does not verify");
    assert_eq!(report.events, read);

    let rate = |n: u64, t: Duration| n as f64 / t.as_secs_f64();
    println!(
        "read without verification: {read} events in {read_time:.2?} ({:.0} events/s)",
        rate(read, read_time)
    );
    println!(
        "audit verify:              {} events in {verify_time:.2?} ({:.0} events/s)",
        report.events,
        rate(report.events, verify_time)
    );
    println!(
        "verification costs {:.2}x the time of reading alone",
        verify_time.as_secs_f64() / read_time.as_secs_f64()
    );
    Ok(())
}
