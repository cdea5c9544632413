-- The relational read model: what lists and detail views need. Everything
-- here is rebuilt from the event log; nothing here is the truth.

CREATE TABLE checkpoints (
    projection  TEXT    NOT NULL,
    partition   INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (projection, partition)
) STRICT, WITHOUT ROWID;

CREATE TABLE users (
    user_id       TEXT    PRIMARY KEY NOT NULL,
    email         TEXT    NOT NULL,
    display_name  TEXT,
    role          TEXT    NOT NULL,
    registered_at TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL,
    version       INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE documents (
    document_id       TEXT    PRIMARY KEY NOT NULL,
    owner_id          TEXT    NOT NULL,
    title             TEXT    NOT NULL,
    original_filename TEXT    NOT NULL,
    media_type        TEXT    NOT NULL,
    size_bytes        INTEGER NOT NULL,
    sha256            TEXT    NOT NULL,
    blob_ref          TEXT    NOT NULL,
    uploaded_at       TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL,
    version           INTEGER NOT NULL
) STRICT;

CREATE INDEX documents_by_owner ON documents (owner_id, uploaded_at, document_id);
CREATE INDEX documents_by_time ON documents (uploaded_at, document_id);

CREATE TABLE characters (
    character_id        TEXT    PRIMARY KEY NOT NULL,
    owner_id            TEXT    NOT NULL,
    name                TEXT    NOT NULL,
    aliases             TEXT    NOT NULL,
    personality_profile TEXT    NOT NULL,
    source_document_id  TEXT,
    origin              TEXT    NOT NULL,
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL,
    version             INTEGER NOT NULL
) STRICT;

CREATE INDEX characters_by_owner ON characters (owner_id, created_at, character_id);
CREATE INDEX characters_by_time ON characters (created_at, character_id);
CREATE INDEX characters_by_document ON characters (source_document_id);

-- Every event, for histories and the live feed. Tables whose rows can be
-- large (profiles, event data) keep rowids: WITHOUT ROWID trees store large
-- rows badly.
CREATE TABLE event_feed (
    partition      INTEGER NOT NULL,
    "offset"       INTEGER NOT NULL,
    event_id       TEXT    NOT NULL,
    event_type     TEXT    NOT NULL,
    aggregate_id   TEXT    NOT NULL,
    aggregate_type TEXT    NOT NULL,
    sequence       INTEGER NOT NULL,
    time           TEXT    NOT NULL,
    actor          TEXT    NOT NULL,
    tenant         TEXT    NOT NULL,
    data           TEXT    NOT NULL,
    UNIQUE (partition, "offset")
) STRICT;

CREATE UNIQUE INDEX event_feed_by_stream ON event_feed (aggregate_id, sequence);
CREATE INDEX event_feed_by_tenant ON event_feed (tenant, partition, "offset");
