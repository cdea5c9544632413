//! `studio replay graph|neo4j`: the character graph rebuilt from the log.
//!
//! - Embedded: into a fresh file that then replaces `graph.db` (no graph
//!   projector may be running: the lock says so).
//! - Neo4j: the graph of the configured name is cleared and projected
//!   again (stop the graph projectors first; the graph answers partly
//!   meanwhile). `--into NAME` builds a graph of another name instead,
//!   beside the live one, e.g. to compare it with the live one.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use studio_graph_neo4j::Neo4jGraph;
use studio_projections::graph::embedded::EmbeddedGraph;
use studio_projections::graph::{GraphSnapshot, GraphStore};

use crate::config::{Settings, valid_graph_name};
use crate::platform::{self, Store};
use crate::replay::{project, remove_database};

pub async fn run(settings: Settings, projection: &str, into: Option<String>) -> anyhow::Result<()> {
    let started = Instant::now();
    if projection == "neo4j" && settings.neo4j().is_none() {
        bail!("the graph is embedded (graph = \"sqlite\"): replay `graph`");
    }
    let log = platform::log_reader(&settings).await?;
    let (destination, (read, applied), snapshot) = match settings.neo4j() {
        Some(mut neo4j) => {
            if let Some(name) = into {
                if !valid_graph_name(&name) {
                    bail!("--into names a graph: 1 to 100 of [a-zA-Z0-9._-]");
                }
                neo4j.graph = name;
            }
            let graph = Neo4jGraph::connect(&neo4j)
                .await
                .with_context(|| format!("connecting to Neo4j at {}", neo4j.uri))?;
            graph.clear().await?;
            let counts = project(&log, &graph, None, true).await?;
            let snapshot = graph.snapshot().await?;
            (
                format!("the Neo4j graph {:?}", neo4j.graph),
                counts,
                snapshot,
            )
        }
        None => {
            let (target, lock) = match into {
                Some(path) => (PathBuf::from(path), None),
                None => (
                    settings.data_dir.join("graph.rebuild.db"),
                    Some(platform::lock(&settings, Store::Graph)?),
                ),
            };
            if target == platform::graph_path(&settings) {
                bail!("--into names the live graph; replay without --into to rebuild it");
            }
            remove_database(&target)?;
            let graph = EmbeddedGraph::open(&target)
                .await
                .with_context(|| format!("creating {}", target.display()))?;
            let counts = project(&log, &graph, None, true).await?;
            let snapshot = graph.snapshot().await?;
            graph.close().await;
            let destination = if let Some(_held) = lock {
                let live = platform::graph_path(&settings);
                remove_database(&live)?;
                std::fs::rename(&target, &live)
                    .with_context(|| format!("moving the rebuilt graph to {}", live.display()))?;
                live
            } else {
                target
            };
            (destination.display().to_string(), counts, snapshot)
        }
    };
    println!(
        "replayed {applied} of {read} events into {destination} in {:.2?}",
        started.elapsed()
    );
    print_counts(&snapshot);
    Ok(())
}

fn print_counts(snapshot: &GraphSnapshot) {
    for (what, n) in [
        ("documents", snapshot.documents.len()),
        ("characters", snapshot.characters.len()),
        ("appearances", snapshot.appearances.len()),
        ("interactions", snapshot.interactions.len()),
        ("relationships", snapshot.relationships.len()),
    ] {
        println!("  {what:<20} {n:>9}");
    }
}
