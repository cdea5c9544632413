use rdkafka::error::KafkaError;
use studio_event_log::LogError;

/// A broker that cannot be reached, or refuses, is a passing condition:
/// the caller may retry.
pub(crate) fn unavailable(what: &str, e: KafkaError) -> LogError {
    LogError::Unavailable(format!("{what}: {e}"))
}
