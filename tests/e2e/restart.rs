//! A server killed in the middle of a stream of commands comes back with a
//! read model equal to a fresh replay of the log.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use studio_projections::relational::Relational;

use crate::support::{Server, e2e_postgres, fresh_database, studio};

/// A read model's rows: a SQLite file, or a PostgreSQL database.
async fn contents(target: &str) -> BTreeMap<String, Vec<String>> {
    let read_model = if target.starts_with("postgres") {
        Relational::open_postgres_reader(target).await
    } else {
        Relational::open_sqlite_reader(std::path::Path::new(target)).await
    };
    read_model
        .expect("open read model")
        .contents()
        .await
        .expect("read contents")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_recovers_to_what_a_replay_builds() {
    let mut server = Server::start().await;
    let ada = server.client().editor("ada@example.org").await;
    let acknowledged = Arc::new(AtomicUsize::new(0));

    // Writers keep going while the server is killed under them.
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let ada = ada.clone();
            let acknowledged = acknowledged.clone();
            tokio::spawn(async move {
                for i in 0..200 {
                    let request = ada
                        .request(reqwest::Method::POST, "/api/v1/characters")
                        .json(&json!({ "name": format!("W{w} #{i}"), "aliases": [format!("alias {i}")] }));
                    match request.send().await {
                        Ok(r) if r.status().as_u16() == 201 => {
                            acknowledged.fetch_add(1, Ordering::SeqCst);
                        }
                        _ => break,
                    }
                }
            })
        })
        .collect();
    while acknowledged.load(Ordering::SeqCst) < 150 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    server.kill();
    for writer in writers {
        let _ = writer.await;
    }
    let before_restart = server.event_count().await;
    assert!(before_restart >= acknowledged.load(Ordering::SeqCst) + 2);

    server.restart().await;
    let ada = server
        .client()
        .login("ada@example.org", "a good password")
        .await;
    for i in 0..20 {
        ada.post(
            "/api/v1/characters",
            json!({ "name": format!("after restart {i}") }),
        )
        .await
        .expect(201);
    }
    server.settle().await;
    let listed = ada.get("/api/v1/characters?first=100").await.expect(200);
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(100));
    server.stop();

    let (live_model, rebuilt) = match &server.read_model_url {
        Some(url) => (
            url.clone(),
            fresh_database(&e2e_postgres().unwrap_or_default()).await,
        ),
        None => (
            server.dir.join("read-model.db").display().to_string(),
            server.dir.join("replayed.db").display().to_string(),
        ),
    };
    let mut replay = studio();
    server.env(&mut replay);
    let status = replay
        .args(["replay", "--into", &rebuilt])
        .status()
        .expect("studio replay");
    assert!(status.success());

    let live = contents(&live_model).await;
    let fresh = contents(&rebuilt).await;
    // Every event but the two of Ada's registration is a character. On
    // Kafka, requests sent before the kill but not yet carried out are
    // carried out after the restart (their senders got an error, which
    // says "may or may not have been"), so the log can only have grown.
    let logged = server.event_count().await;
    assert_eq!(live["characters"].len(), logged - 2);
    if server.kafka_prefix.is_some() {
        assert!(logged >= before_restart + 20);
    } else {
        assert_eq!(logged, before_restart + 20);
    }
    assert_eq!(
        live, fresh,
        "the recovered read model differs from a replay"
    );

    // The in-place replay produces the same tables again.
    let mut replay = studio();
    server.env(&mut replay);
    assert!(
        replay
            .arg("replay")
            .status()
            .expect("studio replay")
            .success()
    );
    assert_eq!(contents(&live_model).await, fresh);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_beside_a_running_server() {
    let server = Server::start().await;
    let ada = server.client().editor("ada@example.org").await;
    ada.post("/api/v1/characters", json!({ "name": "Pip" }))
        .await
        .expect(201);
    server.settle().await;
    let mut replay = studio();
    server.env(&mut replay);
    let output = replay.arg("replay").output().expect("studio replay");
    if server.read_model_url.is_some() {
        // PostgreSQL: rebuilt beside the live version and switched to,
        // while the server runs.
        assert!(output.status.success(), "{output:?}");
        let listed = ada.get("/api/v1/characters").await.expect(200);
        assert_eq!(listed["items"][0]["name"], "Pip");
    } else {
        // Embedded: the file belongs to the running server.
        assert!(!output.status.success());
        assert!(String::from_utf8_lossy(&output.stderr).contains("another studio process"));
    }
}
