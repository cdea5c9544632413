use rdkafka::client::ClientContext;
use rdkafka::consumer::{ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use studio_event_log::LogError;

/// A broker that cannot be reached, or refuses, is a passing condition:
/// the caller may retry.
pub(crate) fn unavailable(what: &str, e: KafkaError) -> LogError {
    LogError::Unavailable(format!("{what}: {e}"))
}

/// A consumer reading the log by hand (assigned partitions, no group).
pub(crate) type Reader = StreamConsumer<Quiet>;

/// librdkafka reports reaching a partition's end through its error
/// callback too, which would log every caught-up read as an error: that is
/// news to the reader (it gets it from `recv`), not to the operator.
pub(crate) struct Quiet;

impl ClientContext for Quiet {
    fn error(&self, error: KafkaError, reason: &str) {
        let at_end = matches!(
            error,
            KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF)
        );
        if !at_end {
            tracing::warn!(%error, reason, "Kafka client");
        }
    }
}

impl ConsumerContext for Quiet {}
