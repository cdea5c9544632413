//! Every bad input gets a clear JSON error and writes nothing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use studio_auth::{Principal, Tokens};
use studio_domain::{Role, UserId};
use uuid::Uuid;

use crate::support::graphql_ws::{Refused, Subscription};
use crate::support::{Server, TOKEN_SECRET};

fn forged(header: serde_json::Value, claims: serde_json::Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_and_write_nothing() {
    let server = Server::start().await;
    let anonymous = server.client();
    let ada = anonymous.editor("ada@example.org").await;
    let created = ada
        .post("/api/v1/characters", json!({ "name": "Pip" }))
        .await
        .expect(201);
    let pip = created["character_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    server.settle().await;
    let before = server.event_count().await;

    // Malformed and incomplete bodies.
    let raw = |path: &str, body: &'static str| {
        ada.request(reqwest::Method::POST, path)
            .header("content-type", "application/json")
            .body(body)
    };
    ada.send(raw("/api/v1/characters", "{\"name\": "))
        .await
        .error(400, "malformed_json");
    ada.send(raw("/api/v1/characters", "[]"))
        .await
        .error(422, "invalid_input");
    ada.send(raw("/api/v1/characters", "{}"))
        .await
        .error(422, "invalid_input");
    ada.send(raw("/api/v1/characters", "{\"name\": \"X\", \"extra\": 1}"))
        .await
        .error(422, "invalid_input");
    ada.send(raw("/api/v1/characters", "{\"name\": 7}"))
        .await
        .error(422, "invalid_input");
    ada.send(
        ada.request(reqwest::Method::POST, "/api/v1/characters")
            .header("content-type", "text/plain")
            .body("{\"name\": \"X\"}"),
    )
    .await
    .error(415, "unsupported_media_type");

    // Domain refusals.
    ada.post("/api/v1/characters", json!({ "name": "   " }))
        .await
        .error(422, "invalid_input");
    ada.post("/api/v1/characters", json!({ "name": "x".repeat(201) }))
        .await
        .error(422, "invalid_input");
    ada.post(
        "/api/v1/characters",
        json!({ "name": "X", "aliases": ["A", "a"] }),
    )
    .await
    .error(409, "duplicate_alias");
    ada.post(
        "/api/v1/characters",
        json!({ "name": "X", "personality_profile": [1, 2] }),
    )
    .await
    .error(422, "invalid_input");
    ada.patch(
        &format!("/api/v1/characters/{pip}"),
        json!({ "add_aliases": ["pip"] }),
    )
    .await
    .error(409, "duplicate_alias");
    ada.patch(&format!("/api/v1/characters/{pip}"), json!({}))
        .await
        .error(422, "invalid_input");
    // Half of a PATCH is invalid: none of it is applied.
    ada.patch(
        &format!("/api/v1/characters/{pip}"),
        json!({ "name": "Philip", "add_aliases": ["", "Pirrip"] }),
    )
    .await
    .error(422, "invalid_input");

    // Oversize bodies.
    let huge = json!({ "name": "X", "personality_profile": { "bio": "x".repeat(100 * 1024) } });
    ada.post("/api/v1/characters", huge)
        .await
        .error(413, "payload_too_large");
    let big_profile =
        json!({ "name": "X", "personality_profile": { "bio": "x".repeat(40 * 1024) } });
    ada.post("/api/v1/characters", big_profile)
        .await
        .error(422, "invalid_input");

    // Unknown and malformed ids.
    let nobody = Uuid::now_v7();
    ada.get(&format!("/api/v1/characters/{nobody}"))
        .await
        .error(404, "not_found");
    ada.get("/api/v1/characters/not-a-uuid")
        .await
        .error(400, "invalid_id");
    ada.patch(
        &format!("/api/v1/characters/{nobody}"),
        json!({ "name": "Y" }),
    )
    .await
    .error(404, "not_found");
    ada.delete(&format!("/api/v1/documents/{nobody}"))
        .await
        .error(404, "not_found");
    ada.post(
        "/api/v1/characters",
        json!({ "name": "Y", "source_document_id": nobody }),
    )
    .await
    .error(404, "not_found");
    ada.get("/api/v1/nowhere").await.error(404, "not_found");
    ada.get("/api/v1/characters?first=abc")
        .await
        .error(400, "invalid_query");
    ada.get("/api/v1/characters?after=garbage")
        .await
        .error(400, "invalid_cursor");

    // Uploads.
    ada.upload("virus.exe", b"MZ", None)
        .await
        .error(415, "unsupported_media_type");
    ada.upload("empty.txt", b"", None)
        .await
        .error(422, "invalid_input");
    ada.send(
        ada.request(reqwest::Method::POST, "/api/v1/documents/upload")
            .header("content-type", "application/json")
            .body("{}"),
    )
    .await
    .error(415, "unsupported_media_type");
    let only_title = reqwest::multipart::Form::new().text("title", "No file");
    ada.send(
        ada.request(reqwest::Method::POST, "/api/v1/documents/upload")
            .multipart(only_title),
    )
    .await
    .error(422, "invalid_input");
    let stray = reqwest::multipart::Form::new().text("nonsense", "x");
    ada.send(
        ada.request(reqwest::Method::POST, "/api/v1/documents/upload")
            .multipart(stray),
    )
    .await
    .error(422, "invalid_input");
    ada.send(
        ada.request(reqwest::Method::POST, "/api/v1/documents/upload")
            .header("idempotency-key", "spaces are not allowed")
            .multipart(reqwest::multipart::Form::new().part(
                "file",
                reqwest::multipart::Part::bytes(b"text".to_vec()).file_name("a.txt"),
            )),
    )
    .await
    .error(400, "invalid_idempotency_key");

    // Registration and login.
    anonymous
        .post(
            "/api/v1/auth/register",
            json!({ "email": "nope", "password": "long enough" }),
        )
        .await
        .error(422, "invalid_input");
    anonymous
        .post(
            "/api/v1/auth/register",
            json!({ "email": "a@b.org", "password": "short" }),
        )
        .await
        .error(422, "invalid_input");
    anonymous
        .post(
            "/api/v1/auth/register",
            json!({ "email": "a@b.org", "password": "long enough", "role": "king" }),
        )
        .await
        .error(422, "invalid_input");
    anonymous
        .post(
            "/api/v1/auth/register",
            json!({ "email": "ADA@example.org", "password": "another one" }),
        )
        .await
        .error(409, "already_exists");
    anonymous
        .post(
            "/api/v1/auth/login",
            json!({ "email": "ada@example.org", "password": "wrong password" }),
        )
        .await
        .error(401, "invalid_credentials");
    anonymous
        .post(
            "/api/v1/auth/login",
            json!({ "email": "ghost@example.org", "password": "whatever it is" }),
        )
        .await
        .error(401, "invalid_credentials");
    anonymous
        .post("/api/v1/auth/login", json!({ "email": "ada@example.org" }))
        .await
        .error(422, "invalid_input");

    assert_eq!(
        server.event_count().await,
        before,
        "a refused request wrote to the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_are_refused_everywhere() {
    let server = Server::start().await;
    let anonymous = server.client();
    let ada = anonymous.editor("ada@example.org").await;
    let ada_id = ada.graphql("{ me { email } }", json!({})).await;
    assert_eq!(ada_id["data"]["me"]["email"], "ada@example.org");
    let before = server.event_count().await;

    let principal = Principal {
        user_id: UserId::from_uuid(Uuid::now_v7()),
        role: Role::Admin,
    };
    let now = chrono::Utc::now().timestamp() as u64;
    let ours = Tokens::new(TOKEN_SECRET.as_bytes(), 60).expect("tokens");
    let expired = ours
        .issue(principal, now - 3600)
        .expect("issue")
        .access_token;
    let other_key = Tokens::new(b"some other secret of thirty two bytes", 3600)
        .expect("tokens")
        .issue(principal, now)
        .expect("issue")
        .access_token;
    let claims = json!({
        "sub": principal.user_id.to_string(), "role": "admin", "iss": "literaryai-studio",
        "aud": "literaryai-studio-api", "iat": now, "exp": now + 600, "jti": "x"
    });
    let alg_none = forged(json!({ "alg": "none", "typ": "JWT" }), claims.clone(), "");
    let hs512 = forged(
        json!({ "alg": "HS512", "typ": "JWT" }),
        claims,
        "c2lnbmF0dXJl",
    );

    for (what, token) in [
        ("expired", expired.as_str()),
        ("signed with another key", other_key.as_str()),
        ("alg none", alg_none.as_str()),
        ("another algorithm", hs512.as_str()),
        ("garbage", "not.a.token"),
    ] {
        let client = anonymous.with_token(token);
        let reply = client
            .post("/api/v1/characters", json!({ "name": "Intruder" }))
            .await;
        assert_eq!(reply.status.as_u16(), 401, "{what}: {}", reply.body);
        assert_eq!(
            reply
                .headers
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer")
        );
        client
            .get("/api/v1/documents")
            .await
            .error(401, "unauthorized");
        let graphql = client
            .send(
                client
                    .request(reqwest::Method::POST, "/graphql")
                    .json(&json!({ "query": "{ me { email } }" })),
            )
            .await;
        graphql.error(401, "unauthorized");
        match Subscription::start(
            &server.ws_url(),
            Some(token),
            "subscription { events { id } }",
            json!({}),
        )
        .await
        {
            Err(Refused::Closed(_)) => {}
            other => panic!(
                "{what}: a subscription with a bad token gave {:?}",
                other.err()
            ),
        }
    }
    anonymous
        .get("/api/v1/characters")
        .await
        .error(401, "unauthorized");
    anonymous
        .send(
            anonymous
                .request(reqwest::Method::GET, "/api/v1/characters")
                .header("authorization", "Basic YTpi"),
        )
        .await
        .error(401, "unauthorized");
    match Subscription::start(
        &server.ws_url(),
        None,
        "subscription { events { id } }",
        json!({}),
    )
    .await
    {
        Err(Refused::Closed(_)) => {}
        other => panic!("an anonymous subscription gave {:?}", other.err()),
    }
    assert_eq!(server.event_count().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_graphql_is_refused() {
    let server = Server::start().await;
    let ada = server.client().editor("ada@example.org").await;
    let deep = "{ documents { edges { node { characters { edges { node { sourceDocument { characters { edges { node { sourceDocument { characters { edges { node { name } } } } } } } } } } } } } } }";
    let reply = ada.graphql(deep, json!({})).await;
    assert!(reply["data"].is_null(), "{reply}");
    assert!(
        reply["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("nested too deep") || m.contains("too complex")),
        "{reply}"
    );
    let wide = "{ documents(first: 100) { edges { node { characters(first: 100) { edges { node { name } } } } } } }";
    let reply = ada.graphql(wide, json!({})).await;
    assert!(
        reply["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("too complex")),
        "{reply}"
    );
    let reply = ada
        .graphql("{ document(id: \"nope\") { id } }", json!({}))
        .await;
    assert_eq!(
        reply["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{reply}"
    );
    let reply = ada
        .graphql("{ documents(first: -1) { edges { cursor } } }", json!({}))
        .await;
    assert_eq!(
        reply["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{reply}"
    );
    let reply = ada
        .graphql(
            "{ documents(after: \"forged\") { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        reply["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{reply}"
    );
    let reply = ada
        .send(
            ada.request(reqwest::Method::POST, "/graphql")
                .header("content-type", "application/json")
                .body("{\"query\": "),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 400, "{}", reply.body);
}
