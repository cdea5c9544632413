//! `studio embed`: the configured embedder from the command line.

use std::io::Write;
use std::process::{Output, Stdio};

use serde_json::Value;

use crate::support::studio;

fn model_dir() -> String {
    std::env::var("MINILM_MODEL_DIR").unwrap_or_else(|_| {
        panic!(
            "set MINILM_MODEL_DIR to the model folder (bash infra/fetch-model.sh DIR fetches it)"
        )
    })
}

fn embed(env: &[(&str, &str)], stdin: &str) -> Output {
    let data = tempfile::tempdir().expect("data dir");
    let mut command = studio();
    command
        .arg("embed")
        .env("STUDIO_DATA_DIR", data.path())
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("run studio embed");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("studio embed")
}

fn vectors(output: &Output) -> Vec<(String, String, Vec<f64>)> {
    assert!(
        output.status.success(),
        "studio embed failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("a JSON line");
            let vector = v["vector"]
                .as_array()
                .expect("vector")
                .iter()
                .map(|x| x.as_f64().expect("a number"))
                .collect();
            (
                v["model"].as_str().expect("model").to_owned(),
                v["text"].as_str().expect("text").to_owned(),
                vector,
            )
        })
        .collect()
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

#[test]
fn studio_embed_prints_the_local_model_s_vectors() {
    let reference: Value = serde_json::from_str(
        include_str!("../../infra/embedder-minilm/tests/fixtures/minilm-reference.jsonl")
            .lines()
            .next()
            .expect("a reference"),
    )
    .expect("reference json");
    let text = reference["text"].as_str().expect("text");
    let expected: Vec<f64> = reference["embedding"]
        .as_array()
        .expect("embedding")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect();
    let dir = model_dir();
    let output = embed(
        &[("STUDIO_EMBEDDER__MODEL_DIR", dir.as_str())],
        &format!("{text}\nA line of its own.\n"),
    );
    let got = vectors(&output);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, "all-MiniLM-L6-v2");
    assert_eq!(got[0].1, text);
    assert_eq!(got[0].2.len(), 384);
    assert!(cosine(&got[0].2, &expected) >= 0.999);
    assert!(cosine(&got[1].2, &expected) < 0.9);
}

#[test]
fn a_missing_model_is_an_error_that_says_how_to_fetch_it_never_a_fallback() {
    let output = embed(&[], "some text\n");
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "nothing embedded");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("infra/fetch-model.sh"), "{stderr}");
}

#[test]
fn the_hashing_embedder_runs_only_when_configured_and_bad_settings_are_refused() {
    let once = vectors(&embed(
        &[
            ("STUDIO_EMBEDDER__KIND", "hashing"),
            ("STUDIO_EMBEDDER__DIMENSION", "16"),
        ],
        "the dogs ran\n",
    ));
    let again = vectors(&embed(
        &[
            ("STUDIO_EMBEDDER__KIND", "hashing"),
            ("STUDIO_EMBEDDER__DIMENSION", "16"),
        ],
        "the dogs ran\n",
    ));
    assert_eq!(once[0].0, "hashing-16");
    assert_eq!(once[0].2, again[0].2);
    for (env, says) in [
        (vec![("STUDIO_EMBEDDER__KIND", "word2vec")], "embedder.kind"),
        (vec![("STUDIO_EMBEDDER__KIND", "openai")], "embedder.url"),
        (vec![("STUDIO_EMBEDDER__BATCH", "0")], "embedder.batch"),
    ] {
        let output = embed(&env, "x\n");
        assert_eq!(output.status.code(), Some(2), "{env:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{env:?}: {stderr}");
    }
}
