//! The Kafka log's guarantees with real processes on a real broker: command
//! processors are `studio command-processor` processes; clients append
//! through `KafkaEventLog` as the command API does; the verdicts read the
//! events topic with a plain `read_committed` consumer, not through our
//! adapter. Needs `STUDIO_EVENT_LOG=kafka://...` (the test command starts
//! Kafka and sets it).

mod load;
mod topic;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use studio_event_log::{AppendOutcome, AppendRequest, EventLog, LogError};
use studio_kafka_log::{KafkaConfig, KafkaEventLog};
use tempfile::TempDir;

const PARTITIONS: u32 = 8;

fn brokers() -> String {
    std::env::var("STUDIO_EVENT_LOG")
        .ok()
        .and_then(|url| url.strip_prefix("kafka://").map(str::to_owned))
        .unwrap_or_else(|| {
            panic!("no Kafka: run `eval \"$(bash infra/local/up.sh kafka)\"` first (the README's test command does)")
        })
}

/// A log of its own: topics under a fresh prefix. Clients give up on a
/// processor sooner than by default (2 s, not 10), so that a load goes on
/// around a dead one and leaves commands in doubt to retry.
fn fresh_config() -> KafkaConfig {
    let mut config = KafkaConfig::new(
        brokers(),
        format!("studio-test-{}", uuid::Uuid::new_v4().simple()),
        PARTITIONS,
    );
    config.request_timeout = Duration::from_secs(2);
    config
}

/// A `studio command-processor` process with a data directory of its own.
struct Processor {
    config: KafkaConfig,
    dir: TempDir,
    child: Option<Child>,
}

impl Processor {
    fn start(config: &KafkaConfig) -> Self {
        let mut processor = Self {
            config: config.clone(),
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
        };
        processor.restart();
        processor
    }

    fn restart(&mut self) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_studio"));
        for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("STUDIO_")) {
            command.env_remove(name);
        }
        command
            .arg("command-processor")
            .env("STUDIO_DATA_DIR", self.dir.path())
            .env(
                "STUDIO_EVENT_LOG",
                format!("kafka://{}", self.config.brokers),
            )
            .env("STUDIO_KAFKA__TOPIC_PREFIX", &self.config.topic_prefix)
            .env("STUDIO_PARTITIONS", self.config.partitions.to_string())
            .env(
                "STUDIO_LOG",
                std::env::var("KAFKA_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        self.child = Some(command.spawn().expect("start studio command-processor"));
    }

    /// SIGKILL: an open transaction stays open until the next owner
    /// fences it.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for Processor {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn client(config: &KafkaConfig) -> Arc<dyn EventLog> {
    Arc::new(
        KafkaEventLog::connect(config.clone())
            .await
            .expect("connect"),
    )
}

/// Appends, retrying while no processor answers yet (they are starting,
/// or rejoining their group after a broker restart, which has taken from
/// 30 to over 90 seconds here).
async fn append_when_ready(log: &dyn EventLog, request: AppendRequest) -> AppendOutcome {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        match log.append(request.clone()).await {
            Ok(outcome) => return outcome,
            Err(e) if e.is_retryable() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("append: {e}"),
        }
    }
}

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn is_conflict(result: &Result<AppendOutcome, LogError>) -> bool {
    matches!(result, Err(LogError::Conflict { .. }))
}

mod guarantees;
