//! The graph in a SQLite file, for `studio serve` without Neo4j. Each
//! change of [`GraphChange`] is a few statements in the batch's one
//! transaction; questions load the owner's nodes and edges and answer in
//! memory, as [`super::algorithms`] does for every store.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::{Row, Sqlite, SqlitePool, Transaction};
use studio_event_log::StoredEvent;
use uuid::Uuid;

use super::{
    GraphChange, GraphCharacter, GraphSnapshot, GraphStore, Neighbour, NeighbourQuery, Network,
    NetworkEdge, NetworkNode, PROJECTION_NAME, SnapshotNode, algorithms, changes, neighbours_from,
};
use crate::{Projection, ProjectionError, Viewer};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/graph/sqlite");

type Tx<'c> = Transaction<'c, Sqlite>;

pub struct EmbeddedGraph {
    pool: SqlitePool,
}

impl EmbeddedGraph {
    pub async fn open(path: &Path) -> Result<Self, ProjectionError> {
        let options = studio_sqlite::options(path, studio_sqlite::Durability::ProcessCrash);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| ProjectionError::Corrupt(format!("graph schema: {e}")))?;
        Ok(Self { pool })
    }

    /// Closes the file (before it is moved).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn visible_character(&self, viewer: &Viewer, id: Uuid) -> Result<Uuid, ProjectionError> {
        let owner: Option<String> = sqlx::query_scalar(
            "SELECT owner FROM graph_characters WHERE id = ? AND status = 'active'",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .flatten();
        owner
            .as_deref()
            .and_then(|o| Uuid::parse_str(o).ok())
            .filter(|o| viewer.may_see(*o))
            .ok_or_else(|| ProjectionError::NotFound(format!("no character {id}")))
    }
}

fn uuid(row: &sqlx::sqlite::SqliteRow, column: &str) -> Result<Uuid, ProjectionError> {
    let text: String = row.try_get(column)?;
    Uuid::parse_str(&text).map_err(|e| ProjectionError::Corrupt(format!("{column}: {e}")))
}

fn count(row: &sqlx::sqlite::SqliteRow, column: &str) -> Result<u64, ProjectionError> {
    let n: i64 = row.try_get(column)?;
    u64::try_from(n).map_err(|_| ProjectionError::Corrupt(format!("{column} is negative")))
}

fn int(n: u64) -> Result<i64, ProjectionError> {
    i64::try_from(n).map_err(|_| ProjectionError::Corrupt(format!("{n} is out of range")))
}

#[async_trait]
impl Projection for EmbeddedGraph {
    fn name(&self) -> &'static str {
        PROJECTION_NAME
    }

    async fn checkpoints(&self) -> Result<BTreeMap<u32, u64>, ProjectionError> {
        let rows = sqlx::query("SELECT partition, next_offset FROM graph_checkpoints")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let partition: i64 = row.try_get("partition")?;
                let partition = u32::try_from(partition)
                    .map_err(|_| ProjectionError::Corrupt("partition out of range".into()))?;
                Ok((partition, count(row, "next_offset")?))
            })
            .collect()
    }

    async fn apply(&self, batch: &[StoredEvent]) -> Result<(), ProjectionError> {
        let work = changes::of_batch(batch)?;
        let mut tx = self.pool.begin().await?;
        let mut cache = Resolved::new();
        for change in &work {
            apply(&mut tx, &mut cache, change).await?;
            if matches!(
                change,
                GraphChange::CharacterGone { .. } | GraphChange::Merged { .. }
            ) {
                // They change what names resolve to.
                cache.clear();
            }
        }
        advance(&mut tx, batch).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn park(
        &self,
        event: &StoredEvent,
        error: &ProjectionError,
        attempts: u32,
    ) -> Result<(), ProjectionError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            r#"INSERT INTO graph_dead_letters (partition, "offset", event_id, event_type, error, attempts)
               VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"#,
        )
        .bind(i64::from(event.position.partition))
        .bind(int(event.position.offset)?)
        .bind(event.envelope.id.to_string())
        .bind(&event.envelope.event_type)
        .bind(error.to_string())
        .bind(i64::from(attempts))
        .execute(&mut *tx)
        .await?;
        advance(&mut tx, std::slice::from_ref(event)).await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn advance(tx: &mut Tx<'_>, batch: &[StoredEvent]) -> Result<(), ProjectionError> {
    let mut next: BTreeMap<u32, u64> = BTreeMap::new();
    for e in batch {
        let n = next.entry(e.position.partition).or_default();
        *n = (*n).max(e.position.offset + 1);
    }
    for (partition, offset) in next {
        sqlx::query(
            "INSERT INTO graph_checkpoints (partition, next_offset) VALUES (?, ?)
             ON CONFLICT (partition) DO UPDATE SET next_offset = MAX(next_offset, excluded.next_offset)",
        )
        .bind(i64::from(partition))
        .bind(int(offset)?)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// What characters resolve to within one batch: a cast and its
/// interactions name the same characters hundreds of times.
type Resolved = HashMap<Uuid, Option<Uuid>>;

/// Where edges naming `id` go: itself, its survivor, or nowhere (deleted).
/// A character not heard of yet gets a node without owner (invisible).
async fn resolve(
    tx: &mut Tx<'_>,
    cache: &mut Resolved,
    id: Uuid,
) -> Result<Option<Uuid>, ProjectionError> {
    if let Some(known) = cache.get(&id) {
        return Ok(*known);
    }
    let resolved = resolve_stored(tx, id).await?;
    cache.insert(id, resolved);
    Ok(resolved)
}

async fn resolve_stored(tx: &mut Tx<'_>, id: Uuid) -> Result<Option<Uuid>, ProjectionError> {
    sqlx::query("INSERT INTO graph_characters (id) VALUES (?) ON CONFLICT DO NOTHING")
        .bind(id.to_string())
        .execute(&mut **tx)
        .await?;
    let row = sqlx::query("SELECT status, merged_into FROM graph_characters WHERE id = ?")
        .bind(id.to_string())
        .fetch_one(&mut **tx)
        .await?;
    let status: String = row.try_get("status")?;
    match status.as_str() {
        "deleted" => Ok(None),
        "merged" => {
            let into: Option<String> = row.try_get("merged_into")?;
            Ok(into.as_deref().and_then(|i| Uuid::parse_str(i).ok()))
        }
        _ => Ok(Some(id)),
    }
}

async fn document_active(tx: &mut Tx<'_>, id: Uuid) -> Result<bool, ProjectionError> {
    sqlx::query("INSERT INTO graph_documents (id) VALUES (?) ON CONFLICT DO NOTHING")
        .bind(id.to_string())
        .execute(&mut **tx)
        .await?;
    let status: String = sqlx::query_scalar("SELECT status FROM graph_documents WHERE id = ?")
        .bind(id.to_string())
        .fetch_one(&mut **tx)
        .await?;
    Ok(status == "active")
}

async fn run(tx: &mut Tx<'_>, sql: &str, binds: &[String]) -> Result<(), ProjectionError> {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
    for b in binds {
        query = query.bind(b.clone());
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

async fn add_interaction(
    tx: &mut Tx<'_>,
    document: Uuid,
    x: Uuid,
    y: Uuid,
    weight: u64,
) -> Result<(), ProjectionError> {
    if x == y || weight == 0 {
        return Ok(());
    }
    let (a, b) = if x < y { (x, y) } else { (y, x) };
    sqlx::query(
        "INSERT INTO graph_interactions (document_id, a, b, weight) VALUES (?, ?, ?, ?)
         ON CONFLICT (document_id, a, b) DO UPDATE SET weight = weight + excluded.weight",
    )
    .bind(document.to_string())
    .bind(a.to_string())
    .bind(b.to_string())
    .bind(int(weight)?)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn add_appearance(
    tx: &mut Tx<'_>,
    document: Uuid,
    character: Uuid,
    mentions: u64,
) -> Result<(), ProjectionError> {
    sqlx::query(
        "INSERT INTO graph_appears (document_id, character_id, mentions) VALUES (?, ?, ?)
         ON CONFLICT (document_id, character_id) DO UPDATE SET mentions = mentions + excluded.mentions",
    )
    .bind(document.to_string())
    .bind(character.to_string())
    .bind(int(mentions)?)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn apply(
    tx: &mut Tx<'_>,
    cache: &mut Resolved,
    change: &GraphChange,
) -> Result<(), ProjectionError> {
    match change {
        GraphChange::Document { id, owner, title } => {
            sqlx::query(
                "INSERT INTO graph_documents (id, owner, title) VALUES (?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, title = excluded.title",
            )
            .bind(id.to_string())
            .bind(owner.to_string())
            .bind(title)
            .execute(&mut **tx)
            .await?;
        }
        GraphChange::DocumentTitle { id, title } => {
            document_active(tx, *id).await?;
            run(
                tx,
                "UPDATE graph_documents SET title = ? WHERE id = ?",
                &[title.clone(), id.to_string()],
            )
            .await?;
        }
        GraphChange::DocumentGone { id } => {
            document_active(tx, *id).await?;
            let id = id.to_string();
            for sql in [
                "UPDATE graph_documents SET status = 'deleted' WHERE id = ?",
                "DELETE FROM graph_appears WHERE document_id = ?",
                "DELETE FROM graph_interactions WHERE document_id = ?",
            ] {
                run(tx, sql, std::slice::from_ref(&id)).await?;
            }
        }
        GraphChange::AnalysisReset { document } => {
            let id = document.to_string();
            for sql in [
                "DELETE FROM graph_appears WHERE document_id = ?",
                "DELETE FROM graph_interactions WHERE document_id = ?",
            ] {
                run(tx, sql, std::slice::from_ref(&id)).await?;
            }
        }
        GraphChange::Cast { document, members } => {
            if !document_active(tx, *document).await? {
                return Ok(());
            }
            run(
                tx,
                "DELETE FROM graph_appears WHERE document_id = ?",
                &[document.to_string()],
            )
            .await?;
            for (character, mentions) in members {
                if let Some(c) = resolve(tx, cache, *character).await? {
                    add_appearance(tx, *document, c, *mentions).await?;
                }
            }
        }
        GraphChange::Interactions { document, pairs } => {
            if !document_active(tx, *document).await? {
                return Ok(());
            }
            run(
                tx,
                "DELETE FROM graph_interactions WHERE document_id = ?",
                &[document.to_string()],
            )
            .await?;
            for (a, b, weight) in pairs {
                if let (Some(a), Some(b)) =
                    (resolve(tx, cache, *a).await?, resolve(tx, cache, *b).await?)
                {
                    add_interaction(tx, *document, a, b, *weight).await?;
                }
            }
        }
        GraphChange::Character { id, owner, name } => {
            sqlx::query(
                "INSERT INTO graph_characters (id, owner, name) VALUES (?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, name = excluded.name",
            )
            .bind(id.to_string())
            .bind(owner.to_string())
            .bind(name)
            .execute(&mut **tx)
            .await?;
        }
        GraphChange::CharacterName { id, name } => {
            resolve(tx, cache, *id).await?;
            run(
                tx,
                "UPDATE graph_characters SET name = ? WHERE id = ?",
                &[name.clone(), id.to_string()],
            )
            .await?;
        }
        GraphChange::CharacterGone { id } => {
            resolve(tx, cache, *id).await?;
            let id = id.to_string();
            run(
                tx,
                "UPDATE graph_characters SET status = 'deleted', merged_into = NULL WHERE id = ?",
                std::slice::from_ref(&id),
            )
            .await?;
            forget_edges(tx, &id).await?;
        }
        GraphChange::Related {
            source,
            target,
            kind,
        } => {
            let (Some(s), Some(t)) = (
                resolve(tx, cache, *source).await?,
                resolve(tx, cache, *target).await?,
            ) else {
                return Ok(());
            };
            if s != t {
                run(
                    tx,
                    "INSERT INTO graph_related (source, target, kind) VALUES (?, ?, ?)
                     ON CONFLICT DO NOTHING",
                    &[s.to_string(), t.to_string(), kind.clone()],
                )
                .await?;
            }
        }
        GraphChange::Unrelated {
            source,
            target,
            kind,
        } => {
            if let (Some(s), Some(t)) = (
                resolve(tx, cache, *source).await?,
                resolve(tx, cache, *target).await?,
            ) {
                run(
                    tx,
                    "DELETE FROM graph_related WHERE source = ? AND target = ? AND kind = ?",
                    &[s.to_string(), t.to_string(), kind.clone()],
                )
                .await?;
            }
        }
        GraphChange::Merged { from, into } => merge(tx, cache, *from, *into).await?,
    }
    Ok(())
}

async fn forget_edges(tx: &mut Tx<'_>, id: &str) -> Result<(), ProjectionError> {
    let both = [id.to_owned(), id.to_owned()];
    run(
        tx,
        "DELETE FROM graph_appears WHERE character_id = ?",
        &both[..1],
    )
    .await?;
    run(
        tx,
        "DELETE FROM graph_interactions WHERE a = ? OR b = ?",
        &both,
    )
    .await?;
    run(
        tx,
        "DELETE FROM graph_related WHERE source = ? OR target = ?",
        &both,
    )
    .await
}

async fn merge(
    tx: &mut Tx<'_>,
    cache: &mut Resolved,
    from: Uuid,
    into: Uuid,
) -> Result<(), ProjectionError> {
    resolve(tx, cache, from).await?;
    let Some(into) = resolve(tx, cache, into).await? else {
        // The survivor is gone: so is what would have moved to it.
        let id = from.to_string();
        run(
            tx,
            "UPDATE graph_characters SET status = 'deleted', merged_into = NULL WHERE id = ?",
            std::slice::from_ref(&id),
        )
        .await?;
        return forget_edges(tx, &id).await;
    };
    let f = from.to_string();
    let appears =
        sqlx::query("SELECT document_id, mentions FROM graph_appears WHERE character_id = ?")
            .bind(&f)
            .fetch_all(&mut **tx)
            .await?;
    for row in &appears {
        add_appearance(tx, uuid(row, "document_id")?, into, count(row, "mentions")?).await?;
    }
    let interactions = sqlx::query(
        "SELECT document_id, a, b, weight FROM graph_interactions WHERE a = ? OR b = ?",
    )
    .bind(&f)
    .bind(&f)
    .fetch_all(&mut **tx)
    .await?;
    for row in &interactions {
        let (a, b) = (uuid(row, "a")?, uuid(row, "b")?);
        let other = if a == from { b } else { a };
        add_interaction(
            tx,
            uuid(row, "document_id")?,
            into,
            other,
            count(row, "weight")?,
        )
        .await?;
    }
    let related = sqlx::query(
        "SELECT source, target, kind FROM graph_related WHERE source = ? OR target = ?",
    )
    .bind(&f)
    .bind(&f)
    .fetch_all(&mut **tx)
    .await?;
    for row in &related {
        let (s, t) = (uuid(row, "source")?, uuid(row, "target")?);
        let (s, t) = (
            if s == from { into } else { s },
            if t == from { into } else { t },
        );
        let kind: String = row.try_get("kind")?;
        if s != t {
            run(
                tx,
                "INSERT INTO graph_related (source, target, kind) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                &[s.to_string(), t.to_string(), kind],
            )
            .await?;
        }
    }
    forget_edges(tx, &f).await?;
    run(
        tx,
        "UPDATE graph_characters SET status = 'merged', merged_into = ? WHERE id = ? OR merged_into = ?",
        &[into.to_string(), f.clone(), f],
    )
    .await
}

fn optional_uuid(
    row: &sqlx::sqlite::SqliteRow,
    column: &str,
) -> Result<Option<Uuid>, ProjectionError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| {
        Uuid::parse_str(&t).map_err(|e| ProjectionError::Corrupt(format!("{column}: {e}")))
    })
    .transpose()
}

fn snapshot_node(
    row: &sqlx::sqlite::SqliteRow,
    label: &str,
) -> Result<SnapshotNode, ProjectionError> {
    Ok(SnapshotNode {
        id: uuid(row, "id")?,
        owner: optional_uuid(row, "owner")?,
        label: row.try_get(label)?,
        status: row.try_get("status")?,
        merged_into: optional_uuid(row, "merged_into")?,
    })
}

#[async_trait]
impl GraphStore for EmbeddedGraph {
    async fn snapshot(&self) -> Result<GraphSnapshot, ProjectionError> {
        let documents = sqlx::query(
            "SELECT id, owner, title, status, NULL AS merged_into FROM graph_documents",
        )
        .fetch_all(&self.pool)
        .await?;
        let characters =
            sqlx::query("SELECT id, owner, name, status, merged_into FROM graph_characters")
                .fetch_all(&self.pool)
                .await?;
        let appears = sqlx::query("SELECT document_id, character_id, mentions FROM graph_appears")
            .fetch_all(&self.pool)
            .await?;
        let interactions = sqlx::query("SELECT document_id, a, b, weight FROM graph_interactions")
            .fetch_all(&self.pool)
            .await?;
        let related = sqlx::query("SELECT source, target, kind FROM graph_related")
            .fetch_all(&self.pool)
            .await?;
        Ok(GraphSnapshot {
            documents: documents
                .iter()
                .map(|r| snapshot_node(r, "title"))
                .collect::<Result<_, _>>()?,
            characters: characters
                .iter()
                .map(|r| snapshot_node(r, "name"))
                .collect::<Result<_, _>>()?,
            appearances: appears
                .iter()
                .map(|r| {
                    Ok((
                        uuid(r, "document_id")?,
                        uuid(r, "character_id")?,
                        count(r, "mentions")?,
                    ))
                })
                .collect::<Result<_, ProjectionError>>()?,
            interactions: interactions
                .iter()
                .map(|r| {
                    Ok((
                        uuid(r, "document_id")?,
                        uuid(r, "a")?,
                        uuid(r, "b")?,
                        count(r, "weight")?,
                    ))
                })
                .collect::<Result<_, ProjectionError>>()?,
            relationships: related
                .iter()
                .map(|r| Ok((uuid(r, "source")?, uuid(r, "target")?, r.try_get("kind")?)))
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
        // Neighbours are of the character's owner: edges never cross
        // owners, and the join makes sure of it.
        let interacting = sqlx::query(
            "SELECT o.id AS other, o.name AS name, SUM(i.weight) AS weight
               FROM graph_interactions i
               JOIN graph_characters me ON me.id = ?1
               JOIN graph_characters o
                 ON o.id = CASE WHEN i.a = ?1 THEN i.b ELSE i.a END
                AND o.status = 'active' AND o.owner = me.owner
              WHERE i.a = ?1 OR i.b = ?1
              GROUP BY o.id, o.name",
        )
        .bind(&id)
        .fetch_all(&self.pool)
        .await?;
        let related = sqlx::query(
            "SELECT o.id AS other, o.name AS name, r.kind AS kind, r.source = ?1 AS outgoing
               FROM graph_related r
               JOIN graph_characters me ON me.id = ?1
               JOIN graph_characters o
                 ON o.id = CASE WHEN r.source = ?1 THEN r.target ELSE r.source END
                AND o.status = 'active' AND o.owner = me.owner
              WHERE r.source = ?1 OR r.target = ?1",
        )
        .bind(&id)
        .fetch_all(&self.pool)
        .await?;
        let interacting = interacting
            .iter()
            .map(|row| {
                Ok((
                    uuid(row, "other")?,
                    row.try_get::<Option<String>, _>("name")?
                        .unwrap_or_default(),
                    count(row, "weight")?,
                ))
            })
            .collect::<Result<Vec<_>, ProjectionError>>()?;
        let related = related
            .iter()
            .map(|row| {
                Ok((
                    uuid(row, "other")?,
                    row.try_get::<Option<String>, _>("name")?
                        .unwrap_or_default(),
                    row.try_get("kind")?,
                    row.try_get("outgoing")?,
                ))
            })
            .collect::<Result<Vec<_>, ProjectionError>>()?;
        Ok(neighbours_from(interacting, related, query))
    }

    async fn network(&self, viewer: &Viewer, document: Uuid) -> Result<Network, ProjectionError> {
        let id = document.to_string();
        let owner: Option<String> = sqlx::query_scalar(
            "SELECT owner FROM graph_documents WHERE id = ? AND status = 'active'",
        )
        .bind(&id)
        .fetch_optional(&self.pool)
        .await?
        .flatten();
        let owner = owner
            .as_deref()
            .and_then(|o| Uuid::parse_str(o).ok())
            .filter(|o| viewer.may_see(*o))
            .ok_or_else(|| ProjectionError::NotFound(format!("no document {document}")))?;
        let nodes = sqlx::query(
            "SELECT c.id AS id, c.name AS name, a.mentions AS mentions
               FROM graph_appears a
               JOIN graph_characters c ON c.id = a.character_id AND c.status = 'active' AND c.owner = ?
              WHERE a.document_id = ?
              ORDER BY c.id",
        )
        .bind(owner.to_string())
        .bind(&id)
        .fetch_all(&self.pool)
        .await?;
        let nodes = nodes
            .iter()
            .map(|row| {
                Ok(NetworkNode {
                    character_id: uuid(row, "id")?,
                    name: row
                        .try_get::<Option<String>, _>("name")?
                        .unwrap_or_default(),
                    mentions: count(row, "mentions")?,
                })
            })
            .collect::<Result<Vec<_>, ProjectionError>>()?;
        let present: BTreeSet<Uuid> = nodes.iter().map(|n| n.character_id).collect();
        let edges = sqlx::query(
            "SELECT a, b, weight FROM graph_interactions WHERE document_id = ? ORDER BY a, b",
        )
        .bind(&id)
        .fetch_all(&self.pool)
        .await?;
        let mut network_edges = Vec::with_capacity(edges.len());
        for row in &edges {
            let (a, b) = (uuid(row, "a")?, uuid(row, "b")?);
            if present.contains(&a) && present.contains(&b) {
                network_edges.push(NetworkEdge {
                    a,
                    b,
                    weight: count(row, "weight")?,
                });
            }
        }
        Ok(Network {
            document_id: document,
            nodes,
            edges: network_edges,
        })
    }

    async fn shortest_path(
        &self,
        viewer: &Viewer,
        from: Uuid,
        to: Uuid,
        max_hops: usize,
    ) -> Result<Option<Vec<GraphCharacter>>, ProjectionError> {
        self.visible_character(viewer, from).await?;
        self.visible_character(viewer, to).await?;
        let owner: Option<String> =
            sqlx::query_scalar("SELECT owner FROM graph_characters WHERE id = ?")
                .bind(from.to_string())
                .fetch_one(&self.pool)
                .await?;
        let owner = owner.unwrap_or_default();
        let edges = sqlx::query(
            "SELECT i.a AS x, i.b AS y FROM graph_interactions i
               JOIN graph_characters x ON x.id = i.a AND x.status = 'active' AND x.owner = ?1
               JOIN graph_characters y ON y.id = i.b AND y.status = 'active' AND y.owner = ?1
             UNION
             SELECT r.source, r.target FROM graph_related r
               JOIN graph_characters x ON x.id = r.source AND x.status = 'active' AND x.owner = ?1
               JOIN graph_characters y ON y.id = r.target AND y.status = 'active' AND y.owner = ?1",
        )
        .bind(&owner)
        .fetch_all(&self.pool)
        .await?;
        let mut adjacent: BTreeMap<Uuid, BTreeSet<Uuid>> = BTreeMap::new();
        for row in &edges {
            let (x, y) = (uuid(row, "x")?, uuid(row, "y")?);
            adjacent.entry(x).or_default().insert(y);
            adjacent.entry(y).or_default().insert(x);
        }
        let Some(path) = algorithms::shortest_path(&adjacent, from, to, max_hops) else {
            return Ok(None);
        };
        let mut named = Vec::with_capacity(path.len());
        for id in path {
            let name: Option<String> =
                sqlx::query_scalar("SELECT name FROM graph_characters WHERE id = ?")
                    .bind(id.to_string())
                    .fetch_one(&self.pool)
                    .await?;
            named.push(GraphCharacter {
                character_id: id,
                name: name.unwrap_or_default(),
            });
        }
        Ok(Some(named))
    }
}
