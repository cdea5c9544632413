//! The owner of one partition: the only writer of its events. It checks
//! each append against the stream heads it knows (the store, plus what the
//! current batch appended), then writes the batch's events, the replies and
//! the consumed request offset in one Kafka transaction, with a producer
//! whose `transactional.id` belongs to the partition: whoever takes the
//! partition next fences it.
//!
//! The replies go out once the events have landed, with the offsets Kafka
//! gave them. (Foreseeing the offsets, to send the replies with the
//! events, saved a round trip but turned a transaction Kafka had left open
//! on the events partition into a loss: see `write`.)

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::future::try_join_all;
use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::KafkaError;
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use studio_event_log::{
    AppendOutcome, AppendRequest, EventEnvelope, LogError, Position, StoredEvent, check_append,
};
use tokio::time::Instant;
use uuid::Uuid;

use super::catch_up::catch_up;
use super::store::{Head, Known, Store};
use crate::KafkaConfig;
use crate::cursor::kafka_partition;
use crate::error::unavailable;
use crate::record::{header_bytes, headers};
use crate::wire::{ReplyBody, Request, RequestBody, WireError, WireOutcome};

/// Kafka's default limit on a record is 1 MiB: larger events (value and
/// headers) are refused at the door rather than failing the transaction,
/// which would fail again each time the partition's requests are re-read.
const MAX_EVENT_BYTES: usize = 900_000;
/// A page of a stream read.
const MAX_REPLY_BYTES: usize = 512_000;
/// A batch takes well under a second; a transaction left open by an owner
/// that died is aborted by the broker after this (unless the next owner
/// fences it first, as it does).
const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(15);

/// The partition's transactional producer, its `init_transactions` done:
/// the previous owner is fenced and whatever transaction it left open is
/// aborted. Blocks, up to `timeout`.
pub(crate) fn fence(
    config: &KafkaConfig,
    partition: u32,
    timeout: Duration,
) -> Result<FutureProducer, LogError> {
    let producer: FutureProducer = config
        .client()
        .set("transactional.id", config.transactional_id(partition))
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "0")
        .set("message.max.bytes", crate::topics::MAX_REPLY_RECORD_BYTES)
        // The broker answers CONCURRENT_TRANSACTIONS while the last
        // transaction's markers are being written; the default 100 ms
        // pause before asking again would be every batch's latency.
        .set("retry.backoff.ms", "2")
        .set("retry.backoff.max.ms", "50")
        .set(
            "transaction.timeout.ms",
            TRANSACTION_TIMEOUT.as_millis().to_string(),
        )
        .set(
            "message.timeout.ms",
            config
                .request_timeout
                .min(TRANSACTION_TIMEOUT)
                .as_millis()
                .to_string(),
        )
        .create()
        .map_err(|e| unavailable("connecting to Kafka", e))?;
    producer
        .init_transactions(timeout)
        .map_err(|e| unavailable(&format!("taking partition {partition}"), e))?;
    Ok(producer)
}

/// The processor's current standing in its consumer group.
pub(crate) type Membership = Arc<dyn Fn() -> Option<ConsumerGroupMetadata> + Send + Sync>;

/// Why a batch was not committed. Whatever happened to its transaction
/// (aborted, fenced, or a commit of unknown fate), the owner is finished:
/// the partition is taken again, which settles the transaction and brings
/// the store up to what Kafka holds, and its requests are read again from
/// the committed offset (an append that did land is then a duplicate).
#[derive(Debug)]
pub(crate) struct Failed(pub String);

pub(crate) struct Owner {
    partition: u32,
    producer: FutureProducer,
    config: KafkaConfig,
    store: Store,
    /// Events this partition's producer left open (see `catch_up`): the
    /// next commit that writes events commits them too, and appends are
    /// checked as if they were committed.
    carried: Vec<StoredEvent>,
    /// Events of the last commit that Kafka aborted after all (see
    /// `catch_up`): the next batch appends them again, first.
    lost: Vec<StoredEvent>,
}

impl Owner {
    /// Takes the partition with a producer that has fenced its previous
    /// owner (or fences it now), then brings the store up to the
    /// partition's committed end.
    pub(crate) async fn take(
        config: &KafkaConfig,
        store: &Store,
        partition: u32,
        fenced: Option<FutureProducer>,
    ) -> Result<Self, LogError> {
        let producer = match fenced {
            Some(producer) => producer,
            None => {
                let config = config.clone();
                tokio::task::spawn_blocking(move || {
                    fence(&config, partition, config.request_timeout)
                })
                .await
                .map_err(|e| {
                    LogError::Unavailable(format!("taking partition {partition}: {e}"))
                })??
            }
        };
        let taken = catch_up(config, store, partition).await?;
        Ok(Self {
            partition,
            producer,
            config: config.clone(),
            store: store.clone(),
            carried: taken.left_open,
            lost: taken.lost,
        })
    }

    /// Carries out `requests` (in the order they were read, each with its
    /// offset in the requests topic) in one transaction.
    pub(crate) async fn handle(
        &mut self,
        requests: Vec<(i64, Request)>,
        membership: &Membership,
    ) -> Result<(), Failed> {
        let Some(&(last_offset, _)) = requests.last() else {
            return Ok(());
        };
        self.producer
            .begin_transaction()
            .map_err(|e| failed("beginning a transaction", e))?;
        match self.write(requests, last_offset, membership).await {
            Ok(appended) if appended.is_empty() => Ok(()),
            Ok(appended) => {
                // The commit marker that ended this batch's events ended
                // the carried ones with them.
                let mut committed = std::mem::take(&mut self.carried);
                committed.extend(appended);
                self.remember(committed).await
            }
            Err(failure) => {
                let producer = self.producer.clone();
                let timeout = self.config.request_timeout;
                // Best effort: the next owner's init settles it anyway.
                let _ =
                    tokio::task::spawn_blocking(move || producer.abort_transaction(timeout)).await;
                Err(failure)
            }
        }
    }

    async fn write(
        &self,
        requests: Vec<(i64, Request)>,
        last_offset: i64,
        membership: &Membership,
    ) -> Result<Vec<StoredEvent>, Failed> {
        let started = Instant::now();
        let count = requests.len();
        let mut known = self.known(&requests).await?;
        known.carry(&self.carried);
        let looked_up = started.elapsed();
        let mut batch = Batch::default();
        self.append_again(&mut batch)?;
        let mut answers = Vec::with_capacity(requests.len());
        let now = chrono::Utc::now();
        for (_, request) in requests {
            let answer = if request.expired(now) {
                Answer::Now(Err(WireError::Unavailable {
                    message: format!(
                        "the request expired at {} before a command processor took it; \
                         it was not carried out",
                        request.expires_at
                    ),
                }))
            } else {
                self.answer(&mut batch, &known, request.body).await?
            };
            answers.push((request.id, request.reply_partition, answer));
        }
        // The replies wait for the events' offsets. A batch's events can
        // land past a commit marker Kafka never wrote: when a broker stops,
        // the coordinator skips the markers of partitions that have no
        // leader at that moment, and completes the transaction all the
        // same. The partition then holds the last batch's events in a
        // transaction still open, and this batch's events join it. Had the
        // replies foreseen offsets, this batch would have to be aborted,
        // and the last one's events, already acknowledged, with it;
        // committing it instead commits both.
        let (outcomes, stored) = landed(batch.appends).await?;
        let replies_topic = self.config.replies_topic();
        let mut replies = Vec::with_capacity(answers.len());
        for (request, reply_partition, answer) in answers {
            let result = match answer {
                Answer::Now(result) => result,
                Answer::Appended(i) => outcome(&outcomes, i, false),
                Answer::DuplicateOf(i) => outcome(&outcomes, i, true),
            };
            if reply_partition < 0 || reply_partition as u32 >= self.config.reply_partitions {
                tracing::warn!(%request, reply_partition, "a request names no reply partition");
                continue;
            }
            let payload = encode_reply(request, result);
            let key = request.to_string();
            let delivery = self
                .producer
                .send_result(
                    FutureRecord::to(&replies_topic)
                        .partition(reply_partition)
                        .key(&key)
                        .payload(&payload),
                )
                .map_err(|(e, _)| failed("writing a reply", e))?;
            replies.push(delivery);
        }
        // Everything delivered before the commit: rdkafka's commit first
        // flushes, and a flush with reports outstanding waits on its
        // polling thread (100 ms steps).
        try_join_all(replies.into_iter().map(delivered))
            .await
            .map_err(|e| Failed(format!("writing replies: {e}")))?;
        let mut consumed = TopicPartitionList::new();
        consumed
            .add_partition_offset(
                &self.config.requests_topic(),
                kafka_partition(self.partition).map_err(|e| Failed(e.to_string()))?,
                Offset::Offset(last_offset + 1),
            )
            .map_err(|e| failed("recording the consumed requests", e))?;
        let written = started.elapsed();
        // The group's generation as it is now: one read when the batch
        // began may predate a rebalance that kept this partition here.
        let group = membership().ok_or_else(|| Failed("no longer in the group".into()))?;
        let (producer, timeout) = (self.producer.clone(), self.config.request_timeout);
        tokio::task::spawn_blocking(move || {
            producer.send_offsets_to_transaction(&consumed, &group, timeout)?;
            producer.commit_transaction(timeout)
        })
        .await
        .map_err(|e| Failed(format!("committing: {e}")))?
        .map_err(|e| failed("committing", e))?;
        tracing::debug!(
            partition = self.partition,
            requests = count,
            ?looked_up,
            ?written,
            committed = ?started.elapsed(),
            "batch"
        );
        Ok(stored)
    }

    /// What the store holds of the batch's appends, looked up at once.
    async fn known(&self, requests: &[(i64, Request)]) -> Result<Known, Failed> {
        let (mut commands, mut aggregates, mut events) = (Vec::new(), Vec::new(), Vec::new());
        for (_, request) in requests {
            if let RequestBody::Append {
                aggregate_id,
                command_id,
                events: appended,
                ..
            } = &request.body
            {
                commands.push(*command_id);
                aggregates.push(*aggregate_id);
                events.extend(appended.iter().map(|e| e.id));
            }
        }
        self.store
            .known(self.partition, &commands, &aggregates, &events)
            .await
            .map_err(|e| Failed(format!("reading the store: {e}")))
    }

    /// The answer to one request, given what the batch did before it.
    async fn answer(
        &self,
        batch: &mut Batch,
        known: &Known,
        body: RequestBody,
    ) -> Result<Answer, Failed> {
        let storage = |e: LogError| Failed(format!("reading the store: {e}"));
        Ok(match body {
            RequestBody::ReadStream {
                aggregate_id,
                from_sequence,
            } => {
                let (events, more) = self
                    .store
                    .read_stream(aggregate_id, from_sequence, MAX_REPLY_BYTES)
                    .await
                    .map_err(storage)?;
                Answer::Now(Ok(ReplyBody::Stream { events, more }))
            }
            RequestBody::CommandOutcome {
                aggregate_id,
                command_id,
            } => Answer::Now(
                match self
                    .store
                    .outcome(self.partition, command_id)
                    .await
                    .map_err(storage)?
                {
                    Some(o) if o.aggregate_id != aggregate_id => {
                        Err(WireError::CommandIdReused { command_id })
                    }
                    found => Ok(ReplyBody::Outcome {
                        outcome: found.map(wire_outcome),
                    }),
                },
            ),
            RequestBody::Append {
                aggregate_id,
                expected_version,
                command_id,
                events,
            } => {
                let request = AppendRequest {
                    aggregate_id,
                    expected_version,
                    command_id,
                    events,
                };
                match self.append(batch, known, request)? {
                    Ok(answer) => answer,
                    Err(refused) => Answer::Now(Err(refused.into())),
                }
            }
        })
    }

    /// Checks an append and, when it holds, writes its events into the
    /// open transaction.
    fn append(
        &self,
        batch: &mut Batch,
        known: &Known,
        request: AppendRequest,
    ) -> Result<Result<Answer, LogError>, Failed> {
        let (aggregate_id, command_id) = (request.aggregate_id, request.command_id);
        if let Some(&(aggregate, i)) = batch.commands.get(&command_id) {
            return Ok(if aggregate == aggregate_id {
                Ok(Answer::DuplicateOf(i))
            } else {
                Err(LogError::CommandIdReused(command_id))
            });
        }
        if let Some(first) = known.outcomes.get(&command_id) {
            return Ok(if first.aggregate_id == aggregate_id {
                Ok(Answer::Now(Ok(ReplyBody::Appended(wire_outcome(
                    first.clone(),
                )))))
            } else {
                Err(LogError::CommandIdReused(command_id))
            });
        }
        let head = match batch.heads.get(&aggregate_id) {
            Some(head) => head.clone(),
            None => known.head(&aggregate_id),
        };
        if head.version != request.expected_version {
            return Ok(Err(LogError::Conflict {
                aggregate_id,
                expected: request.expected_version,
                actual: head.version,
            }));
        }
        let aggregate_type = match check_append(
            &request,
            head.aggregate_type.as_deref(),
            head.version,
            &head.hash,
        ) {
            Ok(t) => t.to_owned(),
            Err(refused) => return Ok(Err(refused)),
        };
        let mut records = Vec::with_capacity(request.events.len());
        let mut own_ids = HashSet::with_capacity(request.events.len());
        for event in &request.events {
            if batch.event_ids.contains(&event.id)
                || known.events.contains(&event.id)
                || !own_ids.insert(event.id)
            {
                return Ok(Err(LogError::InvalidAppend(format!(
                    "event id {} is already in the log, or twice in this append",
                    event.id
                ))));
            }
            let json = event.to_json();
            let headers = headers(event);
            // The headers repeat some attributes: the record is both.
            let bytes = json.len() + header_bytes(&headers);
            if bytes > MAX_EVENT_BYTES {
                return Ok(Err(LogError::InvalidAppend(format!(
                    "event {} is {bytes} bytes as a record; an event may have at most \
                     {MAX_EVENT_BYTES}",
                    event.id
                ))));
            }
            records.push((json, headers));
        }
        let last = request
            .events
            .last()
            .map(|e| (e.aggregatesequence, e.hash.clone()));
        let (version, hash) = last.unwrap_or((head.version, head.hash));
        let head = Head {
            aggregate_type: Some(aggregate_type),
            version,
            hash,
        };
        let i = self.produce(
            batch,
            command_id,
            aggregate_id,
            head,
            records,
            request.events,
        )?;
        Ok(Ok(Answer::Appended(i)))
    }

    /// Appends again, first in the batch, the events of a commit that
    /// Kafka aborted after all (see `catch_up`): they were checked when
    /// first appended, and may have been acknowledged.
    fn append_again(&self, batch: &mut Batch) -> Result<(), Failed> {
        let mut lost = self.lost.iter().map(|e| e.envelope.clone()).peekable();
        while let Some(first) = lost.next() {
            let mut events = vec![first];
            while let Some(next) = lost.next_if(|e| e.commandid == events[0].commandid) {
                events.push(next);
            }
            let records = events.iter().map(|e| (e.to_json(), headers(e))).collect();
            let last = &events[events.len() - 1];
            let head = Head {
                aggregate_type: Some(last.aggregatetype.clone()),
                version: last.aggregatesequence,
                hash: last.hash.clone(),
            };
            let (command_id, aggregate_id) = (last.commandid, last.subject);
            self.produce(batch, command_id, aggregate_id, head, records, events)?;
        }
        Ok(())
    }

    /// Writes an append's events into the open transaction; the index of
    /// the append in the batch.
    fn produce(
        &self,
        batch: &mut Batch,
        command_id: Uuid,
        aggregate_id: Uuid,
        head: Head,
        records: Vec<(String, OwnedHeaders)>,
        events: Vec<EventEnvelope>,
    ) -> Result<usize, Failed> {
        let topic = self.config.events_topic();
        let key = aggregate_id.to_string();
        let partition = kafka_partition(self.partition).map_err(|e| Failed(e.to_string()))?;
        let mut deliveries = Vec::with_capacity(records.len());
        for (json, headers) in records {
            let delivery = self
                .producer
                .send_result(
                    FutureRecord::to(&topic)
                        .partition(partition)
                        .key(&key)
                        .payload(&json)
                        .headers(headers),
                )
                .map_err(|(e, _)| failed("writing an event", e))?;
            deliveries.push(delivery);
        }
        let version = head.version;
        batch.heads.insert(aggregate_id, head);
        batch.event_ids.extend(events.iter().map(|e| e.id));
        batch
            .commands
            .insert(command_id, (aggregate_id, batch.appends.len()));
        batch.appends.push(Append {
            command_id,
            aggregate_id,
            version,
            deliveries,
            events,
        });
        Ok(batch.appends.len() - 1)
    }

    /// After a commit: the store learns the batch's events, in place of
    /// the lost ones they appended again.
    async fn remember(&mut self, appended: Vec<StoredEvent>) -> Result<(), Failed> {
        let lost = std::mem::take(&mut self.lost);
        if let Err(e) = self
            .store
            .record_commit(self.partition, &appended, &lost)
            .await
        {
            // Committed all the same: the store is rebuilt from the topic
            // (caught up only, it would hold the lost events twice).
            tracing::warn!(partition = self.partition, error = %e, "the store missed a batch; rebuilding it");
            let rebuilt = async {
                self.store.reset(self.partition).await?;
                catch_up(&self.config, &self.store, self.partition).await
            };
            let taken = rebuilt
                .await
                .map_err(|e| Failed(format!("catching up: {e}")))?;
            self.carried = taken.left_open;
            self.lost = taken.lost;
        }
        Ok(())
    }
}

#[derive(Default)]
struct Batch {
    heads: HashMap<Uuid, Head>,
    commands: HashMap<Uuid, (Uuid, usize)>,
    event_ids: HashSet<Uuid>,
    appends: Vec<Append>,
}

struct Append {
    command_id: Uuid,
    aggregate_id: Uuid,
    version: u64,
    deliveries: Vec<DeliveryFuture>,
    events: Vec<EventEnvelope>,
}

/// The batch's appends as they landed: each one's outcome, with the
/// offsets Kafka gave its events, and the events as stored.
async fn landed(appends: Vec<Append>) -> Result<(Vec<WireOutcome>, Vec<StoredEvent>), Failed> {
    let mut outcomes = Vec::with_capacity(appends.len());
    let mut stored = Vec::new();
    for append in appends {
        let positions = try_join_all(append.deliveries.into_iter().map(delivered))
            .await
            .map_err(|e| Failed(format!("writing events: {e}")))?;
        stored.extend(
            positions
                .iter()
                .zip(append.events)
                .map(|(&position, envelope)| StoredEvent { position, envelope }),
        );
        outcomes.push(WireOutcome {
            command_id: append.command_id,
            aggregate_id: append.aggregate_id,
            positions,
            version: append.version,
            duplicate: false,
        });
    }
    Ok((outcomes, stored))
}

enum Answer {
    Now(Result<ReplyBody, WireError>),
    Appended(usize),
    DuplicateOf(usize),
}

fn outcome(outcomes: &[WireOutcome], i: usize, duplicate: bool) -> Result<ReplyBody, WireError> {
    outcomes
        .get(i)
        .map(|o| {
            ReplyBody::Appended(WireOutcome {
                duplicate,
                ..o.clone()
            })
        })
        .ok_or_else(|| WireError::Corrupt {
            message: "an answer lost its append".into(),
        })
}

/// A reply that cannot be encoded is answered with the reason, so one bad
/// request cannot stall its partition.
fn encode_reply(request: Uuid, result: Result<ReplyBody, WireError>) -> Vec<u8> {
    serde_json::to_vec(&crate::wire::Reply { request, result }).unwrap_or_else(|e| {
        let refusal = crate::wire::Reply {
            request,
            result: Err(WireError::Corrupt {
                message: format!("the answer could not be encoded: {e}"),
            }),
        };
        serde_json::to_vec(&refusal).unwrap_or_default()
    })
}

fn wire_outcome(o: AppendOutcome) -> WireOutcome {
    WireOutcome {
        command_id: o.command_id,
        aggregate_id: o.aggregate_id,
        positions: o.positions,
        version: o.version,
        duplicate: true,
    }
}

async fn delivered(delivery: DeliveryFuture) -> Result<Position, String> {
    match delivery.await {
        Ok(Ok(d)) => Ok(Position {
            partition: u32::try_from(d.partition).map_err(|e| e.to_string())?,
            offset: u64::try_from(d.offset).map_err(|e| e.to_string())?,
        }),
        Ok(Err((e, _))) => Err(e.to_string()),
        Err(_) => Err("the producer went away".into()),
    }
}

fn failed(what: &str, e: KafkaError) -> Failed {
    Failed(format!("{what}: {e}"))
}
