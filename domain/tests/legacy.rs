//! Importing legacy rows: a creation (or upload) plus the row kept whole.

mod common;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use common::{given, given_nothing};
use serde_json::json;
use studio_domain::character::{
    CharacterAggregate, CharacterCommand, CharacterCreated, CharacterEvent, CharacterOrigin,
    CreateCharacter,
};
use studio_domain::document::{
    DocumentAggregate, DocumentCommand, DocumentEvent, DocumentUploaded, UploadDocument,
};
use studio_domain::legacy::{LegacyImported, LegacyValue, MAX_INLINE_VALUE_BYTES};
use studio_domain::{Actor, AggregateType, DomainError, Role, UserId};
use uuid::Uuid;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2014, 6, 2, 9, 30, 0)
        .single()
        .unwrap_or_default()
}

fn owner() -> UserId {
    UserId::from_uuid(Uuid::from_u128(7))
}

fn admin() -> Actor {
    Actor::User {
        id: UserId::from_uuid(Uuid::from_u128(1)),
        role: Role::Admin,
    }
}

fn editor() -> Actor {
    Actor::User {
        id: owner(),
        role: Role::Editor,
    }
}

fn record(table: &str) -> LegacyImported {
    LegacyImported {
        source: "literaryai.db".into(),
        table: table.into(),
        legacy_id: 42,
        columns: BTreeMap::from([
            ("id".into(), LegacyValue::Integer { value: 42 }),
            (
                "name".into(),
                LegacyValue::Text {
                    value: "Emma Woodhouse".into(),
                },
            ),
            ("mood".into(), LegacyValue::Null),
            (
                "weight".into(),
                LegacyValue::Real {
                    value: "0.5".into(),
                },
            ),
            (
                "raw".into(),
                LegacyValue::Bytes {
                    base64: "6XTp".into(),
                },
            ),
        ]),
        warnings: vec!["personality_profile is not JSON; kept as stored".into()],
    }
}

fn create(actor: Actor) -> CreateCharacter {
    CreateCharacter {
        actor,
        owner: owner(),
        name: "Emma  Woodhouse".into(),
        aliases: vec![],
        personality_profile: json!({}),
        source_document: None,
        origin: CharacterOrigin::Manual,
        at: at(),
    }
}

fn import_character(actor: Actor, legacy: LegacyImported) -> CharacterCommand {
    CharacterCommand::Import {
        create: create(actor),
        legacy,
    }
}

fn created() -> CharacterEvent {
    CharacterEvent::Created(CharacterCreated {
        owner: owner(),
        name: "Emma Woodhouse".into(),
        aliases: vec![],
        personality_profile: json!({}),
        source_document_id: None,
        origin: CharacterOrigin::Imported,
        created_at: at(),
    })
}

#[test]
fn an_admin_imports_a_character_with_its_legacy_row() {
    given_nothing::<CharacterAggregate>()
        .when(import_character(admin(), record("characters")))
        .then(vec![
            created(),
            CharacterEvent::LegacyImported(record("characters")),
        ]);
}

#[test]
fn only_admins_import() {
    given_nothing::<CharacterAggregate>()
        .when(import_character(editor(), record("characters")))
        .then_error(DomainError::Forbidden("only admins import legacy data"));
}

#[test]
fn an_imported_character_is_imported_once() {
    given::<CharacterAggregate>(vec![
        created(),
        CharacterEvent::LegacyImported(record("characters")),
    ])
    .when(import_character(admin(), record("characters")))
    .then_error(DomainError::AlreadyExists(AggregateType::Character));
}

#[test]
fn an_imported_character_is_an_ordinary_character_afterwards() {
    given::<CharacterAggregate>(vec![
        created(),
        CharacterEvent::LegacyImported(record("characters")),
    ])
    .when(CharacterCommand::Rename {
        actor: editor(),
        name: "Mrs Knightley".into(),
    })
    .then(vec![CharacterEvent::Renamed(
        studio_domain::character::CharacterRenamed {
            name: "Mrs Knightley".into(),
        },
    )]);
}

#[test]
fn the_name_rules_hold_for_imports_too() {
    let mut nameless = create(admin());
    nameless.name = "  ".into();
    given_nothing::<CharacterAggregate>()
        .when(CharacterCommand::Import {
            create: nameless,
            legacy: record("characters"),
        })
        .then_invalid("name");
}

#[test]
fn a_record_is_bounded() {
    let mut large = record("characters");
    large.columns.insert(
        "notes".into(),
        LegacyValue::Text {
            value: "x".repeat(MAX_INLINE_VALUE_BYTES + 1),
        },
    );
    given_nothing::<CharacterAggregate>()
        .when(import_character(admin(), large))
        .then_invalid("legacy.columns");
    let mut anonymous = record("characters");
    anonymous.source = " ".into();
    given_nothing::<CharacterAggregate>()
        .when(import_character(admin(), anonymous))
        .then_invalid("legacy.source");
    let mut noisy = record("characters");
    noisy.warnings = vec!["w".into(); 65];
    given_nothing::<CharacterAggregate>()
        .when(import_character(admin(), noisy))
        .then_invalid("legacy.warnings");
}

fn upload(actor: Actor) -> UploadDocument {
    UploadDocument {
        actor,
        owner: owner(),
        title: "Emma".into(),
        original_filename: "emma.txt".into(),
        media_type: "text/plain".into(),
        size_bytes: 10,
        sha256: "a".repeat(64),
        blob_ref: format!("sha256/{}", "a".repeat(64)),
        at: at(),
    }
}

#[test]
fn an_admin_imports_a_document_with_its_legacy_row() {
    given_nothing::<DocumentAggregate>()
        .when(DocumentCommand::Import {
            upload: upload(admin()),
            legacy: record("documents"),
        })
        .then(vec![
            DocumentEvent::Uploaded(DocumentUploaded {
                owner: owner(),
                title: "Emma".into(),
                original_filename: "emma.txt".into(),
                media_type: "text/plain".into(),
                size_bytes: 10,
                sha256: "a".repeat(64),
                blob_ref: format!("sha256/{}", "a".repeat(64)),
                uploaded_at: at(),
            }),
            DocumentEvent::LegacyImported(record("documents")),
        ]);
    given_nothing::<DocumentAggregate>()
        .when(DocumentCommand::Import {
            upload: upload(editor()),
            legacy: record("documents"),
        })
        .then_error(DomainError::Forbidden("only admins import legacy data"));
}

#[test]
fn a_legacy_record_reads_back_as_written() {
    let event = CharacterEvent::LegacyImported(record("characters"));
    let encoded = studio_domain::DomainEvent::encode(&event);
    assert_eq!(encoded.event_type, "studio.character.legacy_imported.v1");
    assert_eq!(
        encoded.data["columns"]["id"],
        json!({"type": "integer", "value": 42})
    );
    assert_eq!(encoded.data["columns"]["mood"], json!({"type": "null"}));
    let decoded =
        <CharacterEvent as studio_domain::DomainEvent>::decode(&encoded.event_type, &encoded.data);
    assert_eq!(decoded.ok(), Some(event));
}
