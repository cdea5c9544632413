//! The vector projection: a document's extracted text as passages with
//! their vectors, and each character as the vector of its profile: names,
//! personality and the sentences that mention it in its documents.
//!
//! Everything it writes is keyed by id and derived from the event alone
//! (or from rows earlier events of the same stream wrote), so applying an
//! event twice leaves the same rows. The checkpoint is written after the
//! rows of its batch: a projector killed in between applies part of a
//! batch again on restart, which changes nothing.
//!
//! A character's vector is made of its own events and of two things other
//! streams write, its mentions (document events) and merges into it
//! (the merged character's events), which arrive in any order across
//! partitions. Each of those rows, when written, has the character it
//! belongs to made again; a character made later reads them. Either way
//! the last vector of a character is of its last state with all its
//! mentions, whatever the order.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use studio_blob_store::{BlobError, BlobRef, BlobStore};
use studio_domain::character::CharacterEvent;
use studio_domain::document::DocumentEvent;
use studio_domain::document::processing::CharactersDetected;
use studio_domain::{AggregateType, AnyEvent};
use studio_embedder::Embedder;
use studio_event_log::StoredEvent;
use uuid::Uuid;

use super::mentions::MentionSentences;
use super::{
    CharacterRecord, DocumentSources, MentionRecord, MergeRecord, PROJECTION_NAME, PassageRecord,
    VectorError, VectorStore,
};
use crate::analysis_blob::read_analysis;
use crate::{Projection, ProjectionError};

/// Passages embedded and written at a time: a restart redoes at most
/// this much of a document, and a long novel shows progress as it goes.
const PASSAGES_PER_WRITE: usize = 64;

/// Characters written at a time.
const CHARACTERS_PER_WRITE: usize = 1_000;

/// The characters a batch changed, by id, in order: `None` for removed.
type Pending = BTreeMap<Uuid, Option<CharacterRecord>>;

/// The namespace of passage ids: a passage's id follows from its document
/// and where it starts, so a rebuild gives the same ids.
const PASSAGE_IDS: Uuid = Uuid::from_u128(0x6c69_7465_7261_7279_7061_7373_6167_6573);

pub struct VectorProjection {
    store: Arc<dyn VectorStore>,
    embedder: Arc<dyn Embedder>,
    blobs: Arc<dyn BlobStore>,
    /// Largest extracted text it reads.
    text_limit: u64,
}

impl From<VectorError> for ProjectionError {
    fn from(e: VectorError) -> Self {
        Self::Vectors(e.to_string())
    }
}

impl VectorProjection {
    pub fn new(
        store: Arc<dyn VectorStore>,
        embedder: Arc<dyn Embedder>,
        blobs: Arc<dyn BlobStore>,
        text_limit: u64,
    ) -> Self {
        Self {
            store,
            embedder,
            blobs,
            text_limit,
        }
    }

    /// Applies one event: writes its rows, or changes characters in
    /// `pending`.
    async fn apply_event(
        &self,
        stored: &StoredEvent,
        pending: &mut Pending,
    ) -> Result<(), ProjectionError> {
        let e = &stored.envelope;
        // User events change nothing here (and their personal data stays
        // sealed, unread).
        if e.aggregatetype == AggregateType::User.as_str() {
            return Ok(());
        }
        let event = AnyEvent::decode(&e.aggregatetype, &e.event_type, &e.data).map_err(|err| {
            ProjectionError::Event {
                event_id: e.id,
                reason: err.to_string(),
            }
        })?;
        match event {
            AnyEvent::User(_) => Ok(()),
            AnyEvent::Document(DocumentEvent::TextExtracted(text)) => {
                self.update_sources(e.subject, |sources| {
                    sources.text_ref = Some(text.text_ref.clone());
                })
                .await?;
                self.passages(e.subject, e.tenant, &text.text_ref).await?;
                Ok(())
            }
            AnyEvent::Document(DocumentEvent::Analysed(analysed)) => {
                self.update_sources(e.subject, |sources| {
                    sources.analysis_ref = Some(analysed.analysis_ref);
                })
                .await?;
                Ok(())
            }
            AnyEvent::Document(DocumentEvent::CharactersDetected(detected)) => {
                // Made before anything is removed: an event that cannot
                // be applied changes nothing.
                let mentions = self.mentions(stored, &detected).await?;
                let mut touched = self.store.remove_mentions(e.subject).await?;
                touched.extend(mentions.iter().map(|m| m.character_id));
                self.store.upsert_mentions(mentions).await?;
                self.remake(e.tenant, touched, pending).await?;
                Ok(())
            }
            AnyEvent::Document(DocumentEvent::Deleted(_)) => {
                let touched = self.store.remove_document(e.subject).await?;
                self.remake(e.tenant, touched, pending).await?;
                Ok(())
            }
            AnyEvent::Document(_) => Ok(()),
            AnyEvent::Character(CharacterEvent::Merged(merged)) => {
                let into = merged.into_id.into();
                self.store
                    .record_merge(MergeRecord {
                        merged: e.subject,
                        into,
                        owner: e.tenant,
                    })
                    .await?;
                pending.insert(e.subject, None);
                self.remake(e.tenant, [into], pending).await?;
                Ok(())
            }
            AnyEvent::Character(event) => {
                if let Some(record) = self.character(e.subject, event, pending).await? {
                    pending.insert(e.subject, record);
                }
                Ok(())
            }
        }
    }

    async fn update_sources(
        &self,
        document_id: Uuid,
        change: impl FnOnce(&mut DocumentSources),
    ) -> Result<(), ProjectionError> {
        let mut sources = self
            .store
            .document_sources(document_id)
            .await?
            .unwrap_or_default();
        change(&mut sources);
        self.store
            .set_document_sources(document_id, &sources)
            .await?;
        Ok(())
    }

    /// The sentences that represent each detected character in the
    /// document.
    async fn mentions(
        &self,
        stored: &StoredEvent,
        detected: &CharactersDetected,
    ) -> Result<Vec<MentionRecord>, ProjectionError> {
        let (document_id, owner) = (stored.envelope.subject, stored.envelope.tenant);
        if detected.characters.is_empty() {
            return Ok(Vec::new());
        }
        let sources = self.store.document_sources(document_id).await?;
        let (Some(text_ref), Some(analysis_ref)) = sources
            .map(|s| (s.text_ref, s.analysis_ref))
            .unwrap_or_default()
        else {
            // The domain records characters only after the text and its
            // analysis: a stream without them is broken, not late.
            return Err(ProjectionError::Event {
                event_id: stored.envelope.id,
                reason: format!("document {document_id} has characters but no text or analysis"),
            });
        };
        let analysis = read_analysis(self.blobs.as_ref(), &analysis_ref).await?;
        let text = self.read_text(&text_ref).await?;
        let sentences = MentionSentences::new(&text);
        let mut by_local: BTreeMap<&str, Vec<Range<usize>>> = BTreeMap::new();
        for m in &analysis.mentions {
            by_local
                .entry(m.character_id.as_str())
                .or_default()
                .push(m.start..m.end);
        }
        Ok(detected
            .characters
            .iter()
            .map(|c| {
                let mut mentions: Vec<Range<usize>> = c
                    .local_ids
                    .iter()
                    .filter_map(|local| by_local.get(local.as_str()))
                    .flatten()
                    .cloned()
                    .collect();
                mentions.sort_by_key(|m| (m.start, m.end));
                MentionRecord {
                    character_id: c.character_id.into(),
                    document_id,
                    owner,
                    sentences: sentences.representative(&mentions),
                }
            })
            .collect())
    }

    /// Has the characters that `changed` belong to (themselves, or those
    /// they were merged into) made again with the batch, when there are.
    async fn remake(
        &self,
        owner: Uuid,
        changed: impl IntoIterator<Item = Uuid>,
        pending: &mut Pending,
    ) -> Result<(), ProjectionError> {
        let merged_into: BTreeMap<Uuid, Uuid> = self
            .store
            .merges(&[owner])
            .await?
            .into_iter()
            .map(|m| (m.merged, m.into))
            .collect();
        let survivors: BTreeSet<Uuid> = changed
            .into_iter()
            .map(|id| survivor(&merged_into, id))
            .collect();
        for id in survivors {
            if pending.contains_key(&id) {
                // Made with the batch already (or removed by it).
                continue;
            }
            if let Some(record) = self.store.character(id).await? {
                pending.insert(id, Some(record));
            }
        }
        Ok(())
    }

    /// Replaces the document's passages with those of its text.
    async fn passages(
        &self,
        document_id: Uuid,
        owner: Uuid,
        text_ref: &str,
    ) -> Result<(), ProjectionError> {
        let text = self.read_text(text_ref).await?;
        let pieces = passage_texts(&text);
        // A text extracted again (processing restarted) may cut other
        // passages: the old ones go first.
        self.store.remove_passages(document_id).await?;
        for chunk in pieces.chunks(PASSAGES_PER_WRITE) {
            let texts: Vec<String> = chunk.iter().map(|p| p.text.clone()).collect();
            let vectors = self.embed(&texts).await?;
            let records = chunk
                .iter()
                .zip(vectors)
                .map(|(p, vector)| PassageRecord {
                    id: Uuid::new_v5(
                        &PASSAGE_IDS,
                        format!("{document_id}/{}", p.start).as_bytes(),
                    ),
                    owner,
                    document_id,
                    chapter: p.chapter,
                    start: p.start,
                    end: p.end,
                    text: p.text.clone(),
                    vector,
                })
                .collect();
            self.store.upsert_passages(records).await?;
        }
        tracing::debug!(%document_id, passages = pieces.len(), "passages embedded");
        Ok(())
    }

    async fn read_text(&self, text_ref: &str) -> Result<String, ProjectionError> {
        let blob = BlobRef::parse(text_ref).map_err(|e| ProjectionError::Blob(e.to_string()))?;
        let bytes = match self.blobs.get(&blob, self.text_limit).await {
            Ok(bytes) => bytes,
            Err(BlobError::Storage(e)) => return Err(ProjectionError::Vectors(e.to_string())),
            Err(e) => return Err(ProjectionError::Blob(e.to_string())),
        };
        String::from_utf8(Vec::from(bytes))
            .map_err(|e| ProjectionError::Blob(format!("the text {blob} is not UTF-8: {e}")))
    }

    /// What a character event makes of the character: `Some(None)` when
    /// it goes, `Some(record)` (vector still to make) when it changes,
    /// `None` when it stays as it is. Earlier events of the batch are in
    /// `pending`, not yet in the store.
    async fn character(
        &self,
        id: Uuid,
        event: CharacterEvent,
        pending: &Pending,
    ) -> Result<Option<Option<CharacterRecord>>, ProjectionError> {
        let current = async || -> Result<Option<CharacterRecord>, ProjectionError> {
            match pending.get(&id) {
                Some(record) => Ok(record.clone()),
                None => Ok(self.store.character(id).await?),
            }
        };
        let changed = match event {
            CharacterEvent::Created(e) => {
                return Ok(Some(Some(CharacterRecord {
                    id,
                    owner: e.owner.into(),
                    name: e.name,
                    aliases: e.aliases,
                    profile: profile_text(&e.personality_profile),
                    mentions: Vec::new(),
                    vector: Vec::new(),
                })));
            }
            CharacterEvent::Deleted(_) | CharacterEvent::Merged(_) => return Ok(Some(None)),
            CharacterEvent::Renamed(e) => current().await?.map(|record| CharacterRecord {
                name: e.name,
                ..record
            }),
            CharacterEvent::AliasAdded(e) => current().await?.map(|mut record| {
                add_aliases(&mut record, [e.alias]);
                record
            }),
            CharacterEvent::Absorbed(e) => current().await?.map(|mut record| {
                add_aliases(&mut record, e.aliases);
                record
            }),
            CharacterEvent::ProfileUpdated(e) => current().await?.map(|record| CharacterRecord {
                profile: profile_text(&e.personality_profile),
                ..record
            }),
            CharacterEvent::LegacyImported(_)
            | CharacterEvent::RelationshipDeclared(_)
            | CharacterEvent::RelationshipRemoved(_) => None,
        };
        // A change to a character the vectors do not hold (removed
        // already) changes nothing.
        Ok(changed.map(Some))
    }

    /// Writes the characters a batch changed, with their mentions as
    /// they stand, in id order.
    async fn write_characters(&self, pending: Pending) -> Result<(), ProjectionError> {
        let mut changed = Vec::new();
        for (id, record) in pending {
            match record {
                Some(record) => changed.push(record),
                None => self.store.remove_character(id).await?,
            }
        }
        self.gather_mentions(&mut changed).await?;
        for chunk in changed.chunks(CHARACTERS_PER_WRITE) {
            let mut records = Vec::with_capacity(chunk.len());
            for record in chunk {
                // Each alone: in a model's batch the others' padding moves
                // the last bits, and which characters share a batch
                // depends on how the events were batched. Alone, a rebuild
                // gives the same vector to the bit.
                let vector = self
                    .embed(&[character_text(record)])
                    .await?
                    .pop()
                    .unwrap_or_default();
                records.push(CharacterRecord {
                    vector,
                    ..record.clone()
                });
            }
            self.store.upsert_characters(records).await?;
        }
        Ok(())
    }

    /// Sets each character's mentions: its own and those of the
    /// characters merged into it (directly or through others), by document.
    async fn gather_mentions(
        &self,
        characters: &mut [CharacterRecord],
    ) -> Result<(), ProjectionError> {
        if characters.is_empty() {
            return Ok(());
        }
        let owners: Vec<Uuid> = characters
            .iter()
            .map(|c| c.owner)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut merged_into_it: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
        for m in self.store.merges(&owners).await? {
            merged_into_it.entry(m.into).or_default().push(m.merged);
        }
        let sources: Vec<BTreeSet<Uuid>> = characters
            .iter()
            .map(|c| merged_sources(&merged_into_it, c.id))
            .collect();
        let wanted: Vec<Uuid> = sources
            .iter()
            .flatten()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mentions = self.store.mentions(&wanted).await?;
        for (character, sources) in characters.iter_mut().zip(&sources) {
            character.mentions = mentions
                .iter()
                .filter(|m| m.owner == character.owner && sources.contains(&m.character_id))
                .flat_map(|m| m.sentences.iter().cloned())
                .collect();
        }
        Ok(())
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ProjectionError> {
        let vectors = self
            .embedder
            .embed(texts)
            .await
            .map_err(|e| ProjectionError::Vectors(format!("embedding: {e}")))?;
        if vectors.len() != texts.len() {
            return Err(ProjectionError::Vectors(format!(
                "the embedder answered {} vectors for {} texts",
                vectors.len(),
                texts.len()
            )));
        }
        Ok(vectors)
    }

    /// The next offset of each partition the batch touched, on top of the
    /// stored checkpoint.
    async fn advance(&self, batch: &[StoredEvent]) -> Result<(), ProjectionError> {
        let mut next = BTreeMap::new();
        for e in batch {
            let after = e.position.offset + 1;
            let entry = next.entry(e.position.partition).or_insert(after);
            *entry = (*entry).max(after);
        }
        self.store.save_checkpoint(&next).await?;
        Ok(())
    }
}

/// A passage of a text, with its words.
#[derive(Clone, Debug, PartialEq)]
pub struct PassageText {
    pub start: u64,
    pub end: u64,
    pub chapter: Option<u32>,
    pub text: String,
}

/// The text's passages (see `studio_analysis::passages`), with their words
/// cut out by character offsets.
pub fn passage_texts(text: &str) -> Vec<PassageText> {
    let passages = studio_analysis::passages(text);
    // Byte offset of every character, and of the end.
    let bytes: Vec<usize> = text
        .char_indices()
        .map(|(b, _)| b)
        .chain(std::iter::once(text.len()))
        .collect();
    passages
        .into_iter()
        .filter_map(|p| {
            let (start, end) = (*bytes.get(p.start)?, *bytes.get(p.end)?);
            Some(PassageText {
                start: p.start as u64,
                end: p.end as u64,
                chapter: p.chapter.and_then(|c| u32::try_from(c).ok()),
                text: text.get(start..end)?.to_owned(),
            })
        })
        .collect()
}

/// The character `id` ended up as, following merges.
fn survivor(merged_into: &BTreeMap<Uuid, Uuid>, id: Uuid) -> Uuid {
    let mut at = id;
    // Bounded: a cycle (which the domain never makes) stops too.
    for _ in 0..=merged_into.len() {
        match merged_into.get(&at) {
            Some(next) => at = *next,
            None => break,
        }
    }
    at
}

/// The character `id` and every character merged into it, directly or
/// through others.
fn merged_sources(merged_into_it: &BTreeMap<Uuid, Vec<Uuid>>, id: Uuid) -> BTreeSet<Uuid> {
    let mut found = BTreeSet::from([id]);
    let mut frontier = vec![id];
    while let Some(at) = frontier.pop() {
        for merged in merged_into_it.get(&at).into_iter().flatten() {
            if found.insert(*merged) {
                frontier.push(*merged);
            }
        }
    }
    found
}

fn add_aliases(record: &mut CharacterRecord, aliases: impl IntoIterator<Item = String>) {
    for alias in aliases {
        if !record.aliases.contains(&alias) {
            record.aliases.push(alias);
        }
    }
}

/// What a character's vector is made of: its names, its profile and the
/// sentences that mention it. (The local model reads the first 256 word
/// pieces: the names and profile, and the first mentions.)
pub fn character_text(record: &CharacterRecord) -> String {
    let mut text = record.name.clone();
    if !record.aliases.is_empty() {
        text.push_str(", also called ");
        text.push_str(&record.aliases.join(", "));
    }
    text.push('.');
    for part in std::iter::once(&record.profile).chain(&record.mentions) {
        if !part.is_empty() {
            text.push(' ');
            text.push_str(part);
        }
    }
    text
}

/// A personality profile (free JSON) as words: `key: value` sentences,
/// keys in order, nested values flattened.
pub fn profile_text(profile: &Value) -> String {
    fn words(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Null => {}
            Value::Bool(b) => out.push(b.to_string()),
            Value::Number(n) => out.push(n.to_string()),
            Value::String(s) => out.push(s.trim().to_owned()),
            Value::Array(items) => items.iter().for_each(|v| words(v, out)),
            Value::Object(fields) => {
                for (key, value) in fields {
                    let mut inner = Vec::new();
                    words(value, &mut inner);
                    if !inner.is_empty() {
                        out.push(format!("{}: {}.", key.replace('_', " "), inner.join(", ")));
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    words(profile, &mut out);
    out.join(" ")
}

#[async_trait]
impl Projection for VectorProjection {
    fn name(&self) -> &'static str {
        PROJECTION_NAME
    }

    async fn checkpoints(&self) -> Result<BTreeMap<u32, u64>, ProjectionError> {
        Ok(self.store.checkpoint().await?)
    }

    async fn apply(&self, batch: &[StoredEvent]) -> Result<(), ProjectionError> {
        let mut pending = Pending::new();
        for event in batch {
            self.apply_event(event, &mut pending).await?;
        }
        self.write_characters(pending).await?;
        self.advance(batch).await?;
        // Every batch writes at least its checkpoint.
        self.store.maintain().await?;
        Ok(())
    }

    /// There is no dead-letter table beside the vectors: the event is
    /// logged, with its error, and passed.
    async fn park(
        &self,
        event: &StoredEvent,
        error: &ProjectionError,
        attempts: u32,
    ) -> Result<(), ProjectionError> {
        tracing::error!(
            projection = PROJECTION_NAME,
            event_id = %event.envelope.id,
            %error,
            attempts,
            "passing an event the vector projection cannot apply"
        );
        self.advance(std::slice::from_ref(event)).await
    }
}
