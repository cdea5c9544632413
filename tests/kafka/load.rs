//! A steady load: workers appending one event at a time to streams of
//! their own, remembering what was acknowledged and what is in doubt.

use std::collections::HashMap;
use std::sync::Arc;

use studio_event_log::conformance::request;
use studio_event_log::{AppendRequest, EventLog, GENESIS_HASH, LogError, Position};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

struct Stream {
    id: Uuid,
    version: u64,
    hash: String,
}

#[derive(Default)]
pub struct Report {
    /// Commands the client saw appended (command id, aggregate id).
    pub acknowledged: Vec<(Uuid, Uuid)>,
    /// Where their first events landed, as their outcomes said.
    pub positions: HashMap<Uuid, Position>,
    /// Commands that failed without an answer: they may or may not have
    /// been carried out. Their streams were set aside.
    pub in_doubt: Vec<AppendRequest>,
    pub errors: Vec<LogError>,
}

impl Report {
    fn merge(&mut self, other: Report) {
        self.acknowledged.extend(other.acknowledged);
        self.positions.extend(other.positions);
        self.in_doubt.extend(other.in_doubt);
        self.errors.extend(other.errors);
    }
}

/// Runs `workers` workers of `streams` streams each until `stop`.
pub async fn run(
    log: Arc<dyn EventLog>,
    workers: usize,
    streams: usize,
    stop: CancellationToken,
) -> Report {
    let tasks: Vec<_> = (0..workers)
        .map(|_| tokio::spawn(worker(log.clone(), streams, stop.clone())))
        .collect();
    let mut report = Report::default();
    for task in tasks {
        report.merge(task.await.expect("a load worker"));
    }
    report
}

async fn worker(log: Arc<dyn EventLog>, streams: usize, stop: CancellationToken) -> Report {
    let mut live: Vec<Stream> = (0..streams)
        .map(|_| Stream {
            id: Uuid::now_v7(),
            version: 0,
            hash: GENESIS_HASH.to_owned(),
        })
        .collect();
    let mut report = Report::default();
    let mut next = 0;
    while !stop.is_cancelled() && !live.is_empty() {
        next = (next + 1) % live.len();
        let stream = &mut live[next];
        let append = request(stream.id, stream.version, &stream.hash, 1);
        match log.append(append.clone()).await {
            Ok(outcome) => {
                stream.version = outcome.version;
                stream.hash = append.events[0].hash.clone();
                report.acknowledged.push((append.command_id, stream.id));
                if let Some(first) = outcome.positions.first() {
                    report.positions.insert(append.command_id, *first);
                }
            }
            Err(e) => {
                let retryable = e.is_retryable();
                report.errors.push(e);
                if retryable {
                    report.in_doubt.push(append);
                }
                live.swap_remove(next);
                // A pause, as a client that was told to retry later would.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
    report
}
