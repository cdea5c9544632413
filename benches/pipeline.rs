//! The document pipeline over a folder of novels: for each book, the time
//! of each stage and peak memory, offline (`studio analyze`) and through an
//! embedded `studio serve` (upload to every stage done).
//!
//!     cargo bench --bench pipeline -- ../shared/corpus
//!
//! Offline figures come from `studio analyze --format text` (reading,
//! analysing, the process's peak memory). Online, each book is uploaded
//! over HTTP and the stage times are the differences between the `time`s of
//! the document's events, from `uploaded` to `processing_completed`; the
//! wall time runs from the start of the upload to the moment the status
//! endpoint reports completion; memory is the server's peak resident size.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

const STAGES: [&str; 5] = [
    "studio.document.text_extracted.v1",
    "studio.document.analysed.v1",
    "studio.document.characters_detected.v1",
    "studio.document.interactions_recorded.v1",
    "studio.document.processing_completed.v1",
];

fn studio() -> Command {
    Command::new(env!("CARGO_BIN_EXE_studio"))
}

fn books(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut books: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    books.sort_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0));
    Ok(books)
}

/// `(read ms, analysed ms, peak MiB)` from `studio analyze --format text`.
fn offline(book: &Path) -> Result<(f64, f64, String), Box<dyn std::error::Error>> {
    let output = studio()
        .args(["analyze", "--format", "text"])
        .arg(book)
        .env_remove("STUDIO_CONFIG")
        .output()?;
    if !output.status.success() {
        return Err(format!("studio analyze {}: {output:?}", book.display()).into());
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("read in "))
        .ok_or("no timing line")?;
    let number = |after: &str| -> f64 {
        line.split(after)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(f64::NAN)
    };
    let peak = line.split("peak memory ").nth(1).unwrap_or("?").to_owned();
    Ok((number("read in "), number("analysed in "), peak))
}

fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|n| n.parse::<f64>().ok())
            })
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .ok_or("usage: cargo bench --bench pipeline -- CORPUS_DIR")?;
    let books = books(Path::new(&dir))?;

    println!("offline: studio analyze");
    println!(
        "{:<48} {:>9} {:>10} {:>11} {:>12}",
        "book", "KiB", "read ms", "analyse ms", "peak memory"
    );
    let mut offline_total = (0.0, 0.0);
    for book in &books {
        let (read, analysed, peak) = offline(book)?;
        offline_total.0 += read;
        offline_total.1 += analysed;
        println!(
            "{:<48} {:>9} {:>10.1} {:>11.1} {:>12}",
            name(book),
            std::fs::metadata(book)?.len() / 1024,
            read,
            analysed,
            peak
        );
    }
    println!(
        "{:<48} {:>9} {:>10.1} {:>11.1}",
        "total", "", offline_total.0, offline_total.1
    );

    let data = tempfile::tempdir()?;
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut server = studio()
        .arg("serve")
        .env("STUDIO_DATA_DIR", data.path())
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

    println!("\nonline: upload to every stage done, studio serve (embedded)");
    println!(
        "{:<48} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>10}",
        "book", "extract", "analyse", "cast", "graph", "done", "events ms", "wall ms", "server MiB"
    );
    let mut totals = [0.0f64; 7];
    for book in &books {
        let bytes = std::fs::read(book)?;
        let upload_started = Instant::now();
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(format!("{}.txt", name(book))),
        );
        let accepted: Value = http
            .post(format!("{base}/api/v1/documents/upload"))
            .bearer_auth(&token)
            .multipart(form)
            .send()
            .await?
            .json()
            .await?;
        let id = accepted["document_id"]
            .as_str()
            .ok_or("no document id")?
            .to_owned();
        loop {
            let status: Value = http
                .get(format!("{base}/api/v1/documents/{id}/status"))
                .bearer_auth(&token)
                .send()
                .await?
                .json()
                .await?;
            match status["status"].as_str() {
                Some("completed") => break,
                Some("failed") => return Err(format!("{}: {status}", name(book)).into()),
                _ => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
        let wall = upload_started.elapsed().as_secs_f64() * 1e3;
        let history: Value = http
            .post(format!("{base}/graphql"))
            .bearer_auth(&token)
            .json(&json!({
                "query": "query($id: ID!) { events(aggregateId: $id, first: 100) { edges { node { type time } } } }",
                "variables": { "id": id },
            }))
            .send()
            .await?
            .json()
            .await?;
        let times: Vec<(String, DateTime<Utc>)> = history["data"]["events"]["edges"]
            .as_array()
            .ok_or("no history")?
            .iter()
            .filter_map(|e| {
                Some((
                    e["node"]["type"].as_str()?.to_owned(),
                    e["node"]["time"].as_str()?.parse().ok()?,
                ))
            })
            .collect();
        let at = |t: &str| times.iter().find(|(ty, _)| ty == t).map(|(_, time)| *time);
        let uploaded = at("studio.document.uploaded.v1").ok_or("no upload event")?;
        let mut previous = uploaded;
        let mut stage_ms = Vec::new();
        for stage in STAGES {
            let time = at(stage).ok_or(format!("no {stage}"))?;
            stage_ms.push((time - previous).num_microseconds().unwrap_or(0) as f64 / 1e3);
            previous = time;
        }
        let events = (previous - uploaded).num_microseconds().unwrap_or(0) as f64 / 1e3;
        for (i, ms) in stage_ms.iter().chain([events, wall].iter()).enumerate() {
            totals[i] += ms;
        }
        println!(
            "{:<48} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>9.1} {:>9.1} {:>10.1}",
            name(book),
            stage_ms[0],
            stage_ms[1],
            stage_ms[2],
            stage_ms[3],
            stage_ms[4],
            events,
            wall,
            peak_rss_mib(server.id())
        );
    }
    println!(
        "{:<48} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>9.1} {:>9.1}",
        "total", totals[0], totals[1], totals[2], totals[3], totals[4], totals[5], totals[6]
    );
    let _ = server.kill();
    let _ = server.wait();
    Ok(())
}

fn name(book: &Path) -> String {
    book.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("?")
        .chars()
        .take(48)
        .collect()
}
