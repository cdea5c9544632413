-- Events the projection could not apply (`parked`), and the later events
-- of the same aggregate held back behind them (`blocked`), until an
-- operator retries (`retried`) or skips (`skipped`) them: nothing is
-- dropped silently. Operational state, not rebuilt from the log.
CREATE TABLE dead_letters (
    id           uuid        PRIMARY KEY,
    projection   text        NOT NULL,
    partition    bigint      NOT NULL,
    "offset"     bigint      NOT NULL,
    event_id     uuid        NOT NULL,
    event_type   text        NOT NULL,
    aggregate_id uuid        NOT NULL,
    error        text        NOT NULL,
    attempts     bigint      NOT NULL,
    status       text        NOT NULL,
    parked_at    timestamptz NOT NULL,
    resolved_at  timestamptz,
    UNIQUE (projection, partition, "offset")
);

CREATE INDEX dead_letters_open ON dead_letters (projection, aggregate_id, status);
