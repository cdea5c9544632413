//! The behaviour every `EventLog` adapter must show, written once and run
//! against each adapter by its own tests (enable the `conformance` feature).
//! Each check takes a fresh, empty log.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::{
    AppendOutcome, AppendRequest, EventEnvelope, EventLog, GENESIS_HASH, LogError, NewEvent,
    StreamHeader, partition_for,
};

type Check = Result<(), String>;

fn fail<T>(what: impl Into<String>) -> Result<T, String> {
    Err(what.into())
}

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return fail(format!($($msg)+));
        }
    };
}

/// Sealed events continuing a stream at `version` / `head_hash`.
pub fn events_for(
    aggregate_id: Uuid,
    command_id: Uuid,
    version: u64,
    head_hash: &str,
    count: usize,
) -> Vec<EventEnvelope> {
    let header = StreamHeader {
        aggregate_id,
        aggregate_type: "document".into(),
        tenant: Uuid::from_u128(1),
        actor: Uuid::from_u128(1).to_string(),
        source: "urn:studio:conformance".into(),
        command_id,
        correlation_id: command_id,
        causation_id: command_id,
        time: Utc
            .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
            .single()
            .unwrap_or_default(),
    };
    let events = (0..count)
        .map(|i| NewEvent {
            event_type: "studio.document.renamed.v1".into(),
            data: json!({ "title": format!("title {}", version + i as u64 + 1) }),
        })
        .collect();
    EventEnvelope::chain(&header, version, head_hash, events, Uuid::now_v7)
}

pub fn request(aggregate_id: Uuid, version: u64, head_hash: &str, count: usize) -> AppendRequest {
    let command_id = Uuid::now_v7();
    AppendRequest {
        aggregate_id,
        expected_version: version,
        command_id,
        events: events_for(aggregate_id, command_id, version, head_hash, count),
    }
}

async fn head(log: &dyn EventLog, aggregate_id: Uuid) -> Result<(u64, String), String> {
    let stream = log
        .read_stream(aggregate_id)
        .await
        .map_err(|e| e.to_string())?;
    Ok(stream
        .last()
        .map(|e| (e.envelope.aggregatesequence, e.envelope.hash.clone()))
        .unwrap_or((0, GENESIS_HASH.to_owned())))
}

async fn append(log: &dyn EventLog, request: AppendRequest) -> Result<AppendOutcome, String> {
    log.append(request).await.map_err(|e| e.to_string())
}

pub async fn appends_and_reads_back(log: &dyn EventLog) -> Check {
    let id = Uuid::now_v7();
    let first = request(id, 0, GENESIS_HASH, 2);
    let outcome = append(log, first.clone()).await?;
    ensure!(
        outcome.version == 2,
        "version after two events: {}",
        outcome.version
    );
    ensure!(!outcome.duplicate, "a first append reported as duplicate");
    let partition = log.partition_of(&id);
    ensure!(
        outcome.positions.iter().all(|p| p.partition == partition),
        "events of one stream spread over partitions: {:?}",
        outcome.positions
    );
    ensure!(
        outcome.positions[1].offset == outcome.positions[0].offset + 1,
        "offsets of one append are not contiguous: {:?}",
        outcome.positions
    );
    let (version, hash) = head(log, id).await?;
    append(log, request(id, version, &hash, 1)).await?;
    let stream = log.read_stream(id).await.map_err(|e| e.to_string())?;
    let sequences: Vec<u64> = stream
        .iter()
        .map(|e| e.envelope.aggregatesequence)
        .collect();
    ensure!(sequences == vec![1, 2, 3], "sequences {sequences:?}");
    ensure!(
        stream[..2]
            .iter()
            .map(|e| &e.envelope)
            .eq(first.events.iter()),
        "stored envelopes differ from the appended ones"
    );
    Ok(())
}

pub async fn conflicting_append_writes_nothing(log: &dyn EventLog) -> Check {
    let id = Uuid::now_v7();
    append(log, request(id, 0, GENESIS_HASH, 2)).await?;
    let ends = log.end_offsets().await.map_err(|e| e.to_string())?;
    let (_, hash) = head(log, id).await?;
    for stale in [0, 1, 3] {
        match log.append(request(id, stale, &hash, 1)).await {
            Err(LogError::Conflict {
                expected, actual, ..
            }) => {
                ensure!(
                    expected == stale && actual == 2,
                    "conflict reported {expected}/{actual}"
                );
            }
            other => {
                return fail(format!(
                    "expected a conflict at version {stale}, got {other:?}"
                ));
            }
        }
    }
    ensure!(
        log.end_offsets().await.map_err(|e| e.to_string())? == ends,
        "a refused append moved the log"
    );
    ensure!(
        head(log, id).await?.0 == 2,
        "a refused append changed the stream"
    );
    Ok(())
}

pub async fn concurrent_appends_one_wins(log: Arc<dyn EventLog>) -> Check {
    let id = Uuid::now_v7();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let log = log.clone();
            tokio::spawn(async move { log.append(request(id, 0, GENESIS_HASH, 1)).await })
        })
        .collect();
    let mut won = 0;
    let mut conflicts = 0;
    for task in tasks {
        match task.await.map_err(|e| e.to_string())? {
            Ok(_) => won += 1,
            Err(LogError::Conflict { .. }) => conflicts += 1,
            Err(other) => return fail(format!("unexpected error {other}")),
        }
    }
    ensure!(
        won == 1 && conflicts == 15,
        "{won} won, {conflicts} conflicted"
    );
    ensure!(
        head(log.as_ref(), id).await?.0 == 1,
        "stream is not at version 1"
    );
    Ok(())
}

pub async fn retried_command_returns_first_outcome(log: &dyn EventLog) -> Check {
    let id = Uuid::now_v7();
    let first = request(id, 0, GENESIS_HASH, 2);
    let outcome = append(log, first.clone()).await?;
    let ends = log.end_offsets().await.map_err(|e| e.to_string())?;

    let again = append(log, first.clone()).await?;
    ensure!(again.duplicate, "a retried command was not recognised");
    ensure!(
        again.positions == outcome.positions && again.version == outcome.version,
        "a retry returned another outcome: {again:?}"
    );
    // The key decides, not the payload: a retry re-decided against newer
    // state still returns the first outcome.
    let (version, hash) = head(log, id).await?;
    let mut altered = request(id, version, &hash, 1);
    altered.command_id = first.command_id;
    let altered = append(log, altered).await?;
    ensure!(
        altered.duplicate && altered.positions == outcome.positions,
        "altered retry appended"
    );
    ensure!(
        log.end_offsets().await.map_err(|e| e.to_string())? == ends,
        "a retry appended"
    );
    let known = log
        .command_outcome(id, first.command_id)
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        known.as_ref().map(|o| &o.positions) == Some(&outcome.positions),
        "command_outcome: {known:?}"
    );
    ensure!(
        log.command_outcome(id, Uuid::now_v7())
            .await
            .map_err(|e| e.to_string())?
            .is_none(),
        "an unknown command has an outcome"
    );

    // Reuse is caught among the aggregates of a partition (the Kafka log
    // sees no further).
    let other = loop {
        let other = Uuid::now_v7();
        if log.partition_of(&other) == log.partition_of(&id) {
            break other;
        }
    };
    ensure!(
        matches!(
            log.command_outcome(other, first.command_id).await,
            Err(LogError::CommandIdReused(_))
        ),
        "command_outcome of a command id reused for another stream"
    );
    let mut reused = request(other, 0, GENESIS_HASH, 1);
    reused.command_id = first.command_id;
    match log.append(reused).await {
        Err(LogError::CommandIdReused(_)) => Ok(()),
        other => fail(format!(
            "a command id reused for another stream gave {other:?}"
        )),
    }
}

pub async fn refuses_malformed_appends(log: &dyn EventLog) -> Check {
    let id = Uuid::now_v7();
    append(log, request(id, 0, GENESIS_HASH, 1)).await?;
    let (version, hash) = head(log, id).await?;
    let ends = log.end_offsets().await.map_err(|e| e.to_string())?;

    let mut empty = request(id, version, &hash, 1);
    empty.events.clear();

    let mut wrong_sequence = request(id, version, &hash, 1);
    wrong_sequence.events[0].aggregatesequence += 1;
    wrong_sequence.events[0].hash = wrong_sequence.events[0].computed_hash();

    let broken_chain = request(id, version, GENESIS_HASH, 1);

    let mut tampered = request(id, version, &hash, 1);
    tampered.events[0].data = json!({ "title": "tampered" });

    let mut foreign_subject = request(id, version, &hash, 1);
    foreign_subject.events[0].subject = Uuid::now_v7();
    foreign_subject.events[0].hash = foreign_subject.events[0].computed_hash();

    let mut foreign_command = request(id, version, &hash, 1);
    foreign_command.command_id = Uuid::now_v7();

    let mut repeated_id = request(id, version, &hash, 2);
    repeated_id.events[1].id = repeated_id.events[0].id;
    repeated_id.events[1].hash = repeated_id.events[1].computed_hash();

    let cases = [
        ("no events", empty),
        ("one event id twice", repeated_id),
        ("a skipped sequence", wrong_sequence),
        ("a broken chain", broken_chain),
        ("a wrong hash", tampered),
        ("another subject", foreign_subject),
        ("another command's events", foreign_command),
    ];
    for (what, bad) in cases {
        match log.append(bad).await {
            Err(LogError::InvalidAppend(_)) => {}
            other => return fail(format!("an append with {what} gave {other:?}")),
        }
    }
    ensure!(
        log.end_offsets().await.map_err(|e| e.to_string())? == ends,
        "a refused append moved the log"
    );
    Ok(())
}

pub async fn partitions_follow_kafka(log: &dyn EventLog) -> Check {
    for _ in 0..40 {
        let id = Uuid::now_v7();
        let outcome = append(log, request(id, 0, GENESIS_HASH, 1)).await?;
        let expected = partition_for(id.to_string().as_bytes(), log.partitions());
        ensure!(
            outcome.positions[0].partition == expected,
            "{id} went to partition {}, Kafka would use {expected}",
            outcome.positions[0].partition
        );
    }
    Ok(())
}

pub async fn cursor_reads_every_partition_in_order(log: &dyn EventLog) -> Check {
    let mut appended = HashSet::new();
    for i in 0..30 {
        let id = Uuid::now_v7();
        let outcome = append(log, request(id, 0, GENESIS_HASH, 1 + i % 3)).await?;
        appended.extend(outcome.positions);
    }
    let mut cursor = log
        .cursor(BTreeMap::new())
        .await
        .map_err(|e| e.to_string())?;
    let mut seen = Vec::new();
    loop {
        let batch = cursor
            .next_batch(7, Duration::from_millis(50))
            .await
            .map_err(|e| e.to_string())?;
        if batch.is_empty() {
            break;
        }
        ensure!(
            batch.len() <= 7 + log.partitions() as usize,
            "batch of {}",
            batch.len()
        );
        seen.extend(batch.into_iter().map(|e| e.position));
    }
    // Offsets grow within a partition; they need not be dense (Kafka's
    // transaction markers take offsets too).
    let mut next: BTreeMap<u32, u64> = BTreeMap::new();
    for position in &seen {
        let expected = next.entry(position.partition).or_insert(0);
        ensure!(
            position.offset >= *expected,
            "partition {} read offset {} after {}",
            position.partition,
            position.offset,
            expected
        );
        *expected = position.offset + 1;
    }
    ensure!(
        seen.iter().copied().collect::<HashSet<_>>() == appended,
        "read {} events, appended {}",
        seen.len(),
        appended.len()
    );
    let advanced: BTreeMap<u32, u64> = cursor
        .next_offsets()
        .into_iter()
        .filter(|(_, offset)| *offset > 0)
        .collect();
    ensure!(
        advanced == next,
        "cursor position {advanced:?}, events read up to {next:?}"
    );

    // A cursor opened half-way reads exactly the rest.
    let half: BTreeMap<u32, u64> = next.iter().map(|(&p, &n)| (p, n / 2)).collect();
    let rest = seen
        .iter()
        .filter(|p| p.offset >= half.get(&p.partition).copied().unwrap_or(0))
        .count() as u64;
    let mut cursor = log.cursor(half).await.map_err(|e| e.to_string())?;
    let mut count = 0;
    loop {
        let batch = cursor
            .next_batch(1000, Duration::from_millis(50))
            .await
            .map_err(|e| e.to_string())?;
        if batch.is_empty() {
            break;
        }
        count += batch.len() as u64;
    }
    ensure!(
        count == rest,
        "a cursor from half-way read {count}, not {rest}"
    );
    Ok(())
}

pub async fn cursor_tails_without_polling(log: Arc<dyn EventLog>) -> Check {
    let ends = log.end_offsets().await.map_err(|e| e.to_string())?;
    let mut cursor = log.cursor(ends).await.map_err(|e| e.to_string())?;

    let started = Instant::now();
    let batch = cursor
        .next_batch(10, Duration::from_millis(200))
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        batch.is_empty(),
        "a caught-up cursor returned {} events",
        batch.len()
    );
    ensure!(
        started.elapsed() >= Duration::from_millis(150),
        "an empty wait returned after {:?}",
        started.elapsed()
    );

    let writer = log.clone();
    let id = Uuid::now_v7();
    let append_task = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        writer.append(request(id, 0, GENESIS_HASH, 1)).await
    });
    let started = Instant::now();
    let batch = cursor
        .next_batch(10, Duration::from_secs(20))
        .await
        .map_err(|e| e.to_string())?;
    let waited = started.elapsed();
    append_task
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    ensure!(
        batch.len() == 1 && batch[0].envelope.subject == id,
        "the tailing cursor got {batch:?}"
    );
    ensure!(
        waited < Duration::from_secs(10),
        "the append reached the cursor after {waited:?}"
    );
    Ok(())
}

pub async fn sequences_stay_contiguous_under_contention(log: Arc<dyn EventLog>) -> Check {
    let id = Uuid::now_v7();
    let writers: Vec<_> = (0..8)
        .map(|_| {
            let log = log.clone();
            tokio::spawn(async move {
                let mut done = 0;
                while done < 10 {
                    let (version, hash) = head(log.as_ref(), id).await?;
                    match log.append(request(id, version, &hash, 1)).await {
                        Ok(_) => done += 1,
                        Err(LogError::Conflict { .. }) => {}
                        Err(other) => return fail(other.to_string()),
                    }
                }
                Ok(())
            })
        })
        .collect();
    for writer in writers {
        writer.await.map_err(|e| e.to_string())??;
    }
    let stream = log.read_stream(id).await.map_err(|e| e.to_string())?;
    let sequences: Vec<u64> = stream
        .iter()
        .map(|e| e.envelope.aggregatesequence)
        .collect();
    ensure!(
        sequences == (1..=80).collect::<Vec<_>>(),
        "sequences {sequences:?}"
    );
    let mut prev = GENESIS_HASH.to_owned();
    for event in &stream {
        ensure!(
            event.envelope.prevhash == prev,
            "chain broken at {}",
            event.envelope.aggregatesequence
        );
        prev = event.envelope.hash.clone();
    }
    Ok(())
}

pub async fn streams_of_a_tenant_are_found(log: &dyn EventLog) -> Check {
    let mine = Uuid::now_v7();
    append(log, request(mine, 0, GENESIS_HASH, 2)).await?;
    // Another tenant's stream: the same events, re-chained under tenant 2.
    let mut theirs = request(Uuid::now_v7(), 0, GENESIS_HASH, 1);
    let mut prev = GENESIS_HASH.to_owned();
    for event in &mut theirs.events {
        event.tenant = Uuid::from_u128(2);
        event.prevhash = prev.clone();
        event.hash = event.computed_hash();
        prev = event.hash.clone();
    }
    append(log, theirs).await?;
    let streams = log
        .streams_of_tenant(Uuid::from_u128(1))
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        streams == vec![(mine, "document".to_owned())],
        "tenant 1 has {streams:?}"
    );
    let strangers = log
        .streams_of_tenant(Uuid::from_u128(3))
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        strangers.is_empty(),
        "a tenant without events has streams {strangers:?}"
    );
    Ok(())
}
