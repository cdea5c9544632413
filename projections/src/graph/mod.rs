//! The character graph read model: documents and characters as nodes,
//! `APPEARS_IN` (mention counts), `INTERACTS_WITH` (co-occurrence weight,
//! per document) and declared `RELATED` (kind) as edges, the owner on
//! every node. [`GraphStore`] is the port the query side asks; each store
//! is also a [`crate::Projection`]. What an event changes is decided once
//! ([`changes`]), and centrality, communities and the choice among equal
//! shortest paths are computed once ([`algorithms`]), so every store gives
//! the same answers.

pub mod algorithms;
pub mod changes;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod embedded;

use async_trait::async_trait;
use serde::Serialize;
use uuid::Uuid;

use crate::{ProjectionError, Viewer};

pub use changes::GraphChange;

/// The name projections and checkpoints of the graph go by.
pub const PROJECTION_NAME: &str = "graph";
/// The relation name `NeighbourQuery::kind` takes for co-occurrence.
pub const INTERACTS_WITH: &str = "interacts_with";

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GraphCharacter {
    pub character_id: Uuid,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeclaredRelationship {
    pub kind: String,
    /// True when the character asked about declared it (it is `kind` the
    /// neighbour); false when the neighbour declared it.
    pub outgoing: bool,
}

/// One character next to another: how much they interact across the
/// owner's documents, and the relationships declared between them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Neighbour {
    pub character_id: Uuid,
    pub name: String,
    pub interaction_weight: u64,
    pub relationships: Vec<DeclaredRelationship>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NeighbourQuery {
    /// [`INTERACTS_WITH`] for interacting neighbours only, a relationship
    /// kind for those related so, or none for all.
    pub kind: Option<String>,
    /// Interacting neighbours below this weight are left out (declared
    /// relationships have no weight and always count).
    pub min_weight: u64,
    pub limit: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NetworkNode {
    pub character_id: Uuid,
    pub name: String,
    pub mentions: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NetworkEdge {
    pub a: Uuid,
    pub b: Uuid,
    pub weight: u64,
}

/// A document's character network, nodes and edges in id order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Network {
    pub document_id: Uuid,
    pub nodes: Vec<NetworkNode>,
    pub edges: Vec<NetworkEdge>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Centrality {
    pub character_id: Uuid,
    pub name: String,
    pub degree: u64,
    pub weighted_degree: u64,
    pub pagerank: f64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Community {
    /// In id order.
    pub members: Vec<GraphCharacter>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Communities {
    pub modularity: f64,
    /// Largest first.
    pub communities: Vec<Community>,
}

/// A whole graph, every part in id order: what two stores (or a live
/// graph and its rebuild) are compared by.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GraphSnapshot {
    pub documents: Vec<SnapshotNode>,
    pub characters: Vec<SnapshotNode>,
    /// (document, character, mentions)
    pub appearances: Vec<(Uuid, Uuid, u64)>,
    /// (document, a, b, weight), a < b
    pub interactions: Vec<(Uuid, Uuid, Uuid, u64)>,
    /// (source, target, kind)
    pub relationships: Vec<(Uuid, Uuid, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SnapshotNode {
    pub id: Uuid,
    pub owner: Option<Uuid>,
    /// A document's title, a character's name.
    pub label: Option<String>,
    /// `active`, `deleted` or `merged`.
    pub status: String,
    pub merged_into: Option<Uuid>,
}

impl GraphSnapshot {
    /// Puts every part in order, as stores may read them in any.
    pub fn sorted(mut self) -> Self {
        self.documents.sort();
        self.characters.sort();
        self.appearances.sort();
        self.interactions.sort();
        self.relationships.sort();
        self
    }
}

/// Longest path a caller may ask for.
pub const MAX_PATH_HOPS: usize = 10;

/// What the query side may ask of the graph. A character or document the
/// viewer may not see is `NotFound`, and no answer ever crosses to nodes
/// of another owner.
#[async_trait]
pub trait GraphStore: Send + Sync + 'static {
    /// The characters next to `character`, heaviest interaction first.
    async fn neighbours(
        &self,
        viewer: &Viewer,
        character: Uuid,
        query: &NeighbourQuery,
    ) -> Result<Vec<Neighbour>, ProjectionError>;

    /// The characters appearing in `document` and their interactions in it.
    async fn network(&self, viewer: &Viewer, document: Uuid) -> Result<Network, ProjectionError>;

    /// The shortest chain of interactions or relationships from `from` to
    /// `to`, of at most `max_hops` edges; the first in id order among
    /// equally short ones. `None` when there is none that short.
    async fn shortest_path(
        &self,
        viewer: &Viewer,
        from: Uuid,
        to: Uuid,
        max_hops: usize,
    ) -> Result<Option<Vec<GraphCharacter>>, ProjectionError>;

    /// Everything the graph holds (for comparisons and audits; no viewer).
    async fn snapshot(&self) -> Result<GraphSnapshot, ProjectionError>;
}

/// A neighbour by interaction, as a store reads it: id, name, weight
/// summed over documents.
pub type Interacting = (Uuid, String, u64);
/// A declared relationship, as a store reads it: the other's id and name,
/// the kind, and whether the character asked about declared it.
pub type Related = (Uuid, String, String, bool);

/// Joins what a store read into neighbours, ordered and cut as every store
/// must.
pub fn neighbours_from(
    interacting: Vec<Interacting>,
    related: Vec<Related>,
    query: &NeighbourQuery,
) -> Vec<Neighbour> {
    let mut by_id: std::collections::BTreeMap<Uuid, Neighbour> = interacting
        .into_iter()
        .map(|(id, name, weight)| {
            (
                id,
                Neighbour {
                    character_id: id,
                    name,
                    interaction_weight: weight,
                    relationships: vec![],
                },
            )
        })
        .collect();
    for (id, name, kind, outgoing) in related {
        by_id
            .entry(id)
            .or_insert_with(|| Neighbour {
                character_id: id,
                name,
                interaction_weight: 0,
                relationships: vec![],
            })
            .relationships
            .push(DeclaredRelationship { kind, outgoing });
    }
    select_neighbours(by_id.into_values().collect(), query)
}

/// Orders and cuts neighbours as every store must.
fn select_neighbours(mut all: Vec<Neighbour>, query: &NeighbourQuery) -> Vec<Neighbour> {
    all.retain(|n| match query.kind.as_deref() {
        Some(INTERACTS_WITH) => {
            n.interaction_weight > 0 && n.interaction_weight >= query.min_weight
        }
        Some(kind) => n.relationships.iter().any(|r| r.kind == kind),
        None => {
            !n.relationships.is_empty()
                || (n.interaction_weight > 0 && n.interaction_weight >= query.min_weight)
        }
    });
    for n in &mut all {
        n.relationships
            .sort_by(|x, y| x.kind.cmp(&y.kind).then(y.outgoing.cmp(&x.outgoing)));
    }
    all.sort_by(|x, y| {
        y.interaction_weight
            .cmp(&x.interaction_weight)
            .then(x.character_id.cmp(&y.character_id))
    });
    all.truncate(query.limit);
    all
}
