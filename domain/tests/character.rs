mod common;

use chrono::{DateTime, TimeZone, Utc};
use common::{given, given_nothing};
use serde_json::json;
use studio_domain::character::{
    CharacterAggregate, CharacterAliasAdded, CharacterCommand, CharacterCreated, CharacterDeleted,
    CharacterEvent, CharacterOrigin, CharacterProfileUpdated, CharacterRenamed, CreateCharacter,
};
use studio_domain::{Actor, AggregateType, DomainError, Role, UserId};
use uuid::Uuid;

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

fn create(aliases: &[&str], profile: serde_json::Value) -> CharacterCommand {
    CharacterCommand::Create(CreateCharacter {
        actor: editor(),
        owner: owner(),
        name: "Elizabeth Bennet".into(),
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        personality_profile: profile,
        source_document: None,
        origin: CharacterOrigin::Manual,
        at: at(),
    })
}

fn created() -> CharacterEvent {
    CharacterEvent::Created(CharacterCreated {
        owner: owner(),
        name: "Elizabeth Bennet".into(),
        aliases: vec!["Lizzy".into(), "Miss Bennet".into()],
        personality_profile: json!({"traits": ["witty"]}),
        source_document_id: None,
        origin: CharacterOrigin::Manual,
        created_at: at(),
    })
}

fn alias(a: &str) -> CharacterCommand {
    CharacterCommand::AddAlias {
        actor: editor(),
        alias: a.into(),
    }
}

#[test]
fn an_editor_creates_a_character() {
    given_nothing::<CharacterAggregate>()
        .when(create(
            &["Lizzy", " Miss  Bennet"],
            json!({"traits": ["witty"]}),
        ))
        .then(vec![created()]);
}

#[test]
fn duplicate_aliases_are_refused_at_creation() {
    given_nothing::<CharacterAggregate>()
        .when(create(&["Lizzy", "lizzy"], json!({})))
        .then_error(DomainError::DuplicateAlias("lizzy".into()));
    given_nothing::<CharacterAggregate>()
        .when(create(&["elizabeth bennet"], json!({})))
        .then_error(DomainError::DuplicateAlias("elizabeth bennet".into()));
}

#[test]
fn an_alias_is_added_once() {
    given::<CharacterAggregate>(vec![created()])
        .when(alias("Eliza"))
        .then(vec![CharacterEvent::AliasAdded(CharacterAliasAdded {
            alias: "Eliza".into(),
        })]);
    given::<CharacterAggregate>(vec![created()])
        .when(alias("LIZZY"))
        .then_error(DomainError::DuplicateAlias("LIZZY".into()));
    given::<CharacterAggregate>(vec![created()])
        .when(alias("Elizabeth  Bennet"))
        .then_error(DomainError::DuplicateAlias("Elizabeth Bennet".into()));
}

#[test]
fn a_profile_is_a_json_object() {
    given_nothing::<CharacterAggregate>()
        .when(create(&[], json!("witty")))
        .then_invalid("personality_profile");
    given::<CharacterAggregate>(vec![created()])
        .when(CharacterCommand::UpdateProfile {
            actor: editor(),
            personality_profile: json!([1]),
        })
        .then_invalid("personality_profile");
}

#[test]
fn profile_and_name_changes_record_only_real_changes() {
    given::<CharacterAggregate>(vec![created()])
        .when(CharacterCommand::UpdateProfile {
            actor: editor(),
            personality_profile: json!({"traits": ["witty", "proud"]}),
        })
        .then(vec![CharacterEvent::ProfileUpdated(
            CharacterProfileUpdated {
                personality_profile: json!({"traits": ["witty", "proud"]}),
            },
        )]);
    given::<CharacterAggregate>(vec![created()])
        .when(CharacterCommand::UpdateProfile {
            actor: editor(),
            personality_profile: json!({"traits": ["witty"]}),
        })
        .then_nothing();
    given::<CharacterAggregate>(vec![created()])
        .when(CharacterCommand::Rename {
            actor: editor(),
            name: "Elizabeth Darcy".into(),
        })
        .then(vec![CharacterEvent::Renamed(CharacterRenamed {
            name: "Elizabeth Darcy".into(),
        })]);
    given::<CharacterAggregate>(vec![created()])
        .when(CharacterCommand::Rename {
            actor: editor(),
            name: "Elizabeth Bennet".into(),
        })
        .then_nothing();
}

#[test]
fn names_are_bounded() {
    given::<CharacterAggregate>(vec![created()])
        .when(CharacterCommand::Rename {
            actor: editor(),
            name: "".into(),
        })
        .then_invalid("name");
    given::<CharacterAggregate>(vec![created()])
        .when(alias(&"a".repeat(201)))
        .then_invalid("alias");
}

#[test]
fn strangers_and_viewers() {
    given::<CharacterAggregate>(vec![created()])
        .when(CharacterCommand::Delete { actor: stranger() })
        .then_error(DomainError::NotFound(AggregateType::Character));
    let viewer = Actor::User {
        id: owner(),
        role: Role::Viewer,
    };
    given::<CharacterAggregate>(vec![created()])
        .when(CharacterCommand::Delete { actor: viewer })
        .then_error(DomainError::Forbidden("viewers cannot change characters"));
}

#[test]
fn a_deleted_character_accepts_nothing() {
    let history = || vec![created(), CharacterEvent::Deleted(CharacterDeleted {})];
    let commands = [
        CharacterCommand::Rename {
            actor: editor(),
            name: "X".into(),
        },
        CharacterCommand::UpdateProfile {
            actor: editor(),
            personality_profile: json!({}),
        },
        alias("Eliza"),
        CharacterCommand::Delete { actor: editor() },
        create(&[], json!({})),
    ];
    for command in commands {
        let is_create = matches!(command, CharacterCommand::Create(_));
        let expected = if is_create {
            DomainError::AlreadyExists(AggregateType::Character)
        } else {
            DomainError::Deleted(AggregateType::Character)
        };
        given::<CharacterAggregate>(history())
            .when(command)
            .then_error(expected);
    }
}
