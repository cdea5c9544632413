-- The embedded character graph (see projections/src/graph). Nodes stay
-- when deleted or merged (status), so that later events naming them are
-- dropped or redirected whatever order partitions are applied in.
CREATE TABLE graph_documents (
    id TEXT PRIMARY KEY,
    owner TEXT,
    title TEXT,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deleted'))
);

CREATE TABLE graph_characters (
    id TEXT PRIMARY KEY,
    -- NULL until its `created` event is applied: invisible until then.
    owner TEXT,
    name TEXT,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deleted', 'merged')),
    -- The survivor, always the final one (chains are shortened on merge).
    merged_into TEXT
);
CREATE INDEX graph_characters_owner ON graph_characters (owner);
CREATE INDEX graph_characters_merged_into ON graph_characters (merged_into);

CREATE TABLE graph_appears (
    document_id TEXT NOT NULL,
    character_id TEXT NOT NULL,
    mentions INTEGER NOT NULL,
    PRIMARY KEY (document_id, character_id)
);
CREATE INDEX graph_appears_character ON graph_appears (character_id);

-- Undirected: a < b.
CREATE TABLE graph_interactions (
    document_id TEXT NOT NULL,
    a TEXT NOT NULL,
    b TEXT NOT NULL,
    weight INTEGER NOT NULL CHECK (weight > 0),
    PRIMARY KEY (document_id, a, b),
    CHECK (a < b)
);
CREATE INDEX graph_interactions_a ON graph_interactions (a);
CREATE INDEX graph_interactions_b ON graph_interactions (b);

CREATE TABLE graph_related (
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (source, target, kind)
);
CREATE INDEX graph_related_target ON graph_related (target);

CREATE TABLE graph_checkpoints (
    partition INTEGER PRIMARY KEY,
    next_offset INTEGER NOT NULL
);

CREATE TABLE graph_dead_letters (
    partition INTEGER NOT NULL,
    "offset" INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    error TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    PRIMARY KEY (partition, "offset")
);
