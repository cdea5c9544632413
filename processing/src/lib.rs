//! Document processing, driven by events. A [`Processor`] tails the log;
//! each upload (or restart) of a document starts a job that moves the
//! document through its stages (text extracted, analysed, characters
//! detected, interactions recorded, completed), each recorded as an event
//! of the document by a command of the pipeline's own. Heavy work (parsing,
//! analysis) runs on the blocking pool, within a time limit.
//!
//! Every command carries an id derived from the document, its processing
//! run and the step, so a step done twice (a retry, a redelivery, a
//! restart after a crash) records once. A step that fails for a reason
//! that will not go away (a corrupt file) records the failure at once; a
//! step that fails for a passing reason (a store out of reach) is retried
//! with backoff, then recorded as a retryable failure.

mod cast;
mod checkpoint;
mod driver;
mod pipeline;
mod steps;

pub use cast::{Cast, KnownCharacter, choose_cast, detected_character_id, interactions};
pub use checkpoint::{CheckpointStore, SqliteCheckpoints};
pub use driver::Processor;
pub use pipeline::{Pipeline, PipelineConfig, PipelineError};
