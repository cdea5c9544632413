//! Provenance of what came over from the legacy application: the legacy
//! row as it was read, every column of it, and what the import had to
//! change. Kept whole in the log so an import loses nothing and can be
//! verified against the old file at any later time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// More columns than any legacy table had; bounds an event's size.
pub const MAX_COLUMNS: usize = 256;
pub const MAX_COLUMN_NAME_CHARS: usize = 128;
/// A value longer than this is kept in the blob store, and the record
/// holds its address (events carry no blobs).
pub const MAX_INLINE_VALUE_BYTES: usize = 8 * 1024;
/// What a whole record may hold inline, well inside any log's limit on an
/// event.
pub const MAX_INLINE_RECORD_BYTES: usize = 64 * 1024;
pub const MAX_WARNINGS: usize = 64;
pub const MAX_WARNING_CHARS: usize = 500;
pub const MAX_SOURCE_CHARS: usize = 200;

/// A legacy row, as the import read it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegacyImported {
    /// Names the legacy database (the import's namespace).
    pub source: String,
    pub table: String,
    /// The row's integer primary key in the legacy table.
    pub legacy_id: i64,
    /// Every column of the row by name, values as stored.
    pub columns: BTreeMap<String, LegacyValue>,
    /// What the import changed or could not read, in words.
    pub warnings: Vec<String>,
}

/// One stored value of a legacy column, in SQLite's storage classes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LegacyValue {
    Null,
    Integer {
        value: i64,
    },
    /// Rust's shortest rendering that reads back as the same `f64`.
    Real {
        value: String,
    },
    Text {
        value: String,
    },
    /// A BLOB, or TEXT that is not UTF-8: the bytes, base64.
    Bytes {
        base64: String,
    },
    /// A value too large to inline, kept in the blob store.
    Stored {
        /// `text` or `blob`, the value's storage class.
        storage: String,
        size_bytes: u64,
        sha256: String,
        blob_ref: String,
    },
}

impl LegacyValue {
    /// Bytes the value takes inline in an event.
    pub fn inline_bytes(&self) -> usize {
        match self {
            Self::Null | Self::Integer { .. } => 0,
            Self::Real { value } | Self::Text { value } => value.len(),
            Self::Bytes { base64 } => base64.len(),
            Self::Stored {
                storage,
                sha256,
                blob_ref,
                ..
            } => storage.len() + sha256.len() + blob_ref.len(),
        }
    }
}

/// Checks a record's bounds before it becomes part of an event.
pub fn check(record: &LegacyImported) -> Result<(), DomainError> {
    if record.source.trim().is_empty() || record.source.chars().count() > MAX_SOURCE_CHARS {
        return Err(DomainError::invalid(
            "legacy.source",
            format!("must be 1 to {MAX_SOURCE_CHARS} characters"),
        ));
    }
    if record.table.trim().is_empty() || record.table.chars().count() > MAX_COLUMN_NAME_CHARS {
        return Err(DomainError::invalid(
            "legacy.table",
            format!("must be 1 to {MAX_COLUMN_NAME_CHARS} characters"),
        ));
    }
    if record.columns.len() > MAX_COLUMNS {
        return Err(DomainError::invalid(
            "legacy.columns",
            format!("at most {MAX_COLUMNS} columns"),
        ));
    }
    for (name, value) in &record.columns {
        if name.is_empty() || name.chars().count() > MAX_COLUMN_NAME_CHARS {
            return Err(DomainError::invalid(
                "legacy.columns",
                format!("column names are 1 to {MAX_COLUMN_NAME_CHARS} characters"),
            ));
        }
        if value.inline_bytes() > MAX_INLINE_VALUE_BYTES {
            return Err(DomainError::invalid(
                "legacy.columns",
                format!(
                    "the value of {name} is larger than {MAX_INLINE_VALUE_BYTES} bytes: store it as a blob"
                ),
            ));
        }
    }
    let inline: usize = record
        .columns
        .iter()
        .map(|(name, value)| name.len() + value.inline_bytes())
        .sum();
    if inline > MAX_INLINE_RECORD_BYTES {
        return Err(DomainError::invalid(
            "legacy.columns",
            format!(
                "{inline} bytes inline, more than {MAX_INLINE_RECORD_BYTES}: store the largest values as blobs"
            ),
        ));
    }
    if record.warnings.len() > MAX_WARNINGS
        || record
            .warnings
            .iter()
            .any(|w| w.chars().count() > MAX_WARNING_CHARS)
    {
        return Err(DomainError::invalid(
            "legacy.warnings",
            format!("at most {MAX_WARNINGS} warnings of {MAX_WARNING_CHARS} characters"),
        ));
    }
    Ok(())
}
