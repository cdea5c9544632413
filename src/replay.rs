//! `studio replay`: the relational read model rebuilt from the log, into a
//! fresh file that then replaces the live one (no projector may be running),
//! or, for investigation, into a file of the operator's choosing, as the
//! model was at a point in the past, leaving the live one alone.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use studio_blob_store::BlobStore;
use studio_event_log::EventLog;
use studio_privacy::PersonalData;
use studio_projections::Projection;
use studio_projections::relational::SqliteRelational;

use crate::audit::{PointInTime, progress_bar};
use crate::config::Settings;
use crate::platform::{self, Store};

pub async fn run(
    settings: Settings,
    into: Option<String>,
    until: Option<String>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let until: Option<PointInTime> = until.as_deref().map(str::parse).transpose()?;
    let (target, lock) = match into {
        Some(url) => (target_path(&url)?, None),
        None if until.is_some() => {
            bail!("a replay --until builds a past state for investigation: give it --into PATH")
        }
        None => {
            let lock = platform::lock(&settings, Store::ReadModel)?;
            (settings.data_dir.join("read-model.rebuild.db"), Some(lock))
        }
    };
    if target == platform::read_model_path(&settings) {
        bail!("--into names the live read model; replay without --into to rebuild it");
    }
    remove_database(&target)?;
    let log = platform::log_reader(&settings).await?;
    let personal = platform::personal_data(&settings).await?;
    let blobs = platform::blobs(&settings).await?;
    let summary = rebuild(log, personal, blobs, &target, until).await?;
    let destination = if lock.is_some() {
        let live = platform::read_model_path(&settings);
        remove_database(&live)?;
        std::fs::rename(&target, &live)
            .with_context(|| format!("moving the rebuilt read model to {}", live.display()))?;
        live
    } else {
        target
    };
    println!(
        "replayed {} of {} events into {} in {:.2?}",
        summary.applied,
        summary.read,
        destination.display(),
        started.elapsed()
    );
    for (table, rows) in summary.rows {
        println!("  {table:<12} {rows:>9} rows");
    }
    Ok(())
}

/// `sqlite:///path/file.db`, `sqlite://file.db` or a plain path.
fn target_path(url: &str) -> anyhow::Result<PathBuf> {
    let path = url.strip_prefix("sqlite://").unwrap_or(url);
    if path.is_empty() || path.contains("://") {
        bail!("--into takes a SQLite file (a path or sqlite://path), not {url:?}");
    }
    Ok(PathBuf::from(path))
}

pub struct Summary {
    pub read: u64,
    pub applied: u64,
    pub rows: Vec<(String, usize)>,
}

/// Projects the log, as it stands when the replay starts (and, with
/// `until`, only what it held at that point), into a new read model at
/// `target`.
pub async fn rebuild(
    log: Arc<dyn EventLog>,
    personal: Arc<PersonalData>,
    blobs: Arc<dyn BlobStore>,
    target: &Path,
    until: Option<PointInTime>,
) -> anyhow::Result<Summary> {
    let read_model = SqliteRelational::open(target, personal, blobs)
        .await
        .with_context(|| format!("creating {}", target.display()))?;
    let ends = log.end_offsets().await?;
    let bar = progress_bar(ends.values().sum(), "replaying");
    let mut cursor = log.cursor(Default::default()).await?;
    let (mut read, mut applied) = (0u64, 0u64);
    while ends
        .iter()
        .any(|(p, end)| cursor.next_offsets().get(p).copied().unwrap_or(0) < *end)
    {
        let batch = cursor.next_batch(5000, Duration::from_millis(200)).await?;
        if batch.is_empty() {
            break;
        }
        read += batch.len() as u64;
        let kept: Vec<_> = batch
            .into_iter()
            .filter(|e| until.is_none_or(|point| point.includes(e)))
            .filter(|e| {
                ends.get(&e.position.partition)
                    .is_some_and(|end| e.position.offset < *end)
            })
            .collect();
        if !kept.is_empty() {
            read_model.apply(&kept).await?;
            applied += kept.len() as u64;
        }
        bar.set_position(read);
    }
    bar.finish_and_clear();
    let rows = read_model
        .contents()
        .await?
        .into_iter()
        .map(|(table, rows)| (table, rows.len()))
        .collect();
    read_model.close().await?;
    Ok(Summary {
        read,
        applied,
        rows,
    })
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
