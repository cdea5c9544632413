-- Events the projection could not apply (`parked`), and the later events
-- of the same aggregate held back behind them (`blocked`), until an
-- operator retries (`retried`) or skips (`skipped`) them: nothing is
-- dropped silently. Operational state, not rebuilt from the log.
CREATE TABLE dead_letters (
    id           TEXT    PRIMARY KEY NOT NULL,
    projection   TEXT    NOT NULL,
    partition    INTEGER NOT NULL,
    "offset"     INTEGER NOT NULL,
    event_id     TEXT    NOT NULL,
    event_type   TEXT    NOT NULL,
    aggregate_id TEXT    NOT NULL,
    error        TEXT    NOT NULL,
    attempts     INTEGER NOT NULL,
    status       TEXT    NOT NULL,
    parked_at    TEXT    NOT NULL,
    resolved_at  TEXT,
    UNIQUE (projection, partition, "offset")
) STRICT;

CREATE INDEX dead_letters_open ON dead_letters (projection, aggregate_id, status);
