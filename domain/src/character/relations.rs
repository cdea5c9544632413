//! How characters relate to each other: relationships one declares with
//! another, and a merge, which folds a character found twice (two names
//! of one person) into the one that lives on.
//!
//! A merge touches two aggregates, and each command decides for one: the
//! shell first sends `MergeInto` to the character that goes (it is frozen
//! from then on), then `Absorb` to the survivor, which takes its aliases
//! and relationships. Both are idempotent, so a merge interrupted between
//! the two is finished by sending it again.

use serde::{Deserialize, Serialize};

use super::{Character, CharacterEvent, CharacterState};
use crate::{Actor, CharacterId, DomainError, UserId, rules};

/// A relationship a character declared, towards `other_id`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Relationship {
    pub other_id: CharacterId,
    /// `sibling_of`, `married_to`, `rival_of`, ... or a free label.
    pub kind: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelationshipDeclared {
    pub other_id: CharacterId,
    pub kind: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelationshipRemoved {
    pub other_id: CharacterId,
    pub kind: String,
}

/// Recorded on the character that goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharacterMerged {
    pub into_id: CharacterId,
}

/// Recorded on the survivor: what it took from the merged character.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharacterAbsorbed {
    pub merged_id: CharacterId,
    /// The merged character's name and aliases that the survivor did not
    /// know yet, as far as the alias limit allows.
    pub aliases: Vec<String>,
    /// Its relationships, except those to the survivor and those the
    /// survivor already had, as far as the relationship limit allows.
    pub relationships: Vec<Relationship>,
}

/// Another character a command names, as the shell found it: the actor
/// may see it, it is active, and it is not the character commanded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    pub id: CharacterId,
    pub owner: UserId,
}

impl Peer {
    /// Checks the character `id` (in `state`) that `this` would relate to
    /// or merge into.
    pub fn of(
        actor: &Actor,
        this: CharacterId,
        id: CharacterId,
        state: &CharacterState,
    ) -> Result<Self, DomainError> {
        if id == this {
            return Err(DomainError::invalid(
                "other",
                "a character cannot relate to or merge into itself",
            ));
        }
        let character = state.accessible(actor)?;
        Ok(Self {
            id,
            owner: character.owner,
        })
    }
}

/// What the survivor takes from a character merged into it, read from
/// that character's state by the shell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Absorption {
    pub merged_id: CharacterId,
    pub names: Vec<String>,
    pub relationships: Vec<Relationship>,
}

impl Absorption {
    /// `merged` must have been merged into `survivor`.
    pub fn of(
        survivor: CharacterId,
        merged_id: CharacterId,
        merged: &CharacterState,
    ) -> Result<Self, DomainError> {
        match merged {
            CharacterState::Merged { character, into } if *into == survivor => Ok(Self {
                merged_id,
                names: std::iter::once(character.name.clone())
                    .chain(character.aliases.iter().cloned())
                    .collect(),
                relationships: character
                    .relationships
                    .iter()
                    .filter(|r| r.other_id != survivor)
                    .cloned()
                    .collect(),
            }),
            _ => Err(DomainError::invalid(
                "merged",
                format!("{merged_id} has not been merged into {survivor}"),
            )),
        }
    }
}

pub(super) fn declare(
    character: &Character,
    other: Peer,
    kind: &str,
) -> Result<Vec<CharacterEvent>, DomainError> {
    same_owner(character, other)?;
    let kind = rules::relationship_kind(kind)?;
    if character.relates_to(other.id, &kind) {
        return Ok(vec![]);
    }
    if character.relationships.len() >= rules::MAX_RELATIONSHIPS {
        return Err(DomainError::invalid(
            "relationships",
            format!("at most {} relationships", rules::MAX_RELATIONSHIPS),
        ));
    }
    Ok(vec![CharacterEvent::RelationshipDeclared(
        RelationshipDeclared {
            other_id: other.id,
            kind,
        },
    )])
}

pub(super) fn remove(
    character: &Character,
    other: CharacterId,
    kind: &str,
) -> Result<Vec<CharacterEvent>, DomainError> {
    let kind = rules::relationship_kind(kind)?;
    if !character.relates_to(other, &kind) {
        return Err(DomainError::NoSuchRelationship { other, kind });
    }
    Ok(vec![CharacterEvent::RelationshipRemoved(
        RelationshipRemoved {
            other_id: other,
            kind,
        },
    )])
}

pub(super) fn merge_into(
    character: &Character,
    survivor: Peer,
) -> Result<Vec<CharacterEvent>, DomainError> {
    same_owner(character, survivor)?;
    Ok(vec![CharacterEvent::Merged(CharacterMerged {
        into_id: survivor.id,
    })])
}

pub(super) fn absorb(
    character: &Character,
    absorption: Absorption,
) -> Result<Vec<CharacterEvent>, DomainError> {
    if character.merged_from.contains(&absorption.merged_id) {
        return Ok(vec![]);
    }
    let mut aliases: Vec<String> = Vec::new();
    for name in absorption.names {
        let known =
            character.knows_alias(&name) || aliases.iter().any(|a| rules::same_alias(a, &name));
        if !known && character.aliases.len() + aliases.len() < rules::MAX_ALIASES {
            aliases.push(name);
        }
    }
    let room = rules::MAX_RELATIONSHIPS.saturating_sub(character.relationships.len());
    let relationships = absorption
        .relationships
        .into_iter()
        .filter(|r| !character.relationships.contains(r))
        .take(room)
        .collect();
    Ok(vec![CharacterEvent::Absorbed(CharacterAbsorbed {
        merged_id: absorption.merged_id,
        aliases,
        relationships,
    })])
}

fn same_owner(character: &Character, other: Peer) -> Result<(), DomainError> {
    if character.owner == other.owner {
        Ok(())
    } else {
        Err(DomainError::Forbidden(
            "characters of different owners cannot be related or merged",
        ))
    }
}
