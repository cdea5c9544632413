//! `studio replay`: the relational read model rebuilt from the log, into a
//! fresh file that then replaces the live one (server stopped), or into a
//! file of the operator's choosing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use studio_event_log::EventLog;
use studio_privacy::PersonalData;
use studio_projections::relational::SqliteRelational;
use studio_projections::{LocalProgress, ProgressFeed, Projector, ProjectorConfig};
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::platform::{self, Store};

pub async fn run(settings: Settings, into: Option<PathBuf>) -> anyhow::Result<()> {
    let started = Instant::now();
    let (target, lock) = match into {
        Some(path) => (path, None),
        None => {
            let lock = platform::lock(&settings, Store::ReadModel)?;
            (settings.data_dir.join("read-model.rebuild.db"), Some(lock))
        }
    };
    remove_database(&target)?;
    let log = platform::log_reader(&settings).await?;
    let personal = platform::personal_data(&settings).await?;
    let events = rebuild(log, personal, &target).await?;
    if lock.is_some() {
        let live = platform::read_model_path(&settings);
        remove_database(&live)?;
        std::fs::rename(&target, &live)
            .with_context(|| format!("moving the rebuilt read model to {}", live.display()))?;
        println!(
            "replayed {events} events into {} in {:.2?}",
            live.display(),
            started.elapsed()
        );
    } else {
        println!(
            "replayed {events} events into {} in {:.2?}",
            target.display(),
            started.elapsed()
        );
    }
    Ok(())
}

/// Projects the whole log, as it stands when the replay starts, into a
/// new read model at `target`. Returns the number of events.
pub async fn rebuild(
    log: Arc<dyn EventLog>,
    personal: Arc<PersonalData>,
    target: &Path,
) -> anyhow::Result<u64> {
    let read_model = Arc::new(
        SqliteRelational::open(target, personal)
            .await
            .with_context(|| format!("creating {}", target.display()))?,
    );
    let ends = log.end_offsets().await?;
    let total: u64 = ends.values().sum();
    let progress = LocalProgress::new();
    let shutdown = CancellationToken::new();
    let projector = tokio::spawn(
        Projector::new(
            log,
            read_model.clone(),
            progress.clone(),
            ProjectorConfig {
                batch_size: 5000,
                idle_wait: Duration::from_millis(100),
                ..ProjectorConfig::default()
            },
        )
        .run(shutdown.clone()),
    );
    let mut updates = progress.subscribe();
    while !ends
        .iter()
        .all(|(p, end)| progress.applied().get(p).copied().unwrap_or(0) >= *end)
    {
        if projector.is_finished() {
            break;
        }
        let _ = tokio::time::timeout(Duration::from_millis(200), updates.recv()).await;
    }
    shutdown.cancel();
    projector.await.context("the projector task")??;
    read_model.close().await?;
    Ok(total)
}

/// Removes a SQLite database with its WAL files.
fn remove_database(path: &Path) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", file.display())),
        }
    }
    Ok(())
}
