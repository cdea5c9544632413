//! all-MiniLM-L6-v2 in-process: the BERT encoder of candle over the
//! model folder's `model.safetensors`, the `tokenizers` crate over its
//! `tokenizer.json`, then what the folder's sentence-transformers
//! settings say: texts truncated to `max_seq_length` word pieces (256),
//! mean pooling over the real tokens, L2 normalisation. It matches
//! sentence-transformers to a cosine of at least 0.999 (the reference
//! test).
//!
//! Inference runs in tokio's blocking pool, a batch at a time; texts are
//! sorted by length first so that a batch pads little.

mod model;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use studio_embedder::{EmbedError, Embedder};

pub use model::MODEL_NAME;
use model::Model;

/// Texts run through the encoder at once. Measured on two cores (the
/// throughput benchmark): 8 is as fast as 1, and 32 or 64 are slower (the
/// longest text of a batch sets everyone's padding, and the attention
/// matrices outgrow the caches).
pub const DEFAULT_BATCH: usize = 8;

#[derive(Clone)]
pub struct MiniLmEmbedder {
    model: Arc<Model>,
    batch: usize,
}

impl MiniLmEmbedder {
    /// Loads the model from its folder (as `infra/fetch-model.sh` leaves
    /// it). Reads about 90 MB; call it from a blocking context or once at
    /// start.
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        Ok(Self {
            model: Arc::new(Model::load(dir)?),
            batch: DEFAULT_BATCH,
        })
    }

    pub fn with_batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }
}

#[async_trait]
impl Embedder for MiniLmEmbedder {
    fn model(&self) -> &str {
        MODEL_NAME
    }

    fn dimension(&self) -> usize {
        self.model.dimension()
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let (model, batch, texts) = (self.model.clone(), self.batch, texts.to_vec());
        tokio::task::spawn_blocking(move || model.embed(&texts, batch))
            .await
            .map_err(|e| EmbedError::Failed(format!("the embedding task stopped: {e}")))?
    }
}
