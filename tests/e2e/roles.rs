//! The roles in separate processes on one data directory: commands to one,
//! queries and subscriptions from another, a projector between them.

use std::time::Duration;

use serde_json::json;

use crate::support::Server;
use crate::support::graphql_ws::Subscription;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_api_projector_and_query_api_as_separate_processes() {
    let temp = tempfile::tempdir().expect("temp dir");
    let commands = Server::start_role_in(temp.path(), "command-api").await;
    let _projector = Server::start_role_in(temp.path(), "projector").await;
    let queries = Server::start_role_in(temp.path(), "query-api").await;

    let writer = commands.client().editor("ada@example.org").await;
    let token = writer.token.clone().unwrap_or_default();
    let reader = queries.client().with_token(&token);
    // A feed starts where the read model stands: let it take in the
    // registrations first.
    queries.settle().await;

    let mut feed = Subscription::start(
        &queries.ws_url(),
        Some(&token),
        "subscription { events { type aggregateId } }",
        json!({}),
    )
    .await
    .expect("subscribe on the query API");

    let created = writer
        .post(
            "/api/v1/characters",
            json!({ "name": "Lady Dedlock", "aliases": ["Honoria"] }),
        )
        .await
        .expect(201);
    let id = created["character_id"].as_str().unwrap_or_default();
    let position = created["position"].as_str().unwrap_or_default();

    let event = feed
        .next(Duration::from_secs(10))
        .await
        .expect("the event crosses three processes");
    assert_eq!(event["events"]["type"], "studio.character.created.v2");
    assert_eq!(event["events"]["aggregateId"], id);

    let read = reader
        .get(&format!("/api/v1/characters/{id}?position={position}"))
        .await
        .expect(200);
    assert_eq!(read["aliases"], json!(["Honoria"]));
    let ready = reader.get("/ready").await.expect(200);
    assert_eq!(ready["projection_lag"], 0);

    // Each process serves its own side only.
    reader
        .post("/api/v1/characters", json!({ "name": "X" }))
        .await
        .error(405, "method_not_allowed");
    reader
        .upload("a.txt", b"text", None)
        .await
        .error(405, "method_not_allowed");
    writer
        .get("/api/v1/characters")
        .await
        .error(405, "method_not_allowed");
    let graphql = writer
        .send(
            writer
                .request(reqwest::Method::POST, "/graphql")
                .json(&json!({ "query": "{ me { email } }" })),
        )
        .await;
    graphql.error(404, "not_found");
    assert!(writer.get("/api/v1/openapi.json").await.expect(200)["paths"]["/api/v1/characters/{id}"]["patch"].is_object());

    // One writer per store: the embedded log, or a command processor's
    // store on Kafka (where command APIs scale freely).
    let mut second = crate::support::studio();
    commands.env(&mut second);
    let (role, store) = match &commands.kafka_prefix {
        Some(_) => {
            second.env("STUDIO_DATA_DIR", commands.dir.join("command-processor"));
            ("command-processor", "a command processor's store")
        }
        None => ("command-api", "the event log"),
    };
    let output = second.arg(role).output().expect("a second writer");
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains(&format!("another studio process writes {store}"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_runs_as_a_process_of_its_own() {
    let temp = tempfile::tempdir().expect("temp dir");
    let commands = Server::start_role_in(temp.path(), "command-api").await;
    let _projector = Server::start_role_in(temp.path(), "projector").await;
    let queries = Server::start_role_in(temp.path(), "query-api").await;
    let _processor = Server::start_role_in(temp.path(), "processor").await;

    let writer = commands.client().editor("ada@example.org").await;
    let reader = queries
        .client()
        .with_token(&writer.token.clone().unwrap_or_default());
    let path = format!(
        "{}/analysis/extract/tests/fixtures/masque.docx",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).expect("the fixture");
    let accepted = writer.upload("masque.docx", &bytes, None).await.expect(202);
    let id = accepted["document_id"].as_str().unwrap_or_default();
    // The processor appends to the log beside the command API; the
    // projector and the query API follow both.
    let status = reader.processed(id).await;
    assert_eq!(status["status"], "completed", "{status}");
    let cast = reader
        .graphql(
            "query($id: ID!) { document(id: $id) { text { format } cast { name } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(cast["data"]["document"]["text"]["format"], "docx");
    assert!(
        cast["data"]["document"]["cast"]
            .as_array()
            .is_some_and(|c| c.iter().any(|m| m["name"] == "Prospero")),
        "{cast}"
    );

    // One pipeline per data directory.
    let mut second = crate::support::studio();
    commands.env(&mut second);
    let output = second
        .arg("processor")
        .output()
        .expect("a second processor");
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("another studio process writes the document pipeline")
    );
}
