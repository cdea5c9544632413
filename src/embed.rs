//! The embedder the configuration names, and `studio embed`: texts to
//! vectors from the command line, to check a model or an endpoint.

use std::io::BufRead;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use studio_embedder::{Embedder, HashingEmbedder, OpenAiConfig, OpenAiEmbedder};
use studio_embedder_minilm::MiniLmEmbedder;

use crate::config::Settings;

/// Builds the configured embedder. The local model is loaded (about 90
/// MB read) in the blocking pool.
pub async fn embedder(settings: &Settings) -> anyhow::Result<Arc<dyn Embedder>> {
    let e = &settings.embedder;
    Ok(match e.kind.as_str() {
        "minilm" => {
            let (dir, batch) = (settings.minilm_dir(), e.batch);
            let model = tokio::task::spawn_blocking(move || MiniLmEmbedder::load(&dir))
                .await
                .context("loading the embedding model")??;
            Arc::new(model.with_batch(batch))
        }
        "hashing" => Arc::new(HashingEmbedder::new(e.dimension.unwrap_or(384))?),
        _ => Arc::new(OpenAiEmbedder::new(OpenAiConfig {
            base_url: e.url.clone().unwrap_or_default(),
            api_key: e.api_key.clone(),
            model: e.model.clone().unwrap_or_default(),
            dimension: e.dimension.unwrap_or_default(),
            batch: e.batch,
            timeout: Duration::from_millis(e.timeout_ms),
        })?),
    })
}

/// Prints one JSON line per text: `{"model", "text", "vector"}`. Texts
/// come from the arguments, or one a line from standard input.
pub async fn run(settings: &Settings, texts: Vec<String>) -> anyhow::Result<()> {
    let texts = if texts.is_empty() {
        std::io::stdin()
            .lock()
            .lines()
            .collect::<Result<Vec<_>, _>>()
            .context("reading standard input")?
    } else {
        texts
    };
    let embedder = embedder(settings).await?;
    let vectors = embedder.embed(&texts).await?;
    for (text, vector) in texts.iter().zip(vectors) {
        let line = serde_json::json!({
            "model": embedder.model(),
            "text": text,
            "vector": vector,
        });
        println!("{line}");
    }
    Ok(())
}
