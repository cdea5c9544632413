//! `docs/events.md` documents every event type and every field of its data.

use std::collections::BTreeSet;

use chrono::Utc;
use serde_json::json;
use studio_domain::character::{
    CharacterAbsorbed, CharacterAliasAdded, CharacterCreated, CharacterDeleted, CharacterEvent,
    CharacterMerged, CharacterProfileUpdated, CharacterRenamed, Relationship, RelationshipDeclared,
    RelationshipRemoved,
};
use studio_domain::document::processing::{
    CharactersDetected, DetectedCharacter, DocumentAnalysed, Interaction, InteractionsRecorded,
    ProcessingCompleted, ProcessingFailed, ProcessingRestarted, Step, TextExtracted,
};
use studio_domain::document::{DocumentDeleted, DocumentEvent, DocumentRenamed, DocumentUploaded};
use studio_domain::legacy::LegacyImported;
use studio_domain::user::{UserEvent, UserRegistered};
use studio_domain::{AnyEvent, CharacterId, DocumentId, DomainEvent, Role, UserId};
use uuid::Uuid;

fn legacy() -> LegacyImported {
    LegacyImported {
        source: "s".into(),
        table: "t".into(),
        legacy_id: 1,
        columns: Default::default(),
        warnings: vec![],
    }
}

fn one_of_each() -> Vec<(String, serde_json::Value)> {
    let owner = UserId::from_uuid(Uuid::nil());
    let mut encoded = Vec::new();
    let user = [
        UserEvent::Registered(UserRegistered {
            email: "a@b.org".into(),
            password_hash: "x".into(),
            role: Role::Editor,
            display_name: None,
            registered_at: Utc::now(),
        }),
        UserEvent::Forgotten(studio_domain::user::UserForgotten {}),
    ];
    encoded.extend(user.iter().map(|e| e.encode()));
    let document = [
        DocumentEvent::Uploaded(DocumentUploaded {
            owner,
            title: "t".into(),
            original_filename: "f".into(),
            media_type: "text/plain".into(),
            size_bytes: 1,
            sha256: "a".into(),
            blob_ref: "b".into(),
            uploaded_at: Utc::now(),
        }),
        DocumentEvent::Renamed(DocumentRenamed { title: "t".into() }),
        DocumentEvent::Deleted(DocumentDeleted {}),
        DocumentEvent::TextExtracted(TextExtracted {
            text_ref: "r".into(),
            text_sha256: "a".into(),
            chars: 1,
            format: "plain_text".into(),
            encoding: None,
            boilerplate_removed: false,
            pages: None,
            extracted_at: Utc::now(),
        }),
        DocumentEvent::Analysed(DocumentAnalysed {
            analysis_ref: "r".into(),
            analyser: "a".into(),
            words: 1,
            sentences: 1,
            paragraphs: 1,
            chapters: 0,
            flesch_reading_ease: 0.0,
            flesch_kincaid_grade: 0.0,
            dialogue_share: 0.0,
            analysed_at: Utc::now(),
        }),
        DocumentEvent::CharactersDetected(CharactersDetected {
            characters: vec![DetectedCharacter {
                character_id: CharacterId::from_uuid(Uuid::nil()),
                local_ids: vec!["c1".into()],
                name: "n".into(),
                mentions: 1,
                first_mention: 0,
                linked: false,
            }],
        }),
        DocumentEvent::InteractionsRecorded(InteractionsRecorded {
            interactions: vec![Interaction {
                a: CharacterId::from_uuid(Uuid::nil()),
                b: CharacterId::from_uuid(Uuid::max()),
                weight: 1,
            }],
        }),
        DocumentEvent::ProcessingCompleted(ProcessingCompleted {
            completed_at: Utc::now(),
        }),
        DocumentEvent::ProcessingFailed(ProcessingFailed {
            step: Step::ExtractText,
            reason: "r".into(),
            retryable: false,
            attempts: 1,
            failed_at: Utc::now(),
        }),
        DocumentEvent::ProcessingRestarted(ProcessingRestarted {
            restarted_at: Utc::now(),
        }),
        DocumentEvent::LegacyImported(legacy()),
    ];
    encoded.extend(document.iter().map(|e| e.encode()));
    let character = [
        CharacterEvent::Created(CharacterCreated {
            owner,
            name: "n".into(),
            aliases: vec![],
            personality_profile: json!({}),
            source_document_id: Some(DocumentId::from_uuid(Uuid::nil())),
            origin: studio_domain::character::CharacterOrigin::Manual,
            created_at: Utc::now(),
        }),
        CharacterEvent::Renamed(CharacterRenamed { name: "n".into() }),
        CharacterEvent::ProfileUpdated(CharacterProfileUpdated {
            personality_profile: json!({}),
        }),
        CharacterEvent::AliasAdded(CharacterAliasAdded { alias: "a".into() }),
        CharacterEvent::Deleted(CharacterDeleted {}),
        CharacterEvent::LegacyImported(legacy()),
        CharacterEvent::RelationshipDeclared(RelationshipDeclared {
            other_id: CharacterId::from_uuid(Uuid::nil()),
            kind: "sibling_of".into(),
        }),
        CharacterEvent::RelationshipRemoved(RelationshipRemoved {
            other_id: CharacterId::from_uuid(Uuid::nil()),
            kind: "sibling_of".into(),
        }),
        CharacterEvent::Merged(CharacterMerged {
            into_id: CharacterId::from_uuid(Uuid::nil()),
        }),
        CharacterEvent::Absorbed(CharacterAbsorbed {
            merged_id: CharacterId::from_uuid(Uuid::nil()),
            aliases: vec!["a".into()],
            relationships: vec![Relationship {
                other_id: CharacterId::from_uuid(Uuid::nil()),
                kind: "rival_of".into(),
            }],
        }),
    ];
    encoded.extend(character.iter().map(|e| e.encode()));
    encoded
        .into_iter()
        .map(|e| (e.event_type, e.data))
        .collect()
}

#[test]
fn every_event_type_and_field_is_documented() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/events.md");
    let doc = std::fs::read_to_string(path).expect("docs/events.md");
    let samples = one_of_each();
    let sampled: BTreeSet<&str> = samples.iter().map(|(t, _)| t.as_str()).collect();
    let known: BTreeSet<&str> = AnyEvent::all_types().collect();
    assert_eq!(sampled, known, "this test must sample every event type");
    for superseded in studio_domain::upcast::SUPERSEDED {
        assert!(
            doc.contains(&format!("### `{superseded}` (superseded)")),
            "the superseded type {superseded} is not documented"
        );
    }
    for (event_type, data) in &samples {
        let heading = format!("### `{event_type}`");
        let start = doc
            .find(&heading)
            .unwrap_or_else(|| panic!("{event_type} is not documented"));
        let section = &doc[start + heading.len()..];
        let section = &section[..section.find("\n### ").unwrap_or(section.len())];
        for field in data
            .as_object()
            .map(|o| o.keys().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            assert!(
                section.contains(&format!("| `{field}` |")),
                "the field {field} of {event_type} is not documented"
            );
        }
    }
}
