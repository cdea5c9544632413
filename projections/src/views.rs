//! What read models answer: plain data, shaped for lists and detail views.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// Who is reading: owners see their own data, admins everything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Viewer {
    pub user_id: Uuid,
    pub admin: bool,
}

impl Viewer {
    pub fn may_see(&self, tenant: Uuid) -> bool {
        self.admin || self.user_id == tenant
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UserView {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: Option<String>,
    pub role: String,
    pub registered_at: String,
    pub version: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DocumentView {
    pub document_id: Uuid,
    pub owner_id: Uuid,
    pub title: String,
    pub original_filename: String,
    pub media_type: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub blob_ref: String,
    pub uploaded_at: String,
    pub updated_at: String,
    pub version: u64,
    pub processing: ProcessingView,
    /// Once the text is extracted.
    pub text: Option<TextView>,
    /// Once the document is analysed.
    pub statistics: Option<StatisticsView>,
}

/// Where processing of a document stands.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProcessingView {
    /// `processing`, `completed` or `failed`.
    pub status: String,
    /// The last stage done: `uploaded`, `text_extracted`, `analysed`,
    /// `characters_detected`, `interactions_recorded` or `completed`.
    pub stage: String,
    pub percent: u8,
    pub failure: Option<FailureView>,
    pub completed_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FailureView {
    pub step: String,
    pub reason: String,
    pub retryable: bool,
    pub attempts: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TextView {
    pub text_ref: String,
    pub chars: u64,
    pub format: String,
    pub encoding: Option<String>,
    pub boilerplate_removed: bool,
    pub pages: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatisticsView {
    pub analyser: String,
    pub words: u64,
    pub sentences: u64,
    pub paragraphs: u64,
    pub chapters: u64,
    pub flesch_reading_ease: f64,
    pub flesch_kincaid_grade: f64,
    pub dialogue_share: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChapterView {
    pub ordinal: u64,
    pub title: String,
    /// Character offsets into the extracted text, `end` exclusive.
    pub start: u64,
    pub end: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TermView {
    pub term: String,
    pub count: u64,
    pub score: f64,
}

/// A character as it appears in one document.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CastMemberView {
    pub document_id: Uuid,
    pub character_id: Uuid,
    /// The name the analysis found.
    pub name: String,
    pub mentions: u64,
    pub first_mention: u64,
    /// Joined to a character the owner already had.
    pub linked: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InteractionView {
    pub document_id: Uuid,
    pub a: Uuid,
    pub b: Uuid,
    pub weight: u64,
}

/// An event the projection parked, or one held back behind it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeadLetterView {
    pub id: Uuid,
    pub partition: u32,
    pub offset: u64,
    pub event_id: Uuid,
    pub event_type: String,
    pub aggregate_id: Uuid,
    pub error: String,
    pub attempts: u64,
    /// `parked`, `blocked`, `retried` or `skipped`.
    pub status: String,
    pub parked_at: String,
}

/// A character found by one of its names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NamedCharacter {
    pub character_id: Uuid,
    /// The name key that matched.
    pub name_key: String,
    /// `manual`, `detected` or `imported`.
    pub origin: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MentionView {
    pub character_id: Uuid,
    pub start: u64,
    pub end: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CharacterView {
    pub character_id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    pub aliases: Vec<String>,
    pub personality_profile: Value,
    pub source_document_id: Option<Uuid>,
    /// `manual`, `detected` or `imported`.
    pub origin: String,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventView {
    pub event_id: Uuid,
    pub event_type: String,
    pub aggregate_id: Uuid,
    pub aggregate_type: String,
    pub sequence: u64,
    pub time: String,
    pub actor: String,
    pub tenant: Uuid,
    pub data: Value,
    pub partition: u32,
    pub offset: u64,
}

/// A position in a keyset-ordered list: the sort key and id of the last
/// item seen. Clients get it as an opaque cursor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyset {
    pub key: String,
    pub id: String,
}

impl Keyset {
    /// Before every row of a list ordered by a time and an id.
    pub fn first() -> Self {
        Self {
            key: "0001-01-01T00:00:00.000000Z".into(),
            id: Uuid::nil().to_string(),
        }
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}\n{}", self.key, self.id))
    }

    /// `None` for anything that is not a cursor we issued.
    pub fn decode(cursor: &str) -> Option<Self> {
        if cursor.len() > 512 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (key, id) = text.split_once('\n')?;
        Some(Self {
            key: key.to_owned(),
            id: id.to_owned(),
        })
    }
}

pub const MAX_PAGE: usize = 100;

#[derive(Clone, Debug)]
pub struct PageRequest {
    pub first: usize,
    pub after: Option<Keyset>,
}

impl PageRequest {
    pub fn new(first: Option<usize>, after: Option<Keyset>) -> Self {
        Self {
            first: first.unwrap_or(20).clamp(1, MAX_PAGE),
            after,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    /// Each item with the cursor that points just past it.
    pub items: Vec<(Keyset, T)>,
    pub has_next: bool,
}

/// Where a live feed reader stands: the next offset per partition.
pub type FeedCursor = BTreeMap<u32, u64>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let k = Keyset {
            key: "2026-01-01T00:00:00.000000Z".into(),
            id: "abc".into(),
        };
        assert_eq!(Keyset::decode(&k.encode()), Some(k));
        for bad in ["", "!!!", "bm9uZXdsaW5l", &"A".repeat(600)] {
            assert_eq!(Keyset::decode(bad), None, "{bad}");
        }
    }
}
