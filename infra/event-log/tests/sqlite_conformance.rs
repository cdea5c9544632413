//! The embedded adapter against the conformance suite, plus what only a
//! file-backed log can show.

use std::sync::Arc;

use studio_event_log::conformance as suite;
use studio_event_log::sqlite::{SqliteEventLog, SqliteLogOptions};
use studio_event_log::{EventLog, GENESIS_HASH};
use tempfile::TempDir;

async fn fresh() -> (TempDir, Arc<dyn EventLog>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = SqliteEventLog::open(&dir.path().join("events.db"), SqliteLogOptions::default())
        .await
        .expect("open log");
    (dir, Arc::new(log))
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let (_dir, log) = fresh().await;
            if let Err(failure) = suite::$name(log.as_ref()).await {
                panic!("{failure}");
            }
        }
    )*};
}

macro_rules! conformance_shared {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let (_dir, log) = fresh().await;
            if let Err(failure) = suite::$name(log).await {
                panic!("{failure}");
            }
        }
    )*};
}

conformance!(
    appends_and_reads_back,
    conflicting_append_writes_nothing,
    retried_command_returns_first_outcome,
    refuses_malformed_appends,
    partitions_follow_kafka,
    cursor_reads_every_partition_in_order,
);

conformance_shared!(
    concurrent_appends_one_wins,
    cursor_tails_without_polling,
    sequences_stay_contiguous_under_contention,
);

#[tokio::test]
async fn a_reopened_log_keeps_events_offsets_and_partition_count() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("events.db");
    let options = SqliteLogOptions {
        partitions: 4,
        ..Default::default()
    };
    let id = uuid::Uuid::now_v7();
    let first = {
        let log = SqliteEventLog::open(&path, options.clone())
            .await
            .expect("open");
        log.append(suite::request(id, 0, GENESIS_HASH, 3))
            .await
            .expect("append")
    };
    let reopened = SqliteEventLog::open(
        &path,
        SqliteLogOptions {
            partitions: 16,
            ..options
        },
    )
    .await
    .expect("reopen");
    assert_eq!(
        reopened.partitions(),
        4,
        "the partition count changed on reopen"
    );
    let stream = reopened.read_stream(id).await.expect("read");
    assert_eq!(stream.len(), 3);
    let ends = reopened.end_offsets().await.expect("ends");
    let last = first.positions[2];
    assert_eq!(ends[&last.partition], last.offset + 1);
    let next = reopened
        .append(suite::request(id, 3, &stream[2].envelope.hash, 1))
        .await
        .expect("append after reopen");
    assert_eq!(next.positions[0].offset, last.offset + 1);
}
