//! A server killed in the middle of a stream of commands comes back with a
//! read model equal to a fresh replay of the log.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use studio_projections::relational::SqliteRelational;

use crate::support::{Server, studio};

async fn contents(path: &std::path::Path) -> BTreeMap<String, Vec<String>> {
    SqliteRelational::open_reader(path)
        .await
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
    assert!(before_restart as usize >= acknowledged.load(Ordering::SeqCst) + 2);

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

    let rebuilt = server.dir.join("replayed.db");
    let mut replay = studio();
    server.env(&mut replay);
    let status = replay
        .args(["replay", "--into"])
        .arg(&rebuilt)
        .status()
        .expect("studio replay");
    assert!(status.success());

    let live = contents(&server.dir.join("read-model.db")).await;
    let fresh = contents(&rebuilt).await;
    assert_eq!(live["characters"].len(), before_restart as usize - 2 + 20);
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
    assert_eq!(contents(&server.dir.join("read-model.db")).await, fresh);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_refuses_to_touch_a_running_server() {
    let server = Server::start().await;
    let mut replay = studio();
    server.env(&mut replay);
    let output = replay.arg("replay").output().expect("studio replay");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("another studio process"));
}
