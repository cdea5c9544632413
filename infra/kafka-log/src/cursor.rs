//! Reading the events topic: cursors from a position, and where each
//! partition's committed events end.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};
use studio_event_log::{LogCursor, LogError, StoredEvent};
use tokio::time::Instant;

use crate::KafkaConfig;
use crate::error::{Quiet, Reader, unavailable, watermarks};
use crate::record::{position, stored_event};

/// Once a batch has its first event, how long it waits for more that are
/// on their way.
const LINGER: Duration = Duration::from_millis(2);

/// Offsets are `i64` in Kafka.
pub(crate) fn kafka_offset(offset: u64) -> Result<Offset, LogError> {
    i64::try_from(offset)
        .map(Offset::Offset)
        .map_err(|_| LogError::InvalidAppend(format!("offset {offset} is out of range")))
}

/// The partitions a rebalance names.
pub(crate) fn partitions_of(list: &TopicPartitionList) -> impl Iterator<Item = u32> + '_ {
    list.elements()
        .into_iter()
        .filter_map(|e| u32::try_from(e.partition()).ok())
}

pub(crate) fn kafka_partition(partition: u32) -> Result<i32, LogError> {
    i32::try_from(partition)
        .map_err(|_| LogError::InvalidAppend(format!("partition {partition} is out of range")))
}

/// Reads committed events (`read_committed`) from given offsets on, every
/// partition in offset order.
pub struct KafkaCursor {
    consumer: Reader,
    partitions: u32,
    next: BTreeMap<u32, u64>,
    /// Partitions whose end the consumer reached since their last event.
    at_end: BTreeSet<u32>,
}

impl KafkaCursor {
    pub(crate) fn open(config: &KafkaConfig, from: &BTreeMap<u32, u64>) -> Result<Self, LogError> {
        Self::open_over(config, &(0..config.partitions).collect(), from)
    }

    /// A reader of `partitions` only.
    pub(crate) fn open_over(
        config: &KafkaConfig,
        partitions: &BTreeSet<u32>,
        from: &BTreeMap<u32, u64>,
    ) -> Result<Self, LogError> {
        let consumer: Reader = config
            .reader()
            .create_with_context(Quiet)
            .map_err(|e| unavailable("connecting to Kafka", e))?;
        let topic = config.events_topic();
        let mut assignment = TopicPartitionList::new();
        let mut next = BTreeMap::new();
        for &partition in partitions {
            let offset = from.get(&partition).copied().unwrap_or(0);
            assignment
                .add_partition_offset(&topic, kafka_partition(partition)?, kafka_offset(offset)?)
                .map_err(|e| unavailable("positioning a reader", e))?;
            next.insert(partition, offset);
        }
        consumer
            .assign(&assignment)
            .map_err(|e| unavailable("positioning a reader", e))?;
        Ok(Self {
            consumer,
            partitions: u32::try_from(partitions.len()).unwrap_or(u32::MAX),
            next,
            at_end: BTreeSet::new(),
        })
    }
}

#[async_trait]
impl LogCursor for KafkaCursor {
    async fn next_batch(
        &mut self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<StoredEvent>, LogError> {
        let deadline = Instant::now() + wait;
        let mut batch = Vec::new();
        while batch.len() < max.max(1) {
            let until = if batch.is_empty() {
                deadline
            } else if self.at_end.len() as u32 >= self.partitions {
                break;
            } else {
                deadline.min(Instant::now() + LINGER)
            };
            match tokio::time::timeout_at(until, self.consumer.recv()).await {
                Err(_) => break,
                Ok(Err(KafkaError::PartitionEOF(partition))) => {
                    if let Ok(partition) = u32::try_from(partition) {
                        self.at_end.insert(partition);
                    }
                }
                Ok(Err(e)) => return Err(unavailable("reading the events topic", e)),
                Ok(Ok(record)) => {
                    let event = stored_event(&record)?;
                    self.at_end.remove(&event.position.partition);
                    self.next
                        .insert(event.position.partition, event.position.offset + 1);
                    batch.push(event);
                }
            }
        }
        Ok(batch)
    }

    fn next_offsets(&self) -> BTreeMap<u32, u64> {
        self.next.clone()
    }
}

/// Finds where each partition's committed events end: one past the last
/// committed event, which is not the high watermark (a transaction's
/// marker takes the offset after its events, and aborted events stay in
/// the log unread).
pub(crate) struct Ends {
    consumer: Arc<Reader>,
    topic: String,
    partitions: u32,
    timeout: Duration,
}

/// How many records before the high watermark a first look covers.
const TAIL: i64 = 64;

impl Ends {
    pub(crate) fn new(config: &KafkaConfig) -> Result<Self, LogError> {
        let consumer: Reader = config
            .reader()
            .create_with_context(Quiet)
            .map_err(|e| unavailable("connecting to Kafka", e))?;
        Ok(Self {
            consumer: Arc::new(consumer),
            topic: config.events_topic(),
            partitions: config.partitions,
            timeout: config.request_timeout,
        })
    }

    pub(crate) async fn read(&self) -> Result<BTreeMap<u32, u64>, LogError> {
        let marks = self.watermarks().await?;
        let mut ends = BTreeMap::new();
        let mut windows: BTreeMap<u32, (i64, i64, i64)> = BTreeMap::new();
        for (&partition, &(low, high)) in &marks {
            if high > low {
                windows.insert(partition, (low, (high - TAIL).max(low), high));
            }
            ends.insert(partition, u64::try_from(low).unwrap_or(0));
        }
        // Widens a window until it holds an event or reaches the start.
        while !windows.is_empty() {
            let found = self.last_events(&windows).await?;
            let mut wider = BTreeMap::new();
            for (partition, (low, start, high)) in windows {
                match found.get(&partition) {
                    Some(&last) => {
                        ends.insert(partition, last + 1);
                    }
                    None if start > low => {
                        wider.insert(partition, (low, (start - 8 * TAIL).max(low), high));
                    }
                    None => {}
                }
            }
            windows = wider;
        }
        Ok(ends)
    }

    async fn watermarks(&self) -> Result<BTreeMap<u32, (i64, i64)>, LogError> {
        let (consumer, topic, partitions, timeout) = (
            self.consumer.clone(),
            self.topic.clone(),
            self.partitions,
            self.timeout,
        );
        tokio::task::spawn_blocking(move || {
            (0..partitions)
                .map(|partition| {
                    watermarks(
                        consumer.as_ref(),
                        &topic,
                        kafka_partition(partition)?,
                        timeout,
                    )
                    .map(|marks| (partition, marks))
                    .map_err(|e| unavailable("reading the end of the events topic", e))
                })
                .collect()
        })
        .await
        .map_err(|e| LogError::Unavailable(format!("reading the end of the events topic: {e}")))?
    }

    /// The offset of the last committed event in each window, if any.
    async fn last_events(
        &self,
        windows: &BTreeMap<u32, (i64, i64, i64)>,
    ) -> Result<BTreeMap<u32, u64>, LogError> {
        let mut assignment = TopicPartitionList::new();
        for (&partition, &(_, start, _)) in windows {
            assignment
                .add_partition_offset(
                    &self.topic,
                    kafka_partition(partition)?,
                    Offset::Offset(start),
                )
                .map_err(|e| unavailable("positioning a reader", e))?;
        }
        self.consumer
            .assign(&assignment)
            .map_err(|e| unavailable("positioning a reader", e))?;
        let mut open: BTreeSet<u32> = windows.keys().copied().collect();
        let mut last = BTreeMap::new();
        let deadline = Instant::now() + self.timeout;
        while !open.is_empty() {
            match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                Err(_) => {
                    return Err(LogError::Unavailable(
                        "the end of the events topic could not be read in time".into(),
                    ));
                }
                Ok(Err(KafkaError::PartitionEOF(partition))) => {
                    if let Ok(partition) = u32::try_from(partition) {
                        open.remove(&partition);
                    }
                }
                Ok(Err(e)) => return Err(unavailable("reading the end of the events topic", e)),
                Ok(Ok(record)) => {
                    let at = position(&record)?;
                    last.insert(at.partition, at.offset);
                }
            }
        }
        // Nothing more to read: no fetching in the background until the
        // next look.
        if let Err(e) = self.consumer.unassign() {
            tracing::warn!(error = %e, "could not stop reading the end of the events topic");
        }
        Ok(last)
    }
}
