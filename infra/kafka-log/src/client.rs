//! `KafkaEventLog`: the event log port on Kafka, for every process that
//! appends or reads. Appends, stream reads and outcome lookups are
//! requests to the command processor that owns the aggregate's partition
//! (Kafka has no conditional append; the owner checks and writes); cursors
//! read the events topic directly.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rdkafka::Message;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use studio_event_log::{AppendOutcome, AppendRequest, EventLog, LogCursor, LogError, StoredEvent};
use tokio::sync::oneshot;
use tokio_util::task::AbortOnDropHandle;
use uuid::Uuid;

use crate::cursor::{Ends, KafkaCursor, kafka_partition};
use crate::error::{Quiet, Reader, unavailable, watermarks};
use crate::topics::ensure_topics;
use crate::wire::{ReplyBody, Request, RequestBody};
use crate::{KafkaConfig, wire};

type Waiting = Arc<Mutex<HashMap<Uuid, oneshot::Sender<wire::Reply>>>>;

pub struct KafkaEventLog {
    config: KafkaConfig,
    producer: FutureProducer,
    reply_partition: i32,
    waiting: Waiting,
    ends: tokio::sync::Mutex<Ends>,
    _replies: AbortOnDropHandle<()>,
}

impl KafkaEventLog {
    /// Connects, creating the topics when missing, and starts listening
    /// for replies on a partition of the replies topic chosen at random.
    pub async fn connect(config: KafkaConfig) -> Result<Self, LogError> {
        ensure_topics(&config).await?;
        let producer: FutureProducer = config
            .client()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "1")
            .set(
                "message.timeout.ms",
                config.request_timeout.as_millis().to_string(),
            )
            .create()
            .map_err(|e| unavailable("connecting to Kafka", e))?;
        let reply_partition =
            i32::try_from(Uuid::new_v4().as_u128() % u128::from(config.reply_partitions.max(1)))
                .unwrap_or(0);
        let waiting: Waiting = Arc::default();
        let listener = listen(&config, reply_partition, waiting.clone()).await?;
        Ok(Self {
            ends: tokio::sync::Mutex::new(Ends::new(&config)?),
            config,
            producer,
            reply_partition,
            waiting,
            _replies: AbortOnDropHandle::new(listener),
        })
    }

    pub fn config(&self) -> &KafkaConfig {
        &self.config
    }

    async fn request(&self, body: RequestBody) -> Result<ReplyBody, LogError> {
        let id = Uuid::now_v7();
        let partition = kafka_partition(self.partition_of(&body.aggregate_id()))?;
        let key = body.aggregate_id().to_string();
        // A timeout past the calendar's end waits for ever.
        let expires_at = chrono::TimeDelta::from_std(self.config.request_timeout)
            .ok()
            .and_then(|timeout| chrono::Utc::now().checked_add_signed(timeout))
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
        let payload = serde_json::to_vec(&Request {
            id,
            reply_partition: self.reply_partition,
            expires_at,
            body,
        })
        .map_err(|e| LogError::InvalidAppend(format!("the request does not encode: {e}")))?;
        let (tx, rx) = oneshot::channel();
        let _waiting = Registered::new(&self.waiting, id, tx);
        let timeout = self.config.request_timeout;
        let topic = self.config.requests_topic();
        let exchange = async {
            self.producer
                .send(
                    FutureRecord::to(&topic)
                        .partition(partition)
                        .key(&key)
                        .payload(&payload),
                    timeout,
                )
                .await
                .map_err(|(e, _)| match e {
                    KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge) => {
                        LogError::InvalidAppend(format!(
                            "the request ({} bytes) is larger than Kafka accepts",
                            payload.len()
                        ))
                    }
                    e => unavailable("sending a request to the command processors", e),
                })?;
            rx.await
                .map_err(|_| LogError::Unavailable("the reply listener stopped".into()))
        };
        let reply = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| {
                LogError::Unavailable(format!(
                    "no command processor answered within {timeout:?}; the request may or may not \
                 have been carried out (a retry with the same command id is safe)"
                ))
            })??;
        reply.result.map_err(LogError::from)
    }

    async fn read_stream_from_owner(
        &self,
        aggregate_id: Uuid,
    ) -> Result<Vec<StoredEvent>, LogError> {
        let mut stream: Vec<StoredEvent> = Vec::new();
        loop {
            let from_sequence = stream
                .last()
                .map_or(1, |e| e.envelope.aggregatesequence + 1);
            match self
                .request(RequestBody::ReadStream {
                    aggregate_id,
                    from_sequence,
                })
                .await?
            {
                ReplyBody::Stream { events, more } => {
                    let empty = events.is_empty();
                    for event in events {
                        stream.push(event.into_stored()?);
                    }
                    if !more || empty {
                        return Ok(stream);
                    }
                }
                other => return Err(unexpected(other)),
            }
        }
    }

    async fn scan_stream(&self, aggregate_id: Uuid) -> Result<Vec<StoredEvent>, LogError> {
        let partition = self.partition_of(&aggregate_id);
        let ends = self.end_offsets().await?;
        let end = ends.get(&partition).copied().unwrap_or(0);
        // The other partitions start at their ends: nothing to read there.
        let mut from = ends;
        from.insert(partition, 0);
        let mut cursor = KafkaCursor::open(&self.config, &from)?;
        let mut stream = Vec::new();
        while cursor.next_offsets().get(&partition).copied().unwrap_or(0) < end {
            let batch = cursor
                .next_batch(10_000, self.config.request_timeout)
                .await?;
            if batch.is_empty() {
                return Err(LogError::Unavailable(format!(
                    "partition {partition} stopped before its end {end}"
                )));
            }
            stream.extend(
                batch
                    .into_iter()
                    .filter(|e| e.envelope.subject == aggregate_id),
            );
        }
        stream.sort_by_key(|e| e.envelope.aggregatesequence);
        Ok(stream)
    }
}

/// A waiting request, forgotten when its caller stops waiting.
struct Registered<'a> {
    waiting: &'a Waiting,
    id: Uuid,
}

impl<'a> Registered<'a> {
    fn new(waiting: &'a Waiting, id: Uuid, tx: oneshot::Sender<wire::Reply>) -> Self {
        if let Ok(mut map) = waiting.lock() {
            map.insert(id, tx);
        }
        Self { waiting, id }
    }
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        if let Ok(mut map) = self.waiting.lock() {
            map.remove(&self.id);
        }
    }
}

/// Reads the client's reply partition (committed replies only) from its
/// current end, handing each reply to the request waiting for it.
async fn listen(
    config: &KafkaConfig,
    partition: i32,
    waiting: Waiting,
) -> Result<tokio::task::JoinHandle<()>, LogError> {
    let consumer: Reader = config
        .reader()
        .set("enable.partition.eof", "false")
        // A reply's commit marker does wake a waiting fetch (a 200 ms
        // wait measured the same latency). 5 ms since broker-restart
        // failures in CI were blamed on 200 ms; they came with 5 ms too
        // (pending offsets, docs/benchmarks.md), and 200 ms was not
        // measured again since.
        .set("fetch.wait.max.ms", "5")
        .create_with_context(Quiet)
        .map_err(|e| unavailable("connecting to Kafka", e))?;
    let consumer = Arc::new(consumer);
    let topic = config.replies_topic();
    // From the end as it is now: a reply to a request sent later lands
    // after it.
    let (reader, for_topic, timeout) = (consumer.clone(), topic.clone(), config.request_timeout);
    let (_, high) = tokio::task::spawn_blocking(move || {
        watermarks(reader.as_ref(), &for_topic, partition, timeout)
    })
    .await
    .map_err(|e| LogError::Unavailable(format!("reading the replies topic: {e}")))?
    .map_err(|e| unavailable("reading the replies topic", e))?;
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(&topic, partition, Offset::Offset(high))
        .map_err(|e| unavailable("positioning the reply reader", e))?;
    consumer
        .assign(&assignment)
        .map_err(|e| unavailable("positioning the reply reader", e))?;
    Ok(tokio::spawn(async move {
        loop {
            match consumer.recv().await {
                Ok(record) => {
                    let Some(payload) = record.payload() else {
                        continue;
                    };
                    match serde_json::from_slice::<wire::Reply>(payload) {
                        Ok(reply) => {
                            let tx = waiting
                                .lock()
                                .ok()
                                .and_then(|mut m| m.remove(&reply.request));
                            if let Some(tx) = tx {
                                let _ = tx.send(reply);
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "an unreadable record on the replies topic")
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading replies");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    }))
}

fn unexpected(reply: ReplyBody) -> LogError {
    LogError::Corrupt(format!(
        "a command processor answered out of turn: {reply:?}"
    ))
}

#[async_trait]
impl EventLog for KafkaEventLog {
    fn partitions(&self) -> u32 {
        self.config.partitions
    }

    fn dense_offsets(&self) -> bool {
        false
    }

    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, LogError> {
        match self
            .request(RequestBody::Append {
                aggregate_id: request.aggregate_id,
                expected_version: request.expected_version,
                command_id: request.command_id,
                events: request.events,
            })
            .await?
        {
            ReplyBody::Appended(outcome) => Ok(outcome.into()),
            other => Err(unexpected(other)),
        }
    }

    async fn command_outcome(
        &self,
        aggregate_id: Uuid,
        command_id: Uuid,
    ) -> Result<Option<AppendOutcome>, LogError> {
        match self
            .request(RequestBody::CommandOutcome {
                aggregate_id,
                command_id,
            })
            .await?
        {
            ReplyBody::Outcome { outcome } => Ok(outcome.map(Into::into)),
            other => Err(unexpected(other)),
        }
    }

    /// From the owner of the stream's partition; when no owner answers (no
    /// command processor runs, as for a CLI audit), from the events topic,
    /// which means reading the whole partition.
    async fn read_stream(&self, aggregate_id: Uuid) -> Result<Vec<StoredEvent>, LogError> {
        match self.read_stream_from_owner(aggregate_id).await {
            Err(LogError::Unavailable(reason)) => {
                tracing::warn!(%aggregate_id, %reason, "reading the stream from the events topic instead");
                self.scan_stream(aggregate_id).await
            }
            read => read,
        }
    }

    async fn end_offsets(&self) -> Result<BTreeMap<u32, u64>, LogError> {
        self.ends.lock().await.read().await
    }

    async fn cursor(&self, from: BTreeMap<u32, u64>) -> Result<Box<dyn LogCursor>, LogError> {
        Ok(Box::new(KafkaCursor::open(&self.config, &from)?))
    }

    async fn cursor_over(
        &self,
        partitions: &BTreeSet<u32>,
        from: BTreeMap<u32, u64>,
    ) -> Result<Box<dyn LogCursor>, LogError> {
        Ok(Box::new(KafkaCursor::open_over(
            &self.config,
            partitions,
            &from,
        )?))
    }
}
