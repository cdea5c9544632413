//! The pipeline records each stage of processing on the document once, in
//! order; users cannot forge results; a failure waits for a restart.

mod common;

use chrono::{DateTime, TimeZone, Utc};
use common::given;
use studio_domain::document::processing::{
    CharactersDetected, DetectedCharacter, DocumentAnalysed, Interaction, InteractionsRecorded,
    ProcessingCompleted, ProcessingFailed, ProcessingRestarted, Stage, Step, TextExtracted,
};
use studio_domain::document::{
    DocumentAggregate, DocumentCommand, DocumentDeleted, DocumentEvent, DocumentUploaded,
};
use studio_domain::{Actor, AggregateType, CharacterId, DomainError, Role, UserId};
use uuid::Uuid;

const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

fn owner() -> UserId {
    UserId::from_uuid(Uuid::from_u128(1))
}

fn editor() -> Actor {
    Actor::User {
        id: owner(),
        role: Role::Editor,
    }
}

fn uploaded() -> DocumentEvent {
    DocumentEvent::Uploaded(DocumentUploaded {
        owner: owner(),
        title: "Pride and Prejudice".into(),
        original_filename: "pride.txt".into(),
        media_type: "text/plain".into(),
        size_bytes: 4,
        sha256: SHA.into(),
        blob_ref: format!("sha256/{SHA}"),
        uploaded_at: at(),
    })
}

fn text() -> TextExtracted {
    TextExtracted {
        text_ref: format!("sha256/{SHA}"),
        text_sha256: SHA.into(),
        chars: 4,
        format: "plain_text".into(),
        encoding: Some("UTF-8".into()),
        boilerplate_removed: true,
        pages: None,
        extracted_at: at(),
    }
}

fn analysis() -> DocumentAnalysed {
    DocumentAnalysed {
        analysis_ref: format!("sha256/{SHA}"),
        analyser: "studio-analysis/test".into(),
        words: 120_000,
        sentences: 6_000,
        paragraphs: 2_000,
        chapters: 61,
        flesch_reading_ease: 61.2,
        flesch_kincaid_grade: 9.4,
        dialogue_share: 0.38,
        analysed_at: at(),
    }
}

fn elizabeth() -> CharacterId {
    CharacterId::from_uuid(Uuid::from_u128(10))
}

fn darcy() -> CharacterId {
    CharacterId::from_uuid(Uuid::from_u128(11))
}

fn cast() -> Vec<DetectedCharacter> {
    vec![
        DetectedCharacter {
            character_id: elizabeth(),
            local_ids: vec!["c1".into()],
            name: "Elizabeth  Bennet".into(),
            mentions: 600,
            first_mention: 1_200,
            linked: false,
        },
        DetectedCharacter {
            character_id: darcy(),
            local_ids: vec!["c2".into()],
            name: "Mr. Darcy".into(),
            mentions: 400,
            first_mention: 3_000,
            linked: true,
        },
    ]
}

fn pair(weight: u64) -> Interaction {
    Interaction {
        a: elizabeth(),
        b: darcy(),
        weight,
    }
}

fn failure(step: Step) -> ProcessingFailed {
    ProcessingFailed {
        step,
        reason: "the PDF is encrypted".into(),
        retryable: false,
        attempts: 1,
        failed_at: at(),
    }
}

fn extracted() -> DocumentEvent {
    DocumentEvent::TextExtracted(text())
}

fn analysed() -> DocumentEvent {
    DocumentEvent::Analysed(analysis())
}

fn detected() -> DocumentEvent {
    let mut characters = cast();
    characters[0].name = "Elizabeth Bennet".into();
    DocumentEvent::CharactersDetected(CharactersDetected { characters })
}

fn interacted() -> DocumentEvent {
    DocumentEvent::InteractionsRecorded(InteractionsRecorded {
        interactions: vec![pair(42)],
    })
}

#[test]
fn each_stage_is_recorded_in_order() {
    given::<DocumentAggregate>(vec![uploaded()])
        .when(DocumentCommand::RecordTextExtracted {
            actor: Actor::System,
            text: text(),
        })
        .then(vec![extracted()]);
    given::<DocumentAggregate>(vec![uploaded(), extracted()])
        .when(DocumentCommand::RecordAnalysis {
            actor: Actor::System,
            analysis: analysis(),
        })
        .then(vec![analysed()]);
    given::<DocumentAggregate>(vec![uploaded(), extracted(), analysed()])
        .when(DocumentCommand::RecordCharacters {
            actor: Actor::System,
            characters: cast(),
        })
        .then(vec![detected()]);
    given::<DocumentAggregate>(vec![uploaded(), extracted(), analysed(), detected()])
        .when(DocumentCommand::RecordInteractions {
            actor: Actor::System,
            interactions: vec![pair(42)],
        })
        .then(vec![interacted()]);
    given::<DocumentAggregate>(vec![
        uploaded(),
        extracted(),
        analysed(),
        detected(),
        interacted(),
    ])
    .when(DocumentCommand::CompleteProcessing {
        actor: Actor::System,
        at: at(),
    })
    .then(vec![DocumentEvent::ProcessingCompleted(
        ProcessingCompleted { completed_at: at() },
    )]);
}

#[test]
fn a_stage_done_twice_records_once() {
    given::<DocumentAggregate>(vec![uploaded(), extracted(), analysed()])
        .when(DocumentCommand::RecordTextExtracted {
            actor: Actor::System,
            text: text(),
        })
        .then_nothing();
    given::<DocumentAggregate>(vec![uploaded(), extracted(), analysed()])
        .when(DocumentCommand::RecordAnalysis {
            actor: Actor::System,
            analysis: analysis(),
        })
        .then_nothing();
}

#[test]
fn a_stage_cannot_come_early() {
    given::<DocumentAggregate>(vec![uploaded()])
        .when(DocumentCommand::RecordAnalysis {
            actor: Actor::System,
            analysis: analysis(),
        })
        .then_invalid("stage");
}

#[test]
fn users_cannot_forge_results() {
    given::<DocumentAggregate>(vec![uploaded()])
        .when(DocumentCommand::RecordTextExtracted {
            actor: editor(),
            text: text(),
        })
        .then_error(DomainError::Forbidden(
            "only the processing pipeline records processing results",
        ));
}

#[test]
fn a_deleted_document_records_nothing() {
    given::<DocumentAggregate>(vec![uploaded(), DocumentEvent::Deleted(DocumentDeleted {})])
        .when(DocumentCommand::RecordTextExtracted {
            actor: Actor::System,
            text: text(),
        })
        .then_error(DomainError::Deleted(AggregateType::Document));
}

#[test]
fn results_are_checked() {
    let mut bad = analysis();
    bad.dialogue_share = f64::NAN;
    given::<DocumentAggregate>(vec![uploaded(), extracted()])
        .when(DocumentCommand::RecordAnalysis {
            actor: Actor::System,
            analysis: bad,
        })
        .then_invalid("statistics");
    let mut twice = cast();
    twice[1].character_id = elizabeth();
    given::<DocumentAggregate>(vec![uploaded(), extracted(), analysed()])
        .when(DocumentCommand::RecordCharacters {
            actor: Actor::System,
            characters: twice,
        })
        .then_invalid("characters");
    let stranger = Interaction {
        a: elizabeth(),
        b: CharacterId::from_uuid(Uuid::from_u128(99)),
        weight: 1,
    };
    given::<DocumentAggregate>(vec![uploaded(), extracted(), analysed(), detected()])
        .when(DocumentCommand::RecordInteractions {
            actor: Actor::System,
            interactions: vec![stranger],
        })
        .then_invalid("interactions");
    let mut unknown_format = text();
    unknown_format.format = "exe".into();
    given::<DocumentAggregate>(vec![uploaded()])
        .when(DocumentCommand::RecordTextExtracted {
            actor: Actor::System,
            text: unknown_format,
        })
        .then_invalid("format");
}

#[test]
fn a_failure_stops_processing_until_a_restart() {
    let failed = DocumentEvent::ProcessingFailed(failure(Step::ExtractText));
    given::<DocumentAggregate>(vec![uploaded()])
        .when(DocumentCommand::FailProcessing {
            actor: Actor::System,
            failure: failure(Step::ExtractText),
        })
        .then(vec![failed.clone()]);
    given::<DocumentAggregate>(vec![uploaded(), failed.clone()])
        .when(DocumentCommand::RecordTextExtracted {
            actor: Actor::System,
            text: text(),
        })
        .then_invalid("stage");
    given::<DocumentAggregate>(vec![uploaded(), failed.clone()])
        .when(DocumentCommand::FailProcessing {
            actor: Actor::System,
            failure: failure(Step::ExtractText),
        })
        .then_nothing();
    let restarted = DocumentEvent::ProcessingRestarted(ProcessingRestarted { restarted_at: at() });
    given::<DocumentAggregate>(vec![uploaded(), failed.clone()])
        .when(DocumentCommand::RestartProcessing {
            actor: editor(),
            at: at(),
        })
        .then(vec![restarted.clone()]);
    given::<DocumentAggregate>(vec![uploaded(), failed, restarted])
        .when(DocumentCommand::RecordTextExtracted {
            actor: Actor::System,
            text: text(),
        })
        .then(vec![extracted()]);
}

#[test]
fn a_failure_of_a_step_no_longer_due_records_nothing() {
    given::<DocumentAggregate>(vec![uploaded(), extracted()])
        .when(DocumentCommand::FailProcessing {
            actor: Actor::System,
            failure: failure(Step::ExtractText),
        })
        .then_nothing();
}

#[test]
fn only_failed_processing_restarts() {
    given::<DocumentAggregate>(vec![uploaded()])
        .when(DocumentCommand::RestartProcessing {
            actor: editor(),
            at: at(),
        })
        .then_invalid("stage");
}

#[test]
fn stages_map_to_progress() {
    let percents: Vec<u8> = Stage::ALL.iter().map(|s| s.percent()).collect();
    assert!(percents.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(Stage::Completed.percent(), 100);
    assert_eq!(Stage::Completed.next_step(), None);
    for stage in Stage::ALL {
        assert_eq!(Stage::parse(stage.as_str()), Some(stage));
        if let Some(step) = stage.next_step() {
            assert_eq!(step.from_stage(), stage);
        }
    }
}
