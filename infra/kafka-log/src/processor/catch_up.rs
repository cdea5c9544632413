//! Bringing a partition's store up to what Kafka holds, when the partition
//! is taken; and finding what the owner's producer left open there.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::TopicPartitionList;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use studio_event_log::{LogError, StoredEvent};

use super::store::Store;
use crate::KafkaConfig;
use crate::cursor::{kafka_offset, kafka_partition};
use crate::error::{Quiet, Reader, unavailable, watermarks};
use crate::record::stored_event;

/// Store writes during a catch-up, in events.
const CHUNK: usize = 1000;
/// How long catching up may wait for its next record (another owner's
/// transaction still open); a long partition takes as long as it takes.
const STALL_LIMIT: Duration = Duration::from_secs(90);

/// What taking a partition found beside its committed events.
pub(crate) struct Taken {
    /// Events past the committed end still in a transaction of the
    /// partition's producer: the next commit carries them.
    pub left_open: Vec<StoredEvent>,
    /// Events of the owner's last recorded commit that Kafka aborted
    /// after all: the next batch appends them again.
    pub lost: Vec<StoredEvent>,
}

/// Reads the partition's committed events the store lacks, up to the
/// partition's end as it is after this owner fenced the last one; checks
/// that the events of the last commit the store recorded are among them;
/// and finds the events past that end still in a transaction of the
/// partition's producer.
///
/// Those are a broker's doing: one that stops completes a transaction
/// without the markers of partitions that have no leader at that moment
/// (Kafka takes them for deleted topics), and the partition keeps the
/// transaction's events open, although it may have been acknowledged. The
/// fence does not settle them, since the coordinator knows the transaction
/// as finished; the next transaction of the same `transactional.id` that
/// writes to the partition does, with its commit or its abort. The owner
/// commits them with its next events, and checks appends as if they were
/// committed meanwhile. But when the owner's next transaction had already
/// written to the partition, the fence aborts that transaction and the
/// events left open with it: those of the last commit are then lost,
/// although acknowledged, and are appended again.
pub(crate) async fn catch_up(
    config: &KafkaConfig,
    store: &Store,
    partition: u32,
) -> Result<Taken, LogError> {
    let committed = Span::open(config, partition, config.reader())?;
    let high = committed.end(config).await?;
    let mut next = store.next_offset(partition).await?;
    if next > high {
        // Also where the store took events for committed that a broker
        // then left open: rebuilt, they are found again below.
        tracing::warn!(
            partition,
            next,
            high,
            "the store is ahead of the topic (recreated, or events left open): rebuilding it"
        );
        store.reset(partition).await?;
        next = 0;
    }
    if next < high {
        committed.start_at(next)?;
        loop {
            let (events, reached) = committed.read(high, &mut next, CHUNK).await?;
            store.record(partition, &events, next).await?;
            if reached {
                break;
            }
        }
        tracing::debug!(partition, high, next, "caught up");
    }
    let lost = lost_since_last_commit(config, store, partition, high).await?;
    let mut uncommitted = config.reader();
    uncommitted.set("isolation.level", "read_uncommitted");
    let open = Span::open(config, partition, uncommitted)?;
    let end = open.end(config).await?;
    if end <= next {
        return Ok(Taken {
            left_open: Vec::new(),
            lost,
        });
    }
    open.start_at(next)?;
    let mut from = next;
    let (left_open, _) = open.read(end, &mut from, usize::MAX).await?;
    if !left_open.is_empty() {
        tracing::warn!(
            partition,
            events = left_open.len(),
            from = next,
            "events left open by a broker: the next commit carries them"
        );
    }
    Ok(Taken { left_open, lost })
}

/// The events of the last commit the store recorded that the partition
/// does not hold committed up to `high`, compared by event id: a copy
/// appended again elsewhere counts as held.
async fn lost_since_last_commit(
    config: &KafkaConfig,
    store: &Store,
    partition: u32,
    high: u64,
) -> Result<Vec<StoredEvent>, LogError> {
    let Some(from) = store.last_commit_from(partition).await? else {
        return Ok(Vec::new());
    };
    let recorded: Vec<StoredEvent> = store
        .events_from(partition, from)
        .await?
        .into_iter()
        .filter(|e| e.position.offset < high)
        .collect();
    let committed = Span::open(config, partition, config.reader())?;
    let mut held = HashSet::new();
    if from < high {
        committed.start_at(from)?;
        let mut next = from;
        let (events, _) = committed.read(high, &mut next, usize::MAX).await?;
        held.extend(events.into_iter().map(|e| e.envelope.id));
    }
    let lost: Vec<StoredEvent> = recorded
        .into_iter()
        .filter(|e| !held.contains(&e.envelope.id))
        .collect();
    if lost.is_empty() {
        store.confirm(partition).await?;
    } else {
        tracing::warn!(
            partition,
            events = lost.len(),
            from,
            "events of the last commit were aborted after all: appending them again"
        );
    }
    Ok(lost)
}

/// One partition of the events topic, read with a consumer of its own.
struct Span {
    consumer: Arc<Reader>,
    topic: String,
    partition: u32,
    kafka_partition: i32,
}

impl Span {
    fn open(
        config: &KafkaConfig,
        partition: u32,
        client: rdkafka::ClientConfig,
    ) -> Result<Self, LogError> {
        let consumer: Reader = client
            .create_with_context(Quiet)
            .map_err(|e| unavailable("connecting to Kafka", e))?;
        Ok(Self {
            consumer: Arc::new(consumer),
            topic: config.events_topic(),
            partition,
            kafka_partition: kafka_partition(partition)?,
        })
    }

    /// The partition's end as this consumer's isolation level sees it:
    /// read committed, the first offset of a transaction still open.
    async fn end(&self, config: &KafkaConfig) -> Result<u64, LogError> {
        let (consumer, topic, p, timeout) = (
            self.consumer.clone(),
            self.topic.clone(),
            self.kafka_partition,
            config.request_timeout,
        );
        let partition = self.partition;
        let (_, high) =
            tokio::task::spawn_blocking(move || watermarks(consumer.as_ref(), &topic, p, timeout))
                .await
                .map_err(|e| LogError::Unavailable(format!("reading partition {partition}: {e}")))?
                .map_err(|e| unavailable(&format!("reading partition {partition}"), e))?;
        Ok(u64::try_from(high).unwrap_or(0))
    }

    fn start_at(&self, offset: u64) -> Result<(), LogError> {
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(&self.topic, self.kafka_partition, kafka_offset(offset)?)
            .map_err(|e| unavailable("positioning a reader", e))?;
        self.consumer
            .assign(&assignment)
            .map_err(|e| unavailable("positioning a reader", e))
    }

    /// Reads on until `end` or `max` events; `next` follows the reading.
    /// Whether `end` was reached.
    async fn read(
        &self,
        end: u64,
        next: &mut u64,
        max: usize,
    ) -> Result<(Vec<StoredEvent>, bool), LogError> {
        let partition = self.partition;
        let mut events = Vec::new();
        while events.len() < max {
            let record = tokio::time::timeout(STALL_LIMIT, self.consumer.recv())
                .await
                .map_err(|_| {
                    LogError::Unavailable(format!(
                        "partition {partition} gave nothing for {STALL_LIMIT:?} \
                         (a transaction of another owner stays open)"
                    ))
                })?;
            match record {
                Ok(record) => {
                    let event = stored_event(&record)?;
                    *next = event.position.offset + 1;
                    events.push(event);
                }
                Err(KafkaError::PartitionEOF(_)) => {
                    let position = self
                        .consumer
                        .position()
                        .ok()
                        .and_then(|list| {
                            list.find_partition(&self.topic, self.kafka_partition)
                                .and_then(|p| p.offset().to_raw())
                        })
                        .and_then(|o| u64::try_from(o).ok())
                        .unwrap_or(*next);
                    *next = (*next).max(position);
                    if *next >= end {
                        return Ok((events, true));
                    }
                }
                Err(e) => {
                    return Err(unavailable(&format!("reading partition {partition}"), e));
                }
            }
        }
        Ok((events, *next >= end))
    }
}
