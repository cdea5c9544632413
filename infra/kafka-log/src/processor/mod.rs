//! `CommandProcessor`: the owners of the log's partitions. Processors form
//! a consumer group on the requests topic; each partition it is assigned
//! it takes (fencing the last owner, catching its store up), then carries
//! out the partition's requests a batch at a time, one Kafka transaction
//! per partition and batch.

mod catch_up;
mod owner;
mod store;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use tokio::time::Instant;

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::producer::FutureProducer;
use rdkafka::{Message, Offset, TopicPartitionList};
use studio_event_log::LogError;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use self::owner::{Failed, Membership, Owner};
use self::store::Store;
use crate::KafkaConfig;
use crate::blocking::off_the_executor;
use crate::cursor::{kafka_partition, partitions_of};
use crate::error::unavailable;
use crate::topics::ensure_topics;
use crate::wire::{Request, RequestBody};

/// Most requests carried out in one batch.
const MAX_BATCH: usize = 2_000;
/// Most events, and most bytes of requests and replies, in one batch: the
/// producer's queue holds 100,000 records and 1 GiB, and a batch that
/// overflows it would fail again each time its requests are re-read.
const MAX_BATCH_EVENTS: usize = 20_000;
const MAX_BATCH_BYTES: usize = 64 << 20;
/// What a stream read's reply may weigh: a page of up to 512 KB of
/// events, or one event of up to 900 KB.
const STREAM_REPLY_BYTES: usize = 1 << 20;
/// How long fencing a partition may hold up a rebalance.
const FENCE_IN_REBALANCE: Duration = Duration::from_secs(2);
/// The pause before a partition that could not be taken is tried again.
const RETAKE_AFTER: Duration = Duration::from_millis(500);

/// Partitions assigned and revoked since the loop last looked, written by
/// the consumer's rebalance callbacks (which run inside `recv`).
#[derive(Default)]
struct Changes {
    assigned: BTreeSet<u32>,
    revoked: BTreeSet<u32>,
    /// Producers that fenced the last owner of a newly assigned partition.
    fenced: BTreeMap<u32, FutureProducer>,
}

struct GroupContext {
    config: KafkaConfig,
    changes: Arc<Mutex<Changes>>,
    /// Rung after a rebalance: the loop takes what it was given at once,
    /// not when a request happens to arrive (none may, until the
    /// partitions are taken: their committed offsets wait on the open
    /// transactions that taking them aborts).
    wake: Arc<Notify>,
}

impl ClientContext for GroupContext {}

impl ConsumerContext for GroupContext {
    /// Before partitions are assigned, their last owners are fenced: the
    /// consumer's fetch of the committed request offsets waits for any
    /// transaction those owners left open (KIP-447), and fencing aborts it
    /// now instead of when it times out.
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(list) => {
                let partitions: Vec<u32> = partitions_of(list).collect();
                tracing::info!(?partitions, "partitions revoked");
                if let Ok(mut changes) = self.changes.lock() {
                    for p in partitions {
                        changes.assigned.remove(&p);
                        changes.fenced.remove(&p);
                        changes.revoked.insert(p);
                    }
                }
            }
            Rebalance::Assign(list) => {
                let partitions: Vec<u32> = partitions_of(list).collect();
                tracing::info!(
                    ?partitions,
                    "partitions assigned; fencing their last owners"
                );
                // All at once and briefly: the group waits on this callback
                // (a broker just restarted answers slowly); a partition not
                // fenced here is fenced when it is taken.
                let fenced = off_the_executor(|| {
                    std::thread::scope(|scope| {
                        let fencing: Vec<_> = partitions
                            .iter()
                            .map(|&p| {
                                let config = &self.config;
                                (
                                    p,
                                    scope
                                        .spawn(move || owner::fence(config, p, FENCE_IN_REBALANCE)),
                                )
                            })
                            .collect();
                        fencing
                            .into_iter()
                            .map(|(p, fencing)| {
                                let fenced = fencing.join().unwrap_or_else(|_| {
                                    Err(LogError::Unavailable("fencing failed".into()))
                                });
                                (p, fenced)
                            })
                            .collect::<Vec<_>>()
                    })
                });
                for (p, fenced) in fenced {
                    match fenced {
                        Ok(producer) => {
                            if let Ok(mut changes) = self.changes.lock() {
                                changes.fenced.insert(p, producer);
                            }
                        }
                        Err(e) => {
                            tracing::info!(partition = p, error = %e, "not fenced yet; fenced when taken");
                        }
                    }
                }
            }
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance failed"),
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let (Rebalance::Assign(list), Ok(mut changes)) = (rebalance, self.changes.lock()) {
            for p in partitions_of(list) {
                changes.revoked.remove(&p);
                changes.assigned.insert(p);
            }
        }
        self.wake.notify_one();
    }
}

/// An owner at work in a task of its own, so that each partition's
/// batches and commits follow one another without waiting for the
/// others'. Dropping it stops the task; a transaction it leaves open is
/// aborted by whoever takes the partition next (its requests are read
/// again from the committed offset).
struct Running {
    partition: u32,
    /// Which owner this is: a failure reported by an earlier one is stale.
    serial: u64,
    queue: mpsc::UnboundedSender<Vec<Received>>,
    /// Asks the task to stop once the batch in hand is done.
    stop: CancellationToken,
    task: AbortOnDropHandle<()>,
}

/// The outcome of taking a partition.
struct Taken {
    partition: u32,
    attempt: u64,
    owner: Result<Owner, LogError>,
}

/// An owner's batch failed; it stopped.
struct Failure {
    partition: u32,
    serial: u64,
    reason: String,
}

impl Running {
    fn start(
        partition: u32,
        serial: u64,
        owner: Owner,
        membership: Membership,
        failed: mpsc::UnboundedSender<Failure>,
        wake: Arc<Notify>,
    ) -> Self {
        let fail = move |reason: String| {
            let _ = failed.send(Failure {
                partition,
                serial,
                reason,
            });
            wake.notify_one();
        };
        let (queue, mut requests) = mpsc::unbounded_channel::<Vec<Received>>();
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut owner = owner;
            let mut pending = VecDeque::new();
            loop {
                let read = tokio::select! {
                    biased;
                    () = stopped.cancelled() => return,
                    read = requests.recv() => read,
                };
                let Some(read) = read else { return };
                pending.extend(read);
                // What queued while the last batch was committed joins in.
                while let Ok(more) = requests.try_recv() {
                    pending.extend(more);
                }
                while !pending.is_empty() && !stopped.is_cancelled() {
                    let batch = next_batch(&mut pending);
                    // A panic is a bug, but it must not leave the
                    // partition silently unserved.
                    let handled = AssertUnwindSafe(owner.handle(batch, &membership))
                        .catch_unwind()
                        .await;
                    let reason = match handled {
                        Ok(Ok(())) => continue,
                        Ok(Err(Failed(reason))) => reason,
                        Err(panic) => format!("the owner panicked: {}", panic_message(&*panic)),
                    };
                    fail(reason);
                    return;
                }
            }
        });
        Self {
            partition,
            serial,
            queue,
            stop,
            task: AbortOnDropHandle::new(task),
        }
    }

    /// Stops once the batch in hand is committed and recorded in the
    /// store, or after `limit`. Cut short, a stop would leave the store
    /// without a batch that clients were answered for: the next take
    /// would read it back, but could no longer check that Kafka kept it
    /// (see `catch_up`).
    async fn finish(self, limit: Duration) {
        self.stop.cancel();
        if tokio::time::timeout(limit, self.task).await.is_err() {
            tracing::warn!(
                partition = self.partition,
                ?limit,
                "a batch was still in hand at the stop; left to the next owner"
            );
        }
    }
}

pub struct CommandProcessor {
    config: KafkaConfig,
    store: Store,
}

impl CommandProcessor {
    /// `store` is the processor's local copy of its partitions' events (a
    /// cache; a fresh file is filled from the events topic).
    pub async fn open(config: KafkaConfig, store: &Path) -> Result<Self, LogError> {
        ensure_topics(&config).await?;
        Ok(Self {
            store: Store::open(store).await?,
            config,
        })
    }

    /// Carries out requests until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), LogError> {
        let changes = Arc::new(Mutex::new(Changes::default()));
        // Rung when a take ends, an owner fails or a rebalance happened, so
        // an idle loop wakes.
        let wake = Arc::new(Notify::new());
        let consumer: StreamConsumer<GroupContext> = self
            .config
            .client()
            .set("group.id", self.config.processor_group())
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            // Requests are written outside transactions, so this changes
            // nothing of what is read; it is for the committed offsets.
            // Read committed, a fetch of them waits while any offset is
            // pending in an open transaction (KIP-447), and after a broker
            // restart one partition's stayed pending for minutes, holding
            // up the fetch for every partition assigned with it. A
            // partition is rewound only once taken, after the fence has
            // settled its last owner's transaction, so the offset read is
            // the committed one; only where a broker leaves an offset
            // pending is it a batch older, and that batch is read again
            // (its appends are duplicates by command id).
            .set("isolation.level", "read_uncommitted")
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "1000")
            .set("fetch.wait.max.ms", "5")
            .create_with_context(GroupContext {
                config: self.config.clone(),
                changes: changes.clone(),
                wake: wake.clone(),
            })
            .map_err(|e| unavailable("connecting to Kafka", e))?;
        let consumer = Arc::new(consumer);
        let membership: Membership = {
            let consumer = consumer.clone();
            Arc::new(move || consumer.group_metadata())
        };
        let topic = self.config.requests_topic();
        consumer
            .subscribe(&[&topic])
            .map_err(|e| unavailable("joining the command processors", e))?;
        tracing::info!(group = %self.config.processor_group(), %topic, "command processor started");
        let mut owners: BTreeMap<u32, Running> = BTreeMap::new();
        // Assigned to this processor, taken or not.
        let mut assigned: BTreeSet<u32> = BTreeSet::new();
        // Assigned partitions not (yet) taken.
        let mut untaken: BTreeSet<u32> = BTreeSet::new();
        // Partitions whose requests must be read again from the committed
        // offset before any of them is handed to an owner.
        let mut to_rewind: BTreeSet<u32> = BTreeSet::new();
        let (failed_tx, mut failed_rx) = mpsc::unbounded_channel::<Failure>();
        // Takes run in tasks of their own (fencing and catching up wait on
        // the broker), so the partitions already held keep being served.
        let (taken_tx, mut taken_rx) = mpsc::unbounded_channel::<Taken>();
        // Takes in flight, by partition: the attempt's number.
        let mut taking: BTreeMap<u32, u64> = BTreeMap::new();
        let mut retry_at: BTreeMap<u32, Instant> = BTreeMap::new();
        // When the loop wakes to rewind again, if it is to.
        let mut rewind_again_at: Option<Instant> = None;
        let mut serial = 0u64;
        loop {
            // Reads are never cancelled (records already taken from the
            // consumer would be lost): what happened meanwhile is looked
            // at after each one.
            let batch = tokio::select! {
                _ = shutdown.cancelled() => break,
                batch = gather(&consumer, &wake) => batch?,
            };
            while let Ok(failure) = failed_rx.try_recv() {
                let current = owners.get(&failure.partition).map(|o| o.serial);
                if current != Some(failure.serial) {
                    continue;
                }
                tracing::warn!(partition = failure.partition, reason = %failure.reason, "a batch failed; taking the partition again");
                owners.remove(&failure.partition);
                if assigned.contains(&failure.partition) {
                    untaken.insert(failure.partition);
                }
            }
            let mut fenced = BTreeMap::new();
            if let Ok(mut changes) = changes.lock() {
                for p in std::mem::take(&mut changes.revoked) {
                    owners.remove(&p);
                    untaken.remove(&p);
                    assigned.remove(&p);
                    to_rewind.remove(&p);
                    taking.remove(&p);
                }
                let new = std::mem::take(&mut changes.assigned);
                assigned.extend(new.iter().copied());
                untaken.extend(new);
                fenced = std::mem::take(&mut changes.fenced);
            }
            while let Ok(Taken {
                partition: p,
                attempt,
                owner,
            }) = taken_rx.try_recv()
            {
                if taking.get(&p) != Some(&attempt) || !untaken.contains(&p) {
                    continue;
                }
                taking.remove(&p);
                match owner {
                    Ok(owner) => {
                        tracing::info!(partition = p, "took partition");
                        serial += 1;
                        let running = Running::start(
                            p,
                            serial,
                            owner,
                            membership.clone(),
                            failed_tx.clone(),
                            wake.clone(),
                        );
                        owners.insert(p, running);
                        untaken.remove(&p);
                        // Its requests read so far went nowhere.
                        to_rewind.insert(p);
                    }
                    Err(e) => {
                        tracing::warn!(partition = p, error = %e, "could not take partition");
                        retry_at.insert(p, Instant::now() + RETAKE_AFTER);
                        wake_after(&wake, RETAKE_AFTER);
                    }
                }
            }
            for &p in &untaken {
                let due = retry_at.get(&p).is_none_or(|at| *at <= Instant::now());
                if taking.contains_key(&p) || !due {
                    continue;
                }
                tracing::info!(partition = p, "taking partition");
                serial += 1;
                taking.insert(p, serial);
                retry_at.remove(&p);
                let (config, store, tx, producer, done) = (
                    self.config.clone(),
                    self.store.clone(),
                    taken_tx.clone(),
                    fenced.remove(&p),
                    wake.clone(),
                );
                let attempt = serial;
                tokio::spawn(async move {
                    let owner = Owner::take(&config, &store, p, producer).await;
                    let _ = tx.send(Taken {
                        partition: p,
                        attempt,
                        owner,
                    });
                    done.notify_one();
                });
            }
            // Held partitions whose requests must be read again from the
            // committed offset; this batch's records of them are dropped.
            let mut rewound = BTreeSet::new();
            to_rewind.retain(|&p| {
                let done = owners.contains_key(&p) && rewind_to_committed(&consumer, &topic, p);
                if done {
                    rewound.insert(p);
                }
                !done
            });
            // A rewind that failed (the consumer not ready after a broker
            // restart) is tried again on a timer: no request may come to
            // wake the loop (a CI run once waited four minutes for one).
            let waiting = to_rewind.iter().any(|p| owners.contains_key(p));
            if waiting && rewind_again_at.is_none_or(|at| at <= Instant::now()) {
                rewind_again_at = Some(Instant::now() + RETAKE_AFTER);
                wake_after(&wake, RETAKE_AFTER);
            }
            let mut by_partition: BTreeMap<u32, Vec<Received>> = BTreeMap::new();
            for (partition, received) in batch {
                by_partition.entry(partition).or_default().push(received);
            }
            for (p, requests) in by_partition {
                if rewound.contains(&p) || to_rewind.contains(&p) {
                    continue;
                }
                let handed = owners
                    .get(&p)
                    .is_some_and(|owner| owner.queue.send(requests).is_ok());
                // Not held (yet, or any more): read again from the
                // committed offset once it is.
                if !handed && assigned.contains(&p) {
                    owners.remove(&p);
                    if !taking.contains_key(&p) {
                        untaken.insert(p);
                    }
                }
            }
        }
        futures::future::join_all(
            owners
                .into_values()
                .map(|owner| owner.finish(self.config.request_timeout)),
        )
        .await;
        tracing::info!("command processor stopped");
        Ok(())
    }
}

/// Wakes the loop after `pause`, so that what failed is tried again even
/// if no request comes.
fn wake_after(wake: &Arc<Notify>, pause: Duration) {
    let wake = wake.clone();
    tokio::spawn(async move {
        tokio::time::sleep(pause).await;
        wake.notify_one();
    });
}

/// A request as read from the requests topic.
struct Received {
    offset: i64,
    /// The record's size.
    bytes: usize,
    request: Request,
}

/// Takes the next batch from the front of `pending`: at least one
/// request, and no more than `MAX_BATCH` requests, `MAX_BATCH_EVENTS`
/// events and `MAX_BATCH_BYTES` bytes written unless that one request
/// alone is larger.
fn next_batch(pending: &mut VecDeque<Received>) -> Vec<(i64, Request)> {
    let (mut events, mut bytes) = (0, 0);
    let mut batch = Vec::new();
    while let Some(next) = pending.front() {
        // An append writes its request's events; a read, a page of them.
        let (adds, weighs) = match &next.request.body {
            RequestBody::Append { events, .. } => (events.len(), next.bytes),
            RequestBody::ReadStream { .. } => (0, next.bytes + STREAM_REPLY_BYTES),
            RequestBody::CommandOutcome { .. } => (0, next.bytes),
        };
        let full = batch.len() >= MAX_BATCH
            || events + adds > MAX_BATCH_EVENTS
            || bytes + weighs > MAX_BATCH_BYTES;
        if full && !batch.is_empty() {
            break;
        }
        events += adds;
        bytes += weighs;
        if let Some(received) = pending.pop_front() {
            batch.push((received.offset, received.request));
        }
    }
    batch
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// The next requests: the first one (waiting for it, unless `wake` says
/// the loop has something else to do first), then those the consumer has
/// already read, up to `MAX_BATCH`; each with its partition. Waiting for
/// more would only hold up the first: an owner batches whatever queues up
/// for it while it commits (a 2 ms wait here cost a command alone 2 to 3 ms
/// in docs/benchmarks.md).
/// Unreadable records are logged and skipped (they get no reply).
async fn gather(
    consumer: &StreamConsumer<GroupContext>,
    wake: &Notify,
) -> Result<Vec<(u32, Received)>, LogError> {
    let mut batch = Vec::new();
    while batch.len() < MAX_BATCH {
        // Giving up a `recv` loses nothing: it hands a record over only
        // as it completes.
        let record = if batch.is_empty() {
            tokio::select! {
                record = consumer.recv() => record,
                _ = wake.notified() => break,
            }
        } else {
            match consumer.recv().now_or_never() {
                Some(record) => record,
                None => break,
            }
        };
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                if let Some((code, reason)) = consumer.client().fatal_error() {
                    return Err(LogError::Unavailable(format!(
                        "the requests consumer failed for good ({code:?}): {reason}"
                    )));
                }
                tracing::warn!(error = %e, "reading requests");
                if batch.is_empty() {
                    // The broker is away: a pause, not a spin.
                    tokio::time::sleep(RETAKE_AFTER).await;
                }
                break;
            }
        };
        let Ok(partition) = u32::try_from(record.partition()) else {
            continue;
        };
        let bytes = record.payload_len();
        match record.payload().map(serde_json::from_slice::<Request>) {
            Some(Ok(request)) => batch.push((
                partition,
                Received {
                    offset: record.offset(),
                    bytes,
                    request,
                },
            )),
            other => tracing::warn!(
                partition,
                offset = record.offset(),
                error = ?other.and_then(Result::err).map(|e| e.to_string()),
                "skipping an unreadable request"
            ),
        }
    }
    Ok(batch)
}

/// Positions the requests of `partition` at the group's committed offset
/// (the first request not yet carried out); false if that could not be
/// done now (the caller tries again and hands nothing meanwhile).
fn rewind_to_committed(
    consumer: &StreamConsumer<GroupContext>,
    topic: &str,
    partition: u32,
) -> bool {
    let Ok(p) = kafka_partition(partition) else {
        return false;
    };
    let mut list = TopicPartitionList::new();
    if list
        .add_partition(topic, p)
        .set_offset(Offset::Invalid)
        .is_err()
    {
        return false;
    }
    // Broker calls: off the async worker.
    let found = off_the_executor(|| consumer.committed_offsets(list, Duration::from_secs(5)));
    let to = match found.map(|found| found.find_partition(topic, p).map(|e| e.offset())) {
        Ok(Some(Offset::Offset(o))) => Offset::Offset(o),
        // Nothing committed yet: from the start.
        Ok(Some(Offset::Invalid)) | Ok(None) => Offset::Beginning,
        Ok(Some(other)) => {
            tracing::warn!(partition, offset = ?other, "an unexpected committed offset");
            return false;
        }
        Err(e) => {
            tracing::warn!(partition, error = %e, "could not read the committed offset");
            return false;
        }
    };
    match off_the_executor(|| consumer.seek(topic, p, to, Duration::from_secs(5))) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(partition, error = %e, "could not rewind the requests");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use studio_event_log::GENESIS_HASH;
    use studio_event_log::conformance::request;
    use uuid::Uuid;

    use super::*;

    fn append(events: usize, bytes: usize) -> Received {
        let append = request(Uuid::now_v7(), 0, GENESIS_HASH, events);
        Received {
            offset: 0,
            bytes,
            request: Request {
                id: Uuid::now_v7(),
                reply_partition: 0,
                expires_at: chrono::Utc::now(),
                body: RequestBody::Append {
                    aggregate_id: append.aggregate_id,
                    expected_version: 0,
                    command_id: append.command_id,
                    events: append.events,
                },
            },
        }
    }

    fn sizes(mut pending: VecDeque<Received>) -> Vec<usize> {
        let mut sizes = Vec::new();
        while !pending.is_empty() {
            sizes.push(next_batch(&mut pending).len());
        }
        sizes
    }

    #[test]
    fn a_batch_stops_at_its_requests_events_or_bytes() {
        let many: VecDeque<_> = (0..MAX_BATCH + 1).map(|_| append(1, 100)).collect();
        assert_eq!(sizes(many), vec![MAX_BATCH, 1]);

        let events_per_append = MAX_BATCH_EVENTS / 4;
        let large: VecDeque<_> = (0..9).map(|_| append(events_per_append, 100)).collect();
        assert_eq!(sizes(large), vec![4, 4, 1]);

        let heavy: VecDeque<_> = (0..5).map(|_| append(1, MAX_BATCH_BYTES / 2)).collect();
        assert_eq!(sizes(heavy), vec![2, 2, 1]);
    }

    #[test]
    fn a_request_larger_than_a_batch_is_a_batch_of_its_own() {
        let pending: VecDeque<_> = [
            append(1, 100),
            append(MAX_BATCH_EVENTS + 1, 100),
            append(1, MAX_BATCH_BYTES + 1),
            append(1, 100),
        ]
        .into_iter()
        .collect();
        assert_eq!(sizes(pending), vec![1, 1, 1, 1]);
    }

    /// A read's reply, a page of events, counts toward the batch's bytes.
    #[test]
    fn stream_reads_weigh_their_replies() {
        let read = || Received {
            offset: 0,
            bytes: 100,
            request: Request {
                id: Uuid::now_v7(),
                reply_partition: 0,
                expires_at: chrono::Utc::now(),
                body: RequestBody::ReadStream {
                    aggregate_id: Uuid::now_v7(),
                    from_sequence: 1,
                },
            },
        };
        let per_batch = MAX_BATCH_BYTES / (100 + STREAM_REPLY_BYTES);
        let reads: VecDeque<_> = (0..per_batch + 1).map(|_| read()).collect();
        assert_eq!(sizes(reads), vec![per_batch, 1]);
    }
}
