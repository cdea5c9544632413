//! Uploads processed in the background, live: text, statistics, chapters,
//! characters (joined to the ones the owner made), interactions; failures
//! recorded with their reason; a crash in the middle resumed.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::graphql_ws::Subscription;
use crate::support::{Client, Server, studio};

fn book(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/books/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn document_fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/analysis/extract/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const DOCUMENT: &str = r#"query($id: ID!) { document(id: $id) {
    processing { status stage percent failure { step reason retryable attempts } }
    text { chars format encoding boilerplateRemoved pages }
    statistics { words sentences paragraphs chapters fleschReadingEase fleschKincaidGrade dialogueShare
                 distinctiveTerms { term count score } }
    chapters { ordinal title start end }
    cast { characterId name mentions firstMention linked character { id name aliases origin } }
    interactions(first: 10) { a { name } b { name } weight }
    mentions(first: 5) { edges { node { characterId start end } } }
} }"#;

async fn document(client: &Client, id: &str) -> Value {
    let reply = client.graphql(DOCUMENT, json!({ "id": id })).await;
    assert!(reply["errors"].is_null(), "{reply}");
    reply["data"]["document"].clone()
}

async fn upload(client: &Client, name: &str, bytes: &[u8]) -> String {
    client.upload(name, bytes, None).await.expect(202)["document_id"]
        .as_str()
        .expect("document id")
        .to_owned()
}

/// What `studio analyze` says of a file, to compare the pipeline with.
fn analyze_offline(bytes: &[u8]) -> Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("book.txt");
    std::fs::write(&path, bytes).expect("write");
    let output = studio()
        .arg("analyze")
        .arg(&path)
        .env_remove("STUDIO_CONFIG")
        .output()
        .expect("studio analyze");
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_novel_is_processed_live_and_joined_to_the_owners_characters() {
    let server = Server::start().await;
    let ada = server.client().editor("ada@example.org").await;
    let thornton = ada
        .post(
            "/api/v1/characters",
            json!({ "name": "John Thornton", "aliases": ["Thornton"], "personality_profile": { "kind": true } }),
        )
        .await
        .expect(201)["character_id"]
        .as_str()
        .expect("id")
        .to_owned();

    let novel = book("call-of-the-wild.txt");
    let accepted = ada
        .upload("call-of-the-wild.txt", &novel, None)
        .await
        .expect(202);
    let id = accepted["document_id"].as_str().expect("id").to_owned();
    let mut progress = Subscription::start(
        &server.ws_url(),
        ada.token.as_deref(),
        "subscription($id: ID!, $position: String) { documentProgress(id: $id, position: $position) { status stage percent failure { reason } } }",
        json!({ "id": id, "position": accepted["position"] }),
    )
    .await
    .expect("subscribe to progress");
    let mut percents = Vec::new();
    let mut last = Value::Null;
    while let Some(update) = progress.next(Duration::from_secs(30)).await {
        last = update["documentProgress"].clone();
        percents.push(last["percent"].as_u64().unwrap_or_default());
    }
    assert_eq!(last["status"], "completed", "{last}");
    assert_eq!(last["stage"], "completed");
    assert!(
        percents.windows(2).all(|w| w[0] < w[1]) && percents.last() == Some(&100),
        "{percents:?}"
    );

    let doc = document(&ada, &id).await;
    let offline = analyze_offline(&novel);
    assert_eq!(doc["processing"]["status"], "completed");
    assert_eq!(doc["text"]["format"], "plain_text");
    assert_eq!(doc["text"]["encoding"], "UTF-8");
    assert_eq!(doc["text"]["boilerplateRemoved"], false);
    assert_eq!(doc["text"]["chars"], offline["chars"]);
    assert_eq!(doc["statistics"]["words"], offline["words"]);
    assert_eq!(doc["statistics"]["sentences"], offline["sentences"]);
    let chapters = doc["chapters"].as_array().expect("chapters");
    assert_eq!(
        chapters.len(),
        offline["chapters"].as_array().map_or(0, Vec::len)
    );
    assert!(chapters.len() >= 7, "{chapters:?}");
    assert!(
        doc["statistics"]["fleschReadingEase"]
            .as_f64()
            .is_some_and(|f| f > 50.0 && f < 100.0)
    );
    let terms: Vec<&str> = doc["statistics"]["distinctiveTerms"]
        .as_array()
        .expect("terms")
        .iter()
        .filter_map(|t| t["term"].as_str())
        .collect();
    assert!(
        terms.contains(&"buck") && terms.contains(&"thornton"),
        "{terms:?}"
    );

    let cast = doc["cast"].as_array().expect("cast");
    let member = |name: &str| {
        cast.iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not in the cast: {cast:?}"))
            .clone()
    };
    let buck = member("Buck");
    assert!(buck["mentions"].as_u64().is_some_and(|m| m > 300), "{buck}");
    assert_eq!(buck["linked"], false);
    assert_eq!(buck["character"]["origin"], "detected");
    let john = member("John Thornton");
    assert_eq!(john["linked"], true);
    assert_eq!(john["characterId"], thornton.as_str());
    assert_eq!(john["character"]["origin"], "manual");
    assert!(member("Spitz")["mentions"].as_u64().is_some_and(|m| m > 30));
    assert!(
        cast.iter()
            .all(|c| c["mentions"].as_u64().is_some_and(|m| m >= 2)),
        "a character mentioned once is in the cast"
    );

    let interactions = doc["interactions"].as_array().expect("interactions");
    let pair = |x: &str, y: &str| {
        interactions.iter().any(|i| {
            (i["a"]["name"] == x && i["b"]["name"] == y)
                || (i["a"]["name"] == y && i["b"]["name"] == x)
        })
    };
    assert!(pair("Buck", "John Thornton"), "{interactions:?}");
    assert!(pair("Buck", "Spitz"), "{interactions:?}");

    // Offsets count characters of the text the API serves.
    let text = ada
        .get(&format!("/api/v1/documents/{id}/text"))
        .await
        .expect(200);
    let text: Vec<char> = text.as_str().expect("text").chars().collect();
    assert_eq!(Some(text.len() as u64), doc["text"]["chars"].as_u64());
    for edge in doc["mentions"]["edges"].as_array().expect("mentions") {
        let m = &edge["node"];
        let (start, end) = (
            m["start"].as_u64().unwrap_or(0) as usize,
            m["end"].as_u64().unwrap_or(0) as usize,
        );
        let surface: String = text[start..end].iter().collect();
        let named = cast
            .iter()
            .find(|c| c["characterId"] == m["characterId"])
            .expect("the mention's character is in the cast");
        let names: Vec<String> = std::iter::once(
            named["character"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
        .chain(
            named["character"]["aliases"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_owned)),
        )
        .collect();
        assert!(
            names.iter().any(|n| surface.ends_with(n.as_str())),
            "{surface:?} is none of {names:?}"
        );
    }

    // Nothing is left in processing; the character list shows where each
    // detected character comes from.
    let jobs = ada
        .graphql("{ jobs { edges { node { id } } } }", json!({}))
        .await;
    assert_eq!(jobs["data"]["jobs"]["edges"], json!([]));
    let appearances = ada
        .graphql(
            "query($id: ID!) { character(id: $id) { appearances { documentId mentions } } }",
            json!({ "id": thornton }),
        )
        .await;
    assert_eq!(
        appearances["data"]["character"]["appearances"][0]["documentId"],
        id.as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_is_read() {
    let server = Server::start().await;
    let ada = server.client().editor("ada@example.org").await;
    let mut ids = Vec::new();
    for (name, format) in [
        ("masque.epub", "epub"),
        ("masque.docx", "docx"),
        ("masque.pdf", "pdf"),
        ("masque.html", "html"),
        ("masque.md", "markdown"),
        ("masque-gutenberg.txt", "plain_text"),
        ("masque-utf16le.txt", "plain_text"),
        ("masque-windows1252.txt", "plain_text"),
    ] {
        ids.push((
            name,
            format,
            upload(&ada, name, &document_fixture(name)).await,
        ));
    }
    for (name, format, id) in ids {
        let status = ada.processed(&id).await;
        assert_eq!(status["status"], "completed", "{name}: {status}");
        let doc = document(&ada, &id).await;
        assert_eq!(doc["text"]["format"], format, "{name}");
        assert_eq!(
            doc["text"]["boilerplateRemoved"],
            name == "masque-gutenberg.txt",
            "{name}"
        );
        let cast = doc["cast"].as_array().expect("cast");
        assert!(
            cast.iter().any(|c| c["name"] == "Prospero"),
            "{name}: {cast:?}"
        );
        let text = ada
            .get(&format!("/api/v1/documents/{id}/text"))
            .await
            .expect(200);
        let text = text.as_str().expect("text");
        assert!(text.contains("Prince Prospero"), "{name}");
        assert!(!text.contains("Gutenberg"), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_fail_with_a_reason_and_nothing_else_changes() {
    let server = Server::start().await;
    let ada = server.client().editor("ada@example.org").await;
    let encrypted = upload(&ada, "locked.pdf", &document_fixture("encrypted.pdf")).await;
    let corrupt = upload(&ada, "broken.pdf", &document_fixture("corrupt.pdf")).await;
    let truncated = upload(&ada, "half.epub", &document_fixture("truncated.epub")).await;
    let good = upload(&ada, "masque.docx", &document_fixture("masque.docx")).await;

    for (id, words) in [
        (&encrypted, "encrypted"),
        (&corrupt, "corrupt"),
        (&truncated, "corrupt"),
    ] {
        let status = ada.processed(id).await;
        assert_eq!(status["status"], "failed", "{status}");
        assert_eq!(status["failure"]["step"], "extract_text");
        assert_eq!(status["failure"]["retryable"], false);
        let reason = status["failure"]["reason"].as_str().unwrap_or_default();
        assert!(reason.contains(words), "{reason}");
        // The upload is kept.
        let doc = ada
            .get(&format!("/api/v1/documents/{id}"))
            .await
            .expect(200);
        assert_eq!(doc["processing"]["status"], "failed");
    }
    assert_eq!(ada.processed(&good).await["status"], "completed");

    // The jobs view lists the failures, and only them.
    let jobs = ada
        .graphql(
            "{ jobs { edges { node { id processing { status failure { step } } } } } }",
            json!({}),
        )
        .await;
    let listed: Vec<&str> = jobs["data"]["jobs"]["edges"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter_map(|e| e["node"]["id"].as_str())
        .collect();
    assert_eq!(listed.len(), 3, "{jobs}");
    assert!(!listed.contains(&good.as_str()));

    // A restart runs again (and fails again, for the same reason).
    let restarted = ada
        .post(&format!("/api/v1/documents/{corrupt}/reprocess"), json!({}))
        .await
        .expect(200);
    // Once the read model has the restart, processing runs again.
    ada.get(&format!(
        "/api/v1/documents/{corrupt}/status?position={}",
        restarted["position"].as_str().unwrap_or_default()
    ))
    .await
    .expect(200);
    let status = ada.processed(&corrupt).await;
    assert_eq!(status["status"], "failed");
    ada.post(&format!("/api/v1/documents/{good}/reprocess"), json!({}))
        .await
        .error(422, "invalid_input");
    let history = ada
        .graphql(
            "query($id: ID!) { events(aggregateId: $id, first: 100) { edges { node { type } } } }",
            json!({ "id": corrupt }),
        )
        .await;
    let types: Vec<&str> = history["data"]["events"]["edges"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|e| e["node"]["type"].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "studio.document.uploaded.v1",
            "studio.document.processing_failed.v1",
            "studio.document.processing_restarted.v1",
            "studio.document.processing_failed.v1",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_processing_resumes_and_records_each_stage_once() {
    let mut server = Server::start().await;
    let ada = server.client().editor("ada@example.org").await;
    let novel = book("call-of-the-wild.txt");
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(upload(&ada, &format!("book-{n}.txt"), &novel).await);
    }
    // Killed while the pipeline works through them.
    tokio::time::sleep(Duration::from_millis(150)).await;
    server.kill();
    server.restart().await;
    let ada = server
        .client()
        .login("ada@example.org", "a good password")
        .await;
    for id in &ids {
        assert_eq!(ada.processed(id).await["status"], "completed");
        let history = ada
            .graphql(
                "query($id: ID!) { events(aggregateId: $id, first: 100) { edges { node { type } } } }",
                json!({ "id": id }),
            )
            .await;
        let types: Vec<&str> = history["data"]["events"]["edges"]
            .as_array()
            .expect("history")
            .iter()
            .filter_map(|e| e["node"]["type"].as_str())
            .collect();
        assert_eq!(
            types,
            [
                "studio.document.uploaded.v1",
                "studio.document.text_extracted.v1",
                "studio.document.analysed.v1",
                "studio.document.characters_detected.v1",
                "studio.document.interactions_recorded.v1",
                "studio.document.processing_completed.v1",
            ]
        );
    }
    // Each book has its own cast, made once.
    server.settle().await;
    let characters = ada
        .graphql(
            "{ characters(first: 100) { edges { node { name sourceDocumentId } } } }",
            json!({}),
        )
        .await;
    let bucks = characters["data"]["characters"]["edges"]
        .as_array()
        .expect("characters")
        .iter()
        .filter(|e| e["node"]["name"] == "Buck")
        .count();
    assert_eq!(bucks, ids.len());
}

#[test]
fn studio_analyze_prints_the_analysis_as_json() {
    let path = format!(
        "{}/tests/fixtures/books/call-of-the-wild.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let output = studio()
        .args(["analyze", "--with-text", &path])
        .env_remove("STUDIO_CONFIG")
        .output()
        .expect("studio analyze");
    assert!(output.status.success(), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    let text = report["text"].as_str().expect("the text");
    // A UTF-8 file without Gutenberg boilerplate is its own text.
    assert_eq!(text.as_bytes(), book("call-of-the-wild.txt").as_slice());
    let chars: Vec<char> = text.chars().collect();
    assert!(report["words"].as_u64().is_some_and(|w| w > 30_000));
    assert!(report["sentences"].as_u64().is_some_and(|s| s > 1_000));
    let chapters = report["chapters"].as_array().expect("chapters");
    assert!(chapters.windows(2).all(|w| w[0]["end"] == w[1]["start"]));
    let first: String = chars[chapters[0]["start"].as_u64().unwrap_or(0) as usize..]
        .iter()
        .take(9)
        .collect();
    assert_eq!(first, "Chapter I");
    let characters = report["characters"].as_array().expect("characters");
    let names_of = |id: &Value| -> Vec<String> {
        let c = characters
            .iter()
            .find(|c| &c["id"] == id)
            .expect("a mention's character exists");
        std::iter::once(&c["name"])
            .chain(c["aliases"].as_array().into_iter().flatten())
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect()
    };
    let mentions = report["mentions"].as_array().expect("mentions");
    assert_eq!(
        mentions.len() as u64,
        characters
            .iter()
            .filter_map(|c| c["mentions"].as_u64())
            .sum::<u64>()
    );
    for m in mentions {
        let (start, end) = (
            m["start"].as_u64().unwrap_or(0) as usize,
            m["end"].as_u64().unwrap_or(0) as usize,
        );
        let surface: String = chars[start..end]
            .iter()
            .collect::<String>()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            names_of(&m["character_id"])
                .iter()
                .any(|n| surface.ends_with(n.as_str())),
            "{surface:?} at {start}"
        );
    }
    for i in report["interactions"].as_array().expect("interactions") {
        assert!(i["weight"].as_u64().is_some_and(|w| w > 0));
        assert!(!names_of(&i["a"]).is_empty() && !names_of(&i["b"]).is_empty());
    }
    // A file that is not a document: a clear error, a failing exit.
    let output = studio()
        .args([
            "analyze",
            &format!(
                "{}/analysis/extract/tests/fixtures/encrypted.pdf",
                env!("CARGO_MANIFEST_DIR")
            ),
        ])
        .env_remove("STUDIO_CONFIG")
        .output()
        .expect("studio analyze");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("encrypted"));
}
