//! The events topic read with a plain consumer (`read_committed`), and the
//! verdict on what it holds.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde_json::Value;
use studio_kafka_log::KafkaConfig;
use uuid::Uuid;

pub struct Record {
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
    let mut assignment = TopicPartitionList::new();
    let mut ends = BTreeMap::new();
    for p in 0..i32::try_from(config.partitions).expect("partitions") {
        assignment
            .add_partition_offset(&topic, p, Offset::Beginning)
            .expect("assign");
        let (_, high) = consumer
            .fetch_watermarks(&topic, p, Duration::from_secs(10))
            .expect("watermarks");
        ends.insert(p, high);
    }
    consumer.assign(&assignment).expect("assign");
    let mut records = Vec::new();
    let mut done = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while done.len() < ends.len() {
        assert!(
            Instant::now() < deadline,
            "the topic was not read to its end"
        );
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(message)) => {
                let value: Value =
                    serde_json::from_slice(message.payload().expect("a value")).expect("JSON");
                let uuid = |field: &str| {
                    value[field]
                        .as_str()
                        .and_then(|s| Uuid::parse_str(s).ok())
                        .unwrap_or_else(|| panic!("{field} of {value}"))
                };
                records.push(Record {
                    event_id: uuid("id"),
                    aggregate_id: uuid("subject"),
                    sequence: value["aggregatesequence"].as_u64().expect("sequence"),
                    command_id: uuid("commandid"),
                });
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                let position = consumer
                    .position()
                    .ok()
                    .and_then(|l| {
                        l.find_partition(&topic, p)
                            .and_then(|e| e.offset().to_raw())
                    })
                    .unwrap_or(0);
                if position >= ends[&p] {
                    done.insert(p);
                }
            }
            Some(Err(e)) => panic!("reading the events topic: {e}"),
            None => {}
        }
    }
    records
}

/// The log holds each event once, every stream contiguous from 1, every
/// acknowledged command exactly once and every retried one at most once.
pub fn verdict(records: &[Record], acknowledged: &[(Uuid, Uuid)], retried: &[Uuid]) {
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
        assert_eq!(
            commands.get(command).copied().unwrap_or(0),
            1,
            "acknowledged command {command} (stream {aggregate}) is not in the log exactly once"
        );
    }
    for command in retried {
        assert!(
            commands.get(command).copied().unwrap_or(0) <= 1,
            "retried command {command} was applied twice"
        );
    }
}
