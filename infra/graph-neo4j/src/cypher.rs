//! The Cypher of the graph store. `$g` names the graph in every statement.
//! A character or document named before its creation is created bare
//! (status `active`, no owner: invisible until its creation arrives); a
//! name resolves to the character itself, to its survivor when merged, or
//! to nothing when deleted, as `studio_projections::graph::changes` says.

/// The node a character id stands for now, as `t` (or no row).
macro_rules! resolve {
    ($id:literal, $node:literal) => {
        concat!(
            "MERGE (x_",
            $node,
            ":Character {g: $g, id: ",
            $id,
            "}) ON CREATE SET x_",
            $node,
            ".status = 'active' ",
            "WITH * OPTIONAL MATCH (s_",
            $node,
            ":Character {g: $g, id: x_",
            $node,
            ".merged_into}) ",
            "WITH *, CASE x_",
            $node,
            ".status WHEN 'active' THEN x_",
            $node,
            " WHEN 'merged' THEN s_",
            $node,
            " END AS ",
            $node,
            " ",
        )
    };
}

pub const CLEAR: &str =
    "MATCH (n {g: $g}) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS";

pub const DOCUMENTS: &str = "UNWIND $rows AS row
    MERGE (d:Document {g: $g, id: row.id}) ON CREATE SET d.status = 'active'
    SET d.owner = row.owner, d.title = row.title";

pub const DOCUMENT_TITLE: &str =
    "MERGE (d:Document {g: $g, id: $id}) ON CREATE SET d.status = 'active'
    SET d.title = $title";

pub const DOCUMENT_GONE: &str = "MERGE (d:Document {g: $g, id: $id}) SET d.status = 'deleted'";

pub const FORGET_CAST: &str = "MATCH (:Document {g: $g, id: $id})<-[r:APPEARS_IN]-() DELETE r";

pub const FORGET_INTERACTIONS: &str =
    "MATCH ()-[r:INTERACTS_WITH {g: $g, document: $id}]->() DELETE r";

pub const CAST: &str = concat!(
    "MERGE (d:Document {g: $g, id: $id}) ON CREATE SET d.status = 'active' ",
    "WITH d WHERE d.status = 'active' ",
    "UNWIND $rows AS m ",
    resolve!("m.id", "t"),
    "WITH d, m, t WHERE t IS NOT NULL ",
    "MERGE (t)-[a:APPEARS_IN]->(d) ",
    "ON CREATE SET a.mentions = m.mentions ",
    "ON MATCH SET a.mentions = a.mentions + m.mentions"
);

pub const INTERACTIONS: &str = concat!(
    "MERGE (d:Document {g: $g, id: $id}) ON CREATE SET d.status = 'active' ",
    "WITH d WHERE d.status = 'active' ",
    "UNWIND $rows AS p ",
    resolve!("p.a", "a"),
    resolve!("p.b", "b"),
    "WITH p, a, b WHERE a IS NOT NULL AND b IS NOT NULL AND a.id <> b.id AND p.weight > 0 ",
    "WITH p, CASE WHEN a.id < b.id THEN a ELSE b END AS lo, CASE WHEN a.id < b.id THEN b ELSE a END AS hi ",
    "MERGE (lo)-[r:INTERACTS_WITH {g: $g, document: $id}]->(hi) ",
    "ON CREATE SET r.weight = p.weight ",
    "ON MATCH SET r.weight = r.weight + p.weight"
);

pub const CHARACTERS: &str = "UNWIND $rows AS row
    MERGE (c:Character {g: $g, id: row.id}) ON CREATE SET c.status = 'active'
    SET c.owner = row.owner, c.name = row.name";

pub const CHARACTER_NAME: &str =
    "MERGE (c:Character {g: $g, id: $id}) ON CREATE SET c.status = 'active'
    SET c.name = $name";

pub const CHARACTER_GONE: &str = "MERGE (c:Character {g: $g, id: $id})
    SET c.status = 'deleted', c.merged_into = null
    WITH c OPTIONAL MATCH (c)-[r]-() DELETE r";

pub const RELATED: &str = concat!(
    "UNWIND $rows AS row ",
    resolve!("row.source", "a"),
    resolve!("row.target", "b"),
    "WITH row, a, b WHERE a IS NOT NULL AND b IS NOT NULL AND a.id <> b.id ",
    "MERGE (a)-[:RELATED {kind: row.kind}]->(b)"
);

pub const UNRELATED: &str = concat!(
    resolve!("$source", "a"),
    resolve!("$target", "b"),
    "MATCH (a)-[r:RELATED {kind: $kind}]->(b) DELETE r"
);

/// The survivor's id, or no value when the survivor is deleted.
pub const SURVIVOR: &str = concat!(
    "MERGE (f:Character {g: $g, id: $from}) ON CREATE SET f.status = 'active' ",
    "WITH f ",
    resolve!("$into", "t"),
    "RETURN t.id AS survivor"
);

/// Moves `$from`'s edges to `$into` (summing where both had one, dropping
/// those between the two), then marks it, and those merged into it, merged.
pub const MERGE: &[&str] = &[
    "MATCH (f:Character {g: $g, id: $from})-[r:APPEARS_IN]->(d)
     MATCH (s:Character {g: $g, id: $into})
     MERGE (s)-[n:APPEARS_IN]->(d)
     ON CREATE SET n.mentions = r.mentions
     ON MATCH SET n.mentions = n.mentions + r.mentions",
    "MATCH (f:Character {g: $g, id: $from})-[r:INTERACTS_WITH]-(o) WHERE o.id <> $into
     MATCH (s:Character {g: $g, id: $into})
     WITH r, CASE WHEN s.id < o.id THEN s ELSE o END AS lo, CASE WHEN s.id < o.id THEN o ELSE s END AS hi
     MERGE (lo)-[n:INTERACTS_WITH {g: $g, document: r.document}]->(hi)
     ON CREATE SET n.weight = r.weight
     ON MATCH SET n.weight = n.weight + r.weight",
    "MATCH (f:Character {g: $g, id: $from})-[r:RELATED]->(t) WHERE t.id <> $into
     MATCH (s:Character {g: $g, id: $into})
     MERGE (s)-[:RELATED {kind: r.kind}]->(t)",
    "MATCH (t)-[r:RELATED]->(f:Character {g: $g, id: $from}) WHERE t.id <> $into
     MATCH (s:Character {g: $g, id: $into})
     MERGE (t)-[:RELATED {kind: r.kind}]->(s)",
    "MATCH (f:Character {g: $g, id: $from})-[r]-() DELETE r",
    // Two statements, not one with OR: each finds its nodes by an index.
    "MATCH (c:Character {g: $g, merged_into: $from}) SET c.merged_into = $into",
    "MATCH (c:Character {g: $g, id: $from}) SET c.status = 'merged', c.merged_into = $into",
];

pub const ADVANCE: &str = "UNWIND $rows AS row
    MERGE (c:Checkpoint {g: $g, partition: row.partition})
    SET c.next_offset = CASE WHEN c.next_offset IS NULL OR c.next_offset < row.next
                             THEN row.next ELSE c.next_offset END";

pub const CHECKPOINTS: &str =
    "MATCH (c:Checkpoint {g: $g}) RETURN c.partition AS partition, c.next_offset AS next";

pub const PARK: &str = "MERGE (l:DeadLetter {g: $g, partition: $partition, offset: $offset})
    SET l.event_id = $event_id, l.event_type = $event_type, l.error = $error,
        l.attempts = $attempts";

pub const CHARACTER_OWNER: &str =
    "MATCH (c:Character {g: $g, id: $id}) WHERE c.status = 'active' RETURN c.owner AS owner";

pub const CHARACTER_NAME_OF: &str = "MATCH (c:Character {g: $g, id: $id}) RETURN c.name AS name";

pub const DOCUMENT_OWNER: &str =
    "MATCH (d:Document {g: $g, id: $id}) WHERE d.status = 'active' RETURN d.owner AS owner";

pub const INTERACTING: &str =
    "MATCH (me:Character {g: $g, id: $id})-[r:INTERACTS_WITH]-(o:Character)
    WHERE o.status = 'active' AND o.owner = me.owner
    RETURN o.id AS id, o.name AS name, sum(r.weight) AS weight";

pub const RELATED_TO: &str = "MATCH (me:Character {g: $g, id: $id})-[r:RELATED]-(o:Character)
    WHERE o.status = 'active' AND o.owner = me.owner
    RETURN o.id AS id, o.name AS name, r.kind AS kind, startNode(r) = me AS outgoing";

pub const NETWORK_NODES: &str = "MATCH (d:Document {g: $g, id: $id})<-[a:APPEARS_IN]-(c:Character)
    WHERE c.status = 'active' AND c.owner = d.owner
    RETURN c.id AS id, c.name AS name, a.mentions AS mentions";

/// Found by the relationship index (no labels on the ends: with them the
/// planner may scan every character instead).
pub const NETWORK_EDGES: &str = "MATCH (x)-[r:INTERACTS_WITH {g: $g, document: $id}]->(y)
    RETURN x.id AS a, y.id AS b, r.weight AS weight";

/// Every shortest path of at most `hops` edges between two characters of
/// one owner, through active characters of that owner only. (A bound is
/// not a parameter in Cypher; it is a number the caller bounded.)
pub fn shortest_paths(hops: usize) -> String {
    format!(
        "MATCH (a:Character {{g: $g, id: $from}}), (b:Character {{g: $g, id: $to}})
         MATCH p = allShortestPaths((a)-[:INTERACTS_WITH|RELATED*..{hops}]-(b))
         WHERE all(n IN nodes(p) WHERE n.status = 'active' AND n.owner = a.owner)
         RETURN [n IN nodes(p) | n.id] AS ids, [n IN nodes(p) | n.name] AS names"
    )
}

pub const SNAPSHOT_DOCUMENTS: &str = "MATCH (n:Document {g: $g})
    RETURN n.id AS id, n.owner AS owner, n.title AS label, n.status AS status, null AS merged_into";

pub const SNAPSHOT_CHARACTERS: &str = "MATCH (n:Character {g: $g})
    RETURN n.id AS id, n.owner AS owner, n.name AS label, n.status AS status,
           n.merged_into AS merged_into";

pub const SNAPSHOT_APPEARANCES: &str =
    "MATCH (c:Character {g: $g})-[a:APPEARS_IN]->(d:Document {g: $g})
     RETURN d.id AS document, c.id AS character, a.mentions AS mentions";

pub const SNAPSHOT_INTERACTIONS: &str =
    "MATCH (x:Character {g: $g})-[r:INTERACTS_WITH]->(y:Character)
    RETURN r.document AS document, x.id AS a, y.id AS b, r.weight AS weight";

pub const SNAPSHOT_RELATIONSHIPS: &str = "MATCH (x:Character {g: $g})-[r:RELATED]->(y:Character)
    RETURN x.id AS source, y.id AS target, r.kind AS kind";
