//! `studio replay`: the relational read model rebuilt from the log.
//!
//! - Embedded (SQLite): into a fresh file that then replaces the live one
//!   (no projector may be running).
//! - PostgreSQL: without downtime: the next version is built in a schema of
//!   its own beside the live one while queries go on, caught up with the
//!   log, then made current in one transaction (the live projector pauses
//!   for the last catch-up and resumes on the new version); the old
//!   version is dropped.
//! - For investigation, `--into` a file or a database of the operator's
//!   choosing, as the model was at a point in the past (`--until`), leaving
//!   the live one alone.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::ProgressBar;
use studio_event_log::{EventLog, ReadAhead, ToTheEnd};
use studio_projections::Projection;
use studio_projections::relational::{ReadModelVersion, Relational, postgres};

use crate::audit::{PointInTime, progress_bar};
use crate::config::Settings;
use crate::platform::{self, Store};

pub async fn run(
    settings: Settings,
    projection: &str,
    into: Option<String>,
    until: Option<String>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let until: Option<PointInTime> = until.as_deref().map(str::parse).transpose()?;
    let into_postgres = into.as_deref().is_some_and(is_postgres);
    match projection {
        "relational" => {}
        "postgres" if settings.postgres_read_model().is_some() || into_postgres => {}
        "postgres" => {
            bail!("the read model is embedded (read_model = \"sqlite\"): replay `relational`")
        }
        "graph" | "neo4j" => {
            if until.is_some() {
                bail!("--until rebuilds the relational read model only");
            }
            return crate::graph_replay::run(settings, projection, into).await;
        }
        "lancedb" => {
            if until.is_some() {
                bail!("--until rebuilds the relational read model only");
            }
            return crate::vector_replay::run(settings, into).await;
        }
        other => bail!(
            "no projection {other:?}: replay `relational` (or `postgres`), `graph` (or `neo4j`) or `lancedb`"
        ),
    }
    if into.is_none() && until.is_some() {
        bail!("a replay --until builds a past state for investigation: give it --into PATH or URL");
    }
    let log = platform::log_reader(&settings).await?;
    let (destination, summary) = match (into, settings.postgres_read_model()) {
        (Some(url), _) if is_postgres(&url) => (
            url.clone(),
            into_database(&settings, log, &url, until).await?,
        ),
        (Some(path), _) => {
            let path = target_path(&path)?;
            if path == platform::read_model_path(&settings) {
                bail!("--into names the live read model; replay without --into to rebuild it");
            }
            remove_database(&path)?;
            let summary = into_file(&settings, log, &path, until).await?;
            (path.display().to_string(), summary)
        }
        (None, Some(url)) => without_downtime(&settings, log, url).await?,
        (None, None) => {
            let _lock = platform::lock(&settings, Store::ReadModel)?;
            let building = settings.data_dir.join("read-model.rebuild.db");
            remove_database(&building)?;
            let summary = into_file(&settings, log, &building, None).await?;
            let live = platform::read_model_path(&settings);
            remove_database(&live)?;
            std::fs::rename(&building, &live)
                .with_context(|| format!("moving the rebuilt read model to {}", live.display()))?;
            (live.display().to_string(), summary)
        }
    };
    println!(
        "replayed {} of {} events into {} in {:.2?}",
        summary.applied,
        summary.read,
        destination,
        started.elapsed()
    );
    for (table, rows) in summary.rows {
        println!("  {table:<20} {rows:>9} rows");
    }
    Ok(())
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// `sqlite:///path/file.db`, `sqlite://file.db` or a plain path.
fn target_path(url: &str) -> anyhow::Result<PathBuf> {
    let path = url.strip_prefix("sqlite://").unwrap_or(url);
    if path.is_empty() || path.contains("://") {
        bail!(
            "--into takes a SQLite file (a path or sqlite://path) or a postgres:// URL, not {url:?}"
        );
    }
    Ok(PathBuf::from(path))
}

pub struct Summary {
    pub read: u64,
    pub applied: u64,
    pub rows: Vec<(String, usize)>,
}

async fn into_file(
    settings: &Settings,
    log: Arc<dyn EventLog>,
    target: &Path,
    until: Option<PointInTime>,
) -> anyhow::Result<Summary> {
    let read_model = Relational::open_sqlite(
        target,
        platform::personal_data(settings).await?,
        platform::blobs(settings).await?,
    )
    .await
    .with_context(|| format!("creating {}", target.display()))?;
    let summary = summarize(&read_model, project(&log, &read_model, until, true).await?).await?;
    read_model.close().await?;
    Ok(summary)
}

/// Into a database of its own, which must hold no read model yet.
async fn into_database(
    settings: &Settings,
    log: Arc<dyn EventLog>,
    url: &str,
    until: Option<PointInTime>,
) -> anyhow::Result<Summary> {
    if settings.postgres_read_model() == Some(url) {
        bail!("--into names the live read model; replay without --into to rebuild it");
    }
    if postgres::current(url).await?.is_some() {
        bail!("{url} already holds a read model: give --into an empty database");
    }
    let read_model = Relational::open_postgres(
        url,
        platform::personal_data(settings).await?,
        platform::blobs(settings).await?,
    )
    .await
    .context("creating the read model")?;
    let summary = summarize(&read_model, project(&log, &read_model, until, true).await?).await?;
    read_model.close().await?;
    Ok(summary)
}

/// The next version beside the live one, made current without stopping
/// readers or the projector, then the old versions dropped.
async fn without_downtime(
    settings: &Settings,
    log: Arc<dyn EventLog>,
    url: &str,
) -> anyhow::Result<(String, Summary)> {
    let versions = postgres::versions(url).await?;
    let next = ReadModelVersion(versions.iter().map(|v| v.0).max().unwrap_or(0) + 1);
    let target = Relational::open_postgres_version(
        url,
        &next,
        platform::personal_data(settings).await?,
        platform::blobs(settings).await?,
    )
    .await
    .with_context(|| format!("creating {}", next.schema()))?;
    let (mut read, mut applied) = project(&log, &target, None, true).await?;
    // The last events, with the live projector paused: readers then switch
    // to a version that has everything the live one had.
    postgres::switch_to(url, &next, async {
        let (more_read, more_applied) = project(&log, &target, None, false).await?;
        read += more_read;
        applied += more_applied;
        Ok(())
    })
    .await
    .context("switching readers to the rebuilt read model")?;
    for old in versions.iter().filter(|v| **v != next) {
        postgres::drop_version(url, old)
            .await
            .with_context(|| format!("dropping the old version {}", old.schema()))?;
    }
    let summary = summarize(&target, (read, applied)).await?;
    target.close().await?;
    Ok((format!("{} ({})", redact(url), next.schema()), summary))
}

/// A URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            let user = credentials.split(':').next().unwrap_or("");
            format!("{}{user}@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// Applies the log to `read_model` from its checkpoints up to the log's
/// end as it stands now (with `until`, only what the log held then).
pub(crate) async fn project(
    log: &Arc<dyn EventLog>,
    read_model: &dyn Projection,
    until: Option<PointInTime>,
    show_progress: bool,
) -> Result<(u64, u64), studio_projections::ProjectionError> {
    let ends = log.end_offsets().await?;
    let from = read_model.checkpoints().await?;
    let remaining: u64 = ends
        .iter()
        .map(|(p, end)| end.saturating_sub(from.get(p).copied().unwrap_or(0)))
        .sum();
    let bar = if show_progress {
        progress_bar(remaining, "replaying")
    } else {
        ProgressBar::hidden()
    };
    let mut next = from.clone();
    let mut batches = ReadAhead::new(log.cursor(from).await?, 5000, Duration::from_millis(200));
    let mut to_the_end = ToTheEnd::new(ends.clone());
    let (mut read, mut applied) = (0u64, 0u64);
    while to_the_end.behind(&next) {
        let (batch, after) = batches.next().await?;
        to_the_end.after_batch(batch.len(), &after)?;
        next = after;
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
    Ok((read, applied))
}

async fn summarize(
    read_model: &Relational,
    (read, applied): (u64, u64),
) -> anyhow::Result<Summary> {
    Ok(Summary {
        read,
        applied,
        rows: read_model.row_counts().await?,
    })
}

/// Removes a SQLite database with its WAL files.
pub(crate) fn remove_database(path: &Path) -> anyhow::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redact("postgres://studio:secret@127.0.0.1:5433/studio"),
            "postgres://studio@127.0.0.1:5433/studio"
        );
        assert_eq!(redact("postgres://localhost/db"), "postgres://localhost/db");
    }
}
