//! Documents: uploaded books and manuscripts. The bytes live in the blob
//! store; events carry only their description and a content address. The
//! processing pipeline records each stage of its work on the document
//! (`processing`).

pub mod processing;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use self::processing::{
    CharactersDetected, DetectedCharacter, DocumentAnalysed, Interaction, InteractionsRecorded,
    Processing, ProcessingCompleted, ProcessingFailed, ProcessingRestarted, Stage, Step,
    TextExtracted,
};
use crate::aggregate::eventually_aggregate;
use crate::legacy::{self, LegacyImported};
use crate::{
    Actor, AggregateType, DocumentId, DomainAggregate, DomainError, DomainEvent, UserId, rules,
};

const KIND: AggregateType = AggregateType::Document;

#[derive(Clone, Debug, PartialEq)]
pub enum DocumentCommand {
    Upload(UploadDocument),
    Rename {
        actor: Actor,
        title: String,
    },
    Delete {
        actor: Actor,
    },
    /// Uploads a document from a legacy row and records the row whole
    /// beside it. Only admins import.
    Import {
        upload: UploadDocument,
        legacy: LegacyImported,
    },
    RecordTextExtracted {
        actor: Actor,
        text: TextExtracted,
    },
    RecordAnalysis {
        actor: Actor,
        analysis: DocumentAnalysed,
    },
    RecordCharacters {
        actor: Actor,
        characters: Vec<DetectedCharacter>,
    },
    RecordInteractions {
        actor: Actor,
        interactions: Vec<Interaction>,
    },
    CompleteProcessing {
        actor: Actor,
        at: DateTime<Utc>,
    },
    FailProcessing {
        actor: Actor,
        failure: ProcessingFailed,
    },
    /// Starts processing again from the beginning after a failure.
    RestartProcessing {
        actor: Actor,
        at: DateTime<Utc>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct UploadDocument {
    pub actor: Actor,
    pub owner: UserId,
    pub title: String,
    pub original_filename: String,
    pub media_type: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub blob_ref: String,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum DocumentEvent {
    #[serde(rename = "studio.document.uploaded.v1")]
    Uploaded(DocumentUploaded),
    #[serde(rename = "studio.document.renamed.v1")]
    Renamed(DocumentRenamed),
    #[serde(rename = "studio.document.deleted.v1")]
    Deleted(DocumentDeleted),
    #[serde(rename = "studio.document.text_extracted.v1")]
    TextExtracted(TextExtracted),
    #[serde(rename = "studio.document.analysed.v1")]
    Analysed(DocumentAnalysed),
    #[serde(rename = "studio.document.characters_detected.v1")]
    CharactersDetected(CharactersDetected),
    #[serde(rename = "studio.document.interactions_recorded.v1")]
    InteractionsRecorded(InteractionsRecorded),
    #[serde(rename = "studio.document.processing_completed.v1")]
    ProcessingCompleted(ProcessingCompleted),
    #[serde(rename = "studio.document.processing_failed.v1")]
    ProcessingFailed(ProcessingFailed),
    #[serde(rename = "studio.document.processing_restarted.v1")]
    ProcessingRestarted(ProcessingRestarted),
    #[serde(rename = "studio.document.legacy_imported.v1")]
    LegacyImported(LegacyImported),
}

impl DomainEvent for DocumentEvent {
    const TYPES: &'static [&'static str] = &[
        "studio.document.uploaded.v1",
        "studio.document.renamed.v1",
        "studio.document.deleted.v1",
        "studio.document.text_extracted.v1",
        "studio.document.analysed.v1",
        "studio.document.characters_detected.v1",
        "studio.document.interactions_recorded.v1",
        "studio.document.processing_completed.v1",
        "studio.document.processing_failed.v1",
        "studio.document.processing_restarted.v1",
        "studio.document.legacy_imported.v1",
    ];
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentUploaded {
    pub owner: UserId,
    pub title: String,
    pub original_filename: String,
    pub media_type: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub blob_ref: String,
    pub uploaded_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentRenamed {
    pub title: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentDeleted {}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(tag = "status", content = "document", rename_all = "snake_case")]
pub enum DocumentState {
    #[default]
    Absent,
    Active(Document),
    Deleted(Document),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Document {
    pub owner: UserId,
    pub title: String,
    pub original_filename: String,
    pub media_type: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub blob_ref: String,
    pub processing: Processing,
}

impl DocumentState {
    /// The live document, if the actor may see it; a deleted or foreign
    /// document answers as the corresponding error.
    pub fn accessible(&self, actor: &Actor) -> Result<&Document, DomainError> {
        match self {
            Self::Active(doc) if actor.may_access(doc.owner) => Ok(doc),
            Self::Deleted(doc) if actor.may_access(doc.owner) => Err(DomainError::Deleted(KIND)),
            _ => Err(DomainError::NotFound(KIND)),
        }
    }
}

fn writable<'a>(state: &'a DocumentState, actor: &Actor) -> Result<&'a Document, DomainError> {
    let doc = state.accessible(actor)?;
    if actor.may_write() {
        Ok(doc)
    } else {
        Err(DomainError::Forbidden("viewers cannot change documents"))
    }
}

fn uploaded(state: &DocumentState, upload: UploadDocument) -> Result<DocumentEvent, DomainError> {
    if *state != DocumentState::Absent {
        return Err(DomainError::AlreadyExists(KIND));
    }
    if !upload.actor.may_write() {
        return Err(DomainError::Forbidden("viewers cannot upload documents"));
    }
    if !upload.actor.may_access(upload.owner) {
        return Err(DomainError::Forbidden(
            "only admins upload on behalf of others",
        ));
    }
    if upload.size_bytes == 0 {
        return Err(DomainError::invalid("file", "is empty"));
    }
    Ok(DocumentEvent::Uploaded(DocumentUploaded {
        owner: upload.owner,
        title: rules::title(&upload.title)?,
        original_filename: rules::filename(&upload.original_filename)?,
        media_type: rules::media_type(&upload.media_type)?,
        size_bytes: upload.size_bytes,
        sha256: rules::sha256_hex(&upload.sha256)?,
        blob_ref: rules::blob_ref(&upload.blob_ref)?,
        uploaded_at: upload.at,
    }))
}

pub fn decide(
    state: &DocumentState,
    command: DocumentCommand,
) -> Result<Vec<DocumentEvent>, DomainError> {
    match command {
        DocumentCommand::Upload(upload) => uploaded(state, upload).map(|e| vec![e]),
        DocumentCommand::Import { upload, legacy } => {
            if !upload.actor.is_admin() {
                return Err(DomainError::Forbidden("only admins import legacy data"));
            }
            legacy::check(&legacy)?;
            let uploaded = uploaded(state, upload)?;
            Ok(vec![uploaded, DocumentEvent::LegacyImported(legacy)])
        }
        DocumentCommand::Rename { actor, title } => {
            let doc = writable(state, &actor)?;
            let title = rules::title(&title)?;
            if title == doc.title {
                return Ok(vec![]);
            }
            Ok(vec![DocumentEvent::Renamed(DocumentRenamed { title })])
        }
        DocumentCommand::Delete { actor } => {
            writable(state, &actor)?;
            Ok(vec![DocumentEvent::Deleted(DocumentDeleted {})])
        }
        DocumentCommand::RecordTextExtracted { actor, text } => {
            if !recording(state, &actor, Step::ExtractText)? {
                return Ok(vec![]);
            }
            processing::check_text(&text)?;
            Ok(vec![DocumentEvent::TextExtracted(TextExtracted {
                text_sha256: text.text_sha256.to_ascii_lowercase(),
                ..text
            })])
        }
        DocumentCommand::RecordAnalysis { actor, analysis } => {
            if !recording(state, &actor, Step::Analyse)? {
                return Ok(vec![]);
            }
            processing::check_analysis(&analysis)?;
            Ok(vec![DocumentEvent::Analysed(analysis)])
        }
        DocumentCommand::RecordCharacters { actor, characters } => {
            if !recording(state, &actor, Step::DetectCharacters)? {
                return Ok(vec![]);
            }
            processing::check_characters(&characters)?;
            let characters = characters
                .into_iter()
                .map(|c| DetectedCharacter {
                    name: c.name.split_whitespace().collect::<Vec<_>>().join(" "),
                    ..c
                })
                .collect();
            Ok(vec![DocumentEvent::CharactersDetected(
                CharactersDetected { characters },
            )])
        }
        DocumentCommand::RecordInteractions {
            actor,
            interactions,
        } => {
            if !recording(state, &actor, Step::RecordInteractions)? {
                return Ok(vec![]);
            }
            let doc = writable(state, &actor)?;
            processing::check_interactions(&doc.processing, &interactions)?;
            Ok(vec![DocumentEvent::InteractionsRecorded(
                InteractionsRecorded { interactions },
            )])
        }
        DocumentCommand::CompleteProcessing { actor, at } => {
            if !recording(state, &actor, Step::Complete)? {
                return Ok(vec![]);
            }
            Ok(vec![DocumentEvent::ProcessingCompleted(
                ProcessingCompleted { completed_at: at },
            )])
        }
        DocumentCommand::FailProcessing { actor, failure } => {
            processing::pipeline_only(&actor)?;
            let doc = writable(state, &actor)?;
            // A failure of a step that is no longer due (done meanwhile, or
            // already failed) changes nothing.
            if doc.processing.failure.is_some() || doc.processing.stage != failure.step.from_stage()
            {
                return Ok(vec![]);
            }
            let reason = processing::check_failure(&failure)?;
            Ok(vec![DocumentEvent::ProcessingFailed(ProcessingFailed {
                reason,
                ..failure
            })])
        }
        DocumentCommand::RestartProcessing { actor, at } => {
            let doc = writable(state, &actor)?;
            if doc.processing.failure.is_none() {
                return Err(DomainError::invalid(
                    "stage",
                    "only failed processing is restarted",
                ));
            }
            Ok(vec![DocumentEvent::ProcessingRestarted(
                ProcessingRestarted { restarted_at: at },
            )])
        }
    }
}

/// Checks that the pipeline may record `step` on a live document: true to
/// record it, false when it was recorded already.
fn recording(state: &DocumentState, actor: &Actor, step: Step) -> Result<bool, DomainError> {
    processing::pipeline_only(actor)?;
    let doc = writable(state, actor)?;
    processing::due(&doc.processing, step)
}

/// Moves a live document's processing on.
fn advance(doc: Document, change: impl FnOnce(&mut Processing)) -> DocumentState {
    let mut doc = doc;
    change(&mut doc.processing);
    DocumentState::Active(doc)
}

pub fn evolve(state: DocumentState, event: DocumentEvent) -> Result<DocumentState, DomainError> {
    match (state, event) {
        (DocumentState::Absent, DocumentEvent::Uploaded(e)) => {
            Ok(DocumentState::Active(Document {
                owner: e.owner,
                title: e.title,
                original_filename: e.original_filename,
                media_type: e.media_type,
                size_bytes: e.size_bytes,
                sha256: e.sha256,
                blob_ref: e.blob_ref,
                processing: Processing::default(),
            }))
        }
        (DocumentState::Active(doc), DocumentEvent::Renamed(e)) => {
            Ok(DocumentState::Active(Document {
                title: e.title,
                ..doc
            }))
        }
        (DocumentState::Active(doc), DocumentEvent::Deleted(_)) => Ok(DocumentState::Deleted(doc)),
        // Provenance only: nothing a decision depends on.
        (DocumentState::Active(doc), DocumentEvent::LegacyImported(_)) => {
            Ok(DocumentState::Active(doc))
        }
        (DocumentState::Active(doc), DocumentEvent::TextExtracted(e))
            if doc.processing.stage == Stage::Uploaded =>
        {
            Ok(advance(doc, |p| {
                p.stage = Stage::TextExtracted;
                p.text = Some(e);
            }))
        }
        (DocumentState::Active(doc), DocumentEvent::Analysed(e))
            if doc.processing.stage == Stage::TextExtracted =>
        {
            Ok(advance(doc, |p| {
                p.stage = Stage::Analysed;
                p.analysis = Some(e);
            }))
        }
        (DocumentState::Active(doc), DocumentEvent::CharactersDetected(e))
            if doc.processing.stage == Stage::Analysed =>
        {
            Ok(advance(doc, |p| {
                p.stage = Stage::CharactersDetected;
                p.characters = e.characters;
            }))
        }
        (DocumentState::Active(doc), DocumentEvent::InteractionsRecorded(e))
            if doc.processing.stage == Stage::CharactersDetected =>
        {
            Ok(advance(doc, |p| {
                p.stage = Stage::InteractionsRecorded;
                p.interactions = e.interactions;
            }))
        }
        (DocumentState::Active(doc), DocumentEvent::ProcessingCompleted(_))
            if doc.processing.stage == Stage::InteractionsRecorded =>
        {
            Ok(advance(doc, |p| p.stage = Stage::Completed))
        }
        (DocumentState::Active(doc), DocumentEvent::ProcessingFailed(e)) => {
            Ok(advance(doc, |p| p.failure = Some(e)))
        }
        (DocumentState::Active(doc), DocumentEvent::ProcessingRestarted(_))
            if doc.processing.failure.is_some() =>
        {
            Ok(advance(doc, |p| {
                *p = Processing {
                    run: p.run + 1,
                    ..Processing::default()
                }
            }))
        }
        (state, event) => Err(DomainError::CorruptHistory(format!(
            "{} does not apply to a document in state {}",
            event.event_type(),
            state.label()
        ))),
    }
}

impl DocumentState {
    fn label(&self) -> &'static str {
        match self {
            Self::Absent => "absent",
            Self::Active(_) => "active",
            Self::Deleted(_) => "deleted",
        }
    }
}

/// The document aggregate.
#[derive(Clone, Copy, Debug, Default)]
pub struct DocumentAggregate;

eventually_aggregate!(
    DocumentAggregate,
    id = DocumentId,
    state = DocumentState,
    command = DocumentCommand,
    event = DocumentEvent
);

impl DomainAggregate for DocumentAggregate {
    const TYPE: AggregateType = KIND;

    fn decide(
        state: &DocumentState,
        command: DocumentCommand,
    ) -> Result<Vec<DocumentEvent>, DomainError> {
        decide(state, command)
    }

    fn owner(_id: &DocumentId, state: &DocumentState) -> Option<UserId> {
        match state {
            DocumentState::Absent => None,
            DocumentState::Active(doc) | DocumentState::Deleted(doc) => Some(doc.owner),
        }
    }
}
