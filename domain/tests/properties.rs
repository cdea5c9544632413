//! Whatever commands arrive, in whatever order, the accepted events form a
//! history that folds back to the same state with contiguous versions from
//! 1, and that survives encoding.

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::json;
use studio_domain::character::{CharacterAggregate, CharacterCommand, CreateCharacter};
use studio_domain::document::processing::{
    DetectedCharacter, DocumentAnalysed, Interaction, ProcessingFailed, Step, TextExtracted,
};
use studio_domain::document::{DocumentAggregate, DocumentCommand, UploadDocument};
use studio_domain::{
    Actor, CharacterId, DomainAggregate, DomainError, DomainEvent, Role, UserId, fold,
};
use uuid::Uuid;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

fn owner() -> UserId {
    UserId::from_uuid(Uuid::from_u128(1))
}

fn actor() -> impl Strategy<Value = Actor> {
    prop_oneof![
        4 => Just(Actor::User { id: owner(), role: Role::Editor }),
        1 => Just(Actor::User { id: owner(), role: Role::Viewer }),
        1 => Just(Actor::User { id: UserId::from_uuid(Uuid::from_u128(2)), role: Role::Editor }),
        1 => Just(Actor::User { id: UserId::from_uuid(Uuid::from_u128(3)), role: Role::Admin }),
        1 => Just(Actor::System),
    ]
}

/// Short strings from a small alphabet, so duplicates and blanks are common.
fn text() -> impl Strategy<Value = String> {
    "[ aAbB\t]{0,6}"
}

fn character_command() -> impl Strategy<Value = CharacterCommand> {
    prop_oneof![
        (actor(), text(), prop::collection::vec(text(), 0..4)).prop_map(
            |(actor, name, aliases)| {
                CharacterCommand::Create(CreateCharacter {
                    actor,
                    owner: owner(),
                    name,
                    aliases,
                    personality_profile: json!({}),
                    source_document: None,
                    origin: studio_domain::character::CharacterOrigin::Manual,
                    at: at(),
                })
            }
        ),
        (actor(), text()).prop_map(|(actor, name)| CharacterCommand::Rename { actor, name }),
        (actor(), text()).prop_map(|(actor, alias)| CharacterCommand::AddAlias { actor, alias }),
        (actor(), any::<u8>()).prop_map(|(actor, n)| CharacterCommand::UpdateProfile {
            actor,
            personality_profile: if n % 5 == 0 {
                json!(n)
            } else {
                json!({ "mood": n % 3 })
            },
        }),
        actor().prop_map(|actor| CharacterCommand::Delete { actor }),
    ]
}

fn document_command() -> impl Strategy<Value = DocumentCommand> {
    prop_oneof![
        (actor(), text(), 0u64..3).prop_map(|(actor, title, size_bytes)| {
            DocumentCommand::Upload(UploadDocument {
                actor,
                owner: owner(),
                title,
                original_filename: "book.txt".into(),
                media_type: "text/plain".into(),
                size_bytes,
                sha256: "a".repeat(64),
                blob_ref: format!("sha256/{}", "a".repeat(64)),
                at: at(),
            })
        }),
        (actor(), text()).prop_map(|(actor, title)| DocumentCommand::Rename { actor, title }),
        actor().prop_map(|actor| DocumentCommand::Delete { actor }),
        (actor(), 0u8..6).prop_map(|(actor, stage)| processing_command(actor, stage)),
        (actor(), text()).prop_map(|(actor, reason)| DocumentCommand::FailProcessing {
            actor,
            failure: ProcessingFailed {
                step: Step::ExtractText,
                reason,
                retryable: true,
                attempts: 1,
                failed_at: at(),
            },
        }),
        actor().prop_map(|actor| DocumentCommand::RestartProcessing { actor, at: at() }),
    ]
}

/// One of the pipeline's recordings, valid in itself.
fn processing_command(actor: Actor, stage: u8) -> DocumentCommand {
    let sha = "b".repeat(64);
    let character = CharacterId::from_uuid(Uuid::from_u128(7));
    let other = CharacterId::from_uuid(Uuid::from_u128(8));
    match stage {
        0 => DocumentCommand::RecordTextExtracted {
            actor,
            text: TextExtracted {
                text_ref: format!("sha256/{sha}"),
                text_sha256: sha,
                chars: 10,
                format: "plain_text".into(),
                encoding: Some("UTF-8".into()),
                boilerplate_removed: false,
                pages: None,
                extracted_at: at(),
            },
        },
        1 => DocumentCommand::RecordAnalysis {
            actor,
            analysis: DocumentAnalysed {
                analysis_ref: format!("sha256/{sha}"),
                analyser: "test".into(),
                words: 2,
                sentences: 1,
                paragraphs: 1,
                chapters: 0,
                flesch_reading_ease: 50.5,
                flesch_kincaid_grade: 8.25,
                dialogue_share: 0.5,
                analysed_at: at(),
            },
        },
        2 => DocumentCommand::RecordCharacters {
            actor,
            characters: [character, other]
                .into_iter()
                .enumerate()
                .map(|(n, character_id)| DetectedCharacter {
                    character_id,
                    local_ids: vec![format!("c{n}")],
                    name: format!("Name {n}"),
                    mentions: 3,
                    first_mention: 0,
                    linked: false,
                })
                .collect(),
        },
        3 => DocumentCommand::RecordInteractions {
            actor,
            interactions: vec![Interaction {
                a: character,
                b: other,
                weight: 2,
            }],
        },
        _ => DocumentCommand::CompleteProcessing { actor, at: at() },
    }
}

/// Accepted events, numbered as the log would number them.
type History<A> = Vec<(u64, <A as eventually::aggregate::Aggregate>::Event)>;

/// Decides every command in turn against the evolving state, keeping what
/// is accepted.
fn run<A: DomainAggregate>(
    commands: Vec<A::Command>,
) -> Result<(History<A>, A::State), DomainError> {
    let mut state = A::State::default();
    let mut history = Vec::new();
    for command in commands {
        if let Ok(events) = A::decide(&state, command) {
            for event in events {
                state = A::apply(state, event.clone())?;
                history.push((history.len() as u64 + 1, event));
            }
        }
    }
    Ok((history, state))
}

fn check_history<A: DomainAggregate>(commands: Vec<A::Command>) -> Result<(), TestCaseError> {
    let (history, state) = run::<A>(commands).map_err(|e| TestCaseError::fail(e.to_string()))?;

    let sequences: Vec<u64> = history.iter().map(|(seq, _)| *seq).collect();
    prop_assert_eq!(sequences, (1..=history.len() as u64).collect::<Vec<_>>());

    let folded = fold::<A>(history.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(folded.version, history.len() as u64);
    prop_assert_eq!(&folded.state, &state);

    for (_, event) in &history {
        let encoded = event.encode();
        let decoded = A::Event::decode(&encoded.event_type, &encoded.data)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&decoded, event);
        prop_assert!(A::Event::TYPES.contains(&encoded.event_type.as_str()));
    }

    if history.len() >= 2 {
        let mut gapped = history.clone();
        gapped.remove(0);
        prop_assert!(fold::<A>(gapped).is_err(), "a history with a gap folded");
        let mut swapped = history;
        swapped.swap(0, 1);
        prop_assert!(fold::<A>(swapped).is_err(), "a reordered history folded");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn character_histories_fold_with_contiguous_versions(
        commands in prop::collection::vec(character_command(), 0..30)
    ) {
        check_history::<CharacterAggregate>(commands)?;
    }

    #[test]
    fn document_histories_fold_with_contiguous_versions(
        commands in prop::collection::vec(document_command(), 0..40)
    ) {
        check_history::<DocumentAggregate>(commands)?;
    }
}
