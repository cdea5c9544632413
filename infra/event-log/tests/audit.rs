//! Tampering with a stored log, each way, and the walk catching it.

use std::sync::Arc;

use serde_json::json;
use sqlx::{Row, SqlitePool};
use studio_event_log::audit::{BreakKind, LogDigest, walk};
use studio_event_log::conformance::request;
use studio_event_log::sqlite::{SqliteEventLog, SqliteLogOptions};
use studio_event_log::{EventEnvelope, EventLog, GENESIS_HASH};
use tempfile::TempDir;
use uuid::Uuid;

struct Stored {
    dir: TempDir,
    streams: Vec<Uuid>,
}

impl Stored {
    /// Three streams of three events each, then the log is closed.
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = SqliteEventLog::open(
            &dir.path().join("events.db"),
            SqliteLogOptions {
                partitions: 2,
                ..Default::default()
            },
        )
        .await
        .expect("open");
        let mut streams = Vec::new();
        for _ in 0..3 {
            let id = Uuid::now_v7();
            let mut head = (0, GENESIS_HASH.to_owned());
            for _ in 0..3 {
                let outcome = log
                    .append(request(id, head.0, &head.1, 1))
                    .await
                    .expect("append");
                let stream = log.read_stream(id).await.expect("read");
                head = (
                    outcome.version,
                    stream
                        .last()
                        .map(|e| e.envelope.hash.clone())
                        .unwrap_or_default(),
                );
            }
            streams.push(id);
        }
        Self { dir, streams }
    }

    async fn raw(&self) -> SqlitePool {
        SqlitePool::connect(&format!(
            "sqlite://{}",
            self.dir.path().join("events.db").display()
        ))
        .await
        .expect("raw access")
    }

    async fn log(&self) -> Arc<dyn EventLog> {
        Arc::new(
            SqliteEventLog::open_reader(&self.dir.path().join("events.db"))
                .await
                .expect("reader"),
        )
    }

    async fn envelope(&self, pool: &SqlitePool, stream: Uuid, sequence: i64) -> EventEnvelope {
        let text: String =
            sqlx::query("SELECT envelope FROM events WHERE aggregate_id = $1 AND sequence = $2")
                .bind(stream.to_string())
                .bind(sequence)
                .fetch_one(pool)
                .await
                .expect("event")
                .get("envelope");
        serde_json::from_str(&text).expect("envelope")
    }

    async fn write(
        &self,
        pool: &SqlitePool,
        stream: Uuid,
        sequence: i64,
        envelope: &EventEnvelope,
    ) {
        sqlx::query("UPDATE events SET envelope = $1 WHERE aggregate_id = $2 AND sequence = $3")
            .bind(envelope.to_json())
            .bind(stream.to_string())
            .bind(sequence)
            .execute(pool)
            .await
            .expect("tamper");
    }
}

#[tokio::test]
async fn an_untouched_log_verifies() {
    let stored = Stored::new().await;
    let report = walk(stored.log().await.as_ref(), None, |_| {})
        .await
        .expect("walk");
    assert_eq!(report.events, 9);
    assert!(report.is_intact(), "{:?}", report.breaks);
    assert_eq!(report.digest.streams, 3);
}

#[tokio::test]
async fn an_edited_event_is_caught() {
    let stored = Stored::new().await;
    let pool = stored.raw().await;
    let mut edited = stored.envelope(&pool, stored.streams[1], 2).await;
    edited.data = json!({ "title": "rewritten history" });
    stored.write(&pool, stored.streams[1], 2, &edited).await;

    let report = walk(stored.log().await.as_ref(), None, |_| {})
        .await
        .expect("walk");
    assert_eq!(report.breaks.len(), 1, "{:?}", report.breaks);
    assert_eq!(report.breaks[0].kind, BreakKind::ContentChanged);
    assert_eq!(report.breaks[0].stream, stored.streams[1]);
    assert_eq!(report.breaks[0].sequence, 2);
}

#[tokio::test]
async fn an_edited_event_with_a_recomputed_hash_breaks_the_next_link() {
    let stored = Stored::new().await;
    let pool = stored.raw().await;
    let mut edited = stored.envelope(&pool, stored.streams[0], 1).await;
    edited.data = json!({ "title": "rewritten history" });
    edited.hash = edited.computed_hash();
    stored.write(&pool, stored.streams[0], 1, &edited).await;

    let report = walk(stored.log().await.as_ref(), None, |_| {})
        .await
        .expect("walk");
    assert_eq!(report.breaks.len(), 1, "{:?}", report.breaks);
    assert_eq!(report.breaks[0].kind, BreakKind::ChainBroken);
    assert_eq!(report.breaks[0].sequence, 2);
}

#[tokio::test]
async fn reordered_events_are_caught() {
    let stored = Stored::new().await;
    let pool = stored.raw().await;
    let first = stored.envelope(&pool, stored.streams[2], 1).await;
    let second = stored.envelope(&pool, stored.streams[2], 2).await;
    // Swap the two envelopes between their places in the partition.
    stored.write(&pool, stored.streams[2], 1, &second).await;
    stored.write(&pool, stored.streams[2], 2, &first).await;

    let report = walk(stored.log().await.as_ref(), None, |_| {})
        .await
        .expect("walk");
    assert!(
        report
            .breaks
            .iter()
            .any(|b| matches!(b.kind, BreakKind::SequenceOutOfOrder { .. })),
        "{:?}",
        report.breaks
    );
    assert!(
        report
            .breaks
            .iter()
            .any(|b| b.kind == BreakKind::ChainBroken)
    );
}

#[tokio::test]
async fn a_deleted_event_is_caught() {
    let stored = Stored::new().await;
    let pool = stored.raw().await;
    sqlx::query("DELETE FROM events WHERE aggregate_id = $1 AND sequence = 2")
        .bind(stored.streams[0].to_string())
        .execute(&pool)
        .await
        .expect("delete");

    let report = walk(stored.log().await.as_ref(), None, |_| {})
        .await
        .expect("walk");
    let kinds: Vec<&BreakKind> = report.breaks.iter().map(|b| &b.kind).collect();
    assert!(
        kinds
            .iter()
            .any(|k| matches!(k, BreakKind::OffsetsMissing { .. })),
        "{kinds:?}"
    );
    assert!(kinds.contains(&&BreakKind::ChainBroken), "{kinds:?}");
    assert!(
        kinds
            .iter()
            .any(|k| matches!(k, BreakKind::SequenceOutOfOrder { expected: 2 })),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn a_truncated_or_rewritten_tail_is_caught_by_the_digest() {
    let stored = Stored::new().await;
    let digest = walk(stored.log().await.as_ref(), None, |_| {})
        .await
        .expect("walk")
        .digest;
    let digest: LogDigest = digest.to_string().parse().expect("parse its own digest");

    // Appends after the digest do not count against it.
    {
        let log = SqliteEventLog::open(
            &stored.dir.path().join("events.db"),
            SqliteLogOptions::default(),
        )
        .await
        .expect("writer");
        log.append(request(Uuid::now_v7(), 0, GENESIS_HASH, 1))
            .await
            .expect("append");
    }
    let report = walk(stored.log().await.as_ref(), Some(&digest.upto), |_| {})
        .await
        .expect("walk");
    assert!(
        report.is_intact() && report.digest.root == digest.root,
        "appending broke the digest"
    );

    // A rewritten last event, hash recomputed: the chain is consistent, the digest is not.
    let pool = stored.raw().await;
    let last = stored.streams[1];
    let mut rewritten = stored.envelope(&pool, last, 3).await;
    rewritten.data = json!({ "title": "a quieter ending" });
    rewritten.hash = rewritten.computed_hash();
    stored.write(&pool, last, 3, &rewritten).await;
    let report = walk(stored.log().await.as_ref(), Some(&digest.upto), |_| {})
        .await
        .expect("walk");
    assert!(report.breaks.is_empty(), "{:?}", report.breaks);
    assert_ne!(
        report.digest.root, digest.root,
        "a rewritten tail kept the digest"
    );
}

#[tokio::test]
async fn a_cut_tail_is_caught_by_the_digest() {
    let stored = Stored::new().await;
    let digest = walk(stored.log().await.as_ref(), None, |_| {})
        .await
        .expect("walk")
        .digest;
    let pool = stored.raw().await;
    // Remove the last event of the busiest partition: no later event links
    // to it, so only the digest can notice.
    let (partition, offset): (i64, i64) = sqlx::query_as(
        r#"SELECT partition, MAX("offset") FROM events GROUP BY partition ORDER BY COUNT(*) DESC LIMIT 1"#,
    )
    .fetch_one(&pool)
    .await
    .expect("last");
    sqlx::query(r#"DELETE FROM events WHERE partition = $1 AND "offset" = $2"#)
        .bind(partition)
        .bind(offset)
        .execute(&pool)
        .await
        .expect("truncate");
    let without_digest = walk(stored.log().await.as_ref(), None, |_| {})
        .await
        .expect("walk");
    assert!(
        without_digest.is_intact(),
        "a cut tail is invisible without a digest"
    );
    let report = walk(stored.log().await.as_ref(), Some(&digest.upto), |_| {})
        .await
        .expect("walk");
    assert_eq!(report.truncated.len(), 1, "{:?}", report.truncated);
    assert_eq!(i64::from(report.truncated[0].partition), partition);
    assert_ne!(report.digest.root, digest.root);
}
