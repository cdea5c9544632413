//! `studio replay lancedb`: the vectors rebuilt from the log.
//!
//! - In a local folder: into a fresh folder that then replaces `vectors`
//!   in the data directory (no vector projector may be running: the lock
//!   says so).
//! - Elsewhere (another folder, an object store): the tables are made again, empty, and projected
//!   (stop the vector projector first; searches find less meanwhile).
//!
//! `--into LOCATION` (a folder, or an `s3://` URI) builds a copy there
//! instead, leaving the live vectors alone, e.g. to compare them.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use studio_vectors_lancedb::{LanceVectors, Location};

use crate::config::Settings;
use crate::platform::{self, Store};
use crate::replay::project;

pub async fn run(settings: Settings, into: Option<String>) -> anyhow::Result<()> {
    let started = Instant::now();
    let live = settings.vectors_location();
    let (target, lock) = match into {
        Some(into) => {
            let target = if into.starts_with("s3://") {
                settings.object_store_location(&into)
            } else {
                Location::folder(Path::new(&into))
            };
            if live.as_ref().is_some_and(|live| live.uri == target.uri) {
                bail!("--into names the live vectors; replay without --into to rebuild them");
            }
            (target, None)
        }
        None => match settings.vectors.as_str() {
            "off" => bail!("the vectors are off (vectors = \"off\"): nothing to rebuild"),
            "local" => (
                Location::folder(&settings.data_dir.join("vectors.rebuild")),
                Some(platform::lock(&settings, Store::Vectors)?),
            ),
            _ => match settings.vectors_location() {
                Some(location) => (location, None),
                None => bail!("the vectors are off (vectors = \"off\"): nothing to rebuild"),
            },
        },
    };
    let embedder = crate::embed::embedder(&settings).await?;
    // Whatever model made what is there, the rebuild starts empty.
    let store = LanceVectors::create_fresh(
        &target,
        embedder.model(),
        embedder.dimension(),
        settings.vector_index_threshold,
    )
    .await
    .with_context(|| format!("making empty vectors at {}", target.uri))?;
    let log = platform::log_reader(&settings).await?;
    let blobs = platform::blobs(&settings).await?;
    let side = studio_query_api::Vectors {
        store: std::sync::Arc::new(store),
        embedder,
    };
    let projection = platform::vector_projection(&settings, &side, blobs);
    let (read, applied) = project(&log, projection.as_ref(), None, true).await?;
    let snapshot = side.store.snapshot().await?;
    let destination = match lock {
        Some(_held) => {
            let building = settings.data_dir.join("vectors.rebuild");
            let live = settings.data_dir.join("vectors");
            if live.exists() {
                std::fs::remove_dir_all(&live)
                    .with_context(|| format!("removing the old vectors {}", live.display()))?;
            }
            std::fs::rename(&building, &live)
                .with_context(|| format!("moving the rebuilt vectors to {}", live.display()))?;
            live.display().to_string()
        }
        None => target.uri,
    };
    println!(
        "replayed {applied} of {read} events into {destination} in {:.2?}",
        started.elapsed()
    );
    println!("  {:<20} {:>9}", "passages", snapshot.passages.len());
    println!("  {:<20} {:>9}", "characters", snapshot.characters.len());
    Ok(())
}
