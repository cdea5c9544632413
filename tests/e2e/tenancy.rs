//! Two users never see each other's data, by any query or subscription;
//! admins see everything.

use std::time::Duration;

use serde_json::json;

use crate::support::Server;
use crate::support::graphql_ws::{Refused, Subscription};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_do_not_see_each_other() {
    let server = Server::start().await;
    let anonymous = server.client();
    let ada = anonymous.editor("ada@example.org").await;
    let bob = anonymous.editor("bob@example.org").await;
    // The feed starts where the read model stands: let it take in the
    // registrations first, or Bob's own could come after he subscribed.
    server.settle().await;

    let mut bob_feed = Subscription::start(
        &server.ws_url(),
        bob.token.as_deref(),
        "subscription { events { type aggregateId } }",
        json!({}),
    )
    .await
    .expect("bob subscribes");

    let doc = ada
        .upload(
            "secret.txt",
            b"a private manuscript, not yet begun",
            Some("Secret"),
        )
        .await
        .expect(202);
    let doc_id = doc["document_id"].as_str().unwrap_or_default().to_owned();
    let character = ada
        .post(
            "/api/v1/characters",
            json!({ "name": "Hidden", "source_document_id": doc_id }),
        )
        .await
        .expect(201);
    let character_id = character["character_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    server.settle().await;

    // REST.
    bob.get(&format!("/api/v1/documents/{doc_id}"))
        .await
        .error(404, "not_found");
    bob.get(&format!("/api/v1/documents/{doc_id}/text"))
        .await
        .error(404, "not_found");
    bob.get(&format!("/api/v1/characters/{character_id}"))
        .await
        .error(404, "not_found");
    assert_eq!(
        bob.get("/api/v1/documents").await.expect(200)["items"],
        json!([])
    );
    assert_eq!(
        bob.get("/api/v1/characters").await.expect(200)["items"],
        json!([])
    );
    assert_eq!(
        bob.get(&format!("/api/v1/characters?document_id={doc_id}"))
            .await
            .expect(200)["items"],
        json!([])
    );
    // Commands on Ada's data answer as if it did not exist (and write
    // nothing: counted once the pipeline is done with her upload).
    ada.processed(&doc_id).await;
    let before = server.event_count().await;
    bob.patch(
        &format!("/api/v1/characters/{character_id}"),
        json!({ "name": "Mine" }),
    )
    .await
    .error(404, "not_found");
    bob.delete(&format!("/api/v1/documents/{doc_id}"))
        .await
        .error(404, "not_found");
    bob.post(
        "/api/v1/characters",
        json!({ "name": "Thief", "source_document_id": doc_id }),
    )
    .await
    .error(404, "not_found");
    assert_eq!(server.event_count().await, before);

    // GraphQL.
    let seen = bob
        .graphql(
            "query($d: ID!, $c: ID!) { document(id: $d) { id } character(id: $c) { id } documents { edges { node { id } } } characters { edges { node { id } } } events(aggregateId: $d) { edges { node { id } } } }",
            json!({ "d": doc_id, "c": character_id }),
        )
        .await;
    assert!(seen["errors"].is_null(), "{seen}");
    assert_eq!(
        seen["data"],
        json!({ "document": null, "character": null, "documents": { "edges": [] }, "characters": { "edges": [] }, "events": { "edges": [] } })
    );
    match Subscription::start(
        &server.ws_url(),
        bob.token.as_deref(),
        "subscription($id: ID!) { documentChanged(id: $id) { documentId } }",
        json!({ "id": doc_id }),
    )
    .await
    {
        Err(Refused::Error(_)) => {}
        other => panic!("bob watched ada's document: {:?}", other.err()),
    }

    // Bob's feed carries his own event, and nothing of Ada's came before it.
    bob.post("/api/v1/characters", json!({ "name": "Bob's own" }))
        .await
        .expect(201);
    let first = bob_feed
        .next(Duration::from_secs(10))
        .await
        .expect("bob's event");
    assert_eq!(first["events"]["type"], "studio.character.created.v2");
    assert!(bob_feed.next(Duration::from_millis(300)).await.is_none());

    // An admin sees both.
    let admin = anonymous.admin().await;
    let all = admin.get("/api/v1/characters").await.expect(200);
    assert_eq!(all["items"].as_array().map(Vec::len), Some(2));
    admin
        .get(&format!("/api/v1/documents/{doc_id}"))
        .await
        .expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_for_one_aggregate_sees_only_it() {
    let server = Server::start().await;
    let ada = server.client().editor("ada@example.org").await;
    let one = ada
        .post("/api/v1/characters", json!({ "name": "One" }))
        .await
        .expect(201);
    let two = ada
        .post("/api/v1/characters", json!({ "name": "Two" }))
        .await
        .expect(201);
    let one_id = one["character_id"].as_str().unwrap_or_default().to_owned();
    let two_id = two["character_id"].as_str().unwrap_or_default().to_owned();
    // The feed starts where the read model stands: let it take in the
    // creations first, so only later events count.
    server.settle().await;
    let mut feed = Subscription::start(
        &server.ws_url(),
        ada.token.as_deref(),
        "subscription($id: ID!) { events(aggregateId: $id) { aggregateId type } }",
        json!({ "id": two_id }),
    )
    .await
    .expect("subscribe");
    ada.patch(
        &format!("/api/v1/characters/{one_id}"),
        json!({ "name": "One!" }),
    )
    .await
    .expect(200);
    ada.patch(
        &format!("/api/v1/characters/{two_id}"),
        json!({ "name": "Two!" }),
    )
    .await
    .expect(200);
    // Generous: on a loaded machine the projector can lag by seconds.
    let event = feed.next(Duration::from_secs(60)).await.expect("an event");
    assert_eq!(event["events"]["aggregateId"], two_id);
    assert_eq!(event["events"]["type"], "studio.character.renamed.v1");
    assert!(feed.next(Duration::from_millis(300)).await.is_none());
}
