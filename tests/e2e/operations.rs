//! What operators rely on: lag metrics and status, and a projector killed
//! in the middle of a large batch coming back to exactly what a rebuild
//! builds.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use sha2::{Digest, Sha256};
use studio_projections::relational::Relational;

use crate::support::{Server, e2e_kafka, e2e_postgres, fresh_database, studio, wait_for_members};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_is_measured_for_prometheus_and_graphql() {
    let server = Server::start().await;
    let ada = server.client().editor("ada@example.org").await;
    ada.post("/api/v1/characters", json!({ "name": "Estella" }))
        .await
        .expect(201);
    server.settle().await;

    let metrics = reqwest::get(format!("{}/metrics", server.base))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for expected in [
        "# TYPE studio_log_end_offset gauge",
        "studio_projection_lag_events{projection=\"relational\",partition=\"0\"} 0",
        "studio_projection_dead_letters{projection=\"relational\"} 0",
    ] {
        assert!(
            metrics.contains(expected),
            "{expected} is not in:\n{metrics}"
        );
    }
    let ends: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("studio_log_end_offset{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert!(ends >= 3, "{metrics}");

    let status = ada
        .graphql(
            "{ projectionStatus { projection lag deadLetters partitions { partition logEnd applied lag } } }",
            json!({}),
        )
        .await;
    let status = &status["data"]["projectionStatus"];
    assert_eq!(status["lag"], 0, "{status}");
    assert_eq!(status["deadLetters"], 0);
    let partitions = status["partitions"].as_array().expect("partitions");
    assert_eq!(partitions.len(), 8);
    let logged: u64 = partitions.iter().filter_map(|p| p["logEnd"].as_u64()).sum();
    assert_eq!(logged, ends);
}

/// Every table's rows, hashed.
async fn table_hashes(target: &str) -> BTreeMap<String, String> {
    let read_model = if target.starts_with("postgres") {
        Relational::open_postgres_reader(target).await
    } else {
        Relational::open_sqlite_reader(std::path::Path::new(target)).await
    };
    read_model
        .expect("open read model")
        .contents()
        .await
        .expect("contents")
        .into_iter()
        .map(|(table, rows)| {
            let mut hasher = Sha256::new();
            for row in rows {
                hasher.update(row.as_bytes());
                hasher.update(b"\n");
            }
            (table, hex::encode(hasher.finalize()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projector_killed_mid_batch_resumes_to_what_a_rebuild_builds() {
    let temp = tempfile::tempdir().expect("temp dir");
    let commands = Server::start_role_in(temp.path(), "command-api").await;
    let ada = commands.client().editor("ada@example.org").await;
    // A backlog, so the projector's first batches are large.
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let ada = ada.clone();
            tokio::spawn(async move {
                for i in 0..300 {
                    ada.post(
                        "/api/v1/characters",
                        json!({ "name": format!("Clerk {w}-{i}"), "aliases": [format!("C{w}{i}")] }),
                    )
                    .await
                    .expect(201);
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }

    let mut projector = Server::start_role_in(temp.path(), "projector").await;
    // Killed while it works through the backlog.
    tokio::time::sleep(Duration::from_millis(300)).await;
    projector.kill();
    projector.restart().await;
    let queries = Server::start_role_in(temp.path(), "query-api").await;
    // A model still catching up would differ from the rebuild below for
    // being late, not wrong: that is reported as what it is.
    queries.settle_within(Duration::from_secs(120)).await;
    let (live, rebuilt) = match &projector.read_model_url {
        Some(url) => (
            url.clone(),
            fresh_database(&e2e_postgres().unwrap_or_default()).await,
        ),
        None => (
            temp.path().join("read-model.db").display().to_string(),
            temp.path().join("rebuilt.db").display().to_string(),
        ),
    };
    let mut replay = studio();
    projector.env(&mut replay);
    let status = replay
        .args(["replay", "--into", &rebuilt])
        .status()
        .expect("studio replay");
    assert!(status.success());
    let (live, fresh) = (table_hashes(&live).await, table_hashes(&rebuilt).await);
    assert_eq!(
        live, fresh,
        "the recovered read model differs from a rebuild"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_under_query_load_loses_no_query_and_no_row() {
    let server = Server::start().await;
    // Rebuilding beside the live model is PostgreSQL's; the embedded file
    // is rebuilt with the server stopped (`replay_beside_a_running_server`).
    if server.read_model_url.is_none() {
        return;
    }
    let ada = server.client().editor("ada@example.org").await;
    let mut ids = Vec::new();
    for i in 0..150 {
        let created = ada
            .post(
                "/api/v1/characters",
                json!({ "name": format!("Boarder {i}") }),
            )
            .await
            .expect(201);
        ids.push(
            created["character_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    server.settle().await;

    let running = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let readers: Vec<_> = (0..4)
        .map(|r| {
            let (ada, ids, running) = (ada.clone(), ids.clone(), running.clone());
            tokio::spawn(async move {
                let (mut answered, mut failures) = (0u64, Vec::new());
                let mut n = r;
                while running.load(std::sync::atomic::Ordering::SeqCst) {
                    let id = &ids[n % ids.len()];
                    n += 7;
                    let one = ada.get(&format!("/api/v1/characters/{id}")).await;
                    if one.status != 200 {
                        failures.push(format!("{id}: {}", one.status));
                    }
                    let page = ada
                        .graphql(
                            "{ characters(first: 100) { edges { node { id } } } }",
                            json!({}),
                        )
                        .await;
                    let listed = page["data"]["characters"]["edges"]
                        .as_array()
                        .map_or(0, Vec::len);
                    if listed != 100 {
                        failures.push(format!("a page of {listed}: {page}"));
                    }
                    answered += 2;
                }
                (answered, failures)
            })
        })
        .collect();
    let mut replay = studio();
    server.env(&mut replay);
    let output = replay.arg("replay").output().expect("studio replay");
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("rm_2"));
    // Writes go on after the switch, into the new version.
    ada.post("/api/v1/characters", json!({ "name": "After the switch" }))
        .await
        .expect(201);
    server.settle().await;
    running.store(false, std::sync::atomic::Ordering::SeqCst);
    let mut answered = 0;
    for reader in readers {
        let (count, failures) = reader.await.expect("reader");
        assert!(failures.is_empty(), "{failures:?}");
        answered += count;
    }
    assert!(
        answered > 20,
        "only {answered} queries ran during the rebuild"
    );
    let listed = ada.get("/api/v1/characters?first=100").await.expect(200);
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(100));
    let status = ada.graphql("{ projectionStatus { lag } }", json!({})).await;
    assert_eq!(status["data"]["projectionStatus"]["lag"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_projector_refuses_a_read_model_it_cannot_run() {
    let server = Server::start().await;
    let run = |projection: &str| {
        let mut projector = studio();
        server.env(&mut projector);
        projector
            .args(["projector", projection])
            .output()
            .expect("studio projector")
    };
    let unknown = run("graph-of-everything");
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no projection"));
    if e2e_postgres().is_none() {
        let postgres = run("postgres");
        assert!(!postgres.status.success());
        assert!(String::from_utf8_lossy(&postgres.stderr).contains("embedded"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projectors_share_the_partitions_and_one_takes_over_from_a_killed_one() {
    if e2e_kafka().is_none() || e2e_postgres().is_none() {
        eprintln!(
            "skipped: projectors share partitions when the log is on Kafka and the read model \
             on PostgreSQL (the test command's second pass)"
        );
        return;
    }
    let temp = tempfile::tempdir().expect("temp dir");
    let commands = Server::start_role_in(temp.path(), "command-api").await;
    let mut first = Server::start_role_in(temp.path(), "projector").await;
    let second = Server::start_role_in(temp.path(), "projector").await;
    let queries = Server::start_role_in(temp.path(), "query-api").await;
    let prefix = commands.kafka_prefix.clone().unwrap_or_default();
    wait_for_members(&prefix, "relational", 2).await;

    let ada = commands.client().editor("ada@example.org").await;
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let ada = ada.clone();
            tokio::spawn(async move {
                for i in 0..150 {
                    ada.post(
                        "/api/v1/characters",
                        json!({ "name": format!("Scribe {w}-{i}") }),
                    )
                    .await
                    .expect(201);
                }
            })
        })
        .collect();
    // One projector dies while both apply the load; the other takes its
    // partitions over from their checkpoints.
    tokio::time::sleep(Duration::from_secs(2)).await;
    first.kill();
    for writer in writers {
        writer.await.expect("writer");
    }
    wait_for_members(&prefix, "relational", 1).await;
    queries.settle().await;
    let live = second.read_model_url.clone().unwrap_or_default();
    let characters = Relational::open_postgres_reader(&live)
        .await
        .expect("open the read model")
        .contents()
        .await
        .expect("contents")
        .remove("characters")
        .unwrap_or_default();
    assert_eq!(characters.len(), 600);

    let rebuilt = fresh_database(&e2e_postgres().unwrap_or_default()).await;
    let mut replay = studio();
    second.env(&mut replay);
    let status = replay
        .args(["replay", "--into", &rebuilt])
        .status()
        .expect("studio replay");
    assert!(status.success());
    assert_eq!(
        table_hashes(&live).await,
        table_hashes(&rebuilt).await,
        "the shared projection differs from a rebuild"
    );
}
