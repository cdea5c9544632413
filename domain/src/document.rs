//! Documents: uploaded books and manuscripts. The bytes live in the blob
//! store; events carry only their description and a content address.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::eventually_aggregate;
use crate::{
    Actor, AggregateType, DocumentId, DomainAggregate, DomainError, DomainEvent, UserId, rules,
};

const KIND: AggregateType = AggregateType::Document;

#[derive(Clone, Debug, PartialEq)]
pub enum DocumentCommand {
    Upload(UploadDocument),
    Rename { actor: Actor, title: String },
    Delete { actor: Actor },
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
}

impl DomainEvent for DocumentEvent {
    const TYPES: &'static [&'static str] = &[
        "studio.document.uploaded.v1",
        "studio.document.renamed.v1",
        "studio.document.deleted.v1",
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

pub fn decide(
    state: &DocumentState,
    command: DocumentCommand,
) -> Result<Vec<DocumentEvent>, DomainError> {
    match command {
        DocumentCommand::Upload(upload) => {
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
            Ok(vec![DocumentEvent::Uploaded(DocumentUploaded {
                owner: upload.owner,
                title: rules::title(&upload.title)?,
                original_filename: rules::filename(&upload.original_filename)?,
                media_type: rules::media_type(&upload.media_type)?,
                size_bytes: upload.size_bytes,
                sha256: rules::sha256_hex(&upload.sha256)?,
                blob_ref: rules::blob_ref(&upload.blob_ref)?,
                uploaded_at: upload.at,
            })])
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
    }
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
            }))
        }
        (DocumentState::Active(doc), DocumentEvent::Renamed(e)) => {
            Ok(DocumentState::Active(Document {
                title: e.title,
                ..doc
            }))
        }
        (DocumentState::Active(doc), DocumentEvent::Deleted(_)) => Ok(DocumentState::Deleted(doc)),
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
