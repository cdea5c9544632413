//! Indexes and constraints, created when missing at every start (Neo4j
//! Community has composite uniqueness constraints, not node keys).

pub const STATEMENTS: &[&str] = &[
    "CREATE CONSTRAINT studio_document IF NOT EXISTS
       FOR (d:Document) REQUIRE (d.g, d.id) IS UNIQUE",
    "CREATE CONSTRAINT studio_character IF NOT EXISTS
       FOR (c:Character) REQUIRE (c.g, c.id) IS UNIQUE",
    "CREATE CONSTRAINT studio_checkpoint IF NOT EXISTS
       FOR (c:Checkpoint) REQUIRE (c.g, c.partition) IS UNIQUE",
    "CREATE INDEX studio_character_merged_into IF NOT EXISTS
       FOR (c:Character) ON (c.g, c.merged_into)",
    "CREATE INDEX studio_interactions_document IF NOT EXISTS
       FOR ()-[r:INTERACTS_WITH]-() ON (r.g, r.document)",
];
