//! The Kafka log against the conformance suite every `EventLog` adapter
//! passes, on a real broker (`bash infra/local/up.sh kafka` starts one and
//! prints the variable these tests read; the README's test command does).
//! Each test has topics of its own and a command processor in-process.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use studio_event_log::conformance::{self as suite, request};
use studio_event_log::{EventLog, GENESIS_HASH, LogError, Position};
use studio_kafka_log::{CommandProcessor, KafkaConfig, KafkaEventLog};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

fn brokers() -> String {
    std::env::var("STUDIO_EVENT_LOG")
        .ok()
        .and_then(|url| url.strip_prefix("kafka://").map(str::to_owned))
        .unwrap_or_else(|| {
            panic!(
                "no Kafka: run `eval \"$(bash infra/local/up.sh kafka)\"` first \
                 (the README's test command does)"
            )
        })
}

/// A processor running for the test's topics; stopped when dropped.
struct Fixture {
    _dir: TempDir,
    shutdown: CancellationToken,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn fresh() -> (Fixture, Arc<KafkaEventLog>) {
    // RUST_LOG=studio_kafka_log=debug shows what the processor did.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = KafkaConfig::new(
        brokers(),
        format!("studio-test-{}", Uuid::new_v4().simple()),
        4,
    );
    let processor = CommandProcessor::open(config.clone(), &dir.path().join("processor.db"))
        .await
        .expect("processor");
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        if let Err(e) = processor.run(stop).await {
            panic!("command processor: {e}");
        }
    });
    let log = KafkaEventLog::connect(config).await.expect("connect");
    (
        Fixture {
            _dir: dir,
            shutdown,
        },
        Arc::new(log),
    )
}

/// Writes `payload` to a partition of one of the log's topics as any
/// producer could, past the log's client and processors.
async fn write_raw(log: &KafkaEventLog, topic: &str, partition: u32, key: &str, payload: &[u8]) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &log.config().brokers)
        .create()
        .expect("a producer");
    producer
        .send(
            FutureRecord::to(topic)
                .partition(i32::try_from(partition).expect("partition"))
                .key(key)
                .payload(payload),
            Duration::from_secs(10),
        )
        .await
        .expect("a record written past the log");
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let (_fixture, log) = fresh().await;
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
            let (_fixture, log) = fresh().await;
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
    streams_of_a_tenant_are_found,
);

conformance_shared!(
    concurrent_appends_one_wins,
    cursor_tails_without_polling,
    sequences_stay_contiguous_under_contention,
);

/// A record written behind the owner's back moves the partition's end:
/// the append after it is answered with the offsets its events really
/// have, not where the owner's last commit would put them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_written_behind_the_owners_back_never_reaches_a_reply() {
    let (_fixture, log) = fresh().await;
    let id = Uuid::now_v7();
    let first = request(id, 0, GENESIS_HASH, 1);
    let hash = first.events[0].hash.clone();
    let first = log.append(first).await.expect("first append");

    let partition = log.partition_of(&id);
    let other = std::iter::repeat_with(Uuid::now_v7)
        .find(|other| log.partition_of(other) == partition)
        .expect("a stream of the same partition");
    let foreign = request(other, 0, GENESIS_HASH, 1);
    write_raw(
        &log,
        &log.config().events_topic(),
        partition,
        &other.to_string(),
        foreign.events[0].to_json().as_bytes(),
    )
    .await;

    let second = log
        .append(request(id, 1, &hash, 1))
        .await
        .expect("second append");
    let answered: Vec<Position> = first
        .positions
        .iter()
        .chain(&second.positions)
        .copied()
        .collect();

    let mut cursor = log.cursor(BTreeMap::new()).await.expect("cursor");
    let mut read = Vec::new();
    loop {
        let batch = cursor
            .next_batch(100, Duration::from_millis(500))
            .await
            .expect("read");
        if batch.is_empty() {
            break;
        }
        read.extend(
            batch
                .into_iter()
                .filter(|e| e.envelope.subject == id)
                .map(|e| e.position),
        );
    }
    assert_eq!(read, answered, "the replies' positions are not the events'");
}

/// Anyone may write to the requests topic: a request no client would send
/// (unreadable, or with a deadline at the end of the calendar) neither
/// stops its partition's owner nor holds up the requests after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_leave_their_partition_serving() {
    let (_fixture, log) = fresh().await;
    let id = Uuid::now_v7();
    let (topic, partition) = (log.config().requests_topic(), log.partition_of(&id));
    let far_off = format!(
        r#"{{"id":"{}","reply_partition":0,"expires_at":"+262142-12-31T23:59:59Z",
           "body":{{"kind":"command_outcome","aggregate_id":"{id}","command_id":"{}"}}}}"#,
        Uuid::now_v7(),
        Uuid::now_v7()
    );
    for payload in [far_off.as_bytes(), b"{not json", b"{\"kind\":\"append\"}"] {
        write_raw(&log, &topic, partition, &id.to_string(), payload).await;
    }
    let appended = log
        .append(request(id, 0, GENESIS_HASH, 1))
        .await
        .expect("the partition still serves");
    assert_eq!(appended.version, 1);
}

/// The `ce_*` headers repeat attributes of the value: an event that only
/// with them is larger than Kafka takes is refused as too large, and the
/// stream is as it was (the broker's refusal would fail the batch, again
/// at each retry, and stop the partition).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_too_large_with_its_headers_is_refused_and_changes_nothing() {
    let (_fixture, log) = fresh().await;
    let id = Uuid::now_v7();
    let mut large = request(id, 0, GENESIS_HASH, 1);
    large.events[0].source = format!("/{}", "s".repeat(600_000));
    large.events[0].hash = large.events[0].computed_hash();
    assert!(large.events[0].to_json().len() < 900_000);
    match log.append(large).await {
        Err(LogError::InvalidAppend(reason)) => {
            assert!(reason.contains("bytes as a record"), "{reason}")
        }
        other => panic!("a too large event was not refused: {other:?}"),
    }
    assert!(log.read_stream(id).await.expect("read").is_empty());
    let appended = log
        .append(request(id, 0, GENESIS_HASH, 1))
        .await
        .expect("the stream takes its first event");
    assert_eq!(appended.version, 1);
}
