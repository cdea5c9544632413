mod common;

use chrono::{DateTime, TimeZone, Utc};
use common::{given, given_nothing};
use studio_domain::document::{
    DocumentAggregate, DocumentCommand, DocumentDeleted, DocumentEvent, DocumentRenamed,
    DocumentUploaded, UploadDocument,
};
use studio_domain::{Actor, AggregateType, DomainError, Role, UserId};
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

fn stranger() -> Actor {
    Actor::User {
        id: UserId::from_uuid(Uuid::from_u128(2)),
        role: Role::Editor,
    }
}

fn admin() -> Actor {
    Actor::User {
        id: UserId::from_uuid(Uuid::from_u128(3)),
        role: Role::Admin,
    }
}

fn upload(actor: Actor, size_bytes: u64) -> DocumentCommand {
    DocumentCommand::Upload(UploadDocument {
        actor,
        owner: owner(),
        title: " Pride and  Prejudice ".into(),
        original_filename: "pride.txt".into(),
        media_type: "Text/Plain".into(),
        size_bytes,
        sha256: SHA.to_uppercase(),
        blob_ref: format!("sha256/{SHA}"),
        at: at(),
    })
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

fn deleted() -> DocumentEvent {
    DocumentEvent::Deleted(DocumentDeleted {})
}

fn rename(actor: Actor, title: &str) -> DocumentCommand {
    DocumentCommand::Rename {
        actor,
        title: title.into(),
    }
}

#[test]
fn an_editor_uploads_a_document() {
    given_nothing::<DocumentAggregate>()
        .when(upload(editor(), 4))
        .then(vec![uploaded()]);
}

#[test]
fn an_id_is_uploaded_only_once() {
    given::<DocumentAggregate>(vec![uploaded()])
        .when(upload(editor(), 4))
        .then_error(DomainError::AlreadyExists(AggregateType::Document));
}

#[test]
fn viewers_do_not_upload() {
    let viewer = Actor::User {
        id: owner(),
        role: Role::Viewer,
    };
    given_nothing::<DocumentAggregate>()
        .when(upload(viewer, 4))
        .then_error(DomainError::Forbidden("viewers cannot upload documents"));
}

#[test]
fn editors_do_not_upload_for_others() {
    given_nothing::<DocumentAggregate>()
        .when(upload(stranger(), 4))
        .then_error(DomainError::Forbidden(
            "only admins upload on behalf of others",
        ));
}

#[test]
fn an_empty_file_is_refused() {
    given_nothing::<DocumentAggregate>()
        .when(upload(editor(), 0))
        .then_invalid("file");
}

#[test]
fn the_owner_renames() {
    given::<DocumentAggregate>(vec![uploaded()])
        .when(rename(editor(), "Pride & Prejudice"))
        .then(vec![DocumentEvent::Renamed(DocumentRenamed {
            title: "Pride & Prejudice".into(),
        })]);
}

#[test]
fn renaming_to_the_same_title_records_nothing() {
    given::<DocumentAggregate>(vec![uploaded()])
        .when(rename(editor(), "Pride and Prejudice "))
        .then_nothing();
}

#[test]
fn another_tenant_cannot_even_find_it() {
    given::<DocumentAggregate>(vec![uploaded()])
        .when(rename(stranger(), "Mine now"))
        .then_error(DomainError::NotFound(AggregateType::Document));
    given::<DocumentAggregate>(vec![uploaded(), deleted()])
        .when(DocumentCommand::Delete { actor: stranger() })
        .then_error(DomainError::NotFound(AggregateType::Document));
}

#[test]
fn admins_change_anything() {
    given::<DocumentAggregate>(vec![uploaded()])
        .when(DocumentCommand::Delete { actor: admin() })
        .then(vec![deleted()]);
}

#[test]
fn a_missing_document_is_not_found() {
    given_nothing::<DocumentAggregate>()
        .when(rename(editor(), "Anything"))
        .then_error(DomainError::NotFound(AggregateType::Document));
}

#[test]
fn a_deleted_document_accepts_nothing() {
    let commands = [
        rename(editor(), "Again"),
        DocumentCommand::Delete { actor: editor() },
        DocumentCommand::Delete { actor: admin() },
    ];
    for command in commands {
        given::<DocumentAggregate>(vec![uploaded(), deleted()])
            .when(command)
            .then_error(DomainError::Deleted(AggregateType::Document));
    }
}

#[test]
fn bad_titles_are_refused() {
    given::<DocumentAggregate>(vec![uploaded()])
        .when(rename(editor(), "   "))
        .then_invalid("title");
    given::<DocumentAggregate>(vec![uploaded()])
        .when(rename(editor(), &"t".repeat(301)))
        .then_invalid("title");
}
