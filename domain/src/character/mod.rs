//! Characters: people of a book, created by hand or detected, with
//! aliases, a free-form personality profile, relationships they declare
//! with each other, and merges of one character found twice.

mod relations;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::aggregate::eventually_aggregate;
use crate::document::DocumentState;
use crate::legacy::{self, LegacyImported};
use crate::{
    Actor, AggregateType, CharacterId, DocumentId, DomainAggregate, DomainError, DomainEvent,
    UserId, rules,
};
pub use relations::{
    Absorption, CharacterAbsorbed, CharacterMerged, Peer, Relationship, RelationshipDeclared,
    RelationshipRemoved,
};

const KIND: AggregateType = AggregateType::Character;

#[derive(Clone, Debug, PartialEq)]
pub enum CharacterCommand {
    Create(CreateCharacter),
    Rename {
        actor: Actor,
        name: String,
    },
    UpdateProfile {
        actor: Actor,
        personality_profile: Value,
    },
    AddAlias {
        actor: Actor,
        alias: String,
    },
    Delete {
        actor: Actor,
    },
    /// Creates the character from a legacy row (origin `imported`) and
    /// records the row whole beside it. Only admins import.
    Import {
        create: CreateCharacter,
        legacy: LegacyImported,
    },
    /// Declares a relationship of `kind` with `other`; declaring it again
    /// changes nothing.
    DeclareRelationship {
        actor: Actor,
        other: Peer,
        kind: String,
    },
    RemoveRelationship {
        actor: Actor,
        other: CharacterId,
        kind: String,
    },
    /// The first half of a merge, sent to the character that goes.
    MergeInto {
        actor: Actor,
        survivor: Peer,
    },
    /// The second half, sent to the survivor.
    Absorb {
        actor: Actor,
        absorption: Absorption,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct CreateCharacter {
    pub actor: Actor,
    pub owner: UserId,
    pub name: String,
    pub aliases: Vec<String>,
    pub personality_profile: Value,
    pub source_document: Option<DocumentId>,
    pub origin: CharacterOrigin,
    pub at: DateTime<Utc>,
}

/// Where a character came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CharacterOrigin {
    /// Created by a person.
    Manual,
    /// Found in a document by the analysis pipeline.
    Detected,
    /// Brought over from the legacy application.
    Imported,
}

impl CharacterOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Detected => "detected",
            Self::Imported => "imported",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum CharacterEvent {
    #[serde(rename = "studio.character.created.v2")]
    Created(CharacterCreated),
    #[serde(rename = "studio.character.renamed.v1")]
    Renamed(CharacterRenamed),
    #[serde(rename = "studio.character.profile_updated.v1")]
    ProfileUpdated(CharacterProfileUpdated),
    #[serde(rename = "studio.character.alias_added.v1")]
    AliasAdded(CharacterAliasAdded),
    #[serde(rename = "studio.character.deleted.v1")]
    Deleted(CharacterDeleted),
    #[serde(rename = "studio.character.legacy_imported.v1")]
    LegacyImported(LegacyImported),
    #[serde(rename = "studio.character.relationship_declared.v1")]
    RelationshipDeclared(RelationshipDeclared),
    #[serde(rename = "studio.character.relationship_removed.v1")]
    RelationshipRemoved(RelationshipRemoved),
    #[serde(rename = "studio.character.merged.v1")]
    Merged(CharacterMerged),
    #[serde(rename = "studio.character.absorbed.v1")]
    Absorbed(CharacterAbsorbed),
}

impl DomainEvent for CharacterEvent {
    const TYPES: &'static [&'static str] = &[
        "studio.character.created.v2",
        "studio.character.renamed.v1",
        "studio.character.profile_updated.v1",
        "studio.character.alias_added.v1",
        "studio.character.deleted.v1",
        "studio.character.legacy_imported.v1",
        "studio.character.relationship_declared.v1",
        "studio.character.relationship_removed.v1",
        "studio.character.merged.v1",
        "studio.character.absorbed.v1",
    ];
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharacterCreated {
    pub owner: UserId,
    pub name: String,
    pub aliases: Vec<String>,
    pub personality_profile: Value,
    pub source_document_id: Option<DocumentId>,
    /// New in v2; v1 events upcast to `manual`.
    pub origin: CharacterOrigin,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharacterRenamed {
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharacterProfileUpdated {
    pub personality_profile: Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharacterAliasAdded {
    pub alias: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharacterDeleted {}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(tag = "status", content = "character", rename_all = "snake_case")]
pub enum CharacterState {
    #[default]
    Absent,
    Active(Character),
    Deleted(Character),
    /// Merged into another character, and frozen.
    Merged {
        character: Character,
        into: CharacterId,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Character {
    pub owner: UserId,
    pub name: String,
    pub aliases: Vec<String>,
    pub personality_profile: Value,
    pub source_document_id: Option<DocumentId>,
    pub origin: CharacterOrigin,
    pub relationships: BTreeSet<Relationship>,
    /// The characters merged into this one.
    pub merged_from: BTreeSet<CharacterId>,
}

impl Character {
    fn knows_alias(&self, alias: &str) -> bool {
        rules::same_alias(&self.name, alias)
            || self.aliases.iter().any(|a| rules::same_alias(a, alias))
    }

    fn relates_to(&self, other: CharacterId, kind: &str) -> bool {
        self.relationships
            .iter()
            .any(|r| r.other_id == other && r.kind == kind)
    }
}

impl CharacterState {
    pub fn accessible(&self, actor: &Actor) -> Result<&Character, DomainError> {
        match self {
            Self::Active(c) if actor.may_access(c.owner) => Ok(c),
            Self::Deleted(c) if actor.may_access(c.owner) => Err(DomainError::Deleted(KIND)),
            Self::Merged { character, into } if actor.may_access(character.owner) => {
                Err(DomainError::Merged(*into))
            }
            _ => Err(DomainError::NotFound(KIND)),
        }
    }

    fn label(&self) -> &'static str {
        match self {
            Self::Absent => "absent",
            Self::Active(_) => "active",
            Self::Deleted(_) => "deleted",
            Self::Merged { .. } => "merged",
        }
    }
}

/// A character may name a source document only if the actor can see that
/// document and it is not deleted. The shell loads the document and asks.
pub fn check_source_document(actor: &Actor, document: &DocumentState) -> Result<(), DomainError> {
    document.accessible(actor).map(|_| ())
}

fn writable<'a>(state: &'a CharacterState, actor: &Actor) -> Result<&'a Character, DomainError> {
    let character = state.accessible(actor)?;
    if actor.may_write() {
        Ok(character)
    } else {
        Err(DomainError::Forbidden("viewers cannot change characters"))
    }
}

fn new_aliases(name: &str, raw: &[String]) -> Result<Vec<String>, DomainError> {
    if raw.len() > rules::MAX_ALIASES {
        return Err(DomainError::invalid(
            "aliases",
            format!("at most {} aliases", rules::MAX_ALIASES),
        ));
    }
    let mut aliases: Vec<String> = Vec::with_capacity(raw.len());
    for alias in raw {
        let alias = rules::alias(alias)?;
        if rules::same_alias(name, &alias) || aliases.iter().any(|a| rules::same_alias(a, &alias)) {
            return Err(DomainError::DuplicateAlias(alias));
        }
        aliases.push(alias);
    }
    Ok(aliases)
}

fn created(state: &CharacterState, create: CreateCharacter) -> Result<CharacterEvent, DomainError> {
    if *state != CharacterState::Absent {
        return Err(DomainError::AlreadyExists(KIND));
    }
    if !create.actor.may_write() {
        return Err(DomainError::Forbidden("viewers cannot create characters"));
    }
    if !create.actor.may_access(create.owner) {
        return Err(DomainError::Forbidden(
            "only admins create characters on behalf of others",
        ));
    }
    let name = rules::name(&create.name)?;
    let aliases = new_aliases(&name, &create.aliases)?;
    rules::profile(&create.personality_profile)?;
    Ok(CharacterEvent::Created(CharacterCreated {
        owner: create.owner,
        name,
        aliases,
        personality_profile: create.personality_profile,
        source_document_id: create.source_document,
        origin: create.origin,
        created_at: create.at,
    }))
}

pub fn decide(
    state: &CharacterState,
    command: CharacterCommand,
) -> Result<Vec<CharacterEvent>, DomainError> {
    match command {
        CharacterCommand::Create(create) => created(state, create).map(|e| vec![e]),
        CharacterCommand::Import { create, legacy } => {
            if !create.actor.is_admin() {
                return Err(DomainError::Forbidden("only admins import legacy data"));
            }
            legacy::check(&legacy)?;
            let created = created(
                state,
                CreateCharacter {
                    origin: CharacterOrigin::Imported,
                    ..create
                },
            )?;
            Ok(vec![created, CharacterEvent::LegacyImported(legacy)])
        }
        CharacterCommand::Rename { actor, name } => {
            let character = writable(state, &actor)?;
            let name = rules::name(&name)?;
            if name == character.name {
                return Ok(vec![]);
            }
            Ok(vec![CharacterEvent::Renamed(CharacterRenamed { name })])
        }
        CharacterCommand::UpdateProfile {
            actor,
            personality_profile,
        } => {
            let character = writable(state, &actor)?;
            rules::profile(&personality_profile)?;
            if personality_profile == character.personality_profile {
                return Ok(vec![]);
            }
            Ok(vec![CharacterEvent::ProfileUpdated(
                CharacterProfileUpdated {
                    personality_profile,
                },
            )])
        }
        CharacterCommand::AddAlias { actor, alias } => {
            let character = writable(state, &actor)?;
            let alias = rules::alias(&alias)?;
            if character.knows_alias(&alias) {
                return Err(DomainError::DuplicateAlias(alias));
            }
            if character.aliases.len() >= rules::MAX_ALIASES {
                return Err(DomainError::invalid(
                    "aliases",
                    format!("at most {} aliases", rules::MAX_ALIASES),
                ));
            }
            Ok(vec![CharacterEvent::AliasAdded(CharacterAliasAdded {
                alias,
            })])
        }
        CharacterCommand::Delete { actor } => {
            writable(state, &actor)?;
            Ok(vec![CharacterEvent::Deleted(CharacterDeleted {})])
        }
        CharacterCommand::DeclareRelationship { actor, other, kind } => {
            relations::declare(writable(state, &actor)?, other, &kind)
        }
        CharacterCommand::RemoveRelationship { actor, other, kind } => {
            relations::remove(writable(state, &actor)?, other, &kind)
        }
        CharacterCommand::MergeInto { actor, survivor } => match state {
            // Sent again after a merge that stopped half-way: nothing new.
            CharacterState::Merged { character, into }
                if *into == survivor.id && actor.may_access(character.owner) =>
            {
                Ok(vec![])
            }
            _ => relations::merge_into(writable(state, &actor)?, survivor),
        },
        CharacterCommand::Absorb { actor, absorption } => {
            relations::absorb(writable(state, &actor)?, absorption)
        }
    }
}

pub fn evolve(state: CharacterState, event: CharacterEvent) -> Result<CharacterState, DomainError> {
    match (state, event) {
        (CharacterState::Absent, CharacterEvent::Created(e)) => {
            Ok(CharacterState::Active(Character {
                owner: e.owner,
                name: e.name,
                aliases: e.aliases,
                personality_profile: e.personality_profile,
                source_document_id: e.source_document_id,
                origin: e.origin,
                relationships: BTreeSet::new(),
                merged_from: BTreeSet::new(),
            }))
        }
        (CharacterState::Active(c), CharacterEvent::Renamed(e)) => {
            Ok(CharacterState::Active(Character { name: e.name, ..c }))
        }
        (CharacterState::Active(c), CharacterEvent::ProfileUpdated(e)) => {
            Ok(CharacterState::Active(Character {
                personality_profile: e.personality_profile,
                ..c
            }))
        }
        (CharacterState::Active(mut c), CharacterEvent::AliasAdded(e)) => {
            c.aliases.push(e.alias);
            Ok(CharacterState::Active(c))
        }
        (CharacterState::Active(c), CharacterEvent::Deleted(_)) => Ok(CharacterState::Deleted(c)),
        (CharacterState::Active(mut c), CharacterEvent::RelationshipDeclared(e)) => {
            c.relationships.insert(Relationship {
                other_id: e.other_id,
                kind: e.kind,
            });
            Ok(CharacterState::Active(c))
        }
        (CharacterState::Active(mut c), CharacterEvent::RelationshipRemoved(e)) => {
            c.relationships.remove(&Relationship {
                other_id: e.other_id,
                kind: e.kind,
            });
            Ok(CharacterState::Active(c))
        }
        (CharacterState::Active(c), CharacterEvent::Merged(e)) => Ok(CharacterState::Merged {
            character: c,
            into: e.into_id,
        }),
        (CharacterState::Active(mut c), CharacterEvent::Absorbed(e)) => {
            c.aliases.extend(e.aliases);
            c.relationships.extend(e.relationships);
            c.merged_from.insert(e.merged_id);
            Ok(CharacterState::Active(c))
        }
        // Provenance only: nothing a decision depends on.
        (CharacterState::Active(c), CharacterEvent::LegacyImported(_)) => {
            Ok(CharacterState::Active(c))
        }
        (state, event) => Err(DomainError::CorruptHistory(format!(
            "{} does not apply to a character in state {}",
            event.event_type(),
            state.label()
        ))),
    }
}

/// The character aggregate.
#[derive(Clone, Copy, Debug, Default)]
pub struct CharacterAggregate;

eventually_aggregate!(
    CharacterAggregate,
    id = CharacterId,
    state = CharacterState,
    command = CharacterCommand,
    event = CharacterEvent
);

impl DomainAggregate for CharacterAggregate {
    const TYPE: AggregateType = KIND;

    fn decide(
        state: &CharacterState,
        command: CharacterCommand,
    ) -> Result<Vec<CharacterEvent>, DomainError> {
        decide(state, command)
    }

    fn owner(_id: &CharacterId, state: &CharacterState) -> Option<UserId> {
        match state {
            CharacterState::Absent => None,
            CharacterState::Active(c)
            | CharacterState::Deleted(c)
            | CharacterState::Merged { character: c, .. } => Some(c.owner),
        }
    }
}
