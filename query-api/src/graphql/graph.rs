//! The character graph as GraphQL serves it: a character's neighbours, a
//! document's network and who sits at its centre, its communities, and
//! the shortest path between two characters. Another owner's nodes are
//! `NOT_FOUND`, as if they did not exist.

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use studio_projections::graph::{self, GraphCharacter, MAX_PATH_HOPS, NeighbourQuery};
use studio_projections::{ProjectionError, Viewer};

use super::errors::{bad_input, not_found, read_failed};
use super::query::parse_id;
use crate::QueryApi;

const MAX_LIMIT: i32 = 500;

#[derive(Default)]
pub struct GraphQuery;

#[derive(SimpleObject)]
pub struct GraphNode {
    pub character_id: ID,
    pub name: String,
}

impl From<GraphCharacter> for GraphNode {
    fn from(c: GraphCharacter) -> Self {
        Self {
            character_id: ID(c.character_id.to_string()),
            name: c.name,
        }
    }
}

#[derive(SimpleObject)]
pub struct DeclaredRelationship {
    /// `sibling_of`, `married_to`, ... or a free label.
    pub kind: String,
    /// True when the character asked about declared it (it is `kind` the
    /// neighbour), false when the neighbour did.
    pub outgoing: bool,
}

#[derive(SimpleObject)]
pub struct Neighbour {
    pub character_id: ID,
    pub name: String,
    /// Co-occurrence weight summed over your documents; 0 when they only
    /// have a declared relationship.
    pub interaction_weight: u64,
    pub relationships: Vec<DeclaredRelationship>,
}

#[derive(SimpleObject)]
pub struct NetworkNode {
    pub character_id: ID,
    pub name: String,
    /// Mentions in the document.
    pub mentions: u64,
}

#[derive(SimpleObject)]
pub struct NetworkEdge {
    pub source: ID,
    pub target: ID,
    /// How often the two are mentioned near each other in the document.
    pub weight: u64,
}

/// A document's characters and their interactions, ready to draw.
#[derive(SimpleObject)]
pub struct CharacterNetwork {
    pub document_id: ID,
    pub nodes: Vec<NetworkNode>,
    pub edges: Vec<NetworkEdge>,
}

#[derive(SimpleObject)]
pub struct CentralCharacter {
    pub character_id: ID,
    pub name: String,
    /// Characters this one interacts with in the document.
    pub degree: u64,
    /// The weights of those interactions, summed.
    pub weighted_degree: u64,
    /// Weighted PageRank (damping 0.85); the document's ranks sum to 1.
    pub pagerank: f64,
}

#[derive(SimpleObject)]
pub struct Community {
    pub members: Vec<GraphNode>,
}

#[derive(SimpleObject)]
pub struct Communities {
    /// How much more weight falls inside the communities than chance
    /// would put there (-0.5 to 1; above 0.3 is a clear structure).
    pub modularity: f64,
    /// Largest first.
    pub communities: Vec<Community>,
}

fn context<'a>(ctx: &'a Context<'_>) -> Result<(&'a QueryApi, &'a Viewer)> {
    Ok((ctx.data::<QueryApi>()?, ctx.data::<Viewer>()?))
}

fn graph_error(what: &str) -> impl Fn(ProjectionError) -> async_graphql::Error + '_ {
    move |e| match e {
        ProjectionError::NotFound(_) => not_found(what),
        other => read_failed(other),
    }
}

fn bounded(value: i32, name: &str, max: i32) -> Result<usize> {
    if !(1..=max).contains(&value) {
        return Err(bad_input(format!("{name} must be between 1 and {max}")));
    }
    usize::try_from(value).map_err(|_| bad_input(format!("{name} is out of range")))
}

async fn network(ctx: &Context<'_>, document_id: &ID) -> Result<graph::Network> {
    let (api, viewer) = context(ctx)?;
    api.graph
        .network(viewer, parse_id(document_id, "documentId")?)
        .await
        .map_err(graph_error("document"))
}

#[Object]
impl GraphQuery {
    /// The characters next to one of yours: those it interacts with (by
    /// weight, across your documents) and those it has a declared
    /// relationship with. `kind` keeps one relation: `interacts_with`, or a
    /// relationship kind such as `sibling_of`.
    async fn character_neighbours(
        &self,
        ctx: &Context<'_>,
        character_id: ID,
        kind: Option<String>,
        #[graphql(default = 0)] min_weight: i64,
        #[graphql(default = 20)] limit: i32,
    ) -> Result<Vec<Neighbour>> {
        let (api, viewer) = context(ctx)?;
        let min_weight =
            u64::try_from(min_weight).map_err(|_| bad_input("minWeight must not be negative"))?;
        if kind
            .as_ref()
            .is_some_and(|k| k.is_empty() || k.chars().count() > 64)
        {
            return Err(bad_input("kind must be 1 to 64 characters"));
        }
        let query = NeighbourQuery {
            kind,
            min_weight,
            limit: bounded(limit, "limit", MAX_LIMIT)?,
        };
        let neighbours = api
            .graph
            .neighbours(viewer, parse_id(&character_id, "characterId")?, &query)
            .await
            .map_err(graph_error("character"))?;
        Ok(neighbours
            .into_iter()
            .map(|n| Neighbour {
                character_id: ID(n.character_id.to_string()),
                name: n.name,
                interaction_weight: n.interaction_weight,
                relationships: n
                    .relationships
                    .into_iter()
                    .map(|r| DeclaredRelationship {
                        kind: r.kind,
                        outgoing: r.outgoing,
                    })
                    .collect(),
            })
            .collect())
    }

    /// A document's characters and their weighted interactions.
    async fn character_network(
        &self,
        ctx: &Context<'_>,
        document_id: ID,
    ) -> Result<CharacterNetwork> {
        let network = network(ctx, &document_id).await?;
        Ok(CharacterNetwork {
            document_id: ID(network.document_id.to_string()),
            nodes: network
                .nodes
                .into_iter()
                .map(|n| NetworkNode {
                    character_id: ID(n.character_id.to_string()),
                    name: n.name,
                    mentions: n.mentions,
                })
                .collect(),
            edges: network
                .edges
                .into_iter()
                .map(|e| NetworkEdge {
                    source: ID(e.a.to_string()),
                    target: ID(e.b.to_string()),
                    weight: e.weight,
                })
                .collect(),
        })
    }

    /// The characters at the centre of a document's network, highest
    /// PageRank first.
    async fn central_characters(
        &self,
        ctx: &Context<'_>,
        document_id: ID,
        #[graphql(default = 10)] limit: i32,
    ) -> Result<Vec<CentralCharacter>> {
        let limit = bounded(limit, "limit", MAX_LIMIT)?;
        let network = network(ctx, &document_id).await?;
        Ok(graph::algorithms::centrality(&network)
            .into_iter()
            .take(limit)
            .map(|c| CentralCharacter {
                character_id: ID(c.character_id.to_string()),
                name: c.name,
                degree: c.degree,
                weighted_degree: c.weighted_degree,
                pagerank: c.pagerank,
            })
            .collect())
    }

    /// The groups a document's characters fall into by their interactions
    /// (weighted label propagation).
    async fn communities(&self, ctx: &Context<'_>, document_id: ID) -> Result<Communities> {
        let network = network(ctx, &document_id).await?;
        let found = graph::algorithms::communities(&network);
        Ok(Communities {
            modularity: found.modularity,
            communities: found
                .communities
                .into_iter()
                .map(|c| Community {
                    members: c.members.into_iter().map(GraphNode::from).collect(),
                })
                .collect(),
        })
    }

    /// The shortest chain of interactions or declared relationships from
    /// one of your characters to another, of at most `maxHops` steps; null
    /// when there is none that short.
    async fn shortest_path(
        &self,
        ctx: &Context<'_>,
        from_id: ID,
        to_id: ID,
        #[graphql(default = 6)] max_hops: i32,
    ) -> Result<Option<Vec<GraphNode>>> {
        let (api, viewer) = context(ctx)?;
        let max_hops = bounded(max_hops, "maxHops", MAX_PATH_HOPS as i32)?;
        let path = api
            .graph
            .shortest_path(
                viewer,
                parse_id(&from_id, "fromId")?,
                parse_id(&to_id, "toId")?,
                max_hops,
            )
            .await
            .map_err(graph_error("character"))?;
        Ok(path.map(|p| p.into_iter().map(GraphNode::from).collect()))
    }
}
