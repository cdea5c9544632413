//! The OpenAI-compatible adapter against an HTTP server that speaks the
//! `/v1/embeddings` protocol (vectors made by the hashing embedder), and
//! against servers that answer badly.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use studio_embedder::{
    EmbedError, Embedder, HashingEmbedder, OpenAiConfig, OpenAiEmbedder, cosine,
};

/// How the server answers.
#[derive(Clone, Copy)]
enum Behaviour {
    Correct,
    /// 503 for the first two requests, then correct.
    BusyTwice,
    WrongDimension,
    MissingVector,
    RepeatedIndex,
    NotJson,
    Unauthorized,
    NotANumber,
}

struct Server {
    behaviour: Behaviour,
    requests: AtomicUsize,
    largest_batch: AtomicUsize,
    hashing: HashingEmbedder,
}

async fn embeddings(
    State(server): State<Arc<Server>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let seen = server.requests.fetch_add(1, Ordering::SeqCst);
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer sk-test") {
        return (StatusCode::UNAUTHORIZED, "no key").into_response();
    }
    let inputs: Vec<String> = serde_json::from_value(body["input"].clone()).unwrap_or_default();
    server
        .largest_batch
        .fetch_max(inputs.len(), Ordering::SeqCst);
    let vectors = server.hashing.embed(&inputs).await.unwrap_or_default();
    // Answered out of order, as the protocol allows: the index says which.
    let mut data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .rev()
        .map(|(i, v)| json!({"object": "embedding", "index": i, "embedding": v.iter().map(|x| x * 3.0).collect::<Vec<_>>()}))
        .collect();
    match server.behaviour {
        Behaviour::Correct => {}
        Behaviour::BusyTwice if seen < 2 => {
            return (StatusCode::SERVICE_UNAVAILABLE, "loading model").into_response();
        }
        Behaviour::BusyTwice => {}
        Behaviour::WrongDimension => data[0]["embedding"] = json!([0.5, 0.5]),
        Behaviour::MissingVector => {
            data.pop();
        }
        Behaviour::RepeatedIndex => data[0]["index"] = data[1]["index"].clone(),
        Behaviour::NotJson => return (StatusCode::OK, "<html>proxy error</html>").into_response(),
        Behaviour::Unauthorized => return (StatusCode::UNAUTHORIZED, "bad key").into_response(),
        Behaviour::NotANumber => data[0]["embedding"][0] = json!("x"),
    }
    Json(json!({"object": "list", "data": data, "model": body["model"]})).into_response()
}

async fn serve(behaviour: Behaviour) -> (String, Arc<Server>) {
    let server = Arc::new(Server {
        behaviour,
        requests: AtomicUsize::new(0),
        largest_batch: AtomicUsize::new(0),
        hashing: HashingEmbedder::new(64).expect("hashing"),
    });
    let app = axum::Router::new()
        .route("/v1/embeddings", post(embeddings))
        .with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/v1"), server)
}

fn config(base_url: &str) -> OpenAiConfig {
    OpenAiConfig {
        base_url: base_url.to_owned(),
        api_key: Some("sk-test".into()),
        model: "nomic-embed-text".into(),
        dimension: 64,
        batch: 4,
        timeout: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn the_adapter_passes_the_conformance_suite_in_batches_of_the_configured_size() {
    let (url, server) = serve(Behaviour::Correct).await;
    let embedder = OpenAiEmbedder::new(config(&url)).expect("embedder");
    assert_eq!(embedder.model(), "openai:nomic-embed-text");
    studio_embedder::conformance::run(&embedder).await;
    assert_eq!(server.largest_batch.load(Ordering::SeqCst), 4);
    // The server's vectors, normalized, in input order.
    let texts = vec!["one".to_owned(), "two dogs".to_owned(), "three".to_owned()];
    let got = embedder.embed(&texts).await.expect("embed");
    let expected = HashingEmbedder::new(64)
        .expect("hashing")
        .embed(&texts)
        .await
        .expect("embed");
    for (g, e) in got.iter().zip(&expected) {
        assert!(cosine(g, e) > 0.99999);
    }
}

#[tokio::test]
async fn a_busy_service_is_asked_again() {
    let (url, server) = serve(Behaviour::BusyTwice).await;
    let embedder = OpenAiEmbedder::new(config(&url)).expect("embedder");
    let vectors = embedder
        .embed(&["a text".to_owned()])
        .await
        .expect("embedded after retries");
    assert_eq!(vectors.len(), 1);
    assert_eq!(server.requests.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn bad_answers_are_clear_errors() {
    let texts = vec!["first".to_owned(), "second".to_owned()];
    for (behaviour, expected) in [
        (Behaviour::WrongDimension, "2 dimensions"),
        (Behaviour::MissingVector, "1 vectors for 2 inputs"),
        (Behaviour::RepeatedIndex, "repeated"),
        (Behaviour::NotJson, "decoding"),
        (Behaviour::Unauthorized, "401"),
        (Behaviour::NotANumber, "decoding"),
    ] {
        let (url, _server) = serve(behaviour).await;
        let embedder = OpenAiEmbedder::new(config(&url)).expect("embedder");
        match embedder.embed(&texts).await {
            Err(EmbedError::BadAnswer(message)) => {
                assert!(
                    message.contains(expected),
                    "{message} should say {expected:?}"
                )
            }
            other => panic!("expected a bad answer saying {expected:?}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_unreachable_service_is_a_retryable_error() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/v1", listener.local_addr().expect("address"));
    drop(listener);
    let embedder = OpenAiEmbedder::new(config(&url)).expect("embedder");
    let error = embedder
        .embed(&["x".to_owned()])
        .await
        .expect_err("unreachable");
    assert!(error.is_retryable(), "{error}");
}

#[test]
fn bad_settings_are_refused() {
    let mut bad = config("ftp://example.org/v1");
    assert!(matches!(
        OpenAiEmbedder::new(bad.clone()),
        Err(EmbedError::Model(_))
    ));
    bad.base_url = "not a url".into();
    assert!(matches!(
        OpenAiEmbedder::new(bad.clone()),
        Err(EmbedError::Model(_))
    ));
    let mut empty = config("http://127.0.0.1:1/v1");
    empty.model = " ".into();
    assert!(matches!(
        OpenAiEmbedder::new(empty),
        Err(EmbedError::Model(_))
    ));
    let mut zero = config("http://127.0.0.1:1/v1");
    zero.dimension = 0;
    assert!(matches!(
        OpenAiEmbedder::new(zero),
        Err(EmbedError::Model(_))
    ));
}

#[test]
fn the_key_never_shows_in_debug_output() {
    let embedder = OpenAiEmbedder::new(config("http://127.0.0.1:1/v1")).expect("embedder");
    assert!(!format!("{embedder:?}").contains("sk-test"));
}
