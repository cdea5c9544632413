//! The topics the log needs, created when missing.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;
use studio_event_log::LogError;

/// The largest reply record (the replies topic's `max.message.bytes`).
pub(crate) const MAX_REPLY_RECORD_BYTES: &str = "8388608";

use crate::KafkaConfig;
use crate::error::unavailable;

/// Creates the events topic (kept forever), the requests topic (a week)
/// and the replies topic (a day) when they are missing, and checks that
/// the events and requests topics have the configured partitions: an
/// aggregate's requests and events must land in partitions of one number.
pub async fn ensure_topics(config: &KafkaConfig) -> Result<(), LogError> {
    let admin: AdminClient<DefaultClientContext> = config
        .client()
        .create()
        .map_err(|e| unavailable("connecting to Kafka", e))?;
    let partitions = i32::try_from(config.partitions)
        .map_err(|_| LogError::InvalidAppend("too many partitions".into()))?;
    let replies = i32::try_from(config.reply_partitions)
        .map_err(|_| LogError::InvalidAppend("too many reply partitions".into()))?;
    let replication = || TopicReplication::Fixed(config.replication_factor);
    let (events, requests, replies_topic) = (
        config.events_topic(),
        config.requests_topic(),
        config.replies_topic(),
    );
    let wanted = [
        NewTopic::new(&events, partitions, replication())
            .set("retention.ms", "-1")
            .set("retention.bytes", "-1")
            .set("cleanup.policy", "delete"),
        NewTopic::new(&requests, partitions, replication()).set("retention.ms", "604800000"),
        // A page of a stream carries events of up to 900 KB, escaped
        // into JSON strings: replies may be larger than Kafka's default.
        NewTopic::new(&replies_topic, replies, replication())
            .set("retention.ms", "86400000")
            .set("max.message.bytes", MAX_REPLY_RECORD_BYTES),
    ];
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(&wanted, &options)
        .await
        .map_err(|e| unavailable("creating the topics", e))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(LogError::Unavailable(format!(
                    "creating topic {topic}: {code}"
                )));
            }
        }
    }
    for topic in [&events, &requests, &replies_topic] {
        // A topic just created may take a moment to show in the metadata
        // and to have a leader for every partition.
        let mut found = topic_state(config, topic).await?;
        let mut waited = 0;
        while !found.led && waited < 50 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            waited += 1;
            found = topic_state(config, topic).await?;
        }
        if !found.led {
            return Err(LogError::Unavailable(format!(
                "topic {topic} has no leader for some of its partitions yet"
            )));
        }
        if *topic != replies_topic && found.partitions != config.partitions {
            return Err(LogError::Corrupt(format!(
                "topic {topic} has {} partitions; the log is configured with {}",
                found.partitions, config.partitions
            )));
        }
    }
    Ok(())
}

/// What the metadata says of a topic.
pub(crate) struct TopicState {
    pub partitions: u32,
    /// It has partitions, and each has a leader.
    pub led: bool,
}

/// The partitions of `topic` and whether each has a leader (a blocking
/// metadata request, off the executor's threads).
pub(crate) async fn topic_state(config: &KafkaConfig, topic: &str) -> Result<TopicState, LogError> {
    let client = config.client();
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = client
            .create()
            .map_err(|e| unavailable("connecting to Kafka", e))?;
        let metadata = consumer
            .fetch_metadata(Some(&topic), Duration::from_secs(10))
            .map_err(|e| unavailable("reading topic metadata", e))?;
        let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) else {
            return Ok(TopicState {
                partitions: 0,
                led: false,
            });
        };
        let partitions = found.partitions();
        let count = u32::try_from(partitions.len())
            .map_err(|_| LogError::Corrupt(format!("topic {topic}: too many partitions")))?;
        let led = !partitions.is_empty()
            && partitions
                .iter()
                .all(|p| p.leader() >= 0 && p.error().is_none());
        Ok(TopicState {
            partitions: count,
            led,
        })
    })
    .await
    .map_err(|e| LogError::Unavailable(format!("reading topic metadata: {e}")))?
}
