-- A command processor's copy of the events of the partitions it owns (or
-- owned): what it checks appends against and answers stream reads from.
-- A cache of the events topic, rebuilt from it when missing or stale.

CREATE TABLE partitions (
    partition   INTEGER PRIMARY KEY,
    -- The events topic's offset the copy has read up to (exclusive).
    next_offset INTEGER NOT NULL
);

CREATE TABLE events (
    partition      INTEGER NOT NULL,
    "offset"       INTEGER NOT NULL,
    aggregate_id   TEXT    NOT NULL,
    aggregate_type TEXT    NOT NULL,
    sequence       INTEGER NOT NULL,
    event_id       TEXT    NOT NULL,
    command_id     TEXT    NOT NULL,
    hash           TEXT    NOT NULL,
    envelope       TEXT    NOT NULL,
    PRIMARY KEY (partition, "offset")
);

CREATE UNIQUE INDEX events_by_stream ON events (aggregate_id, sequence);
CREATE UNIQUE INDEX events_by_id ON events (event_id);
CREATE INDEX events_by_command ON events (partition, command_id);
