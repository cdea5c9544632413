//! The vector read model: passages and characters as vectors, searched
//! by meaning. [`VectorStore`] is the port; every query names the owner,
//! and a store never answers with another owner's rows. Rows are written
//! by id (an upsert replaces), so projecting an event twice leaves the
//! same rows: a projector that restarts from its last checkpoint neither
//! skips nor duplicates.

#[cfg(feature = "conformance")]
pub mod conformance;
mod mentions;
mod projection;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Serialize;
use thiserror::Error;
use uuid::Uuid;

pub use mentions::{MENTIONS_PER_DOCUMENT, MentionSentences};
pub use projection::{PassageText, VectorProjection, character_text, passage_texts, profile_text};

/// The name the vector projection and its checkpoints go by.
pub const PROJECTION_NAME: &str = "vectors";

/// One passage of a document, with its vector.
#[derive(Clone, Debug, PartialEq)]
pub struct PassageRecord {
    pub id: Uuid,
    pub owner: Uuid,
    pub document_id: Uuid,
    /// Index of its chapter in the document's analysis.
    pub chapter: Option<u32>,
    /// Character offsets into the document's text.
    pub start: u64,
    pub end: u64,
    pub text: String,
    pub vector: Vec<f32>,
}

/// One character, with the vector of its profile (name, aliases,
/// personality and representative mentions).
#[derive(Clone, Debug, PartialEq)]
pub struct CharacterRecord {
    pub id: Uuid,
    pub owner: Uuid,
    pub name: String,
    pub aliases: Vec<String>,
    pub profile: String,
    /// Sentences that mention it, from the documents it was detected in
    /// (and those of the characters merged into it), in document order.
    pub mentions: Vec<String>,
    pub vector: Vec<f32>,
}

/// The sentences that represent one character in one document.
#[derive(Clone, Debug, PartialEq)]
pub struct MentionRecord {
    pub character_id: Uuid,
    pub document_id: Uuid,
    pub owner: Uuid,
    pub sentences: Vec<String>,
}

/// Where a document's text and analysis are, as its events said: what
/// the mentions of its characters are quoted from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DocumentSources {
    pub text_ref: Option<String>,
    pub analysis_ref: Option<String>,
}

/// A character merged into another: its mentions are the survivor's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MergeRecord {
    pub merged: Uuid,
    pub into: Uuid,
    pub owner: Uuid,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PassageHit {
    pub id: Uuid,
    pub document_id: Uuid,
    pub chapter: Option<u32>,
    pub start: u64,
    pub end: u64,
    pub text: String,
    /// Cosine similarity to the query, 1 the same direction.
    pub score: f32,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CharacterHit {
    pub id: Uuid,
    pub name: String,
    pub score: f32,
}

/// Every row's id and vector, in id order: two stores (or a store and its
/// rebuild) hold the same when their snapshots are equal.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VectorSnapshot {
    pub passages: Vec<(Uuid, Vec<f32>)>,
    pub characters: Vec<(Uuid, Vec<f32>)>,
}

#[derive(Debug, Error)]
pub enum VectorError {
    /// The store did not answer: retryable.
    #[error("vector store unavailable: {0}")]
    Unavailable(String),
    /// A row or query that cannot be stored or asked (wrong dimension,
    /// non-finite values, a limit out of range).
    #[error("invalid vector request: {0}")]
    Invalid(String),
    /// The store holds something it should not (a table of another
    /// dimension, a malformed row).
    #[error("vector store corrupt: {0}")]
    Corrupt(String),
}

/// Most rows a search returns.
pub const MAX_LIMIT: usize = 100;

#[async_trait]
pub trait VectorStore: Send + Sync {
    /// The length of every vector the store holds.
    fn dimension(&self) -> usize;

    /// Writes the passages, replacing any of the same id.
    async fn upsert_passages(&self, records: Vec<PassageRecord>) -> Result<(), VectorError>;

    /// Removes every passage of the document.
    async fn remove_passages(&self, document_id: Uuid) -> Result<(), VectorError>;

    /// Removes the mentions of the document's characters; answers the
    /// characters they were of, in id order.
    async fn remove_mentions(&self, document_id: Uuid) -> Result<Vec<Uuid>, VectorError>;

    /// Removes the document: its passages, its sources and its mentions.
    /// Answers the characters whose mentions went, in id order.
    async fn remove_document(&self, document_id: Uuid) -> Result<Vec<Uuid>, VectorError>;

    async fn document_sources(
        &self,
        document_id: Uuid,
    ) -> Result<Option<DocumentSources>, VectorError>;

    async fn set_document_sources(
        &self,
        document_id: Uuid,
        sources: &DocumentSources,
    ) -> Result<(), VectorError>;

    /// Writes the mentions, replacing any of the same character and
    /// document.
    async fn upsert_mentions(&self, records: Vec<MentionRecord>) -> Result<(), VectorError>;

    /// The mentions of these characters, by document then character id.
    async fn mentions(&self, character_ids: &[Uuid]) -> Result<Vec<MentionRecord>, VectorError>;

    /// Records a merge, replacing any earlier one of the same character.
    async fn record_merge(&self, merge: MergeRecord) -> Result<(), VectorError>;

    /// The owners' merges, in order of the merged character's id.
    async fn merges(&self, owners: &[Uuid]) -> Result<Vec<MergeRecord>, VectorError>;

    /// Writes the characters, replacing any of the same id.
    async fn upsert_characters(&self, records: Vec<CharacterRecord>) -> Result<(), VectorError>;

    async fn remove_character(&self, id: Uuid) -> Result<(), VectorError>;

    /// The stored character, vector included, whoever owns it: what the
    /// projection changes when a character event arrives.
    async fn character(&self, id: Uuid) -> Result<Option<CharacterRecord>, VectorError>;

    /// The owner's passages nearest to `vector` (within one document when
    /// given), nearest first, at most `limit` (1 to [`MAX_LIMIT`]).
    async fn search_passages(
        &self,
        owner: Uuid,
        vector: &[f32],
        document_id: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<PassageHit>, VectorError>;

    /// The owner's characters nearest to `character_id`, nearest first,
    /// not itself; `None` when the owner has no such character vector.
    async fn similar_characters(
        &self,
        owner: Uuid,
        character_id: Uuid,
        limit: usize,
    ) -> Result<Option<Vec<CharacterHit>>, VectorError>;

    /// The next offset to project, per partition.
    async fn checkpoint(&self) -> Result<BTreeMap<u32, u64>, VectorError>;

    /// Records the next offsets, after the rows they cover are written.
    async fn save_checkpoint(&self, next: &BTreeMap<u32, u64>) -> Result<(), VectorError>;

    /// Keeps the store fast as it is written: compacts what many small
    /// writes left, builds the approximate-nearest-neighbour index of a
    /// table that has passed the store's threshold, and brings existing
    /// indexes up to date with rows written since. Searches are exact
    /// until then.
    async fn maintain(&self) -> Result<(), VectorError>;

    async fn snapshot(&self) -> Result<VectorSnapshot, VectorError>;
}

/// Checks a vector before it is stored or searched with.
pub fn check_vector(vector: &[f32], dimension: usize) -> Result<(), VectorError> {
    if vector.len() != dimension {
        return Err(VectorError::Invalid(format!(
            "a vector of {} dimensions; the store holds {dimension}",
            vector.len()
        )));
    }
    if vector.iter().any(|x| !x.is_finite()) {
        return Err(VectorError::Invalid(
            "a vector holds NaN or infinity".into(),
        ));
    }
    Ok(())
}

pub fn check_limit(limit: usize) -> Result<(), VectorError> {
    if (1..=MAX_LIMIT).contains(&limit) {
        Ok(())
    } else {
        Err(VectorError::Invalid(format!(
            "limit must be 1 to {MAX_LIMIT}, not {limit}"
        )))
    }
}
