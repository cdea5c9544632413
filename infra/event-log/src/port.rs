use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

use crate::{EventEnvelope, LogError, Position, ToTheEnd, partition_for};

/// A batch of events for one stream, all produced by one command.
#[derive(Clone, Debug)]
pub struct AppendRequest {
    pub aggregate_id: Uuid,
    /// The stream's version the events were decided against; 0 for a new
    /// stream. Anything else on the log is a conflict.
    pub expected_version: u64,
    /// The idempotency key: a second append with it returns the first
    /// outcome and writes nothing.
    pub command_id: Uuid,
    /// Sealed envelopes, numbered `expected_version + 1 ..`, chained from
    /// the stream's head hash.
    pub events: Vec<EventEnvelope>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendOutcome {
    pub command_id: Uuid,
    pub aggregate_id: Uuid,
    /// One per event, in order.
    pub positions: Vec<Position>,
    /// The stream's version after the append.
    pub version: u64,
    /// True when the command had already been appended and this is its
    /// first outcome, returned again.
    pub duplicate: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    pub position: Position,
    pub envelope: EventEnvelope,
}

/// The event log port. Per-stream order and optimistic concurrency, command
/// idempotency, partitioned reads and tailing.
#[async_trait]
pub trait EventLog: Send + Sync + 'static {
    /// Fixed when the log is created: changing it would move aggregates.
    fn partitions(&self) -> u32;

    /// Whether every offset of a partition holds an event. Kafka's
    /// transaction markers take offsets, so there they only grow.
    fn dense_offsets(&self) -> bool {
        true
    }

    fn partition_of(&self, aggregate_id: &Uuid) -> u32 {
        partition_for(aggregate_id.to_string().as_bytes(), self.partitions())
    }

    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, LogError>;

    /// The outcome of a command already appended to this aggregate, if
    /// any; `CommandIdReused` if the id was used for another aggregate
    /// (which the Kafka log detects only within the aggregate's partition).
    async fn command_outcome(
        &self,
        aggregate_id: Uuid,
        command_id: Uuid,
    ) -> Result<Option<AppendOutcome>, LogError>;

    /// Every event of one aggregate, in sequence order.
    async fn read_stream(&self, aggregate_id: Uuid) -> Result<Vec<StoredEvent>, LogError>;

    /// For each partition, the offset the next appended event will get.
    async fn end_offsets(&self) -> Result<BTreeMap<u32, u64>, LogError>;

    /// A reader positioned at `from` (the next offset to read, per
    /// partition; missing partitions start at 0).
    async fn cursor(&self, from: BTreeMap<u32, u64>) -> Result<Box<dyn LogCursor>, LogError>;

    /// A reader of `partitions` only, positioned at `from`: what a
    /// projector reads when it shares the log with others.
    async fn cursor_over(
        &self,
        partitions: &BTreeSet<u32>,
        from: BTreeMap<u32, u64>,
    ) -> Result<Box<dyn LogCursor>, LogError> {
        let cursor = self.cursor(from).await?;
        Ok(Box::new(crate::SubsetCursor::new(
            cursor,
            partitions.clone(),
        )))
    }

    /// Every stream whose events belong to `tenant`, with its aggregate
    /// type. This default walks the whole log; adapters with an index do
    /// better.
    async fn streams_of_tenant(&self, tenant: Uuid) -> Result<Vec<(Uuid, String)>, LogError> {
        let mut to_the_end = ToTheEnd::new(self.end_offsets().await?);
        let mut cursor = self.cursor(BTreeMap::new()).await?;
        let mut streams = BTreeMap::new();
        while let Some(batch) = to_the_end.next_batch(cursor.as_mut()).await? {
            for event in batch.iter().filter(|e| e.envelope.tenant == tenant) {
                streams
                    .entry(event.envelope.subject)
                    .or_insert_with(|| event.envelope.aggregatetype.clone());
            }
        }
        Ok(streams.into_iter().collect())
    }
}

#[async_trait]
pub trait LogCursor: Send {
    /// Up to `max` events after the cursor, each partition in offset order.
    /// When nothing is there, waits up to `wait` for an append instead of
    /// polling; an empty batch means nothing arrived in time.
    async fn next_batch(
        &mut self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<StoredEvent>, LogError>;

    /// The next offset to read, per partition.
    fn next_offsets(&self) -> BTreeMap<u32, u64>;
}
