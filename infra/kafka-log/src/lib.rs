//! The event log on Apache Kafka.
//!
//! Kafka has no conditional append, so the guarantees of the `EventLog`
//! port (expected versions, idempotent command ids, contiguous sequences
//! and hash chains) are kept by command processors: each partition of the
//! log has one owner at a time, the only writer of its events, which
//! checks every append against the streams it holds and writes the events,
//! the reply and the consumed request offset in one transaction. Clients
//! (`KafkaEventLog`) send appends, stream reads and outcome lookups as
//! requests to the owner of the aggregate's partition and wait for the
//! reply; they read the log itself straight from the events topic.
//!
//! Readers that split the partitions between them (projectors of one read
//! model) join a group with `SharedPartitions`.
//!
//! Topics (`<prefix>.`): `events` (kept forever, keyed by aggregate id,
//! CloudEvents JSON with `ce_*` headers), `requests` (keyed by aggregate
//! id, as many partitions as `events`), `replies` (each client reads one
//! partition).

mod blocking;
mod client;
mod config;
mod cursor;
mod error;
mod group;
mod processor;
mod record;
mod topics;
mod wire;

pub use client::KafkaEventLog;
pub use config::KafkaConfig;
pub use cursor::KafkaCursor;
pub use group::SharedPartitions;
pub use processor::CommandProcessor;
pub use topics::ensure_topics;
