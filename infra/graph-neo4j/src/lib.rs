//! The character graph on Neo4j, over Bolt (neo4rs). It applies the same
//! [`GraphChange`]s as the embedded store, each as a few Cypher statements,
//! in transactions of [`TRANSACTION_EVENTS`] events that each commit the
//! checkpoints they reach; it answers the same questions, leaving to
//! `studio_projections::graph::algorithms` what Neo4j Community cannot
//! compute (it has no graph algorithms library).
//!
//! Every node and `INTERACTS_WITH` edge carries `g`, the graph's name: a
//! rebuild writes a graph of another name beside the live one, and tests
//! share one database without meeting.

mod cypher;
mod schema;

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use neo4rs::{BoltType, ConfigBuilder, Graph, Query, Txn, query};
use studio_event_log::StoredEvent;
use studio_projections::graph::{
    GraphChange, GraphCharacter, GraphSnapshot, GraphStore, MAX_PATH_HOPS, Neighbour,
    NeighbourQuery, Network, NetworkEdge, NetworkNode, PROJECTION_NAME, SnapshotNode, algorithms,
    changes, neighbours_from,
};
use studio_projections::{Projection, ProjectionError, Viewer};
use uuid::Uuid;

/// Events per Neo4j transaction. Neo4j looks up what a transaction
/// created by scanning its changes, so a MERGE costs more the more the
/// transaction holds: smaller transactions are much faster than one per
/// projector batch (thousands of events).
const TRANSACTION_EVENTS: usize = 500;

/// Where the graph lives and under which name.
#[derive(Clone, Debug)]
pub struct Neo4jSettings {
    /// `bolt://host:port`.
    pub uri: String,
    pub user: String,
    pub password: String,
    /// The graph's name (`g` on its nodes).
    pub graph: String,
}

pub struct Neo4jGraph {
    db: Graph,
    g: String,
}

fn failed(what: &str) -> impl Fn(neo4rs::Error) -> ProjectionError + '_ {
    move |e| ProjectionError::Graph(format!("{what}: {e}"))
}

fn corrupt(what: &str) -> impl Fn(neo4rs::DeError) -> ProjectionError + '_ {
    move |e| ProjectionError::Corrupt(format!("{what}: {e}"))
}

fn parse(id: &str) -> Result<Uuid, ProjectionError> {
    Uuid::parse_str(id).map_err(|e| ProjectionError::Corrupt(format!("graph id {id:?}: {e}")))
}

fn count(n: i64) -> Result<u64, ProjectionError> {
    u64::try_from(n).map_err(|_| ProjectionError::Corrupt(format!("negative count {n}")))
}

fn int(n: u64) -> Result<i64, ProjectionError> {
    i64::try_from(n).map_err(|_| ProjectionError::Corrupt(format!("{n} is out of range")))
}

fn row(pairs: Vec<(&str, BoltType)>) -> BoltType {
    BoltType::from(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect::<std::collections::HashMap<String, BoltType>>(),
    )
}

/// The statement and row of a change that goes in an `UNWIND` batch.
fn unwind_row(change: &GraphChange) -> Result<Option<(&'static str, BoltType)>, ProjectionError> {
    Ok(match change {
        GraphChange::Document { id, owner, title } => Some((
            cypher::DOCUMENTS,
            row(vec![
                ("id", id.to_string().into()),
                ("owner", owner.to_string().into()),
                ("title", title.clone().into()),
            ]),
        )),
        GraphChange::Character { id, owner, name } => Some((
            cypher::CHARACTERS,
            row(vec![
                ("id", id.to_string().into()),
                ("owner", owner.to_string().into()),
                ("name", name.clone().into()),
            ]),
        )),
        GraphChange::Related {
            source,
            target,
            kind,
        } => Some((
            cypher::RELATED,
            row(vec![
                ("source", source.to_string().into()),
                ("target", target.to_string().into()),
                ("kind", kind.clone().into()),
            ]),
        )),
        _ => None,
    })
}

impl Neo4jGraph {
    /// Connects and makes sure of the indexes and constraints.
    pub async fn connect(settings: &Neo4jSettings) -> Result<Self, ProjectionError> {
        let config = ConfigBuilder::default()
            .uri(settings.uri.as_str())
            .user(settings.user.as_str())
            .password(settings.password.as_str())
            .max_connections(8)
            .build()
            .map_err(failed("Neo4j settings"))?;
        let db = Graph::connect(config).map_err(failed("connecting to Neo4j"))?;
        for statement in schema::STATEMENTS {
            match db.run(query(statement)).await {
                Ok(_) => {}
                // Another process created it at the same moment.
                Err(neo4rs::Error::Neo4j(e))
                    if e.code() == "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists" => {}
                Err(e) => return Err(failed("creating the graph's indexes")(e)),
            }
        }
        Ok(Self {
            db,
            g: settings.graph.clone(),
        })
    }

    fn q(&self, cypher: &str) -> Query {
        query(cypher).param("g", self.g.as_str())
    }

    /// Removes the whole graph of this name (a rebuild starts from none).
    pub async fn clear(&self) -> Result<(), ProjectionError> {
        self.db
            .run(self.q(cypher::CLEAR))
            .await
            .map_err(failed("clearing the graph"))?;
        Ok(())
    }

    async fn rows(&self, q: Query) -> Result<Vec<neo4rs::Row>, ProjectionError> {
        let mut stream = self
            .db
            .execute(q)
            .await
            .map_err(failed("querying the graph"))?;
        let mut rows = Vec::new();
        while let Some(row) = stream.next().await.map_err(failed("reading the graph"))? {
            rows.push(row);
        }
        Ok(rows)
    }

    /// The owner of an active character the viewer may see.
    async fn visible_character(&self, viewer: &Viewer, id: Uuid) -> Result<Uuid, ProjectionError> {
        let rows = self
            .rows(self.q(cypher::CHARACTER_OWNER).param("id", id.to_string()))
            .await?;
        let owner: Option<String> = match rows.first() {
            Some(r) => r.get("owner").map_err(corrupt("owner"))?,
            None => None,
        };
        owner
            .as_deref()
            .and_then(|o| Uuid::parse_str(o).ok())
            .filter(|o| viewer.may_see(*o))
            .ok_or_else(|| ProjectionError::NotFound(format!("no character {id}")))
    }

    async fn run(&self, txn: &mut Txn, q: Query) -> Result<(), ProjectionError> {
        txn.run(q).await.map_err(failed("writing the graph"))?;
        Ok(())
    }

    async fn apply_change(
        &self,
        txn: &mut Txn,
        change: &GraphChange,
    ) -> Result<(), ProjectionError> {
        match change {
            GraphChange::DocumentTitle { id, title } => {
                self.run(
                    txn,
                    self.q(cypher::DOCUMENT_TITLE)
                        .param("id", id.to_string())
                        .param("title", title.as_str()),
                )
                .await
            }
            GraphChange::DocumentGone { id } => {
                self.run(
                    txn,
                    self.q(cypher::DOCUMENT_GONE).param("id", id.to_string()),
                )
                .await?;
                self.forget_analysis(txn, *id).await
            }
            GraphChange::AnalysisReset { document } => self.forget_analysis(txn, *document).await,
            GraphChange::Cast { document, members } => {
                let rows = members
                    .iter()
                    .map(|(c, m)| {
                        Ok(row(vec![
                            ("id", c.to_string().into()),
                            ("mentions", int(*m)?.into()),
                        ]))
                    })
                    .collect::<Result<Vec<_>, ProjectionError>>()?;
                self.replace(txn, *document, cypher::FORGET_CAST, cypher::CAST, rows)
                    .await
            }
            GraphChange::Interactions { document, pairs } => {
                let rows = pairs
                    .iter()
                    .map(|(a, b, w)| {
                        Ok(row(vec![
                            ("a", a.to_string().into()),
                            ("b", b.to_string().into()),
                            ("weight", int(*w)?.into()),
                        ]))
                    })
                    .collect::<Result<Vec<_>, ProjectionError>>()?;
                let (forget, write) = (cypher::FORGET_INTERACTIONS, cypher::INTERACTIONS);
                self.replace(txn, *document, forget, write, rows).await
            }
            GraphChange::CharacterName { id, name } => {
                self.run(
                    txn,
                    self.q(cypher::CHARACTER_NAME)
                        .param("id", id.to_string())
                        .param("name", name.as_str()),
                )
                .await
            }
            GraphChange::CharacterGone { id } => {
                self.run(
                    txn,
                    self.q(cypher::CHARACTER_GONE).param("id", id.to_string()),
                )
                .await
            }
            GraphChange::Unrelated {
                source,
                target,
                kind,
            } => {
                self.run(
                    txn,
                    self.q(cypher::UNRELATED)
                        .param("source", source.to_string())
                        .param("target", target.to_string())
                        .param("kind", kind.as_str()),
                )
                .await
            }
            GraphChange::Merged { from, into } => self.merge(txn, *from, *into).await,
            GraphChange::Document { .. }
            | GraphChange::Character { .. }
            | GraphChange::Related { .. } => match unwind_row(change)? {
                Some((statement, row)) => {
                    self.run(txn, self.q(statement).param("rows", vec![row]))
                        .await
                }
                None => Ok(()),
            },
        }
    }

    /// What a document recorded before (`forget`) replaced by `rows`
    /// (`write`): a cast, or the interactions.
    async fn replace(
        &self,
        txn: &mut Txn,
        document: Uuid,
        forget: &str,
        write: &str,
        rows: Vec<BoltType>,
    ) -> Result<(), ProjectionError> {
        let id = document.to_string();
        self.run(txn, self.q(forget).param("id", id.as_str()))
            .await?;
        self.run(txn, self.q(write).param("id", id).param("rows", rows))
            .await
    }

    async fn forget_analysis(&self, txn: &mut Txn, document: Uuid) -> Result<(), ProjectionError> {
        for statement in [cypher::FORGET_CAST, cypher::FORGET_INTERACTIONS] {
            self.run(txn, self.q(statement).param("id", document.to_string()))
                .await?;
        }
        Ok(())
    }

    async fn merge(&self, txn: &mut Txn, from: Uuid, into: Uuid) -> Result<(), ProjectionError> {
        let mut stream = txn
            .execute(
                self.q(cypher::SURVIVOR)
                    .param("from", from.to_string())
                    .param("into", into.to_string()),
            )
            .await
            .map_err(failed("finding the survivor"))?;
        let mut survivor: Option<String> = None;
        while let Some(r) = stream
            .next(txn.handle())
            .await
            .map_err(failed("finding the survivor"))?
        {
            survivor = r.get("survivor").map_err(corrupt("survivor"))?;
        }
        let Some(survivor) = survivor else {
            // The survivor is gone: so is what would have moved to it.
            return self
                .run(
                    txn,
                    self.q(cypher::CHARACTER_GONE).param("id", from.to_string()),
                )
                .await;
        };
        for statement in cypher::MERGE {
            self.run(
                txn,
                self.q(statement)
                    .param("from", from.to_string())
                    .param("into", survivor.as_str()),
            )
            .await?;
        }
        Ok(())
    }

    /// Runs of consecutive creations of documents or characters, or of
    /// relationships, go as one `UNWIND` statement each (a novel's cast
    /// arrives that way); every other change as its own statements.
    async fn apply_all(&self, txn: &mut Txn, work: &[GraphChange]) -> Result<(), ProjectionError> {
        let mut i = 0;
        while i < work.len() {
            let Some((statement, _)) = unwind_row(&work[i])? else {
                self.apply_change(txn, &work[i]).await?;
                i += 1;
                continue;
            };
            let mut rows = Vec::new();
            while let Some(change) = work.get(i) {
                match unwind_row(change)? {
                    Some((same, row)) if same == statement => rows.push(row),
                    _ => break,
                }
                i += 1;
            }
            self.run(txn, self.q(statement).param("rows", rows)).await?;
        }
        Ok(())
    }

    async fn advance(&self, txn: &mut Txn, batch: &[StoredEvent]) -> Result<(), ProjectionError> {
        let mut next: BTreeMap<u32, u64> = BTreeMap::new();
        for e in batch {
            let n = next.entry(e.position.partition).or_default();
            *n = (*n).max(e.position.offset + 1);
        }
        let rows = next
            .into_iter()
            .map(|(p, o)| {
                Ok(row(vec![
                    ("partition", i64::from(p).into()),
                    ("next", int(o)?.into()),
                ]))
            })
            .collect::<Result<Vec<_>, ProjectionError>>()?;
        self.run(txn, self.q(cypher::ADVANCE).param("rows", rows))
            .await
    }

    async fn start(&self) -> Result<Txn, ProjectionError> {
        self.db
            .start_txn()
            .await
            .map_err(failed("starting a graph transaction"))
    }
}

#[async_trait]
impl Projection for Neo4jGraph {
    fn name(&self) -> &'static str {
        PROJECTION_NAME
    }

    async fn checkpoints(&self) -> Result<BTreeMap<u32, u64>, ProjectionError> {
        let rows = self.rows(self.q(cypher::CHECKPOINTS)).await?;
        rows.iter()
            .map(|r| {
                let partition: i64 = r.get("partition").map_err(corrupt("partition"))?;
                let next: i64 = r.get("next").map_err(corrupt("next_offset"))?;
                let partition = u32::try_from(partition)
                    .map_err(|_| ProjectionError::Corrupt("partition out of range".into()))?;
                Ok((partition, count(next)?))
            })
            .collect()
    }

    /// Decodes the whole batch first (an event that does not decode fails
    /// it before anything is written), then commits it in parts of
    /// [`TRANSACTION_EVENTS`] events, each with the checkpoints it reaches:
    /// a part is a prefix of every partition's share of the batch, so a
    /// crash between two parts resumes after the first.
    async fn apply(&self, batch: &[StoredEvent]) -> Result<(), ProjectionError> {
        let work = changes::per_event(batch)?;
        for (events, changes) in batch
            .chunks(TRANSACTION_EVENTS)
            .zip(work.chunks(TRANSACTION_EVENTS))
        {
            let changes: Vec<GraphChange> = changes.iter().flatten().cloned().collect();
            let mut txn = self.start().await?;
            self.apply_all(&mut txn, &changes).await?;
            self.advance(&mut txn, events).await?;
            txn.commit()
                .await
                .map_err(failed("committing a graph batch"))?;
        }
        Ok(())
    }

    async fn park(
        &self,
        event: &StoredEvent,
        error: &ProjectionError,
        attempts: u32,
    ) -> Result<(), ProjectionError> {
        let mut txn = self.start().await?;
        self.run(
            &mut txn,
            self.q(cypher::PARK)
                .param("partition", i64::from(event.position.partition))
                .param("offset", int(event.position.offset)?)
                .param("event_id", event.envelope.id.to_string())
                .param("event_type", event.envelope.event_type.as_str())
                .param("error", error.to_string())
                .param("attempts", i64::from(attempts)),
        )
        .await?;
        self.advance(&mut txn, std::slice::from_ref(event)).await?;
        txn.commit()
            .await
            .map_err(failed("committing a parked event"))?;
        Ok(())
    }
}

fn snapshot_node(r: &neo4rs::Row) -> Result<SnapshotNode, ProjectionError> {
    let id: String = r.get("id").map_err(corrupt("id"))?;
    let owner: Option<String> = r.get("owner").map_err(corrupt("owner"))?;
    let merged_into: Option<String> = r.get("merged_into").map_err(corrupt("merged_into"))?;
    Ok(SnapshotNode {
        id: parse(&id)?,
        owner: owner.as_deref().map(parse).transpose()?,
        label: r.get("label").map_err(corrupt("label"))?,
        status: r.get("status").map_err(corrupt("status"))?,
        merged_into: merged_into.as_deref().map(parse).transpose()?,
    })
}

fn uuid_of(r: &neo4rs::Row, column: &str) -> Result<Uuid, ProjectionError> {
    let text: String = r.get(column).map_err(corrupt("an id"))?;
    parse(&text)
}

fn count_of(r: &neo4rs::Row, column: &str) -> Result<u64, ProjectionError> {
    let n: i64 = r.get(column).map_err(corrupt("a count"))?;
    count(n)
}

#[async_trait]
impl GraphStore for Neo4jGraph {
    async fn snapshot(&self) -> Result<GraphSnapshot, ProjectionError> {
        let nodes = |rows: Vec<neo4rs::Row>| {
            rows.iter()
                .map(snapshot_node)
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(GraphSnapshot {
            documents: nodes(self.rows(self.q(cypher::SNAPSHOT_DOCUMENTS)).await?)?,
            characters: nodes(self.rows(self.q(cypher::SNAPSHOT_CHARACTERS)).await?)?,
            appearances: self
                .rows(self.q(cypher::SNAPSHOT_APPEARANCES))
                .await?
                .iter()
                .map(|r| {
                    Ok((
                        uuid_of(r, "document")?,
                        uuid_of(r, "character")?,
                        count_of(r, "mentions")?,
                    ))
                })
                .collect::<Result<_, ProjectionError>>()?,
            interactions: self
                .rows(self.q(cypher::SNAPSHOT_INTERACTIONS))
                .await?
                .iter()
                .map(|r| {
                    Ok((
                        uuid_of(r, "document")?,
                        uuid_of(r, "a")?,
                        uuid_of(r, "b")?,
                        count_of(r, "weight")?,
                    ))
                })
                .collect::<Result<_, ProjectionError>>()?,
            relationships: self
                .rows(self.q(cypher::SNAPSHOT_RELATIONSHIPS))
                .await?
                .iter()
                .map(|r| {
                    let kind: String = r.get("kind").map_err(corrupt("kind"))?;
                    Ok((uuid_of(r, "source")?, uuid_of(r, "target")?, kind))
                })
                .collect::<Result<_, ProjectionError>>()?,
        }
        .sorted())
    }

    async fn neighbours(
        &self,
        viewer: &Viewer,
        character: Uuid,
        query: &NeighbourQuery,
    ) -> Result<Vec<Neighbour>, ProjectionError> {
        self.visible_character(viewer, character).await?;
        let id = character.to_string();
        let interacting = self
            .rows(self.q(cypher::INTERACTING).param("id", id.as_str()))
            .await?
            .iter()
            .map(|r| {
                let other: String = r.get("id").map_err(corrupt("id"))?;
                let name: Option<String> = r.get("name").map_err(corrupt("name"))?;
                let weight: i64 = r.get("weight").map_err(corrupt("weight"))?;
                Ok((parse(&other)?, name.unwrap_or_default(), count(weight)?))
            })
            .collect::<Result<Vec<_>, ProjectionError>>()?;
        let related = self
            .rows(self.q(cypher::RELATED_TO).param("id", id.as_str()))
            .await?
            .iter()
            .map(|r| {
                let other: String = r.get("id").map_err(corrupt("id"))?;
                let name: Option<String> = r.get("name").map_err(corrupt("name"))?;
                let kind: String = r.get("kind").map_err(corrupt("kind"))?;
                let outgoing: bool = r.get("outgoing").map_err(corrupt("outgoing"))?;
                Ok((parse(&other)?, name.unwrap_or_default(), kind, outgoing))
            })
            .collect::<Result<Vec<_>, ProjectionError>>()?;
        Ok(neighbours_from(interacting, related, query))
    }

    async fn network(&self, viewer: &Viewer, document: Uuid) -> Result<Network, ProjectionError> {
        let id = document.to_string();
        let owner = self
            .rows(self.q(cypher::DOCUMENT_OWNER).param("id", id.as_str()))
            .await?;
        let owner: Option<String> = match owner.first() {
            Some(r) => r.get("owner").map_err(corrupt("owner"))?,
            None => None,
        };
        owner
            .as_deref()
            .and_then(|o| Uuid::parse_str(o).ok())
            .filter(|o| viewer.may_see(*o))
            .ok_or_else(|| ProjectionError::NotFound(format!("no document {document}")))?;
        let mut nodes = self
            .rows(self.q(cypher::NETWORK_NODES).param("id", id.as_str()))
            .await?
            .iter()
            .map(|r| {
                let character: String = r.get("id").map_err(corrupt("id"))?;
                let name: Option<String> = r.get("name").map_err(corrupt("name"))?;
                let mentions: i64 = r.get("mentions").map_err(corrupt("mentions"))?;
                Ok(NetworkNode {
                    character_id: parse(&character)?,
                    name: name.unwrap_or_default(),
                    mentions: count(mentions)?,
                })
            })
            .collect::<Result<Vec<_>, ProjectionError>>()?;
        nodes.sort_by_key(|n| n.character_id);
        let present: BTreeSet<Uuid> = nodes.iter().map(|n| n.character_id).collect();
        let mut edges = Vec::new();
        for r in self
            .rows(self.q(cypher::NETWORK_EDGES).param("id", id.as_str()))
            .await?
        {
            let a: String = r.get("a").map_err(corrupt("a"))?;
            let b: String = r.get("b").map_err(corrupt("b"))?;
            let weight: i64 = r.get("weight").map_err(corrupt("weight"))?;
            let (a, b) = (parse(&a)?, parse(&b)?);
            if present.contains(&a) && present.contains(&b) {
                edges.push(NetworkEdge {
                    a,
                    b,
                    weight: count(weight)?,
                });
            }
        }
        edges.sort_by_key(|e| (e.a, e.b));
        Ok(Network {
            document_id: document,
            nodes,
            edges,
        })
    }

    async fn shortest_path(
        &self,
        viewer: &Viewer,
        from: Uuid,
        to: Uuid,
        max_hops: usize,
    ) -> Result<Option<Vec<GraphCharacter>>, ProjectionError> {
        let owner = self.visible_character(viewer, from).await?;
        let other = self.visible_character(viewer, to).await?;
        if from == to {
            let name = self.character_name(from).await?;
            return Ok(Some(vec![GraphCharacter {
                character_id: from,
                name,
            }]));
        }
        if owner != other || max_hops == 0 {
            return Ok(None);
        }
        let rows = self
            .rows(
                self.q(&cypher::shortest_paths(max_hops.min(MAX_PATH_HOPS)))
                    .param("from", from.to_string())
                    .param("to", to.to_string()),
            )
            .await?;
        let mut names: BTreeMap<Uuid, String> = BTreeMap::new();
        let mut paths = Vec::with_capacity(rows.len());
        for r in rows {
            let ids: Vec<String> = r.get("ids").map_err(corrupt("ids"))?;
            let labels: Vec<Option<String>> = r.get("names").map_err(corrupt("names"))?;
            let ids = ids
                .iter()
                .map(|i| parse(i))
                .collect::<Result<Vec<_>, ProjectionError>>()?;
            for (id, name) in ids.iter().zip(labels) {
                names.insert(*id, name.unwrap_or_default());
            }
            paths.push(ids);
        }
        Ok(algorithms::first_of(paths).map(|ids| {
            ids.into_iter()
                .map(|id| GraphCharacter {
                    character_id: id,
                    name: names.get(&id).cloned().unwrap_or_default(),
                })
                .collect()
        }))
    }
}

impl Neo4jGraph {
    async fn character_name(&self, id: Uuid) -> Result<String, ProjectionError> {
        let rows = self
            .rows(
                self.q(cypher::CHARACTER_NAME_OF)
                    .param("id", id.to_string()),
            )
            .await?;
        match rows.first() {
            Some(r) => {
                let name: Option<String> = r.get("name").map_err(corrupt("name"))?;
                Ok(name.unwrap_or_default())
            }
            None => Ok(String::new()),
        }
    }
}
