//! One document's way through processing: load it, run the step its stage
//! calls for, record the result, until it is completed or has failed.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use studio_blob_store::BlobStore;
use studio_command_api::{CommandError, CommandMeta, CommandService};
use studio_domain::document::processing::{ProcessingFailed, Step};
use studio_domain::document::{Document, DocumentAggregate, DocumentCommand, DocumentState};
use studio_domain::{Actor, DocumentId, DomainError};
use studio_extract::Limits;
use studio_projections::{ProgressFeed, ReadModel};
use uuid::Uuid;

use crate::steps::{self, StepError};

#[derive(Clone, Debug)]
pub struct PipelineConfig {
    pub limits: Limits,
    /// Longest a parsing or analysing step may run.
    pub step_timeout: Duration,
    /// Tries of a step that fails for a passing reason before the failure
    /// is recorded (as retryable).
    pub max_attempts: u32,
    /// First and largest pause between tries.
    pub retry_backoff: (Duration, Duration),
    /// Characters mentioned fewer times are left out of the cast.
    pub min_mentions: usize,
    /// How long to wait for the read model before joining detected
    /// characters to the owner's.
    pub read_wait: Duration,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            step_timeout: Duration::from_secs(120),
            max_attempts: 5,
            retry_backoff: (Duration::from_millis(200), Duration::from_secs(10)),
            min_mentions: 2,
            read_wait: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("recording a processing result failed: {0}")]
    Command(#[from] CommandError),
}

/// What the pipeline works with: the command side, blobs, and the read
/// model (to find the owner's characters by name).
pub struct Pipeline {
    pub(crate) service: Arc<CommandService>,
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) read: Arc<dyn ReadModel>,
    pub(crate) progress: Arc<dyn ProgressFeed>,
    pub(crate) config: PipelineConfig,
}

/// The actor the envelope records for the pipeline's commands.
const SYSTEM: &str = "system";

impl Pipeline {
    pub fn new(
        service: Arc<CommandService>,
        blobs: Arc<dyn BlobStore>,
        read: Arc<dyn ReadModel>,
        progress: Arc<dyn ProgressFeed>,
        config: PipelineConfig,
    ) -> Self {
        Self {
            service,
            blobs,
            read,
            progress,
            config,
        }
    }

    /// Moves the document through every stage still to do. Returns once it
    /// is completed, failed (the failure recorded), deleted or gone.
    pub async fn process(&self, document: DocumentId) -> Result<(), PipelineError> {
        loop {
            let loaded = self
                .service
                .load::<DocumentAggregate>(document.into())
                .await?;
            let DocumentState::Active(doc) = loaded.state.state else {
                return Ok(());
            };
            if doc.processing.failure.is_some() {
                return Ok(());
            }
            let Some(step) = doc.processing.stage.next_step() else {
                return Ok(());
            };
            if !self.run(document, &doc, step).await? {
                return Ok(());
            }
        }
    }

    /// Runs one step to its recorded result, retrying passing failures.
    /// False when processing stops here (failed, or the document went).
    async fn run(
        &self,
        document: DocumentId,
        doc: &Document,
        step: Step,
    ) -> Result<bool, PipelineError> {
        let mut backoff = self.config.retry_backoff.0;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = match steps::run(self, document, doc, step).await {
                Ok(command) => self.record(document, doc, step, command).await,
                Err(e) => Err(e),
            };
            match outcome {
                Ok(()) => return Ok(true),
                Err(StepError::Gone) => return Ok(false),
                Err(StepError::Permanent(reason)) => {
                    self.fail(document, doc, step, reason, false, attempt)
                        .await?;
                    return Ok(false);
                }
                Err(StepError::Transient(reason)) if attempt >= self.config.max_attempts => {
                    self.fail(document, doc, step, reason, true, attempt)
                        .await?;
                    return Ok(false);
                }
                Err(StepError::Transient(reason)) => {
                    tracing::warn!(%document, step = step.as_str(), attempt, %reason, "processing step failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.config.retry_backoff.1);
                }
            }
        }
    }

    /// The metadata of a pipeline command: its id derived from the
    /// document, the run and what it does, so a repeat records once.
    pub(crate) fn meta(&self, document: DocumentId, doc: &Document, what: &str) -> CommandMeta {
        let key = format!("run:{}:{what}", doc.processing.run);
        let command_id = Uuid::new_v5(document.as_uuid(), key.as_bytes());
        let mut meta = CommandMeta::new(command_id, SYSTEM.into(), Utc::now());
        meta.correlation_id = *document.as_uuid();
        meta.may_be_retry = true;
        meta
    }

    async fn record(
        &self,
        document: DocumentId,
        doc: &Document,
        step: Step,
        command: DocumentCommand,
    ) -> Result<(), StepError> {
        let meta = self.meta(document, doc, step.as_str());
        self.service
            .execute::<DocumentAggregate>(document, &meta, vec![command])
            .await
            .map(|_| ())
            .map_err(StepError::from_command)
    }

    async fn fail(
        &self,
        document: DocumentId,
        doc: &Document,
        step: Step,
        reason: String,
        retryable: bool,
        attempts: u32,
    ) -> Result<(), PipelineError> {
        tracing::warn!(%document, step = step.as_str(), %reason, retryable, "processing failed");
        let meta = self.meta(document, doc, &format!("{}:failed", step.as_str()));
        let command = DocumentCommand::FailProcessing {
            actor: Actor::System,
            failure: ProcessingFailed {
                step,
                reason,
                retryable,
                attempts,
                failed_at: meta.at,
            },
        };
        match self
            .service
            .execute::<DocumentAggregate>(document, &meta, vec![command])
            .await
        {
            Ok(_) => Ok(()),
            // Deleted meanwhile: nothing left to fail.
            Err(CommandError::Domain(DomainError::Deleted(_) | DomainError::NotFound(_))) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
