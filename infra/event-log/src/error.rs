use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// Someone appended to the stream since the caller read it. Nothing was
    /// written; re-read and decide again.
    #[error("stream {aggregate_id} is at version {actual}, not the expected {expected}")]
    Conflict {
        aggregate_id: Uuid,
        expected: u64,
        actual: u64,
    },
    /// The append itself is malformed (wrong sequences, broken chain, ...):
    /// a bug in the caller, never retried.
    #[error("refused append: {0}")]
    InvalidAppend(String),
    /// The command id was already used for a different stream.
    #[error("command {0} was already used for another aggregate")]
    CommandIdReused(Uuid),
    /// This process opened the log to read it only.
    #[error("this process opened the event log read-only")]
    ReadOnly,
    /// The log cannot be reached or is shutting down; safe to retry.
    #[error("the event log is unavailable: {0}")]
    Unavailable(String),
    /// Stored data that does not parse or does not fit together.
    #[error("corrupt event log: {0}")]
    Corrupt(String),
    #[error("event log storage failed: {0}")]
    Storage(#[from] sqlx::Error),
}

impl LogError {
    /// Whether retrying the same request may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Storage(_))
    }
}
