//! Semantic search: a paraphrase finds its passage with the real model,
//! the answers respect owners, and a LanceDB projector killed in the
//! middle of a batch ends with the tables a rebuild makes.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use studio_projections::vectors::VectorStore;
use studio_vectors_lancedb::{LanceVectors, Location};

use crate::support::{Client, Server, e2e_kafka, open_log, studio};

/// The model name of the hashing embedder the suite runs with.
const HASHING: &str = "hashing-384";

const SEARCH: &str = "query($q: String!, $doc: ID, $limit: Int = 10) {
    search(query: $q, documentId: $doc, limit: $limit) {
        passageId documentId score chapter start end snippet
    }
}";

fn masque() -> &'static str {
    include_str!("../fixtures/books/masque-of-the-red-death.txt")
}

fn words(text: &str) -> std::collections::BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 4)
        .map(str::to_lowercase)
        .collect()
}

/// Searches until the vectors answer (the projector works behind the
/// upload), then returns the hits.
async fn search_when_ready(client: &Client, query: &str, doc: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let reply = client
            .graphql(SEARCH, json!({ "q": query, "doc": doc, "limit": 5 }))
            .await;
        assert!(reply["errors"].is_null(), "{reply}");
        let hits = reply["data"]["search"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if !hits.is_empty() {
            return hits;
        }
        assert!(
            Instant::now() < deadline,
            "the document's passages never became searchable"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn code(reply: &Value) -> &str {
    reply["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("none")
}

#[tokio::test]
async fn a_paraphrase_finds_its_passage_with_the_local_model() {
    if e2e_kafka().is_some() {
        eprintln!("run on the embedded log only: the log's kind does not matter here");
        return;
    }
    let model = std::env::var("MINILM_MODEL_DIR").unwrap_or_else(|_| {
        panic!(
            "set MINILM_MODEL_DIR to the model folder (bash infra/fetch-model.sh DIR fetches it)"
        )
    });
    let server = Server::start_with(vec![
        ("STUDIO_EMBEDDER__KIND".into(), "minilm".into()),
        ("STUDIO_EMBEDDER__MODEL_DIR".into(), model),
    ])
    .await;
    let ada = server.client().editor("ada@search.test").await;
    let upload = ada
        .upload(
            "masque.txt",
            masque().as_bytes(),
            Some("The Masque of the Red Death"),
        )
        .await
        .expect(202);
    let doc = upload["document_id"].as_str().expect("id").to_owned();
    ada.processed(&doc).await;
    let text = ada
        .get(&format!("/api/v1/documents/{doc}/text"))
        .await
        .expect(200);
    let text = text.as_str().expect("the text").to_owned();

    // Each paraphrase shares no word of four letters or more with the
    // passage it should find.
    for (paraphrase, marker) in [
        (
            "Periodically a huge black timepiece boomed, so the band went quiet, the \
             dancers stopped, and everybody appeared frightened.",
            "clock of ebony",
        ),
        (
            "An epidemic swept the land: sufferers bled out of their skin and perished in \
             thirty minutes.",
            "Red Death",
        ),
    ] {
        let hits = search_when_ready(&ada, paraphrase, &doc).await;
        assert!(hits.len() <= 5);
        let found = hits.iter().position(|h| {
            h["snippet"].as_str().is_some_and(|_| {
                let (start, end) = (
                    h["start"].as_u64().unwrap_or(0),
                    h["end"].as_u64().unwrap_or(0),
                );
                let passage: String = text
                    .chars()
                    .skip(start as usize)
                    .take(end.saturating_sub(start) as usize)
                    .collect();
                passage.contains(marker)
            })
        });
        let Some(rank) = found else {
            panic!(
                "{paraphrase:?} did not find the passage with {marker:?} in the top five: {hits:#?}"
            );
        };
        let hit = &hits[rank];
        let (start, end) = (
            hit["start"].as_u64().expect("start") as usize,
            hit["end"].as_u64().expect("end") as usize,
        );
        let passage: String = text.chars().skip(start).take(end - start).collect();
        let shared: Vec<_> = words(paraphrase)
            .intersection(&words(&passage))
            .cloned()
            .collect();
        assert!(
            shared.is_empty(),
            "the paraphrase shares {shared:?} with its passage"
        );
        let snippet = hit["snippet"].as_str().expect("snippet");
        assert!(
            passage.starts_with(snippet.trim_end_matches('…')),
            "the snippet is the passage's start: {snippet:?}"
        );
        assert_eq!(hit["documentId"], doc.as_str());
        let scores: Vec<f64> = hits
            .iter()
            .map(|h| h["score"].as_f64().expect("score"))
            .collect();
        assert!(
            scores.windows(2).all(|w| w[0] >= w[1]),
            "best first: {scores:?}"
        );
        eprintln!(
            "{paraphrase:?}: rank {} of 5, score {:.3}",
            rank + 1,
            scores[rank]
        );
    }

    // Another user finds nothing of Ada's, and may not name her document.
    let bob = server.client().editor("bob@search.test").await;
    let reply = bob
        .graphql(SEARCH, json!({ "q": "a black clock", "limit": 5 }))
        .await;
    assert_eq!(reply["data"]["search"], json!([]), "{reply}");
    let reply = bob
        .graphql(SEARCH, json!({ "q": "a black clock", "doc": doc }))
        .await;
    assert_eq!(code(&reply), "NOT_FOUND", "{reply}");
    // Across all of Ada's documents, the same passage comes first.
    let reply = ada
        .graphql(
            SEARCH,
            json!({ "q": "a gigantic clock of ebony", "limit": 1 }),
        )
        .await;
    let best = &reply["data"]["search"][0];
    assert_eq!(best["documentId"], doc.as_str(), "{reply}");
}

#[tokio::test]
async fn hostile_searches_are_refused() {
    let server = Server::start().await;
    let ada = server.client().editor("ada@hostile-search.test").await;
    for (variables, expected) in [
        (json!({ "q": "", "limit": 5 }), "BAD_USER_INPUT"),
        (json!({ "q": "   ", "limit": 5 }), "BAD_USER_INPUT"),
        (
            json!({ "q": "x".repeat(2_001), "limit": 5 }),
            "BAD_USER_INPUT",
        ),
        (json!({ "q": "dogs", "limit": 0 }), "BAD_USER_INPUT"),
        (json!({ "q": "dogs", "limit": 101 }), "BAD_USER_INPUT"),
        (json!({ "q": "dogs", "limit": -1 }), "BAD_USER_INPUT"),
        (
            json!({ "q": "dogs", "doc": "not-a-uuid" }),
            "BAD_USER_INPUT",
        ),
        (
            json!({ "q": "dogs", "doc": uuid::Uuid::new_v4().to_string() }),
            "NOT_FOUND",
        ),
        (json!({ "q": "dogs'; DROP TABLE passages; --" }), "none"),
    ] {
        let reply = ada.graphql(SEARCH, variables.clone()).await;
        assert_eq!(code(&reply), expected, "{variables}: {reply}");
    }
    let similar = "query($id: ID!, $limit: Int = 10) { similarCharacters(characterId: $id, limit: $limit) { characterId name score } }";
    for (variables, expected) in [
        (json!({ "id": "nope" }), "BAD_USER_INPUT"),
        (
            json!({ "id": uuid::Uuid::new_v4().to_string() }),
            "NOT_FOUND",
        ),
        (
            json!({ "id": uuid::Uuid::new_v4().to_string(), "limit": 0 }),
            "BAD_USER_INPUT",
        ),
    ] {
        let reply = ada.graphql(similar, variables.clone()).await;
        assert_eq!(code(&reply), expected, "{variables}: {reply}");
    }
}

#[tokio::test]
async fn similar_characters_are_the_owners_nearest_profiles() {
    let server = Server::start().await;
    let ada = server.client().editor("ada@similar.test").await;
    let mut ids = BTreeMap::new();
    for (name, aliases) in [
        ("Prince Prospero", vec!["the Prince"]),
        ("Prospero's jester", vec!["the Prince's fool"]),
        ("The Red Death", vec!["the masked figure"]),
    ] {
        let reply = ada
            .post(
                "/api/v1/characters",
                json!({ "name": name, "aliases": aliases }),
            )
            .await
            .expect(201);
        ids.insert(name, reply["character_id"].as_str().expect("id").to_owned());
    }
    let query = "query($id: ID!) { similarCharacters(characterId: $id, limit: 5) { characterId name score } }";
    let deadline = Instant::now() + Duration::from_secs(120);
    let hits = loop {
        let reply = ada
            .graphql(query, json!({ "id": ids["Prince Prospero"] }))
            .await;
        assert!(reply["errors"].is_null(), "{reply}");
        let hits = reply["data"]["similarCharacters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if hits.len() == 2 {
            break hits;
        }
        assert!(
            Instant::now() < deadline,
            "the characters never got vectors: {reply}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    // The hashing embedder shares words: Prospero's jester is nearer.
    assert_eq!(hits[0]["name"], "Prospero's jester", "{hits:?}");
    assert_eq!(hits[1]["name"], "The Red Death", "{hits:?}");

    let bob = server.client().editor("bob@similar.test").await;
    let reply = bob
        .graphql(query, json!({ "id": ids["Prince Prospero"] }))
        .await;
    assert_eq!(code(&reply), "NOT_FOUND", "{reply}");
}

/// Manifests of a Lance table: one per committed version.
/// Committed versions of a table: its manifests (a manifest being written
/// is a staging file beside them, not yet one of them).
fn versions(vectors: &Path, table: &str) -> usize {
    std::fs::read_dir(vectors.join(format!("{table}.lance")).join("_versions"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|entry| entry.file_name().to_string_lossy().ends_with(".manifest"))
                .count()
        })
        .unwrap_or(0)
}

async fn checkpoint(vectors: &Path) -> BTreeMap<u32, u64> {
    let store = LanceVectors::open(&Location::folder(vectors), HASHING, 384, 1_000_000)
        .await
        .expect("open the vectors");
    store.checkpoint().await.expect("checkpoint")
}

async fn caught_up(vectors: &Path, ends: &BTreeMap<u32, u64>, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let done = checkpoint(vectors).await;
        if ends
            .iter()
            .all(|(p, end)| *end == 0 || done.get(p) == Some(end))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} never caught up: {done:?} of {ends:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn snapshot(vectors: &Path) -> studio_projections::vectors::VectorSnapshot {
    LanceVectors::open(&Location::folder(vectors), HASHING, 384, 1_000_000)
        .await
        .expect("open the vectors")
        .snapshot()
        .await
        .expect("snapshot")
}

/// SIGKILL of `studio projector lancedb` after it wrote some of a batch's
/// passages and before its checkpoint; restarted, it ends with the rows a
/// fresh `studio replay lancedb` makes, which are also those `studio
/// serve` made.
#[tokio::test]
async fn a_lancedb_projector_killed_mid_batch_ends_equal_to_a_rebuild() {
    if e2e_kafka().is_some() {
        eprintln!("run on the embedded log only: the log's kind does not matter here");
        return;
    }
    let mut server = Server::start().await;
    let ada = server.client().editor("ada@vector-kill.test").await;
    let novel = include_bytes!("../fixtures/books/call-of-the-wild.txt");
    for n in 0..3 {
        let doc = ada
            .upload(&format!("call-{n}.txt"), novel, None)
            .await
            .expect(202);
        ada.processed(doc["document_id"].as_str().expect("id"))
            .await;
    }
    ada.post("/api/v1/characters", json!({ "name": "John Thornton" }))
        .await
        .expect(201);
    server.settle().await;
    let ends = open_log(&server.dir)
        .await
        .end_offsets()
        .await
        .expect("end offsets");
    let served = server.dir.join("vectors");
    caught_up(&served, &ends, "studio serve's vector projector").await;
    let served_snapshot = snapshot(&served).await;
    server.stop();

    let live = server.dir.join("live-vectors");
    let env = vec![("STUDIO_VECTORS".to_owned(), live.display().to_string())];
    let mut projector = Server::start_role_with(&server.dir, "projector", &["lancedb"], env).await;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        // Two or more writes of passages (the table's first version is
        // its creation): the projector is inside a document.
        if versions(&live, "passages") >= 4 {
            break;
        }
        projector.assert_running();
        assert!(
            Instant::now() < deadline,
            "the projector never wrote passages"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    projector.kill();
    // A batch's checkpoint follows all its rows, and a document's passages
    // are written in one batch: some of a document's passages, and not
    // all, mean the kill fell in the middle of a batch.
    let partial = snapshot(&live).await.passages.len();
    let per_document = served_snapshot.passages.len() / 3;
    assert!(
        partial % per_document != 0,
        "killed with {partial} passages written, whole documents of {per_document}"
    );
    projector.restart().await;
    caught_up(&live, &ends, "the restarted projector").await;
    projector.stop();

    let rebuilt = server.dir.join("rebuilt-vectors");
    let mut command = studio();
    command.args(["replay", "lancedb", "--into"]).arg(&rebuilt);
    server.env(&mut command);
    let out = command.output().expect("run studio replay");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let after_kill = snapshot(&live).await;
    assert!(
        after_kill.passages.len() > 500,
        "{}",
        after_kill.passages.len()
    );
    assert!(!after_kill.characters.is_empty());
    assert_eq!(
        after_kill,
        snapshot(&rebuilt).await,
        "the tables after the kill equal a rebuild"
    );
    assert_eq!(after_kill, served_snapshot, "and what studio serve made");

    // The detected characters carry the sentences that mention them, from
    // each of the three documents (however detection joined them).
    let store = LanceVectors::open(&Location::folder(&rebuilt), HASHING, 384, 1_000_000)
        .await
        .expect("open the vectors");
    let mut quoted = Vec::new();
    for (id, _) in &after_kill.characters {
        let record = store.character(*id).await.expect("read").expect("there");
        if record.name == "Buck" {
            assert!(!record.mentions.is_empty(), "{record:?}");
            quoted.extend(record.mentions);
        }
    }
    assert_eq!(
        quoted.len(),
        9,
        "three sentences of each document: {quoted:?}"
    );
    assert!(quoted.iter().all(|m| m.contains("Buck")), "{quoted:?}");
}
