//! The process manager: tails the log from its checkpoint, starts a job
//! for each document uploaded (or restarted), at most a few at a time and
//! one per document, and moves its checkpoint past an upload only once the
//! upload's job has ended, so a restart resumes every unfinished document.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use studio_domain::{AggregateType, DocumentId};
use studio_event_log::{EventLog, LogError, StoredEvent};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::checkpoint::{CheckpointError, CheckpointStore};
use crate::pipeline::Pipeline;

/// Events that (re)start a document's processing.
const TRIGGERS: &[&str] = &[
    "studio.document.uploaded.v1",
    "studio.document.processing_restarted.v1",
];

#[derive(Debug, thiserror::Error)]
pub enum ProcessorError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

pub struct Processor {
    log: Arc<dyn EventLog>,
    pipeline: Arc<Pipeline>,
    checkpoints: Arc<dyn CheckpointStore>,
    /// Documents processed at once.
    concurrency: usize,
}

/// What one read of the log found.
struct Read {
    triggers: Vec<(DocumentId, (u32, u64))>,
    next_offsets: BTreeMap<u32, u64>,
}

/// A document's job and the trigger positions it answers for.
struct Running {
    triggers: Vec<(u32, u64)>,
    /// Another trigger arrived while it ran: run it again afterwards.
    again: bool,
}

impl Processor {
    pub fn new(
        log: Arc<dyn EventLog>,
        pipeline: Arc<Pipeline>,
        checkpoints: Arc<dyn CheckpointStore>,
        concurrency: usize,
    ) -> Self {
        Self {
            log,
            pipeline,
            checkpoints,
            concurrency: concurrency.max(1),
        }
    }

    /// Runs until `shutdown`; a failure of the log or the checkpoint store
    /// is retried from the checkpoint.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(100);
        while !shutdown.is_cancelled() {
            match self.follow(&shutdown).await {
                Ok(()) => return,
                Err(error) => {
                    tracing::error!(%error, retry_in = ?backoff, "the document pipeline failed; resuming from its checkpoint");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    }

    async fn follow(&self, shutdown: &CancellationToken) -> Result<(), ProcessorError> {
        let mut cursor = self.log.cursor(self.checkpoints.load().await?).await?;
        // The cursor reads in a task of its own, so that waiting for jobs
        // never cancels a read half-way.
        let (sender, mut reads) = tokio::sync::mpsc::channel::<Result<Read, LogError>>(64);
        let reader = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(async move {
            loop {
                let read = match cursor.next_batch(1000, Duration::from_millis(500)).await {
                    Ok(batch) => Ok(Read {
                        triggers: batch
                            .iter()
                            .filter_map(|e| {
                                trigger(e).map(|d| (d, (e.position.partition, e.position.offset)))
                            })
                            .collect(),
                        next_offsets: cursor.next_offsets(),
                    }),
                    Err(e) => Err(e),
                };
                if sender.send(read).await.is_err() {
                    return;
                }
            }
        }));
        let permits = Arc::new(Semaphore::new(self.concurrency));
        let mut jobs: JoinSet<DocumentId> = JoinSet::new();
        let mut running: HashMap<DocumentId, Running> = HashMap::new();
        let mut read_to = BTreeMap::new();
        let mut saved = BTreeMap::new();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => {
                    drop(reader);
                    jobs.shutdown().await;
                    return Ok(());
                }
                Some(done) = jobs.join_next(), if !jobs.is_empty() => {
                    let document = match done {
                        Ok(document) => document,
                        Err(e) => {
                            // A job panicked: its triggers stay unchecked; the
                            // checkpoint keeps them for the next start.
                            tracing::error!(error = %e, "a processing job ended abnormally");
                            continue;
                        }
                    };
                    match running.get_mut(&document) {
                        Some(r) if r.again => {
                            r.again = false;
                            self.spawn(&mut jobs, &permits, document);
                        }
                        _ => {
                            running.remove(&document);
                        }
                    }
                }
                read = reads.recv() => {
                    let Some(read) = read else {
                        return Ok(());
                    };
                    let read = read?;
                    for (document, position) in read.triggers {
                        match running.get_mut(&document) {
                            Some(r) => {
                                r.triggers.push(position);
                                r.again = true;
                            }
                            None => {
                                running.insert(document, Running { triggers: vec![position], again: false });
                                self.spawn(&mut jobs, &permits, document);
                            }
                        }
                    }
                    read_to = read.next_offsets;
                }
            }
            let next = checkpoint(&read_to, &running);
            if next != saved {
                self.checkpoints.save(&next).await?;
                saved = next;
            }
        }
    }

    fn spawn(
        &self,
        jobs: &mut JoinSet<DocumentId>,
        permits: &Arc<Semaphore>,
        document: DocumentId,
    ) {
        let pipeline = self.pipeline.clone();
        let permits = permits.clone();
        jobs.spawn(async move {
            let _permit = permits.acquire_owned().await;
            if let Err(error) = pipeline.process(document).await {
                tracing::error!(%document, %error, "processing a document failed; it resumes at the next start");
            }
            document
        });
    }
}

fn trigger(event: &StoredEvent) -> Option<DocumentId> {
    let e = &event.envelope;
    (e.aggregatetype == AggregateType::Document.as_str()
        && TRIGGERS.contains(&e.event_type.as_str()))
    .then(|| DocumentId::from_uuid(e.subject))
}

/// Per partition: the earliest trigger still being processed, or how far
/// the cursor has read.
fn checkpoint(
    read: &BTreeMap<u32, u64>,
    running: &HashMap<DocumentId, Running>,
) -> BTreeMap<u32, u64> {
    let mut pending: BTreeMap<u32, BTreeSet<u64>> = BTreeMap::new();
    for r in running.values() {
        for &(partition, offset) in &r.triggers {
            pending.entry(partition).or_default().insert(offset);
        }
    }
    read.iter()
        .map(|(&partition, &next)| {
            let earliest = pending
                .get(&partition)
                .and_then(|offsets| offsets.first().copied())
                .unwrap_or(next);
            (partition, earliest.min(next))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn the_checkpoint_waits_for_running_jobs() {
        let read = BTreeMap::from([(0, 10), (1, 7)]);
        let mut running = HashMap::new();
        running.insert(
            DocumentId::from_uuid(Uuid::from_u128(1)),
            Running {
                triggers: vec![(0, 4), (0, 8)],
                again: false,
            },
        );
        assert_eq!(
            checkpoint(&read, &running),
            BTreeMap::from([(0, 4), (1, 7)])
        );
        assert_eq!(checkpoint(&read, &HashMap::new()), read);
    }
}
