//! Audit and replay tooling against real logs: tamper evidence, history and
//! point-in-time state, old event versions, and forgetting a person.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde_json::{Value, json};
use studio_event_log::sqlite::{SqliteEventLog, SqliteLogOptions};
use studio_event_log::{AppendRequest, EventEnvelope, EventLog};

use studio_kafka_log::CommandProcessor;
use tokio_util::sync::CancellationToken;

use crate::support::{Server, all_events, e2e_kafka, kafka_config, open_log, studio};

fn run(server: &Server, args: &[&str]) -> Output {
    let mut command = studio();
    server.env(&mut command);
    command.args(args).output().expect("run studio")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[track_caller]
fn succeeded(output: Output) -> String {
    assert!(
        output.status.success(),
        "studio failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        stdout(&output)
    );
    stdout(&output)
}

async fn character_history(server: &Server, id: &str) -> Vec<Value> {
    let text = succeeded(run(server, &["audit", "history", id, "--format", "json"]));
    serde_json::from_str(&text).expect("history json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_digest_history_state_and_actor() {
    let mut server = Server::start().await;
    let ada = server.client().editor("ada@example.org").await;
    let created = ada
        .post(
            "/api/v1/characters",
            json!({ "name": "Pip", "aliases": ["Handel"] }),
        )
        .await
        .expect(201);
    let id = created["character_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let between = chrono::Utc::now().to_rfc3339();
    tokio::time::sleep(Duration::from_millis(20)).await;
    ada.patch(
        &format!("/api/v1/characters/{id}"),
        json!({ "name": "Philip Pirrip" }),
    )
    .await
    .expect(200);

    let verified = succeeded(run(&server, &["audit", "verify"]));
    assert!(verified.contains("intact"), "{verified}");
    let digest = succeeded(run(&server, &["audit", "digest"]))
        .trim()
        .to_owned();
    assert!(digest.starts_with("sha256:"), "{digest}");

    // History: every event with what it changed; secrets never shown.
    let history = character_history(&server, &id).await;
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["type"], "studio.character.created.v2");
    assert_eq!(
        history[1]["changes"],
        json!([{ "op": "replace", "path": "/character/name", "value": "Philip Pirrip" }])
    );
    let table = succeeded(run(&server, &["audit", "history", &id]));
    assert!(
        table.contains("/character/name=\"Philip Pirrip\""),
        "{table}"
    );

    // State as it was between the two events, by time and by position.
    let then: Value = serde_json::from_str(&succeeded(run(
        &server,
        &["audit", "state", &id, "--at", &between],
    )))
    .expect("json");
    assert_eq!(then["version"], 1);
    assert_eq!(then["state"]["character"]["name"], "Pip");
    let position = history[0]["position"].as_str().unwrap_or_default();
    let at_position: Value = serde_json::from_str(&succeeded(run(
        &server,
        &["audit", "state", &id, "--at", position],
    )))
    .expect("json");
    assert_eq!(at_position["state"], then["state"]);
    assert_eq!(
        then["state"], history[0]["state"],
        "the state at a point equals the fold up to it"
    );

    // Everything Ada did, and nothing else.
    let me = ada.graphql("{ me { id } }", json!({})).await;
    let ada_id = me["data"]["me"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let actions: Vec<Value> = serde_json::from_str(&succeeded(run(
        &server,
        &["audit", "actor", &ada_id, "--format", "json"],
    )))
    .expect("json");
    let types: Vec<&str> = actions.iter().filter_map(|a| a["type"].as_str()).collect();
    assert_eq!(
        types,
        [
            "studio.user.registered.v1",
            "studio.character.created.v2",
            "studio.character.renamed.v1"
        ]
    );
    let later: Vec<Value> = serde_json::from_str(&succeeded(run(
        &server,
        &[
            "audit", "actor", &ada_id, "--since", &between, "--format", "json",
        ],
    )))
    .expect("json");
    assert_eq!(later.len(), 1);

    // Admins have the same through GraphQL, from the read model.
    server.settle().await;
    let admin = server.client().admin().await;
    let audited = admin
        .graphql(
            "query($id: ID!, $at: String!) { auditHistory(aggregateId: $id) { sequence type changes } aggregateState(aggregateId: $id, at: $at) { version state } }",
            json!({ "id": id, "at": between }),
        )
        .await;
    assert!(audited["errors"].is_null(), "{audited}");
    assert_eq!(
        audited["data"]["auditHistory"][1]["changes"],
        history[1]["changes"]
    );
    assert_eq!(audited["data"]["aggregateState"]["state"], then["state"]);
    let refused = ada
        .graphql(
            "query($id: ID!) { auditHistory(aggregateId: $id) { sequence } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN");

    // More events later do not break the digest; tampering does.
    ada.post("/api/v1/characters", json!({ "name": "Estella" }))
        .await
        .expect(201);
    succeeded(run(&server, &["audit", "verify", "--digest", &digest]));
    server.stop();
    tamper(&server, &id).await;
    let tampered = run(&server, &["audit", "verify"]);
    assert!(!tampered.status.success(), "verify passed a tampered log");
    let report = stdout(&tampered);
    assert!(
        report.contains("BROKEN") && report.contains(&id) && report.contains("sequence 2"),
        "{report}\n{}",
        String::from_utf8_lossy(&tampered.stderr)
    );
    // The digest covers the log up to where it was taken: rewritten in
    // place (embedded) it fails; Kafka's records cannot be rewritten, only
    // followed by a forgery, so that part still verifies.
    assert_eq!(
        run(&server, &["audit", "verify", "--digest", &digest])
            .status
            .success(),
        server.kafka_prefix.is_some()
    );
}

/// Rewrites the name in the second event of `id`'s stream, as someone with
/// write access to the storage could: in the embedded file, or on Kafka by
/// a record written to the events topic past the processors.
async fn tamper(server: &Server, id: &str) {
    if let Some(prefix) = &server.kafka_prefix {
        let log = open_log(&server.dir).await;
        let events = all_events(log.as_ref()).await;
        let second = events
            .iter()
            .find(|e| e.envelope.subject.to_string() == id && e.envelope.aggregatesequence == 2)
            .expect("the second event");
        let mut forged: Value = serde_json::from_str(&second.envelope.to_json()).expect("json");
        forged["data"]["name"] = json!("Magwitch");
        let producer: rdkafka::producer::FutureProducer = rdkafka::ClientConfig::new()
            .set(
                "bootstrap.servers",
                e2e_kafka()
                    .unwrap_or_default()
                    .trim_start_matches("kafka://"),
            )
            .create()
            .expect("a producer");
        let payload = forged.to_string();
        producer
            .send(
                rdkafka::producer::FutureRecord::to(&format!("{prefix}.events"))
                    .partition(i32::try_from(second.position.partition).expect("partition"))
                    .key(id)
                    .payload(&payload),
                Duration::from_secs(10),
            )
            .await
            .expect("the forged record is written");
        return;
    }
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        server.dir.join("events.db").display()
    ))
    .await
    .expect("raw log");
    sqlx::query("UPDATE events SET envelope = json_set(envelope, '$.data.name', 'Magwitch') WHERE aggregate_id = $1 AND sequence = 2")
        .bind(id)
        .execute(&pool)
        .await
        .expect("tamper");
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_until_builds_the_past_beside_the_present() {
    let server = Server::start().await;
    let ada = server.client().editor("ada@example.org").await;
    let created = ada
        .post("/api/v1/characters", json!({ "name": "Joe" }))
        .await
        .expect(201);
    let id = created["character_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let position = created["position"].as_str().unwrap_or_default().to_owned();
    ada.patch(
        &format!("/api/v1/characters/{id}"),
        json!({ "name": "Joe Gargery" }),
    )
    .await
    .expect(200);
    server.settle().await;

    let past = server.dir.join("past.db");
    let summary = succeeded(run(
        &server,
        &[
            "replay",
            "relational",
            "--until",
            &position,
            "--into",
            &past.display().to_string(),
        ],
    ));
    assert!(summary.contains("characters"), "{summary}");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=ro", past.display()))
        .await
        .expect("past");
    let name: String = sqlx::query_scalar("SELECT name FROM characters WHERE character_id = $1")
        .bind(&id)
        .fetch_one(&pool)
        .await
        .expect("the character as it was");
    assert_eq!(name, "Joe");
    // The live read model is untouched and current.
    let live = ada
        .get(&format!("/api/v1/characters/{id}"))
        .await
        .expect(200);
    assert_eq!(live["name"], "Joe Gargery");
    // A past state only goes into a separate file.
    assert!(
        !run(&server, &["replay", "--until", &position])
            .status
            .success()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_an_older_version_load_project_and_audit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fixture = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/events-v1.jsonl"
    ));
    match e2e_kafka() {
        // Appended through a command processor of the test's own, stopped
        // before the server starts (whose processor catches up from the
        // topic).
        Some(_) => {
            let store = tempfile::tempdir().expect("temp dir");
            let log = open_log(dir.path()).await;
            let config = kafka_config(
                &e2e_kafka().unwrap_or_default(),
                &std::fs::read_to_string(dir.path().join("e2e-kafka-prefix")).expect("prefix"),
            );
            let processor = CommandProcessor::open(config, &store.path().join("store.db"))
                .await
                .expect("a command processor");
            let stop = CancellationToken::new();
            let running = tokio::spawn(processor.run(stop.clone()));
            append_fixture(log.as_ref(), fixture).await;
            stop.cancel();
            running.await.expect("processor task").expect("processor");
        }
        None => {
            let log =
                SqliteEventLog::open(&dir.path().join("events.db"), SqliteLogOptions::default())
                    .await
                    .expect("log");
            append_fixture(&log, fixture).await;
        }
    }
    let server = Server::start_in(dir.path()).await;
    let character = "0190aaaa-0000-7000-8000-000000000002";

    // Audit: the old chain verifies; history reads the v1 creation as v2.
    let verified = succeeded(run(&server, &["audit", "verify"]));
    assert!(verified.contains("intact"), "{verified}");
    let history = character_history(&server, character).await;
    assert_eq!(history[0]["type"], "studio.character.created.v1");
    assert_eq!(history[0]["state"]["character"]["origin"], "manual");

    // Projection: the read model shows the upcast character.
    server.settle().await;
    let admin = server.client().admin().await;
    let read = admin
        .get(&format!("/api/v1/characters/{character}"))
        .await
        .expect(200);
    assert_eq!(read["name"], "Esther Woodcourt");
    assert_eq!(read["origin"], "manual");
    assert_eq!(read["aliases"], json!(["Dame Durden", "Little Old Woman"]));

    // Aggregates: a command on the old stream folds it (upcast) and appends.
    let changed = admin
        .patch(
            &format!("/api/v1/characters/{character}"),
            json!({ "add_aliases": ["Mrs Woodcourt"] }),
        )
        .await
        .expect(200);
    assert_eq!(changed["version"], 4);
    succeeded(run(&server, &["audit", "verify"]));
}

async fn append_fixture(log: &dyn EventLog, path: &Path) {
    let text = std::fs::read_to_string(path).expect("fixture");
    let mut envelopes: Vec<EventEnvelope> = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        envelopes
            .push(EventEnvelope::from_json(line).expect("a fixture event whose hash verifies"));
    }
    for envelope in envelopes {
        log.append(AppendRequest {
            aggregate_id: envelope.subject,
            expected_version: envelope.aggregatesequence - 1,
            command_id: envelope.commandid,
            events: vec![envelope],
        })
        .await
        .expect("the log takes the old events as they are");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_person_appears_nowhere() {
    let mut server = Server::start().await;
    let email = "unforgettable.person@example.org";
    let display_name = "Ms Unforgettable";
    let anonymous = server.client();
    let registered = anonymous
        .post(
            "/api/v1/auth/register",
            json!({ "email": email, "password": "remember me", "display_name": display_name }),
        )
        .await
        .expect(201);
    let user_id = registered["user_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let person = anonymous.login(email, "remember me").await;
    let document = person
        .upload("diary.txt", b"My own words.", Some("Diary"))
        .await
        .expect(202);
    let document_id = document["document_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    person
        .post("/api/v1/characters", json!({ "name": "Myself" }))
        .await
        .expect(201);
    server.settle().await;
    let me = person
        .graphql("{ me { email displayName } }", json!({}))
        .await;
    assert_eq!(me["data"]["me"]["email"], email);

    // Never in clear in the log.
    assert!(!log_holds(&server, email.as_bytes()).await);

    // With the embedded log, the CLI refuses while the server runs; admins
    // use GraphQL. (A Kafka log takes writers from anywhere.)
    if server.kafka_prefix.is_none() {
        let busy = run(&server, &["users", "forget", &user_id]);
        assert!(!busy.status.success());
        assert!(String::from_utf8_lossy(&busy.stderr).contains("forgetUser"));
    }
    let admin = anonymous.admin().await;
    let forgot = admin
        .graphql(
            "mutation($id: ID!) { forgetUser(userId: $id, work: DELETE) { keyDestroyed documentsDeleted charactersDeleted } }",
            json!({ "id": user_id }),
        )
        .await;
    assert!(forgot["errors"].is_null(), "{forgot}");
    assert_eq!(
        forgot["data"]["forgetUser"],
        json!({ "keyDestroyed": true, "documentsDeleted": 1, "charactersDeleted": 1 })
    );
    let again = admin
        .graphql(
            "mutation($id: ID!) { forgetUser(userId: $id) { keyDestroyed } }",
            json!({ "id": user_id }),
        )
        .await;
    assert_eq!(again["data"]["forgetUser"]["keyDestroyed"], false);

    anonymous
        .post(
            "/api/v1/auth/login",
            json!({ "email": email, "password": "remember me" }),
        )
        .await
        .error(401, "invalid_credentials");
    anonymous
        .post(
            "/api/v1/auth/register",
            json!({ "email": email, "password": "remember me" }),
        )
        .await
        .error(403, "forbidden");
    server.settle().await;
    admin
        .get(&format!("/api/v1/documents/{document_id}"))
        .await
        .error(404, "not_found");
    let user_history = admin
        .graphql(
            "query($id: ID!) { auditHistory(aggregateId: $id) { type state } }",
            json!({ "id": user_id }),
        )
        .await;
    assert_eq!(
        user_history["data"]["auditHistory"][0]["state"]["user"]["email"], "[erased]",
        "{user_history}"
    );

    // Rebuild every read model; then nothing on disk holds the person.
    server.stop();
    succeeded(run(&server, &["replay"]));
    let cli_history = character_history(&server, &user_id).await;
    assert_eq!(cli_history[0]["state"]["user"]["email"], "[erased]");
    assert!(
        succeeded(run(&server, &["audit", "verify"])).contains("intact"),
        "forgetting broke the chain"
    );
    assert!(!log_holds(&server, email.as_bytes()).await);
    assert!(!log_holds(&server, display_name.as_bytes()).await);
    for entry in walk_files(&server.dir) {
        let bytes = std::fs::read(&entry).expect("read file");
        assert!(
            !contains(&bytes, email.as_bytes()),
            "{} still holds the e-mail address",
            entry.display()
        );
        assert!(
            !contains(&bytes, display_name.as_bytes()),
            "{} still holds the name",
            entry.display()
        );
    }
}

/// Whether the log's storage holds `needle`: the embedded files, or every
/// record of the Kafka log.
async fn log_holds(server: &Server, needle: &[u8]) -> bool {
    if server.kafka_prefix.is_some() {
        let log = open_log(&server.dir).await;
        return all_events(log.as_ref())
            .await
            .iter()
            .any(|e| contains(e.envelope.to_json().as_bytes(), needle));
    }
    let log_bytes = std::fs::read(server.dir.join("events.db")).expect("log");
    let wal = std::fs::read(server.dir.join("events.db-wal")).unwrap_or_default();
    contains(&log_bytes, needle) || contains(&wal, needle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn walk_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk_files(&path));
        } else {
            files.push(path);
        }
    }
    files
}
