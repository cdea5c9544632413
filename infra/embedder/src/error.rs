use thiserror::Error;

#[derive(Debug, Error)]
pub enum EmbedError {
    /// The model cannot be used: files missing or unreadable, a setting
    /// out of range. Not retryable.
    #[error("embedding model: {0}")]
    Model(String),
    /// The embedding service did not answer, or answered that it is busy:
    /// retryable.
    #[error("embedding service unavailable: {0}")]
    Unavailable(String),
    /// The embedding service answered something that is not a valid
    /// answer (wrong count, wrong dimension, not numbers).
    #[error("embedding service answered badly: {0}")]
    BadAnswer(String),
    /// The computation itself failed.
    #[error("embedding failed: {0}")]
    Failed(String),
}

impl EmbedError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}
