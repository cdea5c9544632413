//! Command and event-to-subscriber latency of `studio serve` (embedded),
//! under a steady load.
//!
//!     cargo bench --bench embedded
//!
//! Environment: BENCH_RATE (commands per second, default 200),
//! BENCH_SECONDS (default 20), BENCH_CLIENTS (concurrent HTTP clients,
//! default 16).
//!
//! Command latency is the HTTP round trip of `POST /api/v1/characters`
//! (decide, append with fsync, answer). Event-to-subscriber latency runs
//! from the event's timestamp (taken when the command handler starts) to
//! its arrival on a GraphQL subscription over WebSocket: append,
//! projection, notification and delivery.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn report(name: &str, mut millis: Vec<f64>) {
    millis.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{name:<34} n={:<6} p50={:>7.2} ms  p99={:>7.2} ms  max={:>7.2} ms",
        millis.len(),
        percentile(&millis, 50.0),
        percentile(&millis, 99.0),
        millis.last().copied().unwrap_or(f64::NAN)
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rate = env_or("BENCH_RATE", 200);
    let seconds = env_or("BENCH_SECONDS", 20);
    let clients = env_or("BENCH_CLIENTS", 16);

    let dir = tempfile::tempdir()?;
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_studio"))
        .arg("serve")
        .env("STUDIO_DATA_DIR", dir.path())
        .env("STUDIO_LISTEN", format!("127.0.0.1:{port}"))
        .env("STUDIO_LOG", "warn")
        .env_remove("STUDIO_CONFIG")
        .stdout(Stdio::null())
        .spawn()?;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let started = Instant::now();
    while http.get(format!("{base}/health")).send().await.is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            return Err("studio serve did not start".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let credentials = json!({ "email": "bench@example.org", "password": "benchmark password" });
    http.post(format!("{base}/api/v1/auth/register"))
        .json(&credentials)
        .send()
        .await?;
    let login: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&credentials)
        .send()
        .await?
        .json()
        .await?;
    let token = login["access_token"].as_str().ok_or("no token")?.to_owned();

    // The subscriber.
    let mut request = format!("ws://127.0.0.1:{port}/graphql").into_client_request()?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } });
    socket.send(Message::text(init.to_string())).await?;
    socket.next().await;
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { events { time } }" } });
    socket.send(Message::text(subscribe.to_string())).await?;
    let total = rate * seconds;
    let subscriber = tokio::spawn(async move {
        let mut latencies = Vec::with_capacity(total as usize);
        while latencies.len() < total as usize {
            let message = match tokio::time::timeout(Duration::from_secs(30), socket.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => text,
                Ok(Some(Ok(_))) => continue,
                _ => break,
            };
            let received = Utc::now();
            let value: Value = serde_json::from_str(&message).unwrap_or(Value::Null);
            if let Some(time) = value["payload"]["data"]["events"]["time"].as_str()
                && let Ok(time) = DateTime::parse_from_rfc3339(time)
            {
                let micros = (received - time.with_timezone(&Utc))
                    .num_microseconds()
                    .unwrap_or(0);
                latencies.push(micros as f64 / 1000.0);
            }
        }
        latencies
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The steady load: commands spread evenly over time, shared by the clients.
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let load_started = Instant::now();
    let (tx, rx) = tokio::sync::mpsc::channel::<u64>(total as usize);
    let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let rx = rx.clone();
            let http = http.clone();
            let url = format!("{base}/api/v1/characters");
            let token = token.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0u64;
                loop {
                    let next = rx.lock().await.recv().await;
                    let Some(i) = next else { break };
                    let sent = Instant::now();
                    let response = http
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&json!({ "name": format!("Character {i}"), "aliases": [format!("C{i}")] }))
                        .send()
                        .await;
                    match response {
                        Ok(r) if r.status().as_u16() == 201 => {
                            latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                        }
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    for i in 0..total {
        let due = load_started + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        tx.send(i).await?;
    }
    drop(tx);
    let mut command_latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (latencies, failed) = worker.await?;
        command_latencies.extend(latencies);
        errors += failed;
    }
    let load_seconds = load_started.elapsed().as_secs_f64();
    let event_latencies = subscriber.await?;

    println!(
        "steady load: {total} commands at {rate}/s over {load_seconds:.1} s, {clients} clients, {errors} errors"
    );
    report("command round trip (HTTP)", command_latencies);
    report("event to subscriber (WebSocket)", event_latencies);
    let _ = server.kill();
    let _ = server.wait();
    Ok(())
}
