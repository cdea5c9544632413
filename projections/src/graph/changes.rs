//! What an event changes in the character graph, decided once for every
//! graph store, so that the embedded one and Neo4j hold the same graph.
//!
//! The graph keeps a node for every document and character it heard of,
//! with a status: a deleted or merged node stays, so that an event of
//! another partition that names it later (the log orders partitions
//! independently) is dropped or redirected to the survivor, whatever order
//! a projector meets them in. A live projector and a rebuild therefore end
//! with the same graph.

use studio_domain::character::CharacterEvent;
use studio_domain::document::DocumentEvent;
use studio_domain::{AggregateType, AnyEvent};
use studio_event_log::StoredEvent;
use uuid::Uuid;

use crate::ProjectionError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GraphChange {
    /// A document node (created active; an existing one keeps its status).
    Document {
        id: Uuid,
        owner: Uuid,
        title: String,
    },
    DocumentTitle {
        id: Uuid,
        title: String,
    },
    /// The document is gone: its appearances and interactions go too.
    DocumentGone {
        id: Uuid,
    },
    /// The document's whole cast, replacing what was recorded before:
    /// `APPEARS_IN` with mention counts.
    Cast {
        document: Uuid,
        members: Vec<(Uuid, u64)>,
    },
    /// The document's whole set of co-occurrence weights, replacing what
    /// was recorded before.
    Interactions {
        document: Uuid,
        pairs: Vec<(Uuid, Uuid, u64)>,
    },
    /// Processing starts again: its cast and interactions are forgotten
    /// until it records new ones.
    AnalysisReset {
        document: Uuid,
    },
    Character {
        id: Uuid,
        owner: Uuid,
        name: String,
    },
    CharacterName {
        id: Uuid,
        name: String,
    },
    /// The character is gone, with every edge it had.
    CharacterGone {
        id: Uuid,
    },
    Related {
        source: Uuid,
        target: Uuid,
        kind: String,
    },
    Unrelated {
        source: Uuid,
        target: Uuid,
        kind: String,
    },
    /// `from` lives on in `into`: its edges move there, summed with the
    /// survivor's where both had one, and edges between the two vanish.
    Merged {
        from: Uuid,
        into: Uuid,
    },
}

/// The changes a batch of events makes, in order. An event that does not
/// decode fails the batch (and is parked by the projector).
pub fn of_batch(batch: &[StoredEvent]) -> Result<Vec<GraphChange>, ProjectionError> {
    Ok(per_event(batch)?.into_iter().flatten().collect())
}

/// The changes of each event of a batch, in order.
pub fn per_event(batch: &[StoredEvent]) -> Result<Vec<Vec<GraphChange>>, ProjectionError> {
    let mut changes = Vec::with_capacity(batch.len());
    for stored in batch {
        let e = &stored.envelope;
        // User events change nothing here (and their personal data stays
        // sealed, unread).
        if e.aggregatetype == AggregateType::User.as_str() {
            changes.push(vec![]);
            continue;
        }
        let event = AnyEvent::decode(&e.aggregatetype, &e.event_type, &e.data).map_err(|err| {
            ProjectionError::Event {
                event_id: e.id,
                reason: err.to_string(),
            }
        })?;
        changes.push(of(e.subject, &event));
    }
    Ok(changes)
}

/// The changes one event of aggregate `id` makes.
pub fn of(id: Uuid, event: &AnyEvent) -> Vec<GraphChange> {
    match event {
        AnyEvent::User(_) => vec![],
        AnyEvent::Document(e) => document(id, e),
        AnyEvent::Character(e) => character(id, e),
    }
}

fn document(id: Uuid, event: &DocumentEvent) -> Vec<GraphChange> {
    match event {
        DocumentEvent::Uploaded(e) => vec![GraphChange::Document {
            id,
            owner: e.owner.into(),
            title: e.title.clone(),
        }],
        DocumentEvent::Renamed(e) => vec![GraphChange::DocumentTitle {
            id,
            title: e.title.clone(),
        }],
        DocumentEvent::Deleted(_) => vec![GraphChange::DocumentGone { id }],
        DocumentEvent::CharactersDetected(e) => vec![GraphChange::Cast {
            document: id,
            members: e
                .characters
                .iter()
                .map(|c| (c.character_id.into(), c.mentions))
                .collect(),
        }],
        DocumentEvent::InteractionsRecorded(e) => vec![GraphChange::Interactions {
            document: id,
            pairs: e
                .interactions
                .iter()
                .map(|i| (i.a.into(), i.b.into(), i.weight))
                .collect(),
        }],
        DocumentEvent::ProcessingRestarted(_) => vec![GraphChange::AnalysisReset { document: id }],
        DocumentEvent::TextExtracted(_)
        | DocumentEvent::Analysed(_)
        | DocumentEvent::ProcessingCompleted(_)
        | DocumentEvent::ProcessingFailed(_)
        | DocumentEvent::LegacyImported(_) => vec![],
    }
}

fn character(id: Uuid, event: &CharacterEvent) -> Vec<GraphChange> {
    match event {
        CharacterEvent::Created(e) => vec![GraphChange::Character {
            id,
            owner: e.owner.into(),
            name: e.name.clone(),
        }],
        CharacterEvent::Renamed(e) => vec![GraphChange::CharacterName {
            id,
            name: e.name.clone(),
        }],
        CharacterEvent::Deleted(_) => vec![GraphChange::CharacterGone { id }],
        CharacterEvent::RelationshipDeclared(e) => vec![GraphChange::Related {
            source: id,
            target: e.other_id.into(),
            kind: e.kind.clone(),
        }],
        CharacterEvent::RelationshipRemoved(e) => vec![GraphChange::Unrelated {
            source: id,
            target: e.other_id.into(),
            kind: e.kind.clone(),
        }],
        CharacterEvent::Merged(e) => vec![GraphChange::Merged {
            from: id,
            into: e.into_id.into(),
        }],
        // The merged character's relationships already moved with its
        // `merged` event; recording them again changes nothing.
        CharacterEvent::Absorbed(e) => e
            .relationships
            .iter()
            .map(|r| GraphChange::Related {
                source: id,
                target: r.other_id.into(),
                kind: r.kind.clone(),
            })
            .collect(),
        CharacterEvent::ProfileUpdated(_)
        | CharacterEvent::AliasAdded(_)
        | CharacterEvent::LegacyImported(_) => vec![],
    }
}
