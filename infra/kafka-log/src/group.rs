//! `SharedPartitions`: a consumer group on the events topic used for
//! membership only, so that several readers of the log (the projectors of
//! one read model) split its partitions between them. Nothing is fetched
//! through it (every partition it is given is paused) and no offset is
//! committed: each reader keeps its own checkpoints (a projector, in the
//! read model, with the rows they cover) and reads with a cursor of its own.
//!
//! A partition changes hands cleanly: when the group takes one away, the
//! rebalance waits (up to `HANDOFF`) until the holder says it stopped
//! reading it, so two projectors never apply the same partition at once.

use std::collections::BTreeSet;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::KafkaError;
use studio_event_log::LogError;
use tokio::sync::watch;
use tokio_util::task::AbortOnDropHandle;

use crate::KafkaConfig;
use crate::blocking::off_the_executor;
use crate::cursor::partitions_of;
use crate::error::unavailable;

/// Longest a rebalance waits for the holder of a revoked partition.
const HANDOFF: Duration = Duration::from_secs(60);

/// The partitions held, with a generation that grows at every change.
type Assignment = (u64, BTreeSet<u32>);

/// The generation up to which the holder has let go of what it lost.
type Released = Arc<(Mutex<u64>, Condvar)>;

struct ShareContext {
    assignment: watch::Sender<Assignment>,
    released: Released,
}

impl ClientContext for ShareContext {
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(%error, reason, "Kafka client (partition sharing)");
    }
}

impl ConsumerContext for ShareContext {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(list) = rebalance else {
            return;
        };
        let mut generation = 0;
        self.assignment.send_modify(|(g, held)| {
            for p in partitions_of(list) {
                held.remove(&p);
            }
            *g += 1;
            generation = *g;
        });
        let (lock, released) = &*self.released;
        off_the_executor(|| {
            if let Ok(guard) = lock.lock() {
                let waited = released.wait_timeout_while(guard, HANDOFF, |r| *r < generation);
                if waited.is_ok_and(|(_, timeout)| timeout.timed_out()) {
                    tracing::warn!(
                        generation,
                        "the holder did not release revoked partitions in time"
                    );
                }
            }
        });
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Assign(list) = rebalance else {
            return;
        };
        if let Err(e) = consumer.pause(list) {
            tracing::warn!(error = %e, "could not pause the shared partitions");
        }
        self.assignment.send_modify(|(g, held)| {
            held.extend(partitions_of(list));
            *g += 1;
        });
    }
}

pub struct SharedPartitions {
    assignment: watch::Receiver<Assignment>,
    released: Released,
    _member: AbortOnDropHandle<()>,
}

impl SharedPartitions {
    /// Joins `group` (readers of the same thing use the same name).
    pub fn join(config: &KafkaConfig, group: &str) -> Result<Self, LogError> {
        let (sender, assignment) = watch::channel((0, BTreeSet::new()));
        let released: Released = Arc::default();
        let consumer: StreamConsumer<ShareContext> = config
            .client()
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "1000")
            .create_with_context(ShareContext {
                assignment: sender,
                released: released.clone(),
            })
            .map_err(|e| unavailable("connecting to Kafka", e))?;
        consumer
            .subscribe(&[&config.events_topic()])
            .map_err(|e| unavailable("joining the group", e))?;
        // Polling serves the group's callbacks; the partitions are paused,
        // so no record comes.
        let member = tokio::spawn(async move {
            loop {
                if let Err(e) = consumer.recv().await {
                    tracing::warn!(error = %e, "partition sharing");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        });
        Ok(Self {
            assignment,
            released,
            _member: AbortOnDropHandle::new(member),
        })
    }

    /// The partitions held now, and the generation of that assignment.
    pub fn current(&mut self) -> (u64, BTreeSet<u32>) {
        self.assignment.borrow_and_update().clone()
    }

    /// Waits until the assignment changes.
    pub async fn changed(&mut self) -> Result<(), LogError> {
        self.assignment
            .changed()
            .await
            .map_err(|_| LogError::Unavailable("the group member stopped".into()))
    }

    /// The holder no longer reads anything it lost up to `generation`.
    pub fn released(&self, generation: u64) {
        let (lock, released) = &*self.released;
        if let Ok(mut up_to) = lock.lock() {
            *up_to = (*up_to).max(generation);
        }
        released.notify_all();
    }
}
