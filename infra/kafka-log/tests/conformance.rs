//! The Kafka log against the conformance suite every `EventLog` adapter
//! passes, on a real broker (`bash infra/local/up.sh kafka` starts one and
//! prints the variable these tests read; the README's test command does).
//! Each test has topics of its own and a command processor in-process.

use std::sync::Arc;

use studio_event_log::EventLog;
use studio_event_log::conformance as suite;
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

async fn fresh() -> (Fixture, Arc<dyn EventLog>) {
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
