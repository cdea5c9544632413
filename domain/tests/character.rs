mod common;

use chrono::{DateTime, TimeZone, Utc};
use common::{given, given_nothing};
use serde_json::json;
use studio_domain::character::{
    Absorption, CharacterAbsorbed, CharacterAggregate, CharacterAliasAdded, CharacterCommand,
    CharacterCreated, CharacterDeleted, CharacterEvent, CharacterMerged, CharacterOrigin,
    CharacterProfileUpdated, CharacterRenamed, CharacterState, CreateCharacter, Peer, Relationship,
    RelationshipDeclared, RelationshipRemoved,
};
use studio_domain::{Actor, AggregateType, CharacterId, DomainError, Role, UserId, fold};
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

fn other_id() -> CharacterId {
    CharacterId::from_uuid(Uuid::from_u128(20))
}

fn this_id() -> CharacterId {
    CharacterId::from_uuid(Uuid::from_u128(10))
}

fn jane() -> CharacterEvent {
    CharacterEvent::Created(CharacterCreated {
        owner: owner(),
        name: "Jane Bennet".into(),
        aliases: vec!["Jane".into(), "Lizzy".into()],
        personality_profile: json!({}),
        source_document_id: None,
        origin: CharacterOrigin::Detected,
        created_at: at(),
    })
}

fn state_of(history: Vec<CharacterEvent>) -> CharacterState {
    let numbered = history.into_iter().zip(1..).map(|(e, seq)| (seq, e));
    match fold::<CharacterAggregate>(numbered) {
        Ok(versioned) => versioned.state,
        Err(err) => panic!("the history does not fold: {err}"),
    }
}

fn peer() -> Peer {
    match Peer::of(&editor(), this_id(), other_id(), &state_of(vec![jane()])) {
        Ok(peer) => peer,
        Err(err) => panic!("jane is a peer: {err}"),
    }
}

fn declare(kind: &str) -> CharacterCommand {
    CharacterCommand::DeclareRelationship {
        actor: editor(),
        other: peer(),
        kind: kind.into(),
    }
}

fn declared(kind: &str) -> CharacterEvent {
    CharacterEvent::RelationshipDeclared(RelationshipDeclared {
        other_id: other_id(),
        kind: kind.into(),
    })
}

#[test]
fn a_relationship_is_declared_once_and_removed() {
    given::<CharacterAggregate>(vec![created()])
        .when(declare("  sibling_of "))
        .then(vec![declared("sibling_of")]);
    given::<CharacterAggregate>(vec![created(), declared("sibling_of")])
        .when(declare("sibling_of"))
        .then_nothing();
    // Another kind with the same character is another relationship.
    given::<CharacterAggregate>(vec![created(), declared("sibling_of")])
        .when(declare("rival of the heart"))
        .then(vec![declared("rival of the heart")]);
    given::<CharacterAggregate>(vec![created(), declared("sibling_of")])
        .when(CharacterCommand::RemoveRelationship {
            actor: editor(),
            other: other_id(),
            kind: "sibling_of".into(),
        })
        .then(vec![CharacterEvent::RelationshipRemoved(
            RelationshipRemoved {
                other_id: other_id(),
                kind: "sibling_of".into(),
            },
        )]);
    given::<CharacterAggregate>(vec![created()])
        .when(CharacterCommand::RemoveRelationship {
            actor: editor(),
            other: other_id(),
            kind: "sibling_of".into(),
        })
        .then_error(DomainError::NoSuchRelationship {
            other: other_id(),
            kind: "sibling_of".into(),
        });
}

#[test]
fn relationships_are_checked() {
    given::<CharacterAggregate>(vec![created()])
        .when(declare(""))
        .then_invalid("kind");
    given::<CharacterAggregate>(vec![created()])
        .when(declare(&"x".repeat(65)))
        .then_invalid("kind");
    given::<CharacterAggregate>(vec![created()])
        .when(declare("a\u{7}b"))
        .then_invalid("kind");
    // Not with itself, not with what the actor cannot see or is gone.
    assert!(matches!(
        Peer::of(&editor(), this_id(), this_id(), &state_of(vec![jane()])),
        Err(DomainError::Invalid { field: "other", .. })
    ));
    assert_eq!(
        Peer::of(&stranger(), this_id(), other_id(), &state_of(vec![jane()])),
        Err(DomainError::NotFound(AggregateType::Character))
    );
    assert_eq!(
        Peer::of(
            &editor(),
            this_id(),
            other_id(),
            &state_of(vec![jane(), CharacterEvent::Deleted(CharacterDeleted {})])
        ),
        Err(DomainError::Deleted(AggregateType::Character))
    );
    // An admin sees both, but characters of two owners never relate.
    let admin = Actor::User {
        id: UserId::from_uuid(Uuid::from_u128(3)),
        role: Role::Admin,
    };
    let foreign = CharacterEvent::Created(CharacterCreated {
        owner: UserId::from_uuid(Uuid::from_u128(2)),
        ..match jane() {
            CharacterEvent::Created(c) => c,
            _ => unreachable!("jane() creates"),
        }
    });
    let foreign_peer = Peer::of(&admin, this_id(), other_id(), &state_of(vec![foreign]));
    let Ok(foreign_peer) = foreign_peer else {
        panic!("an admin sees every character")
    };
    given::<CharacterAggregate>(vec![created()])
        .when(CharacterCommand::DeclareRelationship {
            actor: admin,
            other: foreign_peer,
            kind: "rival_of".into(),
        })
        .then_error(DomainError::Forbidden(
            "characters of different owners cannot be related or merged",
        ));
    given::<CharacterAggregate>(vec![created()])
        .when(CharacterCommand::DeclareRelationship {
            actor: stranger(),
            other: peer(),
            kind: "rival_of".into(),
        })
        .then_error(DomainError::NotFound(AggregateType::Character));
}

#[test]
fn a_merge_freezes_the_merged_character_and_the_survivor_takes_what_it_lacked() {
    let survivor = peer();
    let merged_history = vec![
        created(),
        declared("sibling_of"),
        CharacterEvent::RelationshipDeclared(RelationshipDeclared {
            other_id: CharacterId::from_uuid(Uuid::from_u128(30)),
            kind: "friend_of".into(),
        }),
    ];
    let merge = || CharacterCommand::MergeInto {
        actor: editor(),
        survivor,
    };
    let merged = CharacterEvent::Merged(CharacterMerged {
        into_id: other_id(),
    });
    given::<CharacterAggregate>(merged_history.clone())
        .when(merge())
        .then(vec![merged.clone()]);
    let mut after = merged_history;
    after.push(merged);
    // Sent again: nothing new; any other command: gone, naming the survivor.
    given::<CharacterAggregate>(after.clone())
        .when(merge())
        .then_nothing();
    given::<CharacterAggregate>(after.clone())
        .when(alias("Eliza"))
        .then_error(DomainError::Merged(other_id()));
    given::<CharacterAggregate>(after.clone())
        .when(CharacterCommand::Delete { actor: editor() })
        .then_error(DomainError::Merged(other_id()));

    // The survivor (Jane, who already bears "Lizzy") absorbs.
    let absorption = match Absorption::of(other_id(), this_id(), &state_of(after)) {
        Ok(a) => a,
        Err(err) => panic!("merged into the survivor: {err}"),
    };
    let absorbed = CharacterEvent::Absorbed(CharacterAbsorbed {
        merged_id: this_id(),
        aliases: vec!["Elizabeth Bennet".into(), "Miss Bennet".into()],
        // The sibling relationship pointed at the survivor itself.
        relationships: vec![Relationship {
            other_id: CharacterId::from_uuid(Uuid::from_u128(30)),
            kind: "friend_of".into(),
        }],
    });
    given::<CharacterAggregate>(vec![jane()])
        .when(CharacterCommand::Absorb {
            actor: editor(),
            absorption: absorption.clone(),
        })
        .then(vec![absorbed.clone()]);
    given::<CharacterAggregate>(vec![jane(), absorbed])
        .when(CharacterCommand::Absorb {
            actor: editor(),
            absorption,
        })
        .then_nothing();
    // A character not merged into this one cannot be absorbed.
    assert!(matches!(
        Absorption::of(other_id(), this_id(), &state_of(vec![created()])),
        Err(DomainError::Invalid {
            field: "merged",
            ..
        })
    ));
}
