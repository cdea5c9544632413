//! The character graph: projection throughput into Neo4j beside the
//! embedded store, on the same events in the same run, and the latency of
//! each graph query on one novel's network, on both.
//!
//!     eval "$(bash infra/local/up.sh neo4j)"
//!     BENCH_NOVEL=path/to/novel.txt cargo bench --bench graph
//!
//! The novel (default: the test fixture) is analysed once; its cast and
//! interactions are the network every query is asked of. The projection
//! workload is `BENCH_COPIES` (default 100) owners each uploading that
//! novel: for each, the document, one `created` event per character, the
//! cast, the interactions, ten declared relationships and a merge, applied
//! in batches of 5,000 as the projector applies them.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use studio_domain::character::{
    CharacterCreated, CharacterEvent, CharacterMerged, CharacterOrigin, RelationshipDeclared,
};
use studio_domain::document::processing::{
    CharactersDetected, DetectedCharacter, Interaction, InteractionsRecorded,
};
use studio_domain::document::{DocumentEvent, DocumentUploaded};
use studio_domain::{CharacterId, UserId};
use studio_graph_neo4j::{Neo4jGraph, Neo4jSettings};
use studio_projections::graph::conformance::History;
use studio_projections::graph::embedded::EmbeddedGraph;
use studio_projections::graph::{GraphStore, NeighbourQuery, algorithms};
use studio_projections::{Projection, Viewer};
use uuid::Uuid;

const BATCH: usize = 5000;
const ROUNDS: usize = 200;

struct Novel {
    /// (local id, name, mentions)
    cast: Vec<(String, String, u64)>,
    /// (local a, local b, weight)
    interactions: Vec<(String, String, u64)>,
}

fn novel() -> (String, Novel) {
    let path = std::env::var("BENCH_NOVEL").unwrap_or_else(|_| {
        format!(
            "{}/tests/fixtures/books/call-of-the-wild.txt",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    let text = std::fs::read_to_string(&path).expect("the novel");
    let analysis = studio_analysis::analyze(&text);
    let novel = Novel {
        cast: analysis
            .characters
            .iter()
            .map(|c| (c.id.clone(), c.name.clone(), c.mentions as u64))
            .collect(),
        interactions: analysis
            .interactions
            .iter()
            .map(|i| (i.a.clone(), i.b.clone(), i.weight))
            .collect(),
    };
    (path, novel)
}

/// One owner's copy of the novel; returns the owner, the document and the
/// character ids by local id.
fn copy(history: &mut History, novel: &Novel) -> (Uuid, Uuid, BTreeMap<String, Uuid>) {
    let owner = Uuid::new_v4();
    let document = Uuid::new_v4();
    history.document(
        document,
        owner,
        DocumentEvent::Uploaded(DocumentUploaded {
            owner: UserId::from_uuid(owner),
            title: "the novel".into(),
            original_filename: "novel.txt".into(),
            media_type: "text/plain".into(),
            size_bytes: 1,
            sha256: "0".repeat(64),
            blob_ref: "blob".into(),
            uploaded_at: Utc::now(),
        }),
    );
    let ids: BTreeMap<String, Uuid> = novel
        .cast
        .iter()
        .map(|(local, _, _)| (local.clone(), Uuid::new_v4()))
        .collect();
    for (local, name, _) in &novel.cast {
        history.character(
            ids[local],
            owner,
            CharacterEvent::Created(CharacterCreated {
                owner: UserId::from_uuid(owner),
                name: name.clone(),
                aliases: vec![],
                personality_profile: serde_json::json!({}),
                source_document_id: None,
                origin: CharacterOrigin::Detected,
                created_at: Utc::now(),
            }),
        );
    }
    history.document(
        document,
        owner,
        DocumentEvent::CharactersDetected(CharactersDetected {
            characters: novel
                .cast
                .iter()
                .map(|(local, name, mentions)| DetectedCharacter {
                    character_id: CharacterId::from_uuid(ids[local]),
                    local_ids: vec![local.clone()],
                    name: name.clone(),
                    mentions: *mentions,
                    first_mention: 0,
                    linked: false,
                })
                .collect(),
        }),
    );
    history.document(
        document,
        owner,
        DocumentEvent::InteractionsRecorded(InteractionsRecorded {
            interactions: novel
                .interactions
                .iter()
                .map(|(a, b, weight)| Interaction {
                    a: CharacterId::from_uuid(ids[a]),
                    b: CharacterId::from_uuid(ids[b]),
                    weight: *weight,
                })
                .collect(),
        }),
    );
    let locals: Vec<&String> = novel.cast.iter().map(|(l, _, _)| l).collect();
    for pair in locals.windows(2).take(10) {
        history.character(
            ids[pair[0]],
            owner,
            CharacterEvent::RelationshipDeclared(RelationshipDeclared {
                other_id: CharacterId::from_uuid(ids[pair[1]]),
                kind: "knows".into(),
            }),
        );
    }
    if let [first, .., last] = locals.as_slice() {
        history.character(
            ids[*last],
            owner,
            CharacterEvent::Merged(CharacterMerged {
                into_id: CharacterId::from_uuid(ids[*first]),
            }),
        );
    }
    (owner, document, ids)
}

async fn project(store: &dyn Projection, history: &History) -> Duration {
    let started = Instant::now();
    for batch in history.events().chunks(BATCH) {
        store.apply(batch).await.expect("a batch applies");
    }
    started.elapsed()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn time<F, Fut>(mut run: F) -> (Duration, Duration)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        run().await;
        times.push(started.elapsed());
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

async fn latencies(
    store: &dyn GraphStore,
    viewer: &Viewer,
    document: Uuid,
    central: Uuid,
    lightest: Uuid,
) -> Vec<(&'static str, (Duration, Duration))> {
    let query = NeighbourQuery {
        kind: None,
        min_weight: 0,
        limit: 20,
    };
    vec![
        (
            "neighbours (top 20)",
            time(|| async {
                store
                    .neighbours(viewer, central, &query)
                    .await
                    .expect("neighbours");
            })
            .await,
        ),
        (
            "network",
            time(|| async {
                store.network(viewer, document).await.expect("network");
            })
            .await,
        ),
        (
            "central characters",
            time(|| async {
                let network = store.network(viewer, document).await.expect("network");
                algorithms::centrality(&network);
            })
            .await,
        ),
        (
            "communities",
            time(|| async {
                let network = store.network(viewer, document).await.expect("network");
                algorithms::communities(&network);
            })
            .await,
        ),
        (
            "shortest path (6 hops)",
            time(|| async {
                store
                    .shortest_path(viewer, lightest, central, 6)
                    .await
                    .expect("path");
            })
            .await,
        ),
    ]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let copies: usize = std::env::var("BENCH_COPIES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100);
    let (path, novel) = novel();
    let mut history = History::default();
    let mut last = None;
    for _ in 0..copies {
        last = Some(copy(&mut history, &novel));
    }
    let Some((owner, document, ids)) = last else {
        panic!("BENCH_COPIES must be at least 1");
    };
    let events = history.events().len();
    println!(
        "{path}: {} characters, {} interactions; {copies} copies, {events} events",
        novel.cast.len(),
        novel.interactions.len()
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let embedded = EmbeddedGraph::open(&dir.path().join("graph.db"))
        .await
        .expect("the embedded graph");
    let neo4j = Neo4jGraph::connect(&Neo4jSettings {
        uri: std::env::var("STUDIO_GRAPH").expect("STUDIO_GRAPH: run infra/local/up.sh neo4j"),
        user: std::env::var("STUDIO_GRAPH_USER").unwrap_or_else(|_| "neo4j".into()),
        password: std::env::var("STUDIO_GRAPH_PASSWORD").expect("STUDIO_GRAPH_PASSWORD"),
        graph: format!("bench-{}", Uuid::new_v4()),
    })
    .await
    .expect("connect to Neo4j");

    let embedded_time = project(&embedded, &history).await;
    let neo4j_time = project(&neo4j, &history).await;
    let rate = |d: Duration| events as f64 / d.as_secs_f64();
    println!("projection ({events} events, batches of {BATCH}):");
    println!(
        "  embedded (SQLite)  {:>9.0} events/s  ({:.2?})",
        rate(embedded_time),
        embedded_time
    );
    println!(
        "  Neo4j              {:>9.0} events/s  ({:.2?})",
        rate(neo4j_time),
        neo4j_time
    );
    assert_eq!(
        embedded.snapshot().await.expect("snapshot"),
        neo4j.snapshot().await.expect("snapshot"),
        "both stores hold the same graph"
    );

    let viewer = Viewer {
        user_id: owner,
        admin: false,
    };
    let network = embedded.network(&viewer, document).await.expect("network");
    let central = algorithms::centrality(&network);
    let (Some(top), Some(lightest)) = (central.first(), central.last()) else {
        panic!("the novel has no network");
    };
    println!(
        "queries on the last copy's network ({} nodes, {} edges; {} owner's characters), {ROUNDS} rounds, p50 / p99:",
        network.nodes.len(),
        network.edges.len(),
        ids.len()
    );
    let on_embedded = latencies(
        &embedded,
        &viewer,
        document,
        top.character_id,
        lightest.character_id,
    )
    .await;
    let on_neo4j = latencies(
        &neo4j,
        &viewer,
        document,
        top.character_id,
        lightest.character_id,
    )
    .await;
    println!("  {:<24} {:>21} {:>21}", "", "embedded", "Neo4j");
    for ((name, (e50, e99)), (_, (n50, n99))) in on_embedded.into_iter().zip(on_neo4j) {
        println!(
            "  {name:<24} {:>9} / {:>9} {:>9} / {:>9}",
            ms(e50),
            ms(e99),
            ms(n50),
            ms(n99)
        );
    }
    neo4j.clear().await.expect("clear the bench graph");
}
