//! `studio import-legacy` on a generated legacy database of 100,000
//! characters and 1,000 documents with every irregularity: killed half-way
//! and run again, run a third time, verified; then the legacy file changed
//! and the verification says so.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use studio_legacy_import::fixture::{self, Shape};

use crate::support::{Server, all_events, e2e_kafka, open_log, studio};

const CHARACTERS: u32 = 100_000;
const DOCUMENTS: u32 = 1_000;

fn import(server: &Server, file: &Path, args: &[&str]) -> Command {
    let mut command = studio();
    command.arg("import-legacy").arg(file).args(args);
    server.env(&mut command);
    command
}

fn run(server: &Server, file: &Path, args: &[&str]) -> Output {
    import(server, file, args)
        .output()
        .expect("run studio import-legacy")
}

fn report(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("the report")).expect("report JSON")
}

fn counts(report: &Value, table: &str) -> (u64, u64, u64, u64) {
    let t = report["tables"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["table"] == table))
        .unwrap_or_else(|| panic!("no {table} in {report}"));
    let n = |k: &str| t[k].as_u64().unwrap_or(u64::MAX);
    (
        n("read"),
        n("imported"),
        n("already_present"),
        t["refused"].as_array().map_or(u64::MAX, |r| r.len() as u64),
    )
}

/// Starts the import and SIGKILLs it once half the characters are read.
fn import_killed_half_way(server: &Server, file: &Path) {
    let mut child = import(server, file, &[])
        .env("STUDIO_LOG", "studio::legacy=info,warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start studio import-legacy");
    let stderr = child.stderr.take().expect("stderr");
    let pages_to_half = CHARACTERS / 2 / 2_000;
    let mut pages = 0;
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("a line of the log");
        if line.contains("legacy import progress") && line.contains("characters") {
            pages += 1;
            if pages >= pages_to_half {
                break;
            }
        }
    }
    assert_eq!(pages, pages_to_half, "the import ended before half-way");
    child.kill().expect("SIGKILL the import");
    let status = child.wait().expect("wait");
    assert!(!status.success());
}

#[tokio::test]
async fn a_legacy_database_arrives_whole_once_and_verified() {
    let mut server = Server::start().await;
    // The embedded log takes one writer: the import runs with the server
    // stopped. A Kafka log takes writers beside a running platform but
    // needs a command processor: one alone, so the document pipeline does
    // not compete for the cores.
    server.stop();
    let processor = e2e_kafka().map(|_| command_processor(&server));
    let legacy = tempfile::tempdir().expect("temp dir");
    let file = legacy.path().join("literaryai.db");
    fixture::write(
        &file,
        Shape {
            characters: CHARACTERS,
            documents: DOCUMENTS,
            unimportable: false,
        },
    )
    .await
    .expect("write the legacy database");

    import_killed_half_way(&server, &file);
    let after_kill = server.event_count().await;
    assert!(
        after_kill > 2 * DOCUMENTS as usize,
        "the first run appended {after_kill} events"
    );

    let second = legacy.path().join("second.json");
    let out = run(
        &server,
        &file,
        &["--report", second.to_str().expect("path")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let second = report(&second);
    let (read, imported, present, refused) = counts(&second, "documents");
    assert_eq!((read, imported, present, refused), (1_000, 0, 1_000, 0));
    let (read, imported, present, refused) = counts(&second, "characters");
    assert_eq!((read, refused), (100_000, 0));
    assert_eq!(imported + present, 100_000);
    assert!(
        present >= 50_000 && imported > 0,
        "{imported} imported, {present} present"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("NOT IMPORTED: table settings"), "{stdout}");

    // Zero duplicates: each row is one aggregate, created once, with one
    // legacy record.
    let log = open_log(&server.dir).await;
    let (records, created) = legacy_events(&all_events(log.as_ref()).await);
    assert_eq!(records.len(), 101_000);
    assert!(records.values().all(|n| *n == 1));
    assert!(records.keys().all(|id| created.get(id) == Some(&1)));

    // A third run appends nothing.
    let before = log.end_offsets().await.expect("end offsets");
    let third = legacy.path().join("third.json");
    let out = run(&server, &file, &["--report", third.to_str().expect("path")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let third = report(&third);
    assert_eq!(counts(&third, "documents"), (1_000, 0, 1_000, 0));
    assert_eq!(counts(&third, "characters"), (100_000, 0, 100_000, 0));
    assert_eq!(log.end_offsets().await.expect("end offsets"), before);

    // Verified through the read model: zero differences.
    stop_command_processor(processor);
    server.restart().await;
    let out = run(&server, &file, &["--verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("verified 101000 legacy rows: 101000 identical, 0 missing or different"),
        "{stdout}"
    );

    // The legacy file changes: a renamed row and a new row are reported.
    // (The server runs on: its projector keeps the read model up with
    // what the pipeline appends meanwhile, which a verification waits for.)
    change_legacy_file(&file).await;
    let out = run(&server, &file, &["--verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("2 missing or different"), "{stdout}");
    assert!(
        stdout.contains("id 10: name: legacy Ishmael Changed / platform"),
        "{stdout}"
    );
    assert!(stdout.contains("id 100001: character:"), "{stdout}");
}

type PerAggregate = HashMap<uuid::Uuid, usize>;

/// Legacy records per aggregate, and creations of those aggregates.
fn legacy_events(events: &[studio_event_log::StoredEvent]) -> (PerAggregate, PerAggregate) {
    let mut records = PerAggregate::new();
    let mut created = PerAggregate::new();
    for e in events {
        let counter = match e.envelope.event_type.as_str() {
            "studio.character.created.v2" | "studio.document.uploaded.v1" => &mut created,
            t if t.ends_with(".legacy_imported.v1") => &mut records,
            _ => continue,
        };
        *counter.entry(e.envelope.subject).or_default() += 1;
    }
    created.retain(|id, _| records.contains_key(id));
    (records, created)
}

fn stop_command_processor(processor: Option<std::process::Child>) {
    if let Some(mut processor) = processor {
        processor.kill().expect("stop the command processor");
        processor.wait().expect("wait");
    }
}

fn command_processor(server: &Server) -> std::process::Child {
    let mut command = studio();
    command
        .arg("command-processor")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    server.env(&mut command);
    command.env("STUDIO_DATA_DIR", server.dir.join("command-processor"));
    command.spawn().expect("start a command processor")
}

async fn change_legacy_file(file: &Path) {
    use sqlx::Connection;
    let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
        .await
        .expect("open the legacy file");
    sqlx::query("UPDATE characters SET name = 'Ishmael Changed' WHERE id = 10")
        .execute(&mut db)
        .await
        .expect("rename");
    sqlx::query("INSERT INTO characters (id, name) VALUES (100001, 'Newcomer')")
        .execute(&mut db)
        .await
        .expect("insert");
    db.close().await.expect("close");
}

#[tokio::test]
async fn hostile_legacy_files_are_refused_clearly_and_change_nothing() {
    let mut server = Server::start().await;
    server.stop();
    let processor = e2e_kafka().map(|_| command_processor(&server));
    let log = open_log(&server.dir).await;
    let before = log.end_offsets().await.expect("end offsets");
    let legacy = tempfile::tempdir().expect("temp dir");

    let text = legacy.path().join("notes.db");
    std::fs::write(&text, "not a database, only words").expect("write");
    let out = run(&server, &text, &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot open the legacy database"),
        "{stderr}"
    );

    let out = run(&server, &legacy.path().join("absent.db"), &[]);
    assert!(!out.status.success());

    let unrelated = legacy.path().join("unrelated.db");
    {
        use sqlx::Connection;
        let mut db =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", unrelated.display()))
                .await
                .expect("create");
        sqlx::query("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
            .execute(&mut db)
            .await
            .expect("table");
        db.close().await.expect("close");
    }
    let out = run(&server, &unrelated, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("has neither a characters nor a documents table"),
        "{stderr}"
    );

    let file = legacy.path().join("literaryai.db");
    fixture::write(
        &file,
        Shape {
            characters: 300,
            documents: 20,
            unimportable: true,
        },
    )
    .await
    .expect("write the legacy database");
    {
        use sqlx::Connection;
        let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
            .await
            .expect("open the legacy file");
        // A row that would read a file outside the database's folder.
        sqlx::query(
            "INSERT INTO documents (id, filename, path) VALUES (500, 'x.txt', '/etc/hostname')",
        )
        .execute(&mut db)
        .await
        .expect("insert");
        // And a character that names it: imported, not linked, verified equal.
        sqlx::query(
            "INSERT INTO characters (id, name, source_document) VALUES (9000, 'Linked', '500')",
        )
        .execute(&mut db)
        .await
        .expect("insert");
        db.close().await.expect("close");
    }
    let out = run(&server, &file, &["--owner", "nobody@studio.test"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no user nobody@studio.test: register the owner"),
        "{stderr}"
    );
    let out = run(&server, &file, &["--owner", "not an address"]);
    assert!(!out.status.success());
    let out = run(&server, &file, &["--concurrency", "0"]);
    assert!(!out.status.success());
    assert_eq!(log.end_offsets().await.expect("end offsets"), before);

    // A row that cannot be imported is listed with its reason, and the
    // verification reports it missing.
    let out = run(&server, &file, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("refused rows (2):"), "{stdout}");
    assert!(
        stdout.contains("documents rowid 500, id 500: the file \"/etc/hostname\" is outside"),
        "{stdout}"
    );
    assert!(
        stdout.contains("documents rowid 6, id 6: neither content nor a path to it"),
        "{stdout}"
    );
    stop_command_processor(processor);
    server.restart().await;
    let out = run(&server, &file, &["--verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("verified 322 legacy rows: 320 identical, 2 missing or different"),
        "{stdout}"
    );
    assert!(
        stdout.contains("cannot be imported: neither content nor a path"),
        "{stdout}"
    );
}
