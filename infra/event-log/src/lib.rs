//! The event log: the system of record.
//!
//! Every event travels in one envelope (CloudEvents 1.0, structured JSON,
//! hash-chained per stream). Aggregates are hashed into partitions exactly as
//! Kafka's default partitioner does, and a position is (partition, offset),
//! so projectors and read-your-writes tokens never care which adapter is
//! underneath. [`EventLog`] is the port; [`sqlite::SqliteEventLog`] is the
//! embedded adapter.

mod append_check;
pub mod audit;
#[cfg(feature = "conformance")]
pub mod conformance;
mod envelope;
mod error;
mod partition;
mod port;
mod position;
mod read_ahead;
pub mod sqlite;
mod subset;
mod to_the_end;

pub use append_check::check_append;
pub use envelope::{
    EnvelopeError, EventEnvelope, GENESIS_HASH, NewEvent, SPEC_VERSION, StreamHeader, envelope_hash,
};
pub use error::LogError;
pub use partition::{murmur2, partition_for};
pub use port::{AppendOutcome, AppendRequest, EventLog, LogCursor, StoredEvent};
pub use position::{Position, PositionToken, PositionTokenError};
pub use read_ahead::{ReadAhead, ReadBatch};
pub use subset::SubsetCursor;
pub use to_the_end::ToTheEnd;
