-- The embedded event log. Partitions and offsets mirror Kafka's: an event's
-- position is (partition, offset), offsets counting from 0 per partition.
CREATE TABLE log_meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

-- A rowid table: envelopes are large rows, which WITHOUT ROWID trees store
-- badly (an overflow page per row).
CREATE TABLE events (
    partition      INTEGER NOT NULL,
    "offset"       INTEGER NOT NULL,
    aggregate_id   TEXT    NOT NULL,
    aggregate_type TEXT    NOT NULL,
    sequence       INTEGER NOT NULL,
    event_id       TEXT    NOT NULL UNIQUE,
    event_type     TEXT    NOT NULL,
    command_id     TEXT    NOT NULL,
    actor          TEXT    NOT NULL,
    tenant         TEXT    NOT NULL,
    time           TEXT    NOT NULL,
    envelope       TEXT    NOT NULL,
    UNIQUE (partition, "offset"),
    UNIQUE (aggregate_id, sequence)
) STRICT;

CREATE INDEX events_by_actor ON events (actor, time);
CREATE INDEX events_by_tenant ON events (tenant, aggregate_id);

-- The head of every stream: its version and the hash the next event chains to.
CREATE TABLE streams (
    aggregate_id   TEXT    PRIMARY KEY NOT NULL,
    aggregate_type TEXT    NOT NULL,
    version        INTEGER NOT NULL,
    head_hash      TEXT    NOT NULL
) STRICT, WITHOUT ROWID;

-- One row per appended command: the idempotency record and its first outcome.
CREATE TABLE commands (
    command_id   TEXT    PRIMARY KEY NOT NULL,
    aggregate_id TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    positions    TEXT    NOT NULL
) STRICT, WITHOUT ROWID;
