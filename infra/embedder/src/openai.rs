//! Any OpenAI-compatible `/v1/embeddings` endpoint: OpenAI itself, or
//! Ollama, vLLM, llama.cpp's server, text-embeddings-inference. Texts go
//! in requests of at most `batch` inputs; busy or failing answers (429,
//! 5xx, a dropped connection) are retried with backoff; every answer is
//! checked (one vector per input, the configured dimension, numbers).

use std::time::Duration;

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use serde::{Deserialize, Serialize};

use crate::{EmbedError, Embedder, normalized};

#[derive(Clone, Debug)]
pub struct OpenAiConfig {
    /// Up to and including `/v1`, e.g. `http://127.0.0.1:11434/v1`.
    pub base_url: String,
    /// Sent as a bearer token when set.
    pub api_key: Option<String>,
    pub model: String,
    pub dimension: usize,
    /// Inputs per request.
    pub batch: usize,
    pub timeout: Duration,
}

pub struct OpenAiEmbedder {
    config: OpenAiConfig,
    url: reqwest::Url,
    client: reqwest::Client,
    model: String,
}

impl std::fmt::Debug for OpenAiEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("OpenAiEmbedder")
            .field("url", &self.url.as_str())
            .field("model", &self.config.model)
            .field("dimension", &self.config.dimension)
            .finish()
    }
}

#[derive(Serialize)]
struct EmbeddingsRequest<'a> {
    model: &'a str,
    input: &'a [String],
    encoding_format: &'static str,
}

#[derive(Deserialize)]
struct EmbeddingsResponse {
    data: Vec<Embedding>,
}

#[derive(Deserialize)]
struct Embedding {
    index: usize,
    embedding: Vec<f32>,
}

impl OpenAiEmbedder {
    pub fn new(config: OpenAiConfig) -> Result<Self, EmbedError> {
        let base = reqwest::Url::parse(config.base_url.trim_end_matches('/'))
            .map_err(|e| EmbedError::Model(format!("embedder url {:?}: {e}", config.base_url)))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(EmbedError::Model(format!(
                "embedder url {:?}: only http and https are supported",
                config.base_url
            )));
        }
        let url = reqwest::Url::parse(&format!("{base}/embeddings"))
            .map_err(|e| EmbedError::Model(format!("embedder url {:?}: {e}", config.base_url)))?;
        if config.model.trim().is_empty() {
            return Err(EmbedError::Model(
                "the embedder's model name is empty".into(),
            ));
        }
        if config.dimension == 0 || config.batch == 0 {
            return Err(EmbedError::Model(
                "the embedder's dimension and batch must be at least 1".into(),
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| EmbedError::Model(format!("HTTP client: {e}")))?;
        Ok(Self {
            model: format!("openai:{}", config.model),
            config,
            url,
            client,
        })
    }

    async fn request(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut request = self.client.post(self.url.clone()).json(&EmbeddingsRequest {
            model: &self.config.model,
            input: texts,
            encoding_format: "float",
        });
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key);
        }
        let response = request
            .send()
            .await
            .map_err(|e| EmbedError::Unavailable(format!("{}: {e}", self.url)))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            let snippet: String = body.chars().take(300).collect();
            let message = format!("{} answered {status}: {snippet}", self.url);
            return Err(
                if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                    EmbedError::Unavailable(message)
                } else {
                    EmbedError::BadAnswer(message)
                },
            );
        }
        let body: EmbeddingsResponse = response
            .json()
            .await
            .map_err(|e| EmbedError::BadAnswer(format!("{}: {e}", self.url)))?;
        self.check(texts.len(), body)
    }

    /// The answer's vectors in input order, or why they cannot be used.
    fn check(&self, inputs: usize, body: EmbeddingsResponse) -> Result<Vec<Vec<f32>>, EmbedError> {
        if body.data.len() != inputs {
            return Err(EmbedError::BadAnswer(format!(
                "{} vectors for {inputs} inputs",
                body.data.len()
            )));
        }
        let mut vectors: Vec<Option<Vec<f32>>> = vec![None; inputs];
        for item in body.data {
            if item.embedding.len() != self.config.dimension {
                return Err(EmbedError::BadAnswer(format!(
                    "a vector of {} dimensions; the embedder is configured for {}",
                    item.embedding.len(),
                    self.config.dimension
                )));
            }
            if item.embedding.iter().any(|x| !x.is_finite()) {
                return Err(EmbedError::BadAnswer(
                    "a vector holds NaN or infinity".into(),
                ));
            }
            match vectors.get_mut(item.index) {
                Some(slot @ None) => *slot = Some(normalized(item.embedding)),
                _ => {
                    return Err(EmbedError::BadAnswer(format!(
                        "index {} is out of range or repeated",
                        item.index
                    )));
                }
            }
        }
        Ok(vectors.into_iter().flatten().collect())
    }
}

#[async_trait]
impl Embedder for OpenAiEmbedder {
    fn model(&self) -> &str {
        &self.model
    }

    fn dimension(&self) -> usize {
        self.config.dimension
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut vectors = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(self.config.batch) {
            let answer = (|| self.request(chunk))
                .retry(
                    ExponentialBuilder::default()
                        .with_min_delay(Duration::from_millis(200))
                        .with_max_times(4),
                )
                .when(EmbedError::is_retryable)
                .notify(|e, after| tracing::warn!(error = %e, ?after, "embedding again"))
                .await?;
            vectors.extend(answer);
        }
        Ok(vectors)
    }
}
