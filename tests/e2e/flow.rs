use std::time::Duration;

use serde_json::{Value, json};

use crate::support::Server;
use crate::support::graphql_ws::Subscription;

const FEED: &str = "subscription($types: [String!]) { events(types: $types) { id type aggregateId aggregateType sequence actor position data } }";

async fn next_event(subscription: &mut Subscription) -> Value {
    let data = subscription
        .next(Duration::from_secs(10))
        .await
        .expect("an event on the subscription");
    data["events"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_upload_create_query_and_watch_it_live() {
    let server = Server::start().await;
    let anonymous = server.client();

    let registered = anonymous.register("ada@example.org", "correct horse").await;
    let user_id = registered["user_id"].as_str().expect("user id").to_owned();
    assert!(registered["position"].as_str().is_some());
    let ada = anonymous.login("ada@example.org", "correct horse").await;

    // The pipeline's processing events interleave with ours; this feed
    // follows what the user does.
    let mut feed = Subscription::start(
        &server.ws_url(),
        ada.token.as_deref(),
        FEED,
        json!({ "types": [
            "studio.document.uploaded.v1",
            "studio.character.created.v2",
            "studio.character.renamed.v1",
            "studio.character.alias_added.v1",
        ] }),
    )
    .await
    .expect("subscribe");

    let text = "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.";
    let accepted = ada
        .upload("pride.txt", text.as_bytes(), Some("Pride and Prejudice"))
        .await
        .expect(202);
    let document_id = accepted["document_id"]
        .as_str()
        .expect("document id")
        .to_owned();

    let uploaded = next_event(&mut feed).await;
    assert_eq!(uploaded["type"], "studio.document.uploaded.v1");
    assert_eq!(uploaded["aggregateId"], document_id);
    assert_eq!(uploaded["sequence"], 1);
    assert_eq!(uploaded["actor"], user_id);
    assert_eq!(uploaded["data"]["title"], "Pride and Prejudice");
    assert_eq!(uploaded["position"], accepted["position"]);

    let created = ada
        .post(
            "/api/v1/characters",
            json!({
                "name": "Elizabeth Bennet",
                "aliases": ["Lizzy", "Miss Bennet"],
                "personality_profile": { "traits": ["witty", "prejudiced"] },
                "source_document_id": document_id,
            }),
        )
        .await
        .expect(201);
    let character_id = created["character_id"]
        .as_str()
        .expect("character id")
        .to_owned();
    let event = next_event(&mut feed).await;
    assert_eq!(event["type"], "studio.character.created.v2");
    assert_eq!(event["aggregateId"], character_id);

    let changed = ada
        .patch(
            &format!("/api/v1/characters/{character_id}"),
            json!({ "name": "Elizabeth Darcy", "add_aliases": ["Eliza"] }),
        )
        .await
        .expect(200);
    assert_eq!(changed["version"], 3);
    assert_eq!(
        next_event(&mut feed).await["type"],
        "studio.character.renamed.v1"
    );
    assert_eq!(
        next_event(&mut feed).await["type"],
        "studio.character.alias_added.v1"
    );

    // Read back through GraphQL, pinned to the last write.
    let query = r#"query($id: ID!) {
        me { email role }
        document(id: $id) { id title mediaType sizeBytes version
          characters { edges { node { id name aliases personalityProfile version } } } }
        documents { edges { node { id } } pageInfo { hasNextPage } }
        characters { edges { node { name sourceDocument { title } } } }
    }"#;
    let reply = ada
        .send(
            ada.request(reqwest::Method::POST, "/graphql")
                .header(
                    "x-studio-position",
                    changed["position"].as_str().unwrap_or_default(),
                )
                .json(&json!({ "query": query, "variables": { "id": document_id } })),
        )
        .await
        .expect(200);
    assert!(reply["errors"].is_null(), "{reply}");
    let data = &reply["data"];
    assert_eq!(data["me"]["email"], "ada@example.org");
    assert_eq!(data["me"]["role"], "editor");
    assert_eq!(data["document"]["title"], "Pride and Prejudice");
    assert_eq!(data["document"]["mediaType"], "text/plain");
    assert_eq!(data["document"]["sizeBytes"], text.len());
    let character = &data["document"]["characters"]["edges"][0]["node"];
    assert_eq!(character["name"], "Elizabeth Darcy");
    assert_eq!(
        character["aliases"],
        json!(["Lizzy", "Miss Bennet", "Eliza"])
    );
    assert_eq!(character["personalityProfile"]["traits"][0], "witty");
    assert_eq!(character["version"], 3);
    assert_eq!(data["documents"]["edges"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        data["characters"]["edges"][0]["node"]["sourceDocument"]["title"],
        "Pride and Prejudice"
    );

    // REST reads agree, and the text is served for text files.
    let document = ada.get(&format!("/api/v1/documents/{document_id}")).await;
    let etag = document
        .headers
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let document = document.expect(200);
    assert_eq!(etag, Some(format!("\"{}\"", document["version"])));
    assert_eq!(document["title"], "Pride and Prejudice");
    let raw = ada
        .get(&format!("/api/v1/documents/{document_id}/text"))
        .await
        .expect(200);
    assert_eq!(raw, Value::String(text.to_owned()));
    let list = ada.get("/api/v1/characters").await.expect(200);
    assert_eq!(list["items"][0]["name"], "Elizabeth Darcy");

    // The aggregate's history, paginated.
    let history = ada
        .graphql(
            "query($id: ID!, $after: String) { events(aggregateId: $id, first: 2, after: $after) { edges { cursor node { type sequence } } pageInfo { hasNextPage endCursor } } }",
            json!({ "id": character_id }),
        )
        .await;
    let page = &history["data"]["events"];
    assert_eq!(page["edges"].as_array().map(Vec::len), Some(2));
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let rest = ada
        .graphql(
            "query($id: ID!, $after: String) { events(aggregateId: $id, first: 2, after: $after) { edges { node { type sequence } } pageInfo { hasNextPage } } }",
            json!({ "id": character_id, "after": page["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(rest["data"]["events"]["edges"][0]["node"]["sequence"], 3);
    assert_eq!(rest["data"]["events"]["pageInfo"]["hasNextPage"], false);

    // Deleting ends the document's life in the read model (once
    // processing is over, so that only our changes arrive).
    ada.processed(&document_id).await;
    let mut changes = Subscription::start(
        &server.ws_url(),
        ada.token.as_deref(),
        "subscription($id: ID!) { documentChanged(id: $id) { documentId eventTypes deleted document { title } } }",
        json!({ "id": document_id }),
    )
    .await
    .expect("subscribe to the document");
    ada.patch(
        &format!("/api/v1/documents/{document_id}"),
        json!({ "title": "P&P" }),
    )
    .await
    .expect(200);
    let change = changes
        .next(Duration::from_secs(10))
        .await
        .expect("a change");
    assert_eq!(change["documentChanged"]["document"]["title"], "P&P");
    assert_eq!(
        change["documentChanged"]["eventTypes"],
        json!(["studio.document.renamed.v1"])
    );
    ada.delete(&format!("/api/v1/documents/{document_id}"))
        .await
        .expect(200);
    let change = changes
        .next(Duration::from_secs(10))
        .await
        .expect("the deletion");
    assert_eq!(change["documentChanged"]["deleted"], true);
    assert!(change["documentChanged"]["document"].is_null());
    server.settle().await;
    ada.get(&format!("/api/v1/documents/{document_id}"))
        .await
        .error(404, "not_found");
    ada.delete(&format!("/api/v1/documents/{document_id}"))
        .await
        .error(410, "deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_filters_by_type_and_aggregate() {
    let server = Server::start().await;
    let ada = server.client().editor("ada@example.org").await;
    let mut renames = Subscription::start(
        &server.ws_url(),
        ada.token.as_deref(),
        FEED,
        json!({ "types": ["studio.character.renamed.v1"] }),
    )
    .await
    .expect("subscribe");
    let id = ada
        .post("/api/v1/characters", json!({ "name": "Jane" }))
        .await
        .expect(201)["character_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    ada.post("/api/v1/characters", json!({ "name": "Rochester" }))
        .await
        .expect(201);
    ada.patch(
        &format!("/api/v1/characters/{id}"),
        json!({ "name": "Jane Eyre" }),
    )
    .await
    .expect(200);
    let event = next_event(&mut renames).await;
    assert_eq!(event["type"], "studio.character.renamed.v1");
    assert_eq!(event["data"]["name"], "Jane Eyre");
    assert!(renames.next(Duration::from_millis(300)).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_with_an_idempotency_key_apply_once() {
    let server = Server::start().await;
    let ada = server.client().editor("ada@example.org").await;
    let create = || {
        ada.request(reqwest::Method::POST, "/api/v1/characters")
            .header("idempotency-key", "create-heathcliff-1")
            .json(&json!({ "name": "Heathcliff" }))
    };
    let first = ada.send(create()).await.expect(201);
    let second = ada.send(create()).await.expect(201);
    assert_eq!(first["character_id"], second["character_id"]);
    assert_eq!(first["position"], second["position"]);
    server.settle().await;
    let list = ada.get("/api/v1/characters").await.expect(200);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));

    let upload = || async {
        let part =
            reqwest::multipart::Part::bytes(b"Whether I shall turn out to be the hero".to_vec())
                .file_name("dc.txt");
        ada.send(
            ada.request(reqwest::Method::POST, "/api/v1/documents/upload")
                .header("idempotency-key", "upload-dc")
                .multipart(reqwest::multipart::Form::new().part("file", part)),
        )
        .await
        .expect(202)
    };
    let (first, second) = (upload().await, upload().await);
    assert_eq!(first["document_id"], second["document_id"]);
    ada.processed(first["document_id"].as_str().unwrap_or_default())
        .await;
    // The bootstrap admin, Ada, one character, one document, and the
    // document's five processing stages (no names in it, no characters).
    assert_eq!(server.event_count().await, 4 + 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_if_match_is_refused_and_writes_nothing() {
    let server = Server::start().await;
    let ada = server.client().editor("ada@example.org").await;
    let created = ada
        .post("/api/v1/characters", json!({ "name": "Catherine" }))
        .await
        .expect(201);
    let id = created["character_id"].as_str().unwrap_or_default();
    let patch = |etag: &'static str, name: &'static str| {
        ada.request(reqwest::Method::PATCH, &format!("/api/v1/characters/{id}"))
            .header("if-match", etag)
            .json(&json!({ "name": name }))
    };
    ada.send(patch("\"1\"", "Catherine Earnshaw"))
        .await
        .expect(200);
    let before = server.event_count().await;
    ada.send(patch("\"1\"", "Cathy"))
        .await
        .error(412, "precondition_failed");
    ada.send(patch("one", "Cathy"))
        .await
        .error(400, "invalid_if_match");
    assert_eq!(server.event_count().await, before);
    let fresh = ada
        .send(
            ada.request(reqwest::Method::GET, &format!("/api/v1/characters/{id}"))
                .header(
                    "x-studio-position",
                    created["position"].as_str().unwrap_or_default(),
                ),
        )
        .await;
    assert!(fresh.status.is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_wait_for_their_position() {
    let server = Server::start().await;
    let ada = server.client().editor("ada@example.org").await;
    for i in 0..20 {
        let created = ada
            .post(
                "/api/v1/characters",
                json!({ "name": format!("Character {i}") }),
            )
            .await
            .expect(201);
        let id = created["character_id"].as_str().unwrap_or_default();
        let position = created["position"].as_str().unwrap_or_default();
        let read = ada
            .get(&format!("/api/v1/characters/{id}?position={position}"))
            .await
            .expect(200);
        assert_eq!(read["name"], format!("Character {i}"));
    }
    ada.get("/api/v1/characters?position=not-a-token")
        .await
        .error(400, "invalid_position");
    // A position the log has not reached yet: a clear, bounded refusal.
    let reply = ada
        .send(
            ada.request(reqwest::Method::POST, "/graphql")
                .header("x-studio-position", "0:999999")
                .json(&json!({ "query": "{ me { email } }" })),
        )
        .await;
    reply.error(504, "position_not_reached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_read_but_do_not_write() {
    let server = Server::start().await;
    let anonymous = server.client();
    let admin = anonymous.admin().await;
    let reply = admin
        .post(
            "/api/v1/auth/register",
            json!({ "email": "vic@example.org", "password": "viewer pass", "role": "viewer" }),
        )
        .await
        .expect(201);
    assert!(reply["user_id"].is_string());
    let vic = anonymous.login("vic@example.org", "viewer pass").await;
    vic.upload("a.txt", b"text", None)
        .await
        .error(403, "forbidden");
    vic.post("/api/v1/characters", json!({ "name": "X" }))
        .await
        .error(403, "forbidden");
    vic.get("/api/v1/characters").await.expect(200);
    let me = vic.graphql("{ me { role } }", json!({})).await;
    assert_eq!(me["data"]["me"]["role"], "viewer");
    // Self-service registration cannot grant admin.
    anonymous
        .post(
            "/api/v1/auth/register",
            json!({ "email": "eve@example.org", "password": "sneaky pass", "role": "admin" }),
        )
        .await
        .error(403, "forbidden");
    assert_eq!(server.event_count().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_every_endpoint() {
    let server = Server::start().await;
    let doc = server
        .client()
        .get("/api/v1/openapi.json")
        .await
        .expect(200);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    for (path, method) in [
        ("/api/v1/auth/register", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/documents/upload", "post"),
        ("/api/v1/documents", "get"),
        ("/api/v1/documents/{id}", "get"),
        ("/api/v1/documents/{id}", "patch"),
        ("/api/v1/documents/{id}", "delete"),
        ("/api/v1/documents/{id}/text", "get"),
        ("/api/v1/characters", "post"),
        ("/api/v1/characters", "get"),
        ("/api/v1/characters/{id}", "get"),
        ("/api/v1/characters/{id}", "patch"),
        ("/api/v1/characters/{id}", "delete"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is not documented"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}
