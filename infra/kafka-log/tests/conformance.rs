//! The Kafka log against the conformance suite every `EventLog` adapter
//! passes, on a real broker (`bash infra/local/up.sh kafka` starts one and
//! prints the variable these tests read; the README's test command does).
//! Each test has topics of its own and a command processor in-process.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use studio_event_log::conformance::{self as suite, request};
use studio_event_log::{EventLog, GENESIS_HASH, LogError, Position, StoredEvent};
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

/// A stream's events as a cursor reads them from the events topic.
async fn in_topic(log: &KafkaEventLog, id: Uuid) -> Vec<StoredEvent> {
    let mut cursor = log.cursor(BTreeMap::new()).await.expect("cursor");
    let mut read = Vec::new();
    loop {
        let batch = cursor
            .next_batch(100, Duration::from_millis(500))
            .await
            .expect("read");
        if batch.is_empty() {
            return read;
        }
        read.extend(batch.into_iter().filter(|e| e.envelope.subject == id));
    }
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

    let read: Vec<Position> = in_topic(&log, id)
        .await
        .into_iter()
        .map(|e| e.position)
        .collect();
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

/// A stop finishes the batches in hand: every append a client was
/// answered for is in the processor's store when `run` returns, so the
/// next take can check it against Kafka (a store that misses the last
/// commit cannot tell that a broker lost it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_leaves_every_answered_append_in_the_store() {
    let Stoppable {
        dir: _dir,
        store,
        config: _,
        stop,
        running,
        log,
    } = stoppable().await;
    let requests: Vec<_> = (0..16)
        .map(|_| request(Uuid::now_v7(), 0, GENESIS_HASH, 1))
        .collect();
    let answered = futures::future::try_join_all(requests.iter().cloned().map(|r| log.append(r)))
        .await
        .expect("the appends");
    // At once: the last answers leave their owners still recording.
    stop.cancel();
    running.await.expect("the processor stopped");

    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", store.display()))
        .await
        .expect("the processor's store");
    for (request, outcome) in requests.iter().zip(&answered) {
        let position = outcome.positions[0];
        let stored: Option<(String, i64)> = sqlx::query_as(
            r#"SELECT e.event_id, p.next_offset FROM events e JOIN partitions p USING (partition)
               WHERE e.partition = $1 AND e."offset" = $2"#,
        )
        .bind(i64::from(position.partition))
        .bind(i64::try_from(position.offset).expect("offset"))
        .fetch_optional(&pool)
        .await
        .expect("the store read");
        let (event_id, next_offset) = stored
            .unwrap_or_else(|| panic!("the event answered at {position:?} is not in the store"));
        assert_eq!(event_id, request.events[0].id.to_string());
        assert!(u64::try_from(next_offset).expect("next offset") > position.offset);
    }
}

/// A processor the test stops itself, on a store the test can open, and
/// a client of its log.
struct Stoppable {
    dir: TempDir,
    store: std::path::PathBuf,
    config: KafkaConfig,
    stop: CancellationToken,
    running: tokio::task::JoinHandle<()>,
    log: KafkaEventLog,
}

async fn stoppable() -> Stoppable {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("processor.db");
    let config = KafkaConfig::new(
        brokers(),
        format!("studio-test-{}", Uuid::new_v4().simple()),
        4,
    );
    let stop = CancellationToken::new();
    let running = run_processor(&config, &store, stop.clone()).await;
    let log = KafkaEventLog::connect(config.clone())
        .await
        .expect("connect");
    Stoppable {
        dir,
        store,
        config,
        stop,
        running,
        log,
    }
}

/// A processor for `config` on the store at `path`, until `stop`.
async fn run_processor(
    config: &KafkaConfig,
    path: &std::path::Path,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let processor = CommandProcessor::open(config.clone(), path)
        .await
        .expect("processor");
    tokio::spawn(async move {
        if let Err(e) = processor.run(stop).await {
            panic!("command processor: {e}");
        }
    })
}

/// A stopping broker can complete a transaction without its marker on
/// the events partition; when the owner's next transaction, already
/// writing there, is then aborted, the last commit's events go with it,
/// although the store recorded them and a client may have been answered.
/// Here that state is made by hand: an event aborted in Kafka that the
/// processor's store holds as its last commit. The next owner appends it
/// again, before anything else, so the stream stays whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_kafka_aborted_after_their_commit_are_appended_again() {
    let Stoppable {
        dir: _dir,
        store,
        config,
        stop,
        running,
        log,
    } = stoppable().await;
    let id = Uuid::now_v7();
    let first = request(id, 0, GENESIS_HASH, 1);
    let first_hash = first.events[0].hash.clone();
    log.append(first).await.expect("first append");
    // The stop lets the owner record the first append in the store
    // (`a_stop_leaves_every_answered_append_in_the_store`): the state
    // made below builds on it.
    stop.cancel();
    running.await.expect("the processor stopped");

    // The second event: written in a transaction Kafka aborted.
    let lost = request(id, 1, &first_hash, 1);
    let event = lost.events[0].clone();
    let partition = log.partition_of(&id);
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .set("transactional.id", format!("{}.test", config.topic_prefix))
        .create()
        .expect("a producer");
    let blocking = producer.clone();
    tokio::task::spawn_blocking(move || {
        blocking.init_transactions(Duration::from_secs(30))?;
        blocking.begin_transaction()
    })
    .await
    .expect("a transaction")
    .expect("a transaction begun");
    let json = event.to_json();
    let key = id.to_string();
    let delivered = producer
        .send(
            FutureRecord::to(&config.events_topic())
                .partition(i32::try_from(partition).expect("partition"))
                .key(&key)
                .payload(&json),
            Duration::from_secs(10),
        )
        .await
        .expect("the event written");
    tokio::task::spawn_blocking(move || producer.abort_transaction(Duration::from_secs(30)))
        .await
        .expect("an abort")
        .expect("the transaction aborted");
    let aborted_at = u64::try_from(delivered.offset).expect("an offset");

    // The store took it for committed, as after a commit that returned.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", store.display()))
        .await
        .expect("the processor's store");
    sqlx::query(
        r#"INSERT INTO events (partition, "offset", aggregate_id, aggregate_type, sequence,
             event_id, command_id, hash, envelope) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"#,
    )
    .bind(i64::from(partition))
    .bind(i64::try_from(aborted_at).expect("offset"))
    .bind(id.to_string())
    .bind(&event.aggregatetype)
    .bind(2_i64)
    .bind(event.id.to_string())
    .bind(lost.command_id.to_string())
    .bind(&event.hash)
    .bind(&json)
    .execute(&pool)
    .await
    .expect("the event recorded");
    sqlx::query(
        "UPDATE partitions SET next_offset = $2, last_commit_from = $3 WHERE partition = $1",
    )
    .bind(i64::from(partition))
    .bind(i64::try_from(aborted_at + 1).expect("offset"))
    .bind(i64::try_from(aborted_at).expect("offset"))
    .execute(&pool)
    .await
    .expect("the commit recorded");
    pool.close().await;

    let stop = CancellationToken::new();
    let _running = run_processor(&config, &store, stop.clone()).await;
    let third = request(id, 2, &event.hash, 1);
    let appended = log
        .append(third)
        .await
        .expect("an append after the lost one");
    assert_eq!(appended.version, 3);
    let again = log
        .append(lost.clone())
        .await
        .expect("the lost command, retried");
    assert!(again.duplicate, "the lost command was carried out twice");
    assert_ne!(
        again.positions[0].offset, aborted_at,
        "answered with the aborted offset"
    );

    let stream: Vec<(u64, Uuid)> = log
        .read_stream(id)
        .await
        .expect("read")
        .iter()
        .map(|e| (e.envelope.aggregatesequence, e.envelope.id))
        .collect();
    assert_eq!(stream.len(), 3, "{stream:?}");
    assert_eq!(stream[1], (2, event.id));
    let topic: Vec<(u64, Uuid)> = in_topic(&log, id)
        .await
        .iter()
        .map(|e| (e.envelope.aggregatesequence, e.envelope.id))
        .collect();
    assert_eq!(topic, stream, "the topic holds the stream otherwise");
    stop.cancel();
}
