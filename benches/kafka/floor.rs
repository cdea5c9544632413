//! Kafka's exactly-once round trip, bare: the command path with nothing
//! of ours in it, as a floor under the commands' latency. A client sends
//! each request to the requests topic and waits for its reply (read
//! committed), as the command API does. A loop consumes the requests and,
//! per batch, writes an event and a reply for each, and the consumed
//! offsets, in one transaction, as the owners do; but it checks nothing,
//! keeps no store, and sends the events and the replies together (the
//! owners send the replies once the events have landed).
//!
//! It runs in three shapes (`SHAPES`): a loop per partition with one
//! transactional producer, as the owners are; one loop for all
//! partitions, so one transaction per batch for the whole load; and that
//! loop taking three producers in turns. A producer cannot add partitions
//! to its next transaction until the coordinator has written the markers
//! of its last one (the broker answers CONCURRENT_TRANSACTIONS, and
//! librdkafka asks again 20 ms later, a fixed pause); a producer whose
//! turn comes again a few batches later meets that far less often. The
//! loops run in the bench's process, beside its client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::try_join_all;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use studio_event_log::GENESIS_HASH;
use studio_event_log::conformance::request;
use studio_kafka_log::KafkaConfig;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::{LATENCY_SECONDS, RATE, percentile};

/// How the loops share the partitions, and how many transactional
/// producers each loop takes in turns.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub loop_per_partition: bool,
    pub producers_per_loop: usize,
}

pub const SHAPES: [Shape; 3] = [
    Shape {
        loop_per_partition: true,
        producers_per_loop: 1,
    },
    Shape {
        loop_per_partition: false,
        producers_per_loop: 1,
    },
    Shape {
        loop_per_partition: false,
        producers_per_loop: 3,
    },
];

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let loops = if self.loop_per_partition {
            "a loop per partition"
        } else {
            "one loop"
        };
        write!(f, "{loops}, {} producer(s) each", self.producers_per_loop)
    }
}

/// The requests waiting for their replies, by request id.
type Waiting = Arc<Mutex<HashMap<String, oneshot::Sender<()>>>>;

/// The loops and the client's reply reader; they stop when dropped.
struct Running {
    tasks: Vec<JoinHandle<()>>,
    producer: FutureProducer,
    waiting: Waiting,
    partitions: i32,
    requests_topic: String,
    payload: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn client(config: &KafkaConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", &config.brokers)
        .set("socket.nagle.disable", "true");
    client
}

/// One command's round trip at 1,000 a second and one at a time:
/// p50 and p99 alone, then p50, p90 and p99 at the rate.
pub async fn measure(config: &KafkaConfig, shape: Shape) -> ((f64, f64), [f64; 3]) {
    let running = start(config, shape).await;
    // Until every loop answers, then a few seconds at the rate to warm up.
    let deadline = Instant::now() + Duration::from_secs(60);
    for partition in 0..running.partitions {
        while tokio::time::timeout(Duration::from_secs(5), running.sent(partition))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "the loops never answered");
        }
    }
    open_loop(&running, 5).await;
    let mut alone = Vec::new();
    for i in 0..300 {
        alone.push(running.sent(i % running.partitions).await);
    }
    alone.sort_by(|a, b| a.total_cmp(b));
    let mut loaded = open_loop(&running, LATENCY_SECONDS).await;
    loaded.sort_by(|a, b| a.total_cmp(b));
    (
        (percentile(&alone, 50.0), percentile(&alone, 99.0)),
        [50.0, 90.0, 99.0].map(|p| percentile(&loaded, p)),
    )
}

/// A request every 1/RATE s for `seconds`; each one's latency in ms.
async fn open_loop(running: &Running, seconds: u64) -> Vec<f64> {
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / RATE));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sends = Vec::new();
    for i in 0..(RATE * seconds) as usize {
        tick.tick().await;
        let partition = i32::try_from(i).unwrap_or(0) % running.partitions;
        sends.push(tokio::spawn(running.sent(partition)));
    }
    let mut millis = Vec::with_capacity(sends.len());
    for send in sends {
        millis.push(send.await.expect("a request task"));
    }
    millis
}

impl Running {
    /// Sends a request to `partition`; its round trip in ms.
    fn sent(&self, partition: i32) -> impl Future<Output = f64> + Send + 'static {
        let (producer, waiting) = (self.producer.clone(), self.waiting.clone());
        let (topic, payload) = (self.requests_topic.clone(), self.payload.clone());
        async move {
            let id = Uuid::now_v7().to_string();
            let (answered, answer) = oneshot::channel();
            waiting
                .lock()
                .expect("waiting")
                .insert(id.clone(), answered);
            let started = Instant::now();
            producer
                .send(
                    FutureRecord::to(&topic)
                        .partition(partition)
                        .key(&id)
                        .payload(&payload),
                    Duration::from_secs(30),
                )
                .await
                .map_err(|(e, _)| e)
                .expect("a request sent");
            answer.await.expect("a reply");
            started.elapsed().as_secs_f64() * 1000.0
        }
    }
}

async fn start(config: &KafkaConfig, shape: Shape) -> Running {
    let partitions = i32::try_from(config.partitions).expect("partitions");
    let loops: Vec<Vec<i32>> = if shape.loop_per_partition {
        (0..partitions).map(|p| vec![p]).collect()
    } else {
        vec![(0..partitions).collect()]
    };
    let waiting: Waiting = Arc::default();
    let mut tasks = vec![tokio::spawn(read_replies(config.clone(), waiting.clone()))];
    for (i, owned) in loops.into_iter().enumerate() {
        let mut producers = Vec::with_capacity(shape.producers_per_loop);
        for turn in 0..shape.producers_per_loop {
            producers.push(fenced(config, &format!("{i}.{turn}")).await);
        }
        tasks.push(tokio::spawn(transform(config.clone(), owned, producers)));
    }
    let producer: FutureProducer = client(config)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "1")
        .create()
        .expect("a producer");
    Running {
        tasks,
        producer,
        waiting,
        partitions,
        requests_topic: config.requests_topic(),
        payload: request(Uuid::now_v7(), 0, GENESIS_HASH, 1).events[0].to_json(),
    }
}

/// A transactional producer set as an owner's is.
async fn fenced(config: &KafkaConfig, name: &str) -> FutureProducer {
    let producer: FutureProducer = client(config)
        .set(
            "transactional.id",
            format!("{}.floor.{name}", config.topic_prefix),
        )
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "0")
        .set("retry.backoff.ms", "2")
        .set("retry.backoff.max.ms", "50")
        .set("transaction.timeout.ms", "15000")
        .create()
        .expect("a transactional producer");
    let fencing = producer.clone();
    tokio::task::spawn_blocking(move || fencing.init_transactions(Duration::from_secs(30)))
        .await
        .expect("init task")
        .expect("transactions initialised");
    producer
}

/// Consumes `partitions` of the requests topic and answers each batch in
/// one transaction, with the events topic's same partition; the batches
/// take the `producers` in turns.
async fn transform(config: KafkaConfig, partitions: Vec<i32>, producers: Vec<FutureProducer>) {
    let requests = config.requests_topic();
    let consumer = reader(&config, "floor", "read_uncommitted", &requests, &partitions);
    let (events, replies) = (config.events_topic(), config.replies_topic());
    for producer in producers.iter().cycle() {
        // As the processors' request loop does: a first request, then
        // whatever has been read already.
        let mut batch = vec![consumer.recv().await.expect("a request").detach()];
        while let Some(Ok(message)) = consumer.recv().now_or_never() {
            batch.push(message.detach());
        }
        producer.begin_transaction().expect("a transaction");
        let mut deliveries = Vec::with_capacity(2 * batch.len());
        let mut consumed = HashMap::new();
        for message in &batch {
            let key = message.key().unwrap_or_default();
            let payload = message.payload().unwrap_or_default();
            let event = FutureRecord::to(&events)
                .partition(message.partition())
                .key(key)
                .payload(payload);
            deliveries.push(
                producer
                    .send_result(event)
                    .map_err(|(e, _)| e)
                    .expect("sent"),
            );
            let reply = FutureRecord::<[u8], [u8]>::to(&replies)
                .partition(0)
                .key(key);
            deliveries.push(
                producer
                    .send_result(reply)
                    .map_err(|(e, _)| e)
                    .expect("sent"),
            );
            consumed.insert(message.partition(), message.offset() + 1);
        }
        try_join_all(deliveries)
            .await
            .expect("delivery")
            .into_iter()
            .for_each(|delivered| {
                delivered.map_err(|(e, _)| e).expect("delivered");
            });
        let mut offsets = TopicPartitionList::new();
        for (partition, offset) in consumed {
            offsets
                .add_partition_offset(&requests, partition, Offset::Offset(offset))
                .expect("offsets");
        }
        let group = consumer.group_metadata().expect("group metadata");
        let committing = producer.clone();
        tokio::task::spawn_blocking(move || {
            let timeout = Duration::from_secs(30);
            committing.send_offsets_to_transaction(&offsets, &group, timeout)?;
            committing.commit_transaction(timeout)
        })
        .await
        .expect("commit task")
        .expect("committed");
    }
}

/// Reads the replies (committed ones only) and wakes their requests.
async fn read_replies(config: KafkaConfig, waiting: Waiting) {
    let replies = config.replies_topic();
    let consumer = reader(&config, "floor-replies", "read_committed", &replies, &[0]);
    loop {
        let message = consumer.recv().await.expect("a reply");
        let key = String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned();
        if let Some(answered) = waiting.lock().expect("waiting").remove(&key) {
            let _ = answered.send(());
        }
    }
}

/// A consumer of `partitions` of `topic` from their beginning (the
/// topics are the run's own), polling as the processors' do.
fn reader(
    config: &KafkaConfig,
    group: &str,
    isolation: &str,
    topic: &str,
    partitions: &[i32],
) -> StreamConsumer {
    let consumer: StreamConsumer = client(config)
        .set("group.id", format!("{}.{group}", config.topic_prefix))
        .set("enable.auto.commit", "false")
        .set("isolation.level", isolation)
        .set("fetch.wait.max.ms", "5")
        .create()
        .expect("a consumer");
    let mut assignment = TopicPartitionList::new();
    for &partition in partitions {
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .expect("assignment");
    }
    consumer.assign(&assignment).expect("assigned");
    consumer
}
