//! A legacy row against what the platform holds for it: every mapped
//! field and the whole legacy record. Pure; the shell fetches what the
//! read model holds.

use chrono::{DateTime, Utc};
use serde_json::Value;
use studio_domain::legacy::LegacyImported;
use uuid::Uuid;

use crate::plan::{CharacterPlan, DocumentPlan};

/// One field that differs between a legacy row and the platform.
#[derive(Clone, Debug, PartialEq)]
pub struct Difference {
    pub table: String,
    pub legacy_id: i64,
    pub field: String,
    pub legacy: String,
    pub platform: String,
}

/// A character as the read model holds it.
#[derive(Clone, Debug)]
pub struct HeldCharacter {
    pub owner: Uuid,
    pub name: String,
    pub personality_profile: Value,
    pub source_document: Option<Uuid>,
    pub origin: String,
    pub created_at: String,
}

/// A document as the read model holds it.
#[derive(Clone, Debug)]
pub struct HeldDocument {
    pub owner: Uuid,
    pub title: String,
    pub original_filename: String,
    pub media_type: String,
    pub sha256: String,
    pub uploaded_at: String,
}

struct Differences<'a> {
    table: &'a str,
    legacy_id: i64,
    found: Vec<Difference>,
}

impl Differences<'_> {
    fn check(&mut self, field: &str, legacy: impl ToString, platform: impl ToString) {
        let (legacy, platform) = (legacy.to_string(), platform.to_string());
        if legacy != platform {
            self.found.push(Difference {
                table: self.table.to_owned(),
                legacy_id: self.legacy_id,
                field: field.to_owned(),
                legacy,
                platform,
            });
        }
    }

    fn time(&mut self, field: &str, legacy: Option<DateTime<Utc>>, platform: &str) {
        // A row without a readable time took the import's: nothing to compare.
        let Some(legacy) = legacy else { return };
        let held = DateTime::parse_from_rfc3339(platform).map(|t| t.with_timezone(&Utc));
        match held {
            Ok(held) if held == legacy => {}
            _ => self.check(field, legacy.to_rfc3339(), platform),
        }
    }

    fn record(&mut self, expected: &LegacyImported, held: Option<&LegacyImported>) {
        let Some(held) = held else {
            self.check("legacy record", "present", "missing");
            return;
        };
        for (column, value) in &expected.columns {
            let platform = held
                .columns
                .get(column)
                .map_or_else(|| "missing".to_owned(), show);
            self.check(&format!("column {column}"), show(value), platform);
        }
        for column in held.columns.keys() {
            if !expected.columns.contains_key(column) {
                self.check(&format!("column {column}"), "absent", "present");
            }
        }
        self.check("legacy source", &expected.source, &held.source);
        self.check("legacy table", &expected.table, &held.table);
        self.check("legacy id", expected.legacy_id, held.legacy_id);
        self.check(
            "legacy warnings",
            show(&expected.warnings),
            show(&held.warnings),
        );
    }
}

/// As JSON, object keys in order: equal values show alike whatever order
/// their keys came in (serde_json keeps insertion order, since LanceDB
/// turns its `preserve_order` on for the whole build).
fn show(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .map(|v| keys_sorted(v).to_string())
        .unwrap_or_default()
}

fn keys_sorted(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(fields) => {
            let mut fields: Vec<(String, Value)> = fields
                .into_iter()
                .map(|(k, v)| (k, keys_sorted(v)))
                .collect();
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(fields.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(keys_sorted).collect()),
        other => other,
    }
}

pub fn character(
    plan: &CharacterPlan,
    held: Option<&HeldCharacter>,
    record: Option<&LegacyImported>,
) -> Vec<Difference> {
    let mut d = Differences {
        table: crate::plan::CHARACTERS,
        legacy_id: plan.legacy_id,
        found: Vec::new(),
    };
    let Some(held) = held else {
        d.check("character", plan.id, "missing");
        return d.found;
    };
    d.check("name", &plan.name, &held.name);
    d.check(
        "personality_profile",
        show(&plan.personality_profile),
        show(&held.personality_profile),
    );
    d.check(
        "source_document",
        show(&plan.source_document),
        show(&held.source_document),
    );
    d.check("origin", "imported", &held.origin);
    d.time("created_at", plan.created_at, &held.created_at);
    d.record(&plan.record, record);
    d.found
}

/// `sha256` is the digest of the document's legacy bytes.
pub fn document(
    plan: &DocumentPlan,
    sha256: &str,
    held: Option<&HeldDocument>,
    record: Option<&LegacyImported>,
) -> Vec<Difference> {
    let mut d = Differences {
        table: crate::plan::DOCUMENTS,
        legacy_id: plan.legacy_id,
        found: Vec::new(),
    };
    let Some(held) = held else {
        d.check("document", plan.id, "missing");
        return d.found;
    };
    d.check("title", &plan.title, &held.title);
    d.check(
        "original_filename",
        &plan.original_filename,
        &held.original_filename,
    );
    d.check("media_type", &plan.media_type, &held.media_type);
    d.check("content sha256", sha256, &held.sha256);
    d.time("uploaded_at", plan.uploaded_at, &held.uploaded_at);
    d.record(&plan.record, record);
    d.found
}

/// The owner check, apart: a row imported for someone else is a difference.
pub fn owner(table: &str, legacy_id: i64, expected: Uuid, held: Uuid) -> Option<Difference> {
    (expected != held).then(|| Difference {
        table: table.to_owned(),
        legacy_id,
        field: "owner".into(),
        legacy: expected.to_string(),
        platform: held.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::show;

    #[test]
    fn equal_objects_show_alike_whatever_their_key_order() {
        let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).expect("json");
        let legacy = parse(r#"{"traits":["kind"],"importance":6,"nested":{"b":1,"a":2}}"#);
        let platform = parse(r#"{"nested":{"a":2,"b":1},"importance":6,"traits":["kind"]}"#);
        assert_eq!(show(&legacy), show(&platform));
        assert_ne!(
            show(&legacy),
            show(&parse(
                r#"{"traits":["unkind"],"importance":6,"nested":{"b":1,"a":2}}"#
            ))
        );
    }
}
