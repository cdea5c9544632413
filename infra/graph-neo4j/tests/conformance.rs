//! The Neo4j graph store against the graph conformance checks, on the
//! Neo4j that `infra/local/up.sh neo4j` runs. Each store is a graph of a
//! name of its own in the one database.

use studio_graph_neo4j::{Neo4jGraph, Neo4jSettings};
use studio_projections::graph::conformance::{self, Check};
use uuid::Uuid;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "no Neo4j ({name} unset): run `eval \"$(bash infra/local/up.sh neo4j)\"` first \
             (the README's test command does)"
        )
    })
}

async fn fresh() -> Neo4jGraph {
    let settings = Neo4jSettings {
        uri: env("STUDIO_GRAPH"),
        user: env("STUDIO_GRAPH_USER"),
        password: env("STUDIO_GRAPH_PASSWORD"),
        graph: format!("test-{}", Uuid::new_v4()),
    };
    Neo4jGraph::connect(&settings)
        .await
        .expect("connect to Neo4j")
}

async fn passed(check: Check, graphs: &[&Neo4jGraph]) {
    for graph in graphs {
        graph.clear().await.expect("clear the test graph");
    }
    if let Err(failure) = check {
        panic!("{failure}");
    }
}

#[tokio::test]
async fn network_is_the_cast_and_its_interactions() {
    let graph = fresh().await;
    let check = conformance::network_is_the_cast_and_its_interactions(&graph).await;
    passed(check, &[&graph]).await;
}

#[tokio::test]
async fn neighbours_by_kind_weight_and_limit() {
    let graph = fresh().await;
    let check = conformance::neighbours_by_kind_weight_and_limit(&graph).await;
    passed(check, &[&graph]).await;
}

#[tokio::test]
async fn shortest_paths_are_bounded_and_deterministic() {
    let graph = fresh().await;
    let check = conformance::shortest_paths_are_bounded_and_deterministic(&graph).await;
    passed(check, &[&graph]).await;
}

#[tokio::test]
async fn tenants_do_not_meet() {
    let graph = fresh().await;
    let check = conformance::tenants_do_not_meet(&graph).await;
    passed(check, &[&graph]).await;
}

#[tokio::test]
async fn merges_and_deletions_move_and_drop_edges() {
    let graph = fresh().await;
    let check = conformance::merges_and_deletions_move_and_drop_edges(&graph).await;
    passed(check, &[&graph]).await;
}

#[tokio::test]
async fn partition_order_does_not_matter() {
    let one = fresh().await;
    let other = fresh().await;
    let check = conformance::partition_order_does_not_matter(&one, &other).await;
    passed(check, &[&one, &other]).await;
}
