//! Legacy rows into import plans: the command each row becomes, with the
//! row kept whole beside it and every change the import makes said in a
//! warning. Pure: the same rows give the same plans (the same ids, the
//! same commands) on every run, which is what makes a run repeatable and
//! a verification possible.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use studio_domain::legacy::{LegacyImported, LegacyValue, MAX_INLINE_RECORD_BYTES, MAX_WARNINGS};
use studio_domain::{CharacterId, DocumentId, UserId, rules};
use uuid::Uuid;

use crate::source::LegacyRow;
use crate::time;
use crate::value::{PendingBlob, RawValue};

/// The legacy tables the importer knows.
pub const CHARACTERS: &str = "characters";
pub const DOCUMENTS: &str = "documents";

const FILENAME_COLUMNS: &[&str] = &["filename", "file_name", "original_filename", "name"];
const CONTENT_COLUMNS: &[&str] = &["content", "text", "body"];
const PATH_COLUMNS: &[&str] = &["path", "file_path", "filepath"];
const UPLOADED_COLUMNS: &[&str] = &[
    "uploaded_at",
    "upload_time",
    "upload_date",
    "uploaded",
    "created_at",
];

/// The columns the importer maps onto the platform's fields; every
/// column, these too, is kept in the legacy record.
pub fn mapped_columns(table: &str) -> Vec<&'static str> {
    match table {
        CHARACTERS => vec![
            "id",
            "name",
            "personality_profile",
            "source_document",
            "created_at",
            "updated_at",
        ],
        DOCUMENTS => ["id", "title"]
            .iter()
            .chain(FILENAME_COLUMNS)
            .chain(CONTENT_COLUMNS)
            .chain(PATH_COLUMNS)
            .chain(UPLOADED_COLUMNS)
            .copied()
            .collect(),
        _ => Vec::new(),
    }
}

/// A row that cannot be imported, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    pub table: String,
    pub rowid: i64,
    pub legacy_id: Option<i64>,
    pub reason: String,
}

/// Where a document's bytes are.
#[derive(Clone, Debug, PartialEq)]
pub enum Content {
    /// In the row.
    Inline(PendingBlob),
    /// In a file the row names (relative paths from the database's folder).
    File(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct DocumentPlan {
    pub rowid: i64,
    pub legacy_id: i64,
    pub id: DocumentId,
    pub command_id: Uuid,
    pub title: String,
    pub original_filename: String,
    pub media_type: String,
    pub content: Content,
    /// `None` when the row has no readable time: the import's time is used.
    pub uploaded_at: Option<DateTime<Utc>>,
    pub record: LegacyImported,
    /// Large column values the record refers to.
    pub blobs: Vec<PendingBlob>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CharacterPlan {
    pub rowid: i64,
    pub legacy_id: i64,
    pub id: CharacterId,
    pub command_id: Uuid,
    pub name: String,
    pub personality_profile: Value,
    pub source_document: Option<DocumentId>,
    /// `None` when the row has no readable time: the import's time is used.
    pub created_at: Option<DateTime<Utc>>,
    pub record: LegacyImported,
    pub blobs: Vec<PendingBlob>,
}

/// The documents a character's `source_document` may name.
#[derive(Clone, Debug, Default)]
pub struct DocumentIndex {
    by_id: HashMap<i64, DocumentId>,
    by_filename: HashMap<String, DocumentId>,
    refused: HashSet<i64>,
}

impl DocumentIndex {
    /// A document that is (or was already) in the platform.
    pub fn add(&mut self, plan: &DocumentPlan) {
        self.by_id.insert(plan.legacy_id, plan.id);
        self.by_filename
            .entry(plan.original_filename.to_lowercase())
            .or_insert(plan.id);
    }

    /// A document that is not, so links to it are explained (the same
    /// way whether the import or a verification plans them).
    pub fn refuse(&mut self, legacy_id: i64) {
        self.refused.insert(legacy_id);
    }

    fn resolve(&self, value: &RawValue) -> Result<Option<DocumentId>, String> {
        let Some(text) = value.as_text().map(|t| t.text) else {
            return Ok(None);
        };
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        if let Ok(legacy_id) = text.parse::<i64>() {
            if let Some(id) = self.by_id.get(&legacy_id) {
                return Ok(Some(*id));
            }
            if self.refused.contains(&legacy_id) {
                return Err(format!(
                    "source_document {legacy_id} was not imported; not linked"
                ));
            }
        }
        let filename = text.rsplit(['/', '\\']).next().unwrap_or(text);
        match self.by_filename.get(&filename.to_lowercase()) {
            Some(id) => Ok(Some(*id)),
            None => Err(format!(
                "source_document {:?} names no legacy document; not linked",
                clip(text, 80)
            )),
        }
    }
}

/// Turns rows into plans for one owner. The ids derive from the owner,
/// the source's name and the legacy ids: the same file imported again
/// (for the same owner, under the same name) meets the same aggregates.
pub struct Planner {
    source: String,
    namespace: Uuid,
    media_type: fn(&str) -> Option<&'static str>,
    seen_ids: HashMap<(&'static str, i64), i64>,
    seen_names: HashMap<String, i64>,
}

impl Planner {
    /// `media_type` gives the format the platform reads from a file name.
    pub fn new(owner: UserId, source: &str, media_type: fn(&str) -> Option<&'static str>) -> Self {
        Self {
            source: source.to_owned(),
            namespace: Uuid::new_v5(
                owner.as_uuid(),
                format!("literaryai-legacy/{source}").as_bytes(),
            ),
            media_type,
            seen_ids: HashMap::new(),
            seen_names: HashMap::new(),
        }
    }

    pub fn document_id(&self, legacy_id: i64) -> DocumentId {
        DocumentId::from_uuid(Uuid::new_v5(
            &self.namespace,
            format!("{DOCUMENTS}/{legacy_id}").as_bytes(),
        ))
    }

    pub fn character_id(&self, legacy_id: i64) -> CharacterId {
        CharacterId::from_uuid(Uuid::new_v5(
            &self.namespace,
            format!("{CHARACTERS}/{legacy_id}").as_bytes(),
        ))
    }

    /// The import's command for an aggregate: a second run is a duplicate.
    fn command_id(aggregate: &Uuid) -> Uuid {
        Uuid::new_v5(aggregate, b"import-legacy")
    }

    /// The row's legacy id (its `id`, or its rowid in a table without
    /// one); each id once per table.
    fn legacy_id(
        &mut self,
        table: &'static str,
        row: &LegacyRow,
        warnings: &mut Vec<String>,
    ) -> Result<i64, Refusal> {
        let refusal = |reason: String| Refusal {
            table: table.to_owned(),
            rowid: row.rowid,
            legacy_id: None,
            reason,
        };
        let id = match row.get("id") {
            Some(RawValue::Integer(id)) => *id,
            Some(other) => match other.as_text().and_then(|t| t.text.trim().parse().ok()) {
                Some(id) => id,
                None => {
                    return Err(refusal(format!(
                        "id is not an integer (a {} value)",
                        other.storage_class()
                    )));
                }
            },
            None => {
                warnings.push("the table has no id column; the rowid is the legacy id".into());
                row.rowid
            }
        };
        if let Some(first) = self.seen_ids.insert((table, id), row.rowid) {
            return Err(Refusal {
                legacy_id: Some(id),
                ..refusal(format!(
                    "id {id} appears twice in the table (first at rowid {first})"
                ))
            });
        }
        Ok(id)
    }

    pub fn document(&mut self, row: &LegacyRow) -> Result<DocumentPlan, Refusal> {
        let mut warnings = Vec::new();
        let legacy_id = self.legacy_id(DOCUMENTS, row, &mut warnings)?;
        let refuse = |reason: String| Refusal {
            table: DOCUMENTS.to_owned(),
            rowid: row.rowid,
            legacy_id: Some(legacy_id),
            reason,
        };
        let id = self.document_id(legacy_id);
        let content_column = first_present(row, CONTENT_COLUMNS);
        let path_column = first_present(row, PATH_COLUMNS);
        let content = match (content_column, path_column) {
            (Some((_, value)), _) => match value {
                RawValue::Text(bytes) | RawValue::Blob(bytes) => {
                    Content::Inline(PendingBlob::of(bytes.clone()))
                }
                other => Content::Inline(PendingBlob::of(
                    other
                        .as_text()
                        .map(|t| t.text)
                        .unwrap_or_default()
                        .into_bytes(),
                )),
            },
            (None, Some((_, value))) => {
                Content::File(value.as_text().map(|t| t.text).unwrap_or_default())
            }
            (None, None) => {
                return Err(refuse("neither content nor a path to it".into()));
            }
        };
        if let Content::Inline(blob) = &content
            && blob.bytes.is_empty()
        {
            return Err(refuse("the content is empty".into()));
        }
        let named = first_present(row, FILENAME_COLUMNS)
            .and_then(|(_, v)| v.as_text())
            .map(|t| decoded("original_filename", t, &mut warnings))
            .or_else(|| match &content {
                Content::File(path) => Some(path.clone()),
                Content::Inline(_) => None,
            });
        let original_filename = filename(named.as_deref(), legacy_id, &mut warnings);
        let title_raw = row
            .get("title")
            .and_then(RawValue::as_text)
            .map(|t| decoded("title", t, &mut warnings))
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| {
                original_filename
                    .rsplit_once('.')
                    .map_or(original_filename.as_str(), |(stem, _)| stem)
                    .to_owned()
            });
        let title = bounded_text(
            "title",
            &title_raw,
            rules::MAX_TITLE_CHARS,
            &format!("Document {legacy_id}"),
            &mut warnings,
        );
        let media_type = match (self.media_type)(&original_filename) {
            Some(media_type) => media_type.to_owned(),
            None => {
                warnings.push(format!(
                    "the file name {:?} names no format the platform reads; read as plain text",
                    clip(&original_filename, 80)
                ));
                "text/plain".to_owned()
            }
        };
        let uploaded_at = first_present(row, UPLOADED_COLUMNS)
            .and_then(|(column, value)| read_time(column, value, &mut warnings));
        if uploaded_at.is_none() {
            warnings.push("no readable upload time; the import's time is used".into());
        }
        let stored_content = match &content {
            Content::Inline(blob) => content_column.map(|(column, value)| (column, value, blob)),
            Content::File(_) => None,
        };
        let (columns, blobs) = record_columns(row, stored_content);
        Ok(DocumentPlan {
            rowid: row.rowid,
            legacy_id,
            id,
            command_id: Self::command_id(id.as_uuid()),
            title,
            original_filename,
            media_type,
            content,
            uploaded_at,
            record: self.record(DOCUMENTS, legacy_id, columns, warnings),
            blobs,
        })
    }

    pub fn character(
        &mut self,
        row: &LegacyRow,
        documents: &DocumentIndex,
    ) -> Result<CharacterPlan, Refusal> {
        let mut warnings = Vec::new();
        let legacy_id = self.legacy_id(CHARACTERS, row, &mut warnings)?;
        let id = self.character_id(legacy_id);
        let raw_name = row
            .get("name")
            .and_then(RawValue::as_text)
            .map(|n| decoded("name", n, &mut warnings));
        let name = bounded_text(
            "name",
            raw_name.as_deref().unwrap_or(""),
            rules::MAX_NAME_CHARS,
            &format!("Unnamed character {legacy_id}"),
            &mut warnings,
        );
        match self.seen_names.get(&name.to_lowercase()) {
            Some(first) => warnings.push(format!(
                "legacy character {first} bears the same name; kept as a separate character"
            )),
            None => {
                self.seen_names.insert(name.to_lowercase(), legacy_id);
            }
        }
        let personality_profile = profile(row.get("personality_profile"), &mut warnings);
        let source_document = match row.get("source_document") {
            Some(value) => documents.resolve(value).unwrap_or_else(|why| {
                warnings.push(why);
                None
            }),
            None => None,
        };
        let mut created_at = row
            .get("created_at")
            .and_then(|value| read_time("created_at", value, &mut warnings));
        if created_at.is_none() {
            created_at = row
                .get("updated_at")
                .and_then(|value| read_time("updated_at", value, &mut warnings));
            warnings.push(
                match created_at {
                    Some(_) => "no readable created_at; the creation time is updated_at",
                    None => "no readable created_at or updated_at; the import's time is used",
                }
                .into(),
            );
        }
        let (columns, blobs) = record_columns(row, None);
        Ok(CharacterPlan {
            rowid: row.rowid,
            legacy_id,
            id,
            command_id: Self::command_id(id.as_uuid()),
            name,
            personality_profile,
            source_document,
            created_at,
            record: self.record(CHARACTERS, legacy_id, columns, warnings),
            blobs,
        })
    }

    fn record(
        &self,
        table: &str,
        legacy_id: i64,
        columns: BTreeMap<String, LegacyValue>,
        mut warnings: Vec<String>,
    ) -> LegacyImported {
        if warnings.len() > MAX_WARNINGS {
            let more = warnings.len() - (MAX_WARNINGS - 1);
            warnings.truncate(MAX_WARNINGS - 1);
            warnings.push(format!("and {more} more warnings"));
        }
        LegacyImported {
            source: self.source.clone(),
            table: table.to_owned(),
            legacy_id,
            columns,
            warnings: warnings
                .into_iter()
                .map(|w| clip(&w, studio_domain::legacy::MAX_WARNING_CHARS))
                .collect(),
        }
    }
}

/// The first of `names` the row holds a value for.
fn first_present<'r>(row: &'r LegacyRow, names: &[&str]) -> Option<(&'r str, &'r RawValue)> {
    names.iter().find_map(|n| {
        row.values
            .iter()
            .find(|(c, v)| c.eq_ignore_ascii_case(n) && *v != RawValue::Null)
            .map(|(c, v)| (c.as_str(), v))
    })
}

/// Text read from a column, saying so when it was not UTF-8.
fn decoded(field: &str, text: crate::value::DecodedText, warnings: &mut Vec<String>) -> String {
    if let Some(fallback) = text.fallback {
        warnings.push(format!("{field} is not UTF-8; read as {fallback}"));
    }
    text.text
}

/// Every column as the record keeps it; the content column as the blob
/// it becomes; values past the record's inline budget as blobs too.
fn record_columns(
    row: &LegacyRow,
    content: Option<(&str, &RawValue, &PendingBlob)>,
) -> (BTreeMap<String, LegacyValue>, Vec<PendingBlob>) {
    let mut columns = BTreeMap::new();
    let mut blobs = Vec::new();
    // Room left for the addresses of values stored elsewhere.
    let mut budget = MAX_INLINE_RECORD_BYTES / 2;
    for (name, value) in &row.values {
        let legacy = match content {
            Some((column, raw, blob)) if column == name => blob.stored(raw.storage_class()),
            _ => {
                let (legacy, blob) = value.to_legacy(budget);
                blobs.extend(blob);
                legacy
            }
        };
        budget = budget.saturating_sub(name.len() + legacy.inline_bytes());
        columns.insert(name.clone(), legacy);
    }
    (columns, blobs)
}

fn read_time(column: &str, value: &RawValue, warnings: &mut Vec<String>) -> Option<DateTime<Utc>> {
    match time::read(value) {
        Some(read) => {
            if let Some(assumption) = read.assumption.filter(|a| a.starts_with("ambiguous")) {
                warnings.push(format!("{column}: {assumption}"));
            }
            Some(read.at)
        }
        None => {
            if *value != RawValue::Null {
                warnings.push(format!("{column} is not a time the importer reads"));
            }
            None
        }
    }
}

/// A text field within the platform's rules: control characters become
/// spaces, overlong text is cut, empty text takes `fallback`.
fn bounded_text(
    field: &str,
    raw: &str,
    max_chars: usize,
    fallback: &str,
    warnings: &mut Vec<String>,
) -> String {
    let mut text: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text != raw {
        warnings.push(format!("{field} held control characters, read as spaces"));
    }
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed != text.trim() {
        warnings.push(format!("{field}: runs of spaces read as one"));
    }
    text = collapsed;
    if text.is_empty() {
        warnings.push(format!("{field} is empty; named {fallback:?}"));
        return fallback.to_owned();
    }
    let chars = text.chars().count();
    if chars > max_chars {
        warnings.push(format!(
            "{field} is {chars} characters long; cut to {max_chars}"
        ));
        text = text
            .chars()
            .take(max_chars)
            .collect::<String>()
            .trim_end()
            .to_owned();
    }
    text
}

fn filename(named: Option<&str>, legacy_id: i64, warnings: &mut Vec<String>) -> String {
    let raw = named.unwrap_or("");
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    if base != raw {
        warnings.push("the file name held a path; only its last part is kept".into());
    }
    let base = if base == "." || base == ".." {
        ""
    } else {
        base
    };
    bounded_text(
        "original_filename",
        base,
        rules::MAX_FILENAME_CHARS,
        &format!("document-{legacy_id}.txt"),
        warnings,
    )
}

/// The profile as an object: JSON objects as they are; other JSON
/// wrapped; anything else (with the stored text in the record) empty.
fn profile(value: Option<&RawValue>, warnings: &mut Vec<String>) -> Value {
    let Some(value) = value else {
        return json!({});
    };
    let Some(text) = value.as_text() else {
        if *value != RawValue::Null {
            warnings.push("personality_profile is a BLOB; kept in the legacy record".into());
        }
        return json!({});
    };
    let parsed = match serde_json::from_str::<Value>(&text.text) {
        Ok(Value::Object(map)) => Value::Object(map),
        Ok(Value::Null) => return json!({}),
        Ok(other) => {
            warnings.push(
                "personality_profile is JSON but not an object; kept as {\"value\": ...}".into(),
            );
            json!({ "value": other })
        }
        Err(e) => {
            warnings.push(format!(
                "personality_profile is not valid JSON ({e}); the profile is empty and the text is kept in the legacy record"
            ));
            return json!({});
        }
    };
    match rules::profile(&parsed) {
        Ok(()) => parsed,
        Err(e) => {
            warnings.push(format!(
                "{e}; the profile is empty and the text is kept in the legacy record"
            ));
            json!({})
        }
    }
}

pub(crate) fn clip(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}
