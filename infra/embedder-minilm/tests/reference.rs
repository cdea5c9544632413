//! The local model against the reference implementation
//! (sentence-transformers over the same files): 68 texts of every length,
//! some past the 256-piece window, with their reference vectors
//! (`tests/fixtures/minilm-reference.jsonl`).
//!
//! The model folder comes from `MINILM_MODEL_DIR` (`infra/test.sh` fetches
//! it with `infra/fetch-model.sh` and sets it).

use std::path::PathBuf;

use serde::Deserialize;
use studio_embedder::{EmbedError, Embedder, cosine};
use studio_embedder_minilm::MiniLmEmbedder;

fn model_dir() -> PathBuf {
    PathBuf::from(std::env::var("MINILM_MODEL_DIR").unwrap_or_else(|_| {
        panic!(
            "set MINILM_MODEL_DIR to the model folder (bash infra/fetch-model.sh DIR fetches it)"
        )
    }))
}

#[derive(Deserialize)]
struct Reference {
    text: String,
    embedding: Vec<f32>,
}

fn references() -> Vec<Reference> {
    include_str!("fixtures/minilm-reference.jsonl")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a reference line"))
        .collect()
}

#[tokio::test]
async fn every_vector_matches_the_reference_implementation() {
    let embedder = MiniLmEmbedder::load(&model_dir()).expect("model");
    let references = references();
    assert!(references.len() >= 50);
    assert!(
        references.iter().any(|r| r.text.len() > 2_000),
        "texts past the 256-piece window are part of the set"
    );
    let texts: Vec<String> = references.iter().map(|r| r.text.clone()).collect();
    let vectors = embedder.embed(&texts).await.expect("embed");
    let mut worst = (f64::MAX, String::new());
    for (reference, vector) in references.iter().zip(&vectors) {
        let similarity = cosine(&reference.embedding, vector);
        if similarity < worst.0 {
            worst = (similarity, reference.text.chars().take(60).collect());
        }
    }
    println!(
        "lowest cosine against the reference: {:.9} (1 - {:.1e}; {:?})",
        worst.0,
        1.0 - worst.0,
        worst.1
    );
    assert!(worst.0 >= 0.999, "cosine {:.6} for {:?}", worst.0, worst.1);
    // One at a time (no padding) gives the same vectors as in batches.
    let alone = embedder
        .clone()
        .with_batch(1)
        .embed(&texts[..8])
        .await
        .expect("embed");
    for (a, b) in alone.iter().zip(&vectors) {
        assert!(cosine(a, b) > 0.99999);
    }
    // Alone, the same text gives the same vector to the bit: what makes a
    // rebuilt character vector equal to the live one.
    let again = embedder
        .clone()
        .with_batch(1)
        .embed(&texts[..8])
        .await
        .expect("embed");
    assert_eq!(again, alone);
}

#[tokio::test]
async fn the_adapter_passes_the_embedder_conformance_suite() {
    let embedder = MiniLmEmbedder::load(&model_dir()).expect("model");
    assert_eq!(embedder.dimension(), 384);
    assert_eq!(embedder.model(), "all-MiniLM-L6-v2");
    studio_embedder::conformance::run(&embedder).await;
}

#[test]
fn a_missing_or_damaged_model_folder_is_a_clear_error() {
    let empty = tempfile::tempdir().expect("dir");
    match MiniLmEmbedder::load(empty.path()) {
        Err(EmbedError::Model(message)) => {
            assert!(
                message.contains("config.json") && message.contains("fetch-model.sh"),
                "{message}"
            )
        }
        other => panic!("expected a model error, got {:?}", other.err()),
    }
    // The real files, with the weights cut short.
    let damaged = tempfile::tempdir().expect("dir");
    let source = model_dir();
    for name in ["config.json", "tokenizer.json", "sentence_bert_config.json"] {
        std::fs::copy(source.join(name), damaged.path().join(name)).expect("copy");
    }
    std::fs::create_dir(damaged.path().join("1_Pooling")).expect("dir");
    std::fs::copy(
        source.join("1_Pooling/config.json"),
        damaged.path().join("1_Pooling/config.json"),
    )
    .expect("copy");
    let weights = std::fs::read(source.join("model.safetensors")).expect("weights");
    std::fs::write(
        damaged.path().join("model.safetensors"),
        &weights[..weights.len() / 2],
    )
    .expect("write");
    match MiniLmEmbedder::load(damaged.path()) {
        Err(EmbedError::Model(message)) => {
            assert!(message.contains("model.safetensors"), "{message}")
        }
        other => panic!("expected a model error, got {:?}", other.err()),
    }
    // A tokenizer that is not one.
    std::fs::write(damaged.path().join("model.safetensors"), &weights).expect("write");
    std::fs::write(
        damaged.path().join("tokenizer.json"),
        b"{\"not\": \"a tokenizer\"}",
    )
    .expect("write");
    match MiniLmEmbedder::load(damaged.path()) {
        Err(EmbedError::Model(message)) => assert!(message.contains("tokenizer.json"), "{message}"),
        other => panic!("expected a model error, got {:?}", other.err()),
    }
}
