//! Import throughput of `studio import-legacy` on the generated legacy
//! database of 100,000 characters and 1,000 documents (every irregularity
//! included), embedded and, when the test command's services are up
//! (`STUDIO_EVENT_LOG=kafka://...`, `STUDIO_READ_MODEL=postgres://...`),
//! on Kafka + PostgreSQL; then the verification of the same rows.
//!
//! `cargo bench --bench legacy_import` (`LEGACY_CHARACTERS` to change the size).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use studio_legacy_import::fixture::{self, Shape};

fn studio(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_studio"));
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("STUDIO_")) {
        command.env_remove(name);
    }
    command
        .env("STUDIO_DATA_DIR", data_dir)
        .env("STUDIO_LOG", "warn")
        .env("STUDIO_AUTH__BOOTSTRAP_ADMIN_EMAIL", "admin@bench.test")
        .env("STUDIO_AUTH__BOOTSTRAP_ADMIN_PASSWORD", "bench password")
        .env(
            "STUDIO_AUTH__TOKEN_SECRET",
            "bench-token-secret-of-at-least-32-bytes!",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    command
}

struct Backend {
    name: &'static str,
    env: Vec<(&'static str, String)>,
}

impl Backend {
    fn apply(&self, command: &mut Command) {
        for (k, v) in &self.env {
            command.env(k, v);
        }
    }
}

fn timed(mut command: Command, what: &str) -> Duration {
    let start = Instant::now();
    let status = command.status().unwrap_or_else(|e| panic!("{what}: {e}"));
    let elapsed = start.elapsed();
    assert!(status.success(), "{what} failed: {status}");
    elapsed
}

fn measure(backend: &Backend, file: &Path, rows: u64) {
    let data = tempfile::tempdir().expect("temp dir");
    let mut processor: Option<Child> = None;
    if backend.env.iter().any(|(k, _)| *k == "STUDIO_EVENT_LOG") {
        let mut command = studio(&data.path().join("command-processor"));
        backend.apply(&mut command);
        processor = Some(
            command
                .arg("command-processor")
                .spawn()
                .expect("start a command processor"),
        );
    }
    let import = |args: &[&str]| {
        let mut command = studio(data.path());
        backend.apply(&mut command);
        command.arg("import-legacy").arg(file).args(args);
        command
    };
    let first = timed(import(&[]), "the import");
    let again = timed(import(&[]), "the second import");
    // On PostgreSQL the verification waits for the projectors (embedded,
    // it brings the read model up to date itself): one runs from here on.
    let mut projector: Option<Child> = None;
    if backend.env.iter().any(|(k, _)| *k == "STUDIO_READ_MODEL") {
        let mut command = studio(&data.path().join("projector"));
        backend.apply(&mut command);
        projector = Some(
            command
                .args(["projector", "postgres"])
                .spawn()
                .expect("start a projector"),
        );
    }
    let verify = timed(
        import(&["--verify"]),
        "the verification (with the projection catching up)",
    );
    let per_sec = |d: Duration| rows as f64 / d.as_secs_f64();
    println!(
        "{:<22} import {rows} rows in {:>6.1} s = {:>7.0} rows/s | run again (all present) {:>6.1} s = {:>7.0} rows/s | --verify {:>6.1} s = {:>7.0} rows/s",
        backend.name,
        first.as_secs_f64(),
        per_sec(first),
        again.as_secs_f64(),
        per_sec(again),
        verify.as_secs_f64(),
        per_sec(verify),
    );
    for mut child in [processor, projector].into_iter().flatten() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

#[tokio::main]
async fn main() {
    let characters: u32 = std::env::var("LEGACY_CHARACTERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let documents = 1_000;
    let legacy = tempfile::tempdir().expect("temp dir");
    let file = legacy.path().join("literaryai.db");
    let start = Instant::now();
    fixture::write(
        &file,
        Shape {
            characters,
            documents,
            unimportable: false,
        },
    )
    .await
    .expect("write the legacy database");
    let rows = u64::from(characters + documents);
    println!(
        "legacy database: {characters} characters, {documents} documents ({:.1} MB), written in {:.1} s",
        std::fs::metadata(&file).map_or(0.0, |m| m.len() as f64 / 1e6),
        start.elapsed().as_secs_f64()
    );
    measure(
        &Backend {
            name: "embedded",
            env: vec![],
        },
        &file,
        rows,
    );
    let (Ok(log), Ok(read_model)) = (
        std::env::var("STUDIO_EVENT_LOG"),
        std::env::var("STUDIO_READ_MODEL"),
    ) else {
        println!(
            "Kafka + PostgreSQL: skipped (start them: eval \"$(bash infra/local/up.sh postgres kafka)\")"
        );
        return;
    };
    let database = fresh_database(&read_model).await;
    measure(
        &Backend {
            name: "Kafka + PostgreSQL",
            env: vec![
                ("STUDIO_EVENT_LOG", log),
                ("STUDIO_READ_MODEL", database),
                (
                    "STUDIO_KAFKA__TOPIC_PREFIX",
                    format!("studio-test-legacy-{}", uuid::Uuid::new_v4().simple()),
                ),
            ],
        },
        &file,
        rows,
    );
}

/// A fresh database beside the configured one, so runs do not meet.
async fn fresh_database(url: &str) -> String {
    use sqlx::Connection;
    let name = format!("studio_test_legacy_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(url)
        .await
        .expect("connect to PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create a database");
    let (prefix, _) = url.rsplit_once('/').expect("a database URL");
    format!("{prefix}/{name}")
}
