//! The events topic read with a plain consumer (`read_committed`), and the
//! verdict on what it holds.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde_json::Value;
use studio_event_log::Position;
use studio_kafka_log::KafkaConfig;
use uuid::Uuid;

pub struct Record {
    pub position: Position,
    pub event_id: Uuid,
    pub aggregate_id: Uuid,
    pub sequence: u64,
    pub command_id: Uuid,
}

/// Every committed record of the events topic, each partition in order.
pub fn read_committed(config: &KafkaConfig) -> Vec<Record> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .set("group.id", format!("{}.verdict", config.topic_prefix))
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .set("enable.auto.commit", "false")
        .create()
        .expect("a consumer");
    let topic = config.events_topic();
    let partitions = i32::try_from(config.partitions).expect("partitions");
    let mut assignment = TopicPartitionList::new();
    for p in 0..partitions {
        assignment
            .add_partition_offset(&topic, p, Offset::Beginning)
            .expect("assign");
    }
    consumer.assign(&assignment).expect("assign");
    let mut records = Vec::new();
    let mut reached: BTreeMap<i32, i64> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    // The ends are asked again once reached, until they stand still: an
    // end read once, right after a broker restart, may be stale and would
    // cut the tail off the verdict.
    let mut ends = high_watermarks(&consumer, &topic, partitions);
    loop {
        assert!(
            Instant::now() < deadline,
            "the topic was not read to its end"
        );
        if ends
            .iter()
            .all(|(p, high)| reached.get(p).is_some_and(|r| r >= high))
        {
            let again = high_watermarks(&consumer, &topic, partitions);
            if again == ends {
                break;
            }
            ends = again;
        }
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(message)) => records.push(record(&message)),
            Some(Err(KafkaError::PartitionEOF(p))) => {
                let position = consumer
                    .position()
                    .ok()
                    .and_then(|l| {
                        l.find_partition(&topic, p)
                            .and_then(|e| e.offset().to_raw())
                    })
                    .unwrap_or(0);
                reached.insert(p, position);
            }
            Some(Err(e)) => panic!("reading the events topic: {e}"),
            None => {}
        }
    }
    records
}

fn high_watermarks(consumer: &BaseConsumer, topic: &str, partitions: i32) -> BTreeMap<i32, i64> {
    (0..partitions)
        .map(|p| {
            let (_, high) = consumer
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .expect("watermarks");
            (p, high)
        })
        .collect()
}

fn record(message: &BorrowedMessage<'_>) -> Record {
    let value: Value = serde_json::from_slice(message.payload().expect("a value")).expect("JSON");
    let uuid = |field: &str| {
        value[field]
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok())
            .unwrap_or_else(|| panic!("{field} of {value}"))
    };
    Record {
        position: Position {
            partition: u32::try_from(message.partition()).expect("a partition"),
            offset: u64::try_from(message.offset()).expect("an offset"),
        },
        event_id: uuid("id"),
        aggregate_id: uuid("subject"),
        sequence: value["aggregatesequence"].as_u64().expect("sequence"),
        command_id: uuid("commandid"),
    }
}

/// The log holds each event once, every stream contiguous from 1, every
/// acknowledged command exactly once and every retried one at most once.
pub fn verdict(
    records: &[Record],
    acknowledged: &[(Uuid, Uuid)],
    positions: &HashMap<Uuid, Position>,
    retried: &[Uuid],
) {
    let mut ids = HashSet::new();
    for r in records {
        assert!(
            ids.insert(r.event_id),
            "event {} is in the log twice",
            r.event_id
        );
    }
    let mut next: HashMap<Uuid, u64> = HashMap::new();
    for r in records {
        let expected = next.entry(r.aggregate_id).or_insert(1);
        assert_eq!(
            r.sequence, *expected,
            "stream {} has sequence {} where {} was due",
            r.aggregate_id, r.sequence, expected
        );
        *expected += 1;
    }
    let mut commands: HashMap<Uuid, usize> = HashMap::new();
    for r in records {
        *commands.entry(r.command_id).or_default() += 1;
    }
    for (command, aggregate) in acknowledged {
        let found = commands.get(command).copied().unwrap_or(0);
        assert_eq!(
            found,
            1,
            "acknowledged command {command} (stream {aggregate}) is in the log {found} times; {}",
            whereabouts(records, *command, *aggregate, positions.get(command))
        );
    }
    for command in retried {
        assert!(
            commands.get(command).copied().unwrap_or(0) <= 1,
            "retried command {command} was applied twice"
        );
    }
}

/// What the log holds where an acknowledged command was said to land, and
/// where its stream's events are: the facts a failed verdict needs.
fn whereabouts(
    records: &[Record],
    command: Uuid,
    aggregate: Uuid,
    acknowledged_at: Option<&Position>,
) -> String {
    let there = acknowledged_at.map(|at| {
        records.iter().find(|r| r.position == *at).map_or_else(
            || format!("no committed event is at {at:?}, where its outcome put it"),
            |r| {
                format!(
                    "at {at:?}, where its outcome put it, is event {} of command {}",
                    r.event_id, r.command_id
                )
            },
        )
    });
    let stream: Vec<String> = records
        .iter()
        .filter(|r| r.aggregate_id == aggregate)
        .map(|r| format!("{}@{}", r.sequence, r.position.offset))
        .collect();
    format!(
        "{}; the stream's events (sequence@offset): {}",
        there.unwrap_or_else(|| format!("no position was recorded for {command}")),
        stream.join(" ")
    )
}
