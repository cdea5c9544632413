//! What every graph store must answer, written once and run against each
//! store by its own tests (enable the `conformance` feature). Each check
//! takes fresh stores; its ids start at a random base, so checks can share
//! one Neo4j database without seeing each other.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use studio_domain::character::{
    CharacterCreated, CharacterDeleted, CharacterEvent, CharacterMerged, CharacterOrigin,
    RelationshipDeclared, RelationshipRemoved,
};
use studio_domain::document::processing::{
    CharactersDetected, DetectedCharacter, Interaction, InteractionsRecorded, ProcessingRestarted,
};
use studio_domain::document::{DocumentDeleted, DocumentEvent, DocumentUploaded};
use studio_domain::{CharacterId, DomainEvent, UserId};
use studio_event_log::{EventEnvelope, NewEvent, Position, StoredEvent, StreamHeader};
use uuid::Uuid;

use super::{
    GraphCharacter, GraphStore, INTERACTS_WITH, Neighbour, NeighbourQuery, Network, NetworkEdge,
    NetworkNode,
};
use crate::{Projection, ProjectionError, Viewer};

pub type Check = Result<(), String>;

/// A store under test: it projects and answers.
pub trait GraphUnderTest: Projection + GraphStore {}
impl<T: Projection + GraphStore> GraphUnderTest for T {}

const PARTITIONS: u32 = 4;

macro_rules! ensure_eq {
    ($left:expr, $right:expr, $($msg:tt)+) => {
        let (left, right) = (&$left, &$right);
        if left != right {
            return Err(format!("{}: {left:?} != {right:?}", format!($($msg)+)));
        }
    };
}

/// A history of events, numbered per aggregate and placed in partitions
/// the way the log places them.
#[derive(Default)]
pub struct History {
    events: Vec<StoredEvent>,
    sequences: BTreeMap<Uuid, u64>,
    offsets: BTreeMap<u32, u64>,
}

impl History {
    pub fn push(&mut self, aggregate_type: &str, id: Uuid, tenant: Uuid, event: &impl DomainEvent) {
        let encoded = event.encode();
        let sequence = self.sequences.entry(id).or_default();
        let header = StreamHeader {
            aggregate_id: id,
            aggregate_type: aggregate_type.into(),
            tenant,
            actor: tenant.to_string(),
            source: "urn:studio:graph-conformance".into(),
            command_id: Uuid::new_v4(),
            correlation_id: Uuid::new_v4(),
            causation_id: Uuid::new_v4(),
            time: Utc
                .with_ymd_and_hms(2026, 11, 28, 12, 0, 0)
                .single()
                .unwrap_or_default(),
        };
        let envelopes = EventEnvelope::chain(
            &header,
            *sequence,
            "",
            vec![NewEvent {
                event_type: encoded.event_type,
                data: encoded.data,
            }],
            Uuid::new_v4,
        );
        *sequence += 1;
        let partition = studio_event_log::partition_for(id.as_bytes(), PARTITIONS);
        for envelope in envelopes {
            let offset = self.offsets.entry(partition).or_default();
            self.events.push(StoredEvent {
                position: Position {
                    partition,
                    offset: *offset,
                },
                envelope,
            });
            *offset += 1;
        }
    }

    pub fn document(&mut self, id: Uuid, owner: Uuid, event: DocumentEvent) {
        self.push("document", id, owner, &event);
    }

    pub fn character(&mut self, id: Uuid, owner: Uuid, event: CharacterEvent) {
        self.push("character", id, owner, &event);
    }

    /// An empty history that goes on where this one ends.
    pub fn continued(&self) -> History {
        History {
            events: vec![],
            sequences: self.sequences.clone(),
            offsets: self.offsets.clone(),
        }
    }

    pub fn events(&self) -> &[StoredEvent] {
        &self.events
    }

    /// The same events with the partitions met in another order (each
    /// partition's own order kept), as another projector might.
    pub fn partitions_reversed(&self) -> Vec<StoredEvent> {
        let mut events = self.events.clone();
        events.sort_by_key(|e| (std::cmp::Reverse(e.position.partition), e.position.offset));
        events
    }
}

/// A small cast, with ids in a known order from a random base.
pub struct Novel {
    pub owner: Uuid,
    pub document: Uuid,
    base: u128,
}

pub const ELIZABETH: u128 = 1;
pub const JANE: u128 = 2;
pub const DARCY: u128 = 3;
pub const BINGLEY: u128 = 4;
pub const WICKHAM: u128 = 5;
pub const COLLINS: u128 = 6;
pub const LIZZY: u128 = 7;
/// Who interacts with whom in the novel's history, and how much.
const INTERACTIONS: [(u128, u128, u64); 9] = [
    (ELIZABETH, JANE, 30),
    (ELIZABETH, DARCY, 25),
    (JANE, BINGLEY, 20),
    (DARCY, BINGLEY, 10),
    (ELIZABETH, WICKHAM, 5),
    (WICKHAM, DARCY, 3),
    (ELIZABETH, COLLINS, 2),
    (LIZZY, JANE, 6),
    (LIZZY, ELIZABETH, 3),
];
const NAMES: [&str; 7] = [
    "Elizabeth Bennet",
    "Jane Bennet",
    "Fitzwilliam Darcy",
    "Charles Bingley",
    "George Wickham",
    "William Collins",
    "Lizzy",
];

impl Novel {
    pub fn new() -> Self {
        let base = Uuid::new_v4().as_u128() & !0xffff;
        Self {
            owner: Uuid::new_v4(),
            document: Uuid::from_u128(base | 0x1000),
            base,
        }
    }

    pub fn id(&self, n: u128) -> Uuid {
        Uuid::from_u128(self.base | n)
    }

    pub fn viewer(&self) -> Viewer {
        Viewer {
            user_id: self.owner,
            admin: false,
        }
    }

    fn named(&self, n: u128) -> GraphCharacter {
        GraphCharacter {
            character_id: self.id(n),
            name: NAMES[(n - 1) as usize].into(),
        }
    }

    /// Uploaded, its characters created, cast and interactions recorded.
    pub fn history(&self) -> History {
        let mut h = History::default();
        h.document(
            self.document,
            self.owner,
            DocumentEvent::Uploaded(DocumentUploaded {
                owner: UserId::from_uuid(self.owner),
                title: "Pride and Prejudice".into(),
                original_filename: "pp.txt".into(),
                media_type: "text/plain".into(),
                size_bytes: 1,
                sha256: "0".repeat(64),
                blob_ref: "blob".into(),
                uploaded_at: Utc::now(),
            }),
        );
        for n in ELIZABETH..=LIZZY {
            self.create(&mut h, n);
        }
        let mentions = [100, 60, 80, 40, 20, 10, 5];
        h.document(
            self.document,
            self.owner,
            DocumentEvent::CharactersDetected(CharactersDetected {
                characters: (ELIZABETH..=LIZZY)
                    .zip(mentions)
                    .map(|(n, m)| DetectedCharacter {
                        character_id: CharacterId::from_uuid(self.id(n)),
                        local_ids: vec![format!("c{n}")],
                        name: NAMES[(n - 1) as usize].into(),
                        mentions: m,
                        first_mention: 0,
                        linked: false,
                    })
                    .collect(),
            }),
        );
        self.interactions(&mut h, &INTERACTIONS);
        self.relate(&mut h, JANE, ELIZABETH, "sibling_of");
        self.relate(&mut h, DARCY, WICKHAM, "rival_of");
        h
    }

    fn create(&self, h: &mut History, n: u128) {
        h.character(
            self.id(n),
            self.owner,
            CharacterEvent::Created(CharacterCreated {
                owner: UserId::from_uuid(self.owner),
                name: NAMES[(n - 1) as usize].into(),
                aliases: vec![],
                personality_profile: serde_json::json!({}),
                source_document_id: None,
                origin: CharacterOrigin::Detected,
                created_at: Utc::now(),
            }),
        );
    }

    pub fn interactions(&self, h: &mut History, pairs: &[(u128, u128, u64)]) {
        h.document(
            self.document,
            self.owner,
            DocumentEvent::InteractionsRecorded(InteractionsRecorded {
                interactions: pairs
                    .iter()
                    .map(|(a, b, w)| Interaction {
                        a: CharacterId::from_uuid(self.id(*a)),
                        b: CharacterId::from_uuid(self.id(*b)),
                        weight: *w,
                    })
                    .collect(),
            }),
        );
    }

    pub fn relate(&self, h: &mut History, from: u128, to: u128, kind: &str) {
        h.character(
            self.id(from),
            self.owner,
            CharacterEvent::RelationshipDeclared(RelationshipDeclared {
                other_id: CharacterId::from_uuid(self.id(to)),
                kind: kind.into(),
            }),
        );
    }

    /// Network edges, as a store answers them: lower id first, in order.
    fn edges(&self, pairs: &[(u128, u128, u64)]) -> Vec<NetworkEdge> {
        let mut edges: Vec<NetworkEdge> = pairs
            .iter()
            .map(|(a, b, weight)| NetworkEdge {
                a: self.id(*a.min(b)),
                b: self.id(*a.max(b)),
                weight: *weight,
            })
            .collect();
        edges.sort_by_key(|e| (e.a, e.b));
        edges
    }

    fn node(&self, n: u128, mentions: u64) -> NetworkNode {
        NetworkNode {
            character_id: self.id(n),
            name: NAMES[(n - 1) as usize].into(),
            mentions,
        }
    }
}

impl Default for Novel {
    fn default() -> Self {
        Self::new()
    }
}

async fn apply(store: &impl GraphUnderTest, events: &[StoredEvent]) -> Check {
    store
        .apply(events)
        .await
        .map_err(|e| format!("applying {} events: {e}", events.len()))
}

fn all(limit: usize) -> NeighbourQuery {
    NeighbourQuery {
        kind: None,
        min_weight: 0,
        limit,
    }
}

/// A neighbour as the checks compare it: id, weight, (kind, outgoing).
type Brief = (Uuid, u64, Vec<(String, bool)>);

fn brief(neighbours: &[Neighbour]) -> Vec<Brief> {
    neighbours
        .iter()
        .map(|n| {
            (
                n.character_id,
                n.interaction_weight,
                n.relationships
                    .iter()
                    .map(|r| (r.kind.clone(), r.outgoing))
                    .collect(),
            )
        })
        .collect()
}

fn err(e: ProjectionError) -> String {
    e.to_string()
}

/// The document's network: every character that appears, every weighted
/// pair, in id order; checkpoints past every event.
pub async fn network_is_the_cast_and_its_interactions(store: &impl GraphUnderTest) -> Check {
    let novel = Novel::new();
    let history = novel.history();
    apply(store, history.events()).await?;
    let network = store
        .network(&novel.viewer(), novel.document)
        .await
        .map_err(err)?;
    let expected = Network {
        document_id: novel.document,
        nodes: [100, 60, 80, 40, 20, 10, 5]
            .into_iter()
            .zip(ELIZABETH..=LIZZY)
            .map(|(m, n)| novel.node(n, m))
            .collect(),
        edges: novel.edges(&INTERACTIONS),
    };
    ensure_eq!(network, expected, "the network");
    let checkpoints = store.checkpoints().await.map_err(err)?;
    let mut expected_checkpoints = BTreeMap::new();
    for e in history.events() {
        expected_checkpoints.insert(e.position.partition, e.position.offset + 1);
    }
    for (partition, next) in &expected_checkpoints {
        ensure_eq!(
            checkpoints.get(partition),
            Some(next),
            "the checkpoint of partition {partition}"
        );
    }
    Ok(())
}

/// Neighbours: interaction weight summed, declared relationships both
/// ways, filtered by kind and weight, heaviest first, limited.
pub async fn neighbours_by_kind_weight_and_limit(store: &impl GraphUnderTest) -> Check {
    let novel = Novel::new();
    let mut history = novel.history();
    novel.relate(&mut history, ELIZABETH, COLLINS, "cousin of a sort");
    apply(store, history.events()).await?;
    let v = novel.viewer();
    let e = novel.id(ELIZABETH);
    let everyone = store.neighbours(&v, e, &all(10)).await.map_err(err)?;
    ensure_eq!(
        brief(&everyone),
        vec![
            (novel.id(JANE), 30, vec![("sibling_of".to_owned(), false)]),
            (novel.id(DARCY), 25, vec![]),
            (novel.id(WICKHAM), 5, vec![]),
            (novel.id(LIZZY), 3, vec![]),
            (
                novel.id(COLLINS),
                2,
                vec![("cousin of a sort".to_owned(), true)]
            ),
        ],
        "every neighbour of Elizabeth"
    );
    ensure_eq!(
        everyone[0].name,
        "Jane Bennet",
        "names come with neighbours"
    );
    let heavy = store
        .neighbours(
            &v,
            e,
            &NeighbourQuery {
                kind: Some(INTERACTS_WITH.into()),
                min_weight: 5,
                limit: 10,
            },
        )
        .await
        .map_err(err)?;
    ensure_eq!(
        heavy.iter().map(|n| n.character_id).collect::<Vec<_>>(),
        vec![novel.id(JANE), novel.id(DARCY), novel.id(WICKHAM)],
        "interactions of weight 5 or more"
    );
    let siblings = store
        .neighbours(
            &v,
            e,
            &NeighbourQuery {
                kind: Some("sibling_of".into()),
                min_weight: 0,
                limit: 10,
            },
        )
        .await
        .map_err(err)?;
    ensure_eq!(
        siblings.iter().map(|n| n.character_id).collect::<Vec<_>>(),
        vec![novel.id(JANE)],
        "siblings"
    );
    let two = store.neighbours(&v, e, &all(2)).await.map_err(err)?;
    ensure_eq!(two.len(), 2, "the limit");
    // Removing the relationship removes it from the answers.
    let mut more = history.continued();
    more.character(
        novel.id(JANE),
        novel.owner,
        CharacterEvent::RelationshipRemoved(RelationshipRemoved {
            other_id: CharacterId::from_uuid(e),
            kind: "sibling_of".into(),
        }),
    );
    apply(store, more.events()).await?;
    let siblings = store
        .neighbours(
            &v,
            e,
            &NeighbourQuery {
                kind: Some("sibling_of".into()),
                min_weight: 0,
                limit: 10,
            },
        )
        .await
        .map_err(err)?;
    ensure_eq!(siblings.len(), 0, "siblings after the removal");
    Ok(())
}

/// Shortest paths over interactions and relationships, bounded, and the
/// first in id order among equally short ones.
pub async fn shortest_paths_are_bounded_and_deterministic(store: &impl GraphUnderTest) -> Check {
    let novel = Novel::new();
    let history = novel.history();
    apply(store, history.events()).await?;
    let v = novel.viewer();
    let path = store
        .shortest_path(&v, novel.id(COLLINS), novel.id(BINGLEY), 5)
        .await
        .map_err(err)?;
    // Collins-Elizabeth-Jane-Bingley and Collins-Elizabeth-Darcy-Bingley
    // are equally short; Jane's id is the smaller.
    ensure_eq!(
        path,
        Some(vec![
            novel.named(COLLINS),
            novel.named(ELIZABETH),
            novel.named(JANE),
            novel.named(BINGLEY),
        ]),
        "Collins to Bingley"
    );
    let short = store
        .shortest_path(&v, novel.id(COLLINS), novel.id(BINGLEY), 2)
        .await
        .map_err(err)?;
    ensure_eq!(short, None, "no path of two hops");
    let itself = store
        .shortest_path(&v, novel.id(JANE), novel.id(JANE), 3)
        .await
        .map_err(err)?;
    ensure_eq!(itself, Some(vec![novel.named(JANE)]), "a path to oneself");
    Ok(())
}

/// Nobody reaches another owner's nodes: not by id, not through a path;
/// an admin sees both, and still no path crosses owners.
pub async fn tenants_do_not_meet(store: &impl GraphUnderTest) -> Check {
    let ours = Novel::new();
    let theirs = Novel::new();
    apply(store, ours.history().events()).await?;
    apply(store, theirs.history().events()).await?;
    let v = ours.viewer();
    let foreign = theirs.id(ELIZABETH);
    ensure_eq!(
        store.neighbours(&v, foreign, &all(10)).await.is_err(),
        true,
        "another owner's character"
    );
    ensure_eq!(
        store.network(&v, theirs.document).await.is_err(),
        true,
        "another owner's document"
    );
    ensure_eq!(
        store
            .shortest_path(&v, ours.id(JANE), foreign, 10)
            .await
            .is_err(),
        true,
        "a path to another owner's character"
    );
    let admin = Viewer {
        user_id: Uuid::new_v4(),
        admin: true,
    };
    let theirs_network = store.network(&admin, theirs.document).await.map_err(err)?;
    ensure_eq!(theirs_network.nodes.len(), 7, "an admin sees their network");
    let crossing = store
        .shortest_path(&admin, ours.id(JANE), foreign, 10)
        .await
        .map_err(err)?;
    ensure_eq!(crossing, None, "a path between two owners");
    let neighbours = store
        .neighbours(&v, ours.id(ELIZABETH), &all(100))
        .await
        .map_err(err)?;
    ensure_eq!(
        neighbours.iter().all(|n| n.character_id != foreign),
        true,
        "neighbours stay with their owner"
    );
    Ok(())
}

/// A merge moves mentions, interactions and relationships to the
/// survivor; later events naming the merged character follow it there;
/// deletions take every edge with them.
pub async fn merges_and_deletions_move_and_drop_edges(store: &impl GraphUnderTest) -> Check {
    let novel = Novel::new();
    let mut history = novel.history();
    novel.relate(&mut history, LIZZY, BINGLEY, "friend_of");
    history.character(
        novel.id(LIZZY),
        novel.owner,
        CharacterEvent::Merged(CharacterMerged {
            into_id: CharacterId::from_uuid(novel.id(ELIZABETH)),
        }),
    );
    // Declared with the merged character after the merge: follows it.
    novel.relate(&mut history, WICKHAM, LIZZY, "enemy_of");
    history.character(
        novel.id(COLLINS),
        novel.owner,
        CharacterEvent::Deleted(CharacterDeleted {}),
    );
    // A relationship with the deleted character is dropped.
    novel.relate(&mut history, DARCY, COLLINS, "rival_of");
    apply(store, history.events()).await?;
    let v = novel.viewer();
    let network = store.network(&v, novel.document).await.map_err(err)?;
    ensure_eq!(
        network.nodes,
        vec![
            novel.node(ELIZABETH, 105),
            novel.node(JANE, 60),
            novel.node(DARCY, 80),
            novel.node(BINGLEY, 40),
            novel.node(WICKHAM, 20),
        ],
        "nodes after the merge and the deletion"
    );
    let edges = novel.edges(&[
        (ELIZABETH, JANE, 36),
        (ELIZABETH, DARCY, 25),
        (JANE, BINGLEY, 20),
        (DARCY, BINGLEY, 10),
        (ELIZABETH, WICKHAM, 5),
        (WICKHAM, DARCY, 3),
    ]);
    ensure_eq!(
        network.edges,
        edges,
        "edges after the merge and the deletion"
    );
    let elizabeth = store
        .neighbours(&v, novel.id(ELIZABETH), &all(10))
        .await
        .map_err(err)?;
    ensure_eq!(
        brief(&elizabeth),
        vec![
            (novel.id(JANE), 36, vec![("sibling_of".to_owned(), false)]),
            (novel.id(DARCY), 25, vec![]),
            (novel.id(WICKHAM), 5, vec![("enemy_of".to_owned(), false)]),
            (novel.id(BINGLEY), 0, vec![("friend_of".to_owned(), true)]),
        ],
        "Elizabeth took Lizzy's edges"
    );
    ensure_eq!(
        store
            .neighbours(&v, novel.id(LIZZY), &all(10))
            .await
            .is_err(),
        true,
        "the merged character is gone"
    );
    let darcy = store
        .neighbours(&v, novel.id(DARCY), &all(10))
        .await
        .map_err(err)?;
    ensure_eq!(
        darcy.iter().any(|n| n.character_id == novel.id(COLLINS)),
        false,
        "no edge to the deleted character"
    );
    // Processing again forgets the cast; deleting the document, the rest.
    let mut more = history.continued();
    more.document(
        novel.document,
        novel.owner,
        DocumentEvent::ProcessingRestarted(ProcessingRestarted {
            restarted_at: Utc::now(),
        }),
    );
    apply(store, more.events()).await?;
    let network = store.network(&v, novel.document).await.map_err(err)?;
    ensure_eq!(
        (network.nodes.len(), network.edges.len()),
        (0, 0),
        "a document processed again"
    );
    let mut gone = more.continued();
    gone.document(
        novel.document,
        novel.owner,
        DocumentEvent::Deleted(DocumentDeleted {}),
    );
    apply(store, gone.events()).await?;
    ensure_eq!(
        store.network(&v, novel.document).await.is_err(),
        true,
        "a deleted document"
    );
    Ok(())
}

/// Partitions met in another order (a rebuild, another projector) end in
/// the same graph.
pub async fn partition_order_does_not_matter(
    one: &impl GraphUnderTest,
    other: &impl GraphUnderTest,
) -> Check {
    let novel = Novel::new();
    let mut history = novel.history();
    history.character(
        novel.id(LIZZY),
        novel.owner,
        CharacterEvent::Merged(CharacterMerged {
            into_id: CharacterId::from_uuid(novel.id(ELIZABETH)),
        }),
    );
    novel.interactions(&mut history, &[(LIZZY, DARCY, 4), (JANE, BINGLEY, 21)]);
    history.character(
        novel.id(WICKHAM),
        novel.owner,
        CharacterEvent::Deleted(CharacterDeleted {}),
    );
    novel.relate(&mut history, BINGLEY, WICKHAM, "owes");
    apply(one, history.events()).await?;
    apply(other, &history.partitions_reversed()).await?;
    // Whole graphs: the ids are this check's own, so a store shared with
    // other checks is compared on them alone.
    let ours = |snapshot: super::GraphSnapshot| {
        let mine = |id: &Uuid| (id.as_u128() & !0xffff) == (novel.id(0).as_u128() & !0xffff);
        super::GraphSnapshot {
            documents: snapshot
                .documents
                .into_iter()
                .filter(|n| mine(&n.id))
                .collect(),
            characters: snapshot
                .characters
                .into_iter()
                .filter(|n| mine(&n.id))
                .collect(),
            appearances: snapshot
                .appearances
                .into_iter()
                .filter(|a| mine(&a.0))
                .collect(),
            interactions: snapshot
                .interactions
                .into_iter()
                .filter(|i| mine(&i.0))
                .collect(),
            relationships: snapshot
                .relationships
                .into_iter()
                .filter(|r| mine(&r.0))
                .collect(),
        }
    };
    let first = ours(one.snapshot().await.map_err(err)?);
    let second = ours(other.snapshot().await.map_err(err)?);
    ensure_eq!(first.characters.len(), 7, "characters in the snapshot");
    ensure_eq!(first, second, "the whole graphs");
    let v = novel.viewer();
    let first = one.network(&v, novel.document).await.map_err(err)?;
    let second = other.network(&v, novel.document).await.map_err(err)?;
    ensure_eq!(first, second, "the networks");
    for n in [ELIZABETH, JANE, DARCY, BINGLEY] {
        let a = one
            .neighbours(&v, novel.id(n), &all(10))
            .await
            .map_err(err)?;
        let b = other
            .neighbours(&v, novel.id(n), &all(10))
            .await
            .map_err(err)?;
        ensure_eq!(a, b, "the neighbours of character {n}");
    }
    Ok(())
}
