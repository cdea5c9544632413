//! The embedder port: texts in, one unit-length vector per text out. The
//! vector read model and search depend on this trait only; which model
//! runs is the composition root's choice.
//!
//! Adapters: all-MiniLM-L6-v2 in-process (`studio-embedder-minilm`), any
//! OpenAI-compatible `/v1/embeddings` endpoint ([`OpenAiEmbedder`]), and a
//! deterministic hashing embedder ([`HashingEmbedder`]) that runs only
//! when configured: it is never a silent fallback for a missing model.

mod error;
mod hashing;
mod openai;
mod vector;

#[cfg(feature = "conformance")]
pub mod conformance;

use async_trait::async_trait;

pub use error::EmbedError;
pub use hashing::HashingEmbedder;
pub use openai::{OpenAiConfig, OpenAiEmbedder};
pub use vector::{cosine, normalized};

#[async_trait]
pub trait Embedder: Send + Sync {
    /// What makes the vectors, e.g. `all-MiniLM-L6-v2` or
    /// `openai:nomic-embed-text`: stored beside the vectors, so that
    /// vectors of two models are never compared.
    fn model(&self) -> &str;

    /// The length of every vector.
    fn dimension(&self) -> usize;

    /// One vector per text, in the order given, each of length
    /// [`dimension`](Self::dimension) and unit norm (a text with nothing
    /// to embed gets the zero vector). Never blocks the async executor.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;
}
