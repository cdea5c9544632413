//! The embedded adapter against the conformance suite, plus what only a
//! file-backed log can show.

use std::collections::BTreeMap;
use std::sync::Arc;

use studio_event_log::conformance as suite;
use studio_event_log::sqlite::{SqliteEventLog, SqliteLogOptions};
use studio_event_log::{
    AppendOutcome, AppendRequest, EventLog, GENESIS_HASH, LogCursor, LogError, StoredEvent,
};
use tempfile::TempDir;

async fn fresh() -> (TempDir, Arc<dyn EventLog>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = SqliteEventLog::open(&dir.path().join("events.db"), SqliteLogOptions::default())
        .await
        .expect("open log");
    (dir, Arc::new(log))
}

/// A writer and a separate reader of the same file, as when the command
/// API and a projector run as separate processes: every read goes through
/// the reader, which learns of appends from file notifications only.
struct Split {
    writer: SqliteEventLog,
    reader: SqliteEventLog,
}

#[async_trait::async_trait]
impl EventLog for Split {
    fn partitions(&self) -> u32 {
        self.reader.partitions()
    }
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, LogError> {
        self.writer.append(request).await
    }
    async fn command_outcome(
        &self,
        aggregate_id: uuid::Uuid,
        command_id: uuid::Uuid,
    ) -> Result<Option<AppendOutcome>, LogError> {
        self.reader.command_outcome(aggregate_id, command_id).await
    }
    async fn read_stream(&self, aggregate_id: uuid::Uuid) -> Result<Vec<StoredEvent>, LogError> {
        self.reader.read_stream(aggregate_id).await
    }
    async fn end_offsets(&self) -> Result<BTreeMap<u32, u64>, LogError> {
        self.writer.end_offsets().await
    }
    async fn cursor(&self, from: BTreeMap<u32, u64>) -> Result<Box<dyn LogCursor>, LogError> {
        self.reader.cursor(from).await
    }
}

async fn split() -> (TempDir, Arc<dyn EventLog>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("events.db");
    let writer = SqliteEventLog::open(&path, SqliteLogOptions::default())
        .await
        .expect("writer");
    let reader = SqliteEventLog::open_reader(&path).await.expect("reader");
    (dir, Arc::new(Split { writer, reader }))
}

macro_rules! conformance {
    ($open:ident: $($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let (_dir, log) = $open().await;
            if let Err(failure) = suite::$name(log.as_ref()).await {
                panic!("{failure}");
            }
        }
    )*};
}

macro_rules! conformance_shared {
    ($open:ident: $($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let (_dir, log) = $open().await;
            if let Err(failure) = suite::$name(log).await {
                panic!("{failure}");
            }
        }
    )*};
}

conformance!(fresh:
    appends_and_reads_back,
    conflicting_append_writes_nothing,
    retried_command_returns_first_outcome,
    refuses_malformed_appends,
    partitions_follow_kafka,
    cursor_reads_every_partition_in_order,
    streams_of_a_tenant_are_found,
);

conformance_shared!(fresh:
    concurrent_appends_one_wins,
    cursor_tails_without_polling,
    sequences_stay_contiguous_under_contention,
);

mod separate_reader {
    use super::*;

    conformance!(split: appends_and_reads_back, cursor_reads_every_partition_in_order);
    conformance_shared!(split: cursor_tails_without_polling);

    #[tokio::test]
    async fn a_reader_cannot_append_and_needs_an_existing_log() {
        let (dir, _log) = fresh().await;
        let reader = SqliteEventLog::open_reader(&dir.path().join("events.db"))
            .await
            .expect("reader");
        let request = suite::request(uuid::Uuid::now_v7(), 0, GENESIS_HASH, 1);
        assert!(matches!(
            reader.append(request).await,
            Err(LogError::ReadOnly)
        ));
        assert!(matches!(
            SqliteEventLog::open_reader(&dir.path().join("missing.db")).await,
            Err(LogError::Unavailable(_))
        ));
    }
}

/// A log whose readers come up empty at first, as a Kafka cursor does
/// while its first fetch is on its way on a loaded machine: reads towards
/// known ends (scans, audits, replays) must wait it out, not stop there.
struct SlowStart(SqliteEventLog);

/// Empty batches a `SlowStart` cursor gives before its first events.
const EMPTY_FIRST: usize = 3;

struct SlowCursor {
    inner: Box<dyn LogCursor>,
    empty_left: usize,
}

#[async_trait::async_trait]
impl LogCursor for SlowCursor {
    async fn next_batch(
        &mut self,
        max: usize,
        wait: std::time::Duration,
    ) -> Result<Vec<StoredEvent>, LogError> {
        if self.empty_left > 0 {
            self.empty_left -= 1;
            tokio::time::sleep(wait.min(std::time::Duration::from_millis(20))).await;
            return Ok(Vec::new());
        }
        self.inner.next_batch(max, wait).await
    }
    fn next_offsets(&self) -> BTreeMap<u32, u64> {
        self.inner.next_offsets()
    }
}

#[async_trait::async_trait]
impl EventLog for SlowStart {
    fn partitions(&self) -> u32 {
        self.0.partitions()
    }
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, LogError> {
        self.0.append(request).await
    }
    async fn command_outcome(
        &self,
        aggregate_id: uuid::Uuid,
        command_id: uuid::Uuid,
    ) -> Result<Option<AppendOutcome>, LogError> {
        self.0.command_outcome(aggregate_id, command_id).await
    }
    async fn read_stream(&self, aggregate_id: uuid::Uuid) -> Result<Vec<StoredEvent>, LogError> {
        self.0.read_stream(aggregate_id).await
    }
    async fn end_offsets(&self) -> Result<BTreeMap<u32, u64>, LogError> {
        self.0.end_offsets().await
    }
    async fn cursor(&self, from: BTreeMap<u32, u64>) -> Result<Box<dyn LogCursor>, LogError> {
        Ok(Box::new(SlowCursor {
            inner: self.0.cursor(from).await?,
            empty_left: EMPTY_FIRST,
        }))
    }
}

async fn slow_start() -> (TempDir, Arc<dyn EventLog>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = SqliteEventLog::open(&dir.path().join("events.db"), SqliteLogOptions::default())
        .await
        .expect("log");
    (dir, Arc::new(SlowStart(log)))
}

mod slow_reader {
    use super::*;

    // The default `streams_of_tenant` walks the log to its end.
    conformance!(slow_start: streams_of_a_tenant_are_found);

    #[tokio::test]
    async fn an_audit_walks_past_empty_batches_to_the_end() {
        let (_dir, log) = slow_start().await;
        for _ in 0..5 {
            let request = suite::request(uuid::Uuid::now_v7(), 0, GENESIS_HASH, 2);
            log.append(request).await.expect("append");
        }
        let report = studio_event_log::audit::walk(log.as_ref(), None, |_| {})
            .await
            .expect("walk");
        assert_eq!(report.events, 10, "the walk stopped before the end");
        assert!(report.breaks.is_empty() && report.truncated.is_empty());
    }
}

/// Two writers of one file, as when the pipeline runs in a process of its
/// own beside the command API: appends alternate between them, reads go
/// through the first, which learns of the second's appends from the file.
struct TwoWriters {
    first: SqliteEventLog,
    second: SqliteEventLog,
    turn: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl EventLog for TwoWriters {
    fn partitions(&self) -> u32 {
        self.first.partitions()
    }
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, LogError> {
        let turn = self.turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if turn.is_multiple_of(2) {
            self.first.append(request).await
        } else {
            self.second.append(request).await
        }
    }
    async fn command_outcome(
        &self,
        aggregate_id: uuid::Uuid,
        command_id: uuid::Uuid,
    ) -> Result<Option<AppendOutcome>, LogError> {
        self.first.command_outcome(aggregate_id, command_id).await
    }
    async fn read_stream(&self, aggregate_id: uuid::Uuid) -> Result<Vec<StoredEvent>, LogError> {
        self.first.read_stream(aggregate_id).await
    }
    async fn end_offsets(&self) -> Result<BTreeMap<u32, u64>, LogError> {
        let (a, b) = (
            self.first.end_offsets().await?,
            self.second.end_offsets().await?,
        );
        Ok(a.into_iter()
            .map(|(p, end)| (p, end.max(b.get(&p).copied().unwrap_or(0))))
            .collect())
    }
    async fn cursor(&self, from: BTreeMap<u32, u64>) -> Result<Box<dyn LogCursor>, LogError> {
        self.first.cursor(from).await
    }
}

async fn two_writers() -> (TempDir, Arc<dyn EventLog>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("events.db");
    let first = SqliteEventLog::open(&path, SqliteLogOptions::default())
        .await
        .expect("first writer");
    let second = SqliteEventLog::open(&path, SqliteLogOptions::default())
        .await
        .expect("second writer");
    let log = TwoWriters {
        first,
        second,
        turn: std::sync::atomic::AtomicUsize::new(0),
    };
    (dir, Arc::new(log))
}

mod two_writers {
    use super::*;

    conformance!(two_writers:
        appends_and_reads_back,
        conflicting_append_writes_nothing,
        retried_command_returns_first_outcome,
        cursor_reads_every_partition_in_order,
    );
    conformance_shared!(two_writers:
        concurrent_appends_one_wins,
        cursor_tails_without_polling,
        sequences_stay_contiguous_under_contention,
    );
}

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
