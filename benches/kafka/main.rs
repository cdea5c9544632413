//! Commands through the Kafka log: throughput and latency with one and
//! with two command processors (`studio command-processor` processes),
//! beside the raw produce rate of the same payloads on the same broker in
//! the same run (a bare idempotent rdkafka producer, acks=all: Kafka
//! without our guarantees), and Kafka's bare exactly-once round trip as a
//! floor under the commands' latency (`floor`).
//!
//!     eval "$(bash infra/local/up.sh kafka)"
//!     cargo bench --bench kafka
//!     BENCH_PARTITIONS=2 cargo bench --bench kafka
//!     BENCH_PROCESSOR_LOG=studio_kafka_log=debug cargo bench --bench kafka  # owners' batch timings
//!     BENCH_STUDIO=/tmp/studio-a cargo bench --bench kafka  # the processors of another build
//!     BENCH_FLOOR_ONLY=1 cargo bench --bench kafka  # only the bare exactly-once floor
//!
//! The processors are the `studio` binary this bench was built with, at a
//! fixed path that the next build overwrites: to compare two builds, copy
//! each one's `target/release/studio` aside and name it in `BENCH_STUDIO`.
//!
//! A command here is what the command API sends: one event (a character
//! rename, ~600 bytes of CloudEvents JSON) appended to a stream at its
//! expected version. Throughput is measured closed-loop with many streams
//! in flight; latency open-loop at a fixed 1,000 commands/s.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::future::join_all;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{FutureProducer, FutureRecord};
use studio_event_log::conformance::request;
use studio_event_log::{EventLog, GENESIS_HASH};
use studio_kafka_log::{KafkaConfig, KafkaEventLog, ensure_topics};
use tokio::sync::Mutex;
use uuid::Uuid;

mod floor;

/// `BENCH_PARTITIONS`, 8 by default (as `studio`'s default).
fn partitions() -> u32 {
    std::env::var("BENCH_PARTITIONS")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8)
}
/// The `studio` binary run as the command processors: `BENCH_STUDIO`, or
/// the one built with this bench.
fn studio_binary() -> String {
    std::env::var("BENCH_STUDIO").unwrap_or_else(|_| env!("CARGO_BIN_EXE_studio").into())
}
const WARM_SECONDS: u64 = 5;
const THROUGHPUT_SECONDS: u64 = 10;
const LATENCY_SECONDS: u64 = 10;
const RATE: u64 = 1_000;
/// Streams written at once in the throughput run.
const IN_FLIGHT: usize = 512;

fn brokers() -> String {
    std::env::var("STUDIO_EVENT_LOG")
        .ok()
        .and_then(|url| url.strip_prefix("kafka://").map(str::to_owned))
        .unwrap_or_else(|| panic!("run `eval \"$(bash infra/local/up.sh kafka)\"` first"))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// The processes, and their data directories (deleted when dropped).
struct Processors {
    children: Vec<Child>,
    _dirs: Vec<tempfile::TempDir>,
}

impl Processors {
    fn start(config: &KafkaConfig, count: usize) -> Self {
        let mut children = Vec::new();
        let mut dirs = Vec::new();
        for _ in 0..count {
            let dir = tempfile::tempdir().expect("temp dir");
            let mut command = Command::new(studio_binary());
            for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("STUDIO_")) {
                command.env_remove(name);
            }
            command
                .arg("command-processor")
                .env("STUDIO_DATA_DIR", dir.path())
                .env("STUDIO_EVENT_LOG", format!("kafka://{}", config.brokers))
                .env("STUDIO_KAFKA__TOPIC_PREFIX", &config.topic_prefix)
                .env("STUDIO_PARTITIONS", config.partitions.to_string())
                .env(
                    "STUDIO_LOG",
                    std::env::var("BENCH_PROCESSOR_LOG").unwrap_or_else(|_| "warn".into()),
                )
                .stdout(Stdio::null());
            children.push(command.spawn().expect("start studio command-processor"));
            dirs.push(dir);
        }
        Self {
            children,
            _dirs: dirs,
        }
    }
}

impl Drop for Processors {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A stream the bench appends to, one command at a time.
struct Stream {
    id: Uuid,
    version: u64,
    hash: String,
}

impl Stream {
    fn new() -> Self {
        Self {
            id: Uuid::now_v7(),
            version: 0,
            hash: GENESIS_HASH.to_owned(),
        }
    }

    /// Appends one event; the latency, or the error.
    async fn append(&mut self, log: &dyn EventLog) -> Result<Duration, String> {
        let append = request(self.id, self.version, &self.hash, 1);
        let started = Instant::now();
        let outcome = log
            .append(append.clone())
            .await
            .map_err(|e| e.to_string())?;
        self.version = outcome.version;
        self.hash = append.events[0].hash.clone();
        Ok(started.elapsed())
    }
}

/// Waits until every partition answers (the processors hold them all).
async fn warm_up(log: &dyn EventLog) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut pending: Vec<Stream> = (0..64).map(|_| Stream::new()).collect();
    while !pending.is_empty() {
        assert!(Instant::now() < deadline, "the processors never answered");
        let mut left = Vec::new();
        for mut stream in pending {
            // A command that timed out may still land: the next try goes
            // to a stream of its own rather than conflict with it.
            if stream.append(log).await.is_err() {
                left.push(Stream::new());
            }
        }
        pending = left;
    }
}

/// One command at a time: the floor under any latency.
async fn idle_latency(log: &dyn EventLog) -> (f64, f64) {
    let mut stream = Stream::new();
    let mut millis = Vec::new();
    for _ in 0..300 {
        let latency = stream.append(log).await.expect("a command failed");
        millis.push(latency.as_secs_f64() * 1000.0);
    }
    millis.sort_by(|a, b| a.total_cmp(b));
    (percentile(&millis, 50.0), percentile(&millis, 99.0))
}

async fn throughput(log: Arc<dyn EventLog>, seconds: u64) -> f64 {
    let done = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let writers = (0..IN_FLIGHT).map(|_| {
        let (log, done, failed) = (log.clone(), done.clone(), failed.clone());
        async move {
            let mut stream = Stream::new();
            while Instant::now() < until {
                match stream.append(log.as_ref()).await {
                    Ok(_) => done.fetch_add(1, Ordering::Relaxed),
                    Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }
    });
    join_all(writers.map(tokio::spawn)).await;
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(failed.load(Ordering::Relaxed), 0, "commands failed");
    done.load(Ordering::Relaxed) as f64 / elapsed
}

/// Open loop: a command every 1/RATE s, whatever the answers do. The
/// offered rate, then p50, p90 and p99.
async fn latency(log: Arc<dyn EventLog>) -> (f64, f64, f64, f64) {
    let streams: Arc<Vec<Mutex<Stream>>> =
        Arc::new((0..2_000).map(|_| Mutex::new(Stream::new())).collect());
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / RATE));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::new();
    let started = Instant::now();
    for i in 0..(RATE * LATENCY_SECONDS) as usize {
        tick.tick().await;
        let (log, streams) = (log.clone(), streams.clone());
        tasks.push(tokio::spawn(async move {
            let mut stream = streams[i % streams.len()].lock().await;
            stream.append(log.as_ref()).await
        }));
    }
    let mut millis = Vec::new();
    for task in tasks {
        let latency = task.await.expect("task").expect("a command failed");
        millis.push(latency.as_secs_f64() * 1000.0);
    }
    let rate = millis.len() as f64 / started.elapsed().as_secs_f64();
    millis.sort_by(|a, b| a.total_cmp(b));
    (
        rate,
        percentile(&millis, 50.0),
        percentile(&millis, 90.0),
        percentile(&millis, 99.0),
    )
}

/// The same payloads produced straight to a topic, as fast as they go.
async fn raw_produce(config: &KafkaConfig, count: usize) -> f64 {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "1")
        .create()
        .expect("a producer");
    let topic = config.events_topic();
    let payloads: Vec<(String, String)> = (0..count)
        .map(|_| {
            let stream = Uuid::now_v7();
            let append = request(stream, 0, GENESIS_HASH, 1);
            (stream.to_string(), append.events[0].to_json())
        })
        .collect();
    let started = Instant::now();
    let sends = payloads.iter().map(|(key, payload)| {
        producer.send(
            FutureRecord::to(&topic).key(key).payload(payload),
            Duration::from_secs(30),
        )
    });
    for result in join_all(sends).await {
        result.map_err(|(e, _)| e).expect("produced");
    }
    count as f64 / started.elapsed().as_secs_f64()
}

/// The run's topics go when it ends: a broker that keeps every run's
/// topics grows its heap, and the next run measures its collector.
async fn delete_topics(configs: &[KafkaConfig]) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .expect("an admin client");
    let topics: Vec<String> = configs
        .iter()
        .flat_map(|c| [c.events_topic(), c.requests_topic(), c.replies_topic()])
        .collect();
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let deleted = admin
        .delete_topics(&names, &AdminOptions::new())
        .await
        .expect("topics deleted");
    for result in deleted {
        if let Err((topic, code)) = result {
            eprintln!("could not delete topic {topic}: {code}");
        }
    }
}

fn fresh_config(name: &str) -> KafkaConfig {
    KafkaConfig::new(
        brokers(),
        format!("studio-bench-{name}-{}", Uuid::new_v4().simple()),
        partitions(),
    )
}

#[tokio::main]
async fn main() {
    println!(
        "Kafka log benchmark ({} partitions, broker {}, processors {})",
        partitions(),
        brokers(),
        studio_binary()
    );
    if std::env::var_os("BENCH_FLOOR_ONLY").is_none() {
        processors_and_raw().await;
    }
    let mut floors = Vec::new();
    for shape in floor::SHAPES {
        let config = fresh_config("floor");
        ensure_topics(&config).await.expect("topics");
        let ((alone50, alone99), [p50, p90, p99]) = floor::measure(&config, shape).await;
        println!(
            "bare exactly-once round trip, {shape}: one at a time p50 {alone50:.1} ms, p99 {alone99:.1} ms; at {RATE}/s p50 {p50:.1} ms, p90 {p90:.1} ms, p99 {p99:.1} ms"
        );
        floors.push(config);
    }
    delete_topics(&floors).await;
}

/// Our commands with one and with two processors, then the raw produce.
async fn processors_and_raw() {
    let mut rows = Vec::new();
    let mut used = Vec::new();
    for processors in [1, 2] {
        let config = fresh_config(&format!("p{processors}"));
        used.push(config.clone());
        ensure_topics(&config).await.expect("topics");
        let _running = Processors::start(&config, processors);
        let log: Arc<dyn EventLog> = Arc::new(
            KafkaEventLog::connect(config.clone())
                .await
                .expect("connect"),
        );
        warm_up(log.as_ref()).await;
        // A few seconds at full load first: the broker's JIT and the
        // processors' caches warm up before anything is measured.
        throughput(log.clone(), WARM_SECONDS).await;
        let (idle50, idle99) = idle_latency(log.as_ref()).await;
        println!(
            "{processors} processor(s), one command at a time: p50 {idle50:.1} ms, p99 {idle99:.1} ms"
        );
        let rate = throughput(log.clone(), THROUGHPUT_SECONDS).await;
        let (offered, p50, p90, p99) = latency(log.clone()).await;
        println!(
            "{processors} processor(s): {rate:>8.0} commands/s sustained; at {offered:.0} commands/s p50 {p50:.1} ms, p90 {p90:.1} ms, p99 {p99:.1} ms"
        );
        rows.push(rate);
    }
    let raw_config = fresh_config("raw");
    ensure_topics(&raw_config).await.expect("topics");
    let raw = raw_produce(&raw_config, 100_000).await;
    used.push(raw_config);
    delete_topics(&used).await;
    println!("raw produce of the same payloads: {raw:>8.0} records/s");
    for (processors, rate) in [1, 2].iter().zip(&rows) {
        println!(
            "ratio, {processors} processor(s) to raw produce: {:.2}",
            rate / raw
        );
    }
}
