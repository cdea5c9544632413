//! Where the log lives and how its clients behave.

use std::time::Duration;

use rdkafka::ClientConfig;

/// The Kafka event log's settings.
#[derive(Clone, Debug)]
pub struct KafkaConfig {
    /// `host:port[,host:port...]`.
    pub brokers: String,
    /// Topics are `<prefix>.events`, `<prefix>.requests` and
    /// `<prefix>.replies`; the processors' consumer group is
    /// `<prefix>.command-processors`.
    pub topic_prefix: String,
    /// Partitions of the events and requests topics (fixed at creation).
    pub partitions: u32,
    /// Partitions of the replies topic: each client reads one.
    pub reply_partitions: u32,
    /// Replication factor of topics `studio` creates.
    pub replication_factor: i32,
    /// How long a client waits for a command processor's answer.
    pub request_timeout: Duration,
}

impl KafkaConfig {
    pub fn new(
        brokers: impl Into<String>,
        topic_prefix: impl Into<String>,
        partitions: u32,
    ) -> Self {
        Self {
            brokers: brokers.into(),
            topic_prefix: topic_prefix.into(),
            partitions,
            reply_partitions: 8,
            replication_factor: 1,
            request_timeout: Duration::from_secs(10),
        }
    }

    pub fn events_topic(&self) -> String {
        format!("{}.events", self.topic_prefix)
    }

    pub fn requests_topic(&self) -> String {
        format!("{}.requests", self.topic_prefix)
    }

    pub fn replies_topic(&self) -> String {
        format!("{}.replies", self.topic_prefix)
    }

    pub fn processor_group(&self) -> String {
        format!("{}.command-processors", self.topic_prefix)
    }

    /// The `transactional.id` of the producer that owns a partition: the
    /// next owner's `init_transactions` fences the previous one.
    pub fn transactional_id(&self, partition: u32) -> String {
        format!("{}.command-processor.{partition}", self.topic_prefix)
    }

    /// What every client shares: where the brokers are, and how long
    /// anything may take before it is reported as unavailable.
    pub(crate) fn client(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        let timeout = self.request_timeout.as_millis().to_string();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("socket.timeout.ms", &timeout)
            // Small requests and replies go out at once instead of
            // waiting for the previous segment's ACK (Nagle).
            .set("socket.nagle.disable", "true")
            .set("log_level", "4");
        config
    }

    /// A reader of committed records only, assigned partitions by hand.
    pub(crate) fn reader(&self) -> ClientConfig {
        let mut config = self.client();
        config
            .set("group.id", format!("{}.readers", self.topic_prefix))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("isolation.level", "read_committed")
            .set("enable.partition.eof", "true")
            .set("fetch.wait.max.ms", "10");
        config
    }
}
