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

/// A partition's low and high watermarks. Blocks (call it off the async
/// workers). A partition just created, or whose broker just restarted, may
/// answer "not leader" for a moment: asked again for up to `timeout`.
pub(crate) fn watermarks(
    consumer: &impl rdkafka::consumer::Consumer<Quiet>,
    topic: &str,
    partition: i32,
    timeout: std::time::Duration,
) -> Result<(i64, i64), KafkaError> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match consumer.fetch_watermarks(topic, partition, timeout) {
            Err(e) if std::time::Instant::now() < deadline && passing(&e) => {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            found => return found,
        }
    }
}

fn passing(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::NotLeaderForPartition
                | RDKafkaErrorCode::LeaderNotAvailable
                | RDKafkaErrorCode::UnknownTopicOrPartition
                | RDKafkaErrorCode::NotCoordinator
                | RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
        )
    )
}
