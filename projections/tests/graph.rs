//! The embedded graph store against the graph conformance checks.

use studio_projections::graph::conformance::{self, Check};
use studio_projections::graph::embedded::EmbeddedGraph;
use tempfile::TempDir;

async fn fresh() -> (TempDir, EmbeddedGraph) {
    let dir = tempfile::tempdir().expect("temp dir");
    let graph = EmbeddedGraph::open(&dir.path().join("graph.db"))
        .await
        .expect("open the embedded graph");
    (dir, graph)
}

fn passed(check: Check) {
    if let Err(failure) = check {
        panic!("{failure}");
    }
}

#[tokio::test]
async fn network_is_the_cast_and_its_interactions() {
    let (_dir, graph) = fresh().await;
    passed(conformance::network_is_the_cast_and_its_interactions(&graph).await);
}

#[tokio::test]
async fn neighbours_by_kind_weight_and_limit() {
    let (_dir, graph) = fresh().await;
    passed(conformance::neighbours_by_kind_weight_and_limit(&graph).await);
}

#[tokio::test]
async fn shortest_paths_are_bounded_and_deterministic() {
    let (_dir, graph) = fresh().await;
    passed(conformance::shortest_paths_are_bounded_and_deterministic(&graph).await);
}

#[tokio::test]
async fn tenants_do_not_meet() {
    let (_dir, graph) = fresh().await;
    passed(conformance::tenants_do_not_meet(&graph).await);
}

#[tokio::test]
async fn merges_and_deletions_move_and_drop_edges() {
    let (_dir, graph) = fresh().await;
    passed(conformance::merges_and_deletions_move_and_drop_edges(&graph).await);
}

#[tokio::test]
async fn partition_order_does_not_matter() {
    let (_a, one) = fresh().await;
    let (_b, other) = fresh().await;
    passed(conformance::partition_order_does_not_matter(&one, &other).await);
}

#[tokio::test]
async fn an_event_that_does_not_decode_is_refused_as_poison() {
    use studio_projections::{Projection, ProjectionError};
    let (_dir, graph) = fresh().await;
    let novel = conformance::Novel::new();
    let mut events = novel.history().events().to_vec();
    events[0].envelope.data = serde_json::json!({"title": 7});
    let refused = graph.apply(&events).await;
    assert!(
        matches!(&refused, Err(e @ ProjectionError::Event { .. }) if e.is_poison()),
        "{refused:?}"
    );
    // Nothing of the batch was applied.
    assert!(graph.checkpoints().await.expect("checkpoints").is_empty());
}
