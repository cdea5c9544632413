-- The relational read model on PostgreSQL: the same tables as the SQLite
-- one (migrations/read-model/sqlite), with PostgreSQL's types. Each
-- version of the model lives in a schema of its own (rm_<n>); readers see
-- the current one through the views of the `studio` schema, which a
-- rebuild switches in one transaction. Nothing here is the truth: every
-- row is rebuilt from the event log.

CREATE TABLE checkpoints (
    projection  text   NOT NULL,
    partition   bigint NOT NULL,
    next_offset bigint NOT NULL,
    PRIMARY KEY (projection, partition)
);

CREATE TABLE users (
    user_id       uuid        PRIMARY KEY,
    email         text        NOT NULL,
    display_name  text,
    role          text        NOT NULL,
    registered_at timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    version       bigint      NOT NULL
);

CREATE TABLE documents (
    document_id          uuid        PRIMARY KEY,
    owner_id             uuid        NOT NULL,
    title                text        NOT NULL,
    original_filename    text        NOT NULL,
    media_type           text        NOT NULL,
    size_bytes           bigint      NOT NULL,
    sha256               text        NOT NULL,
    blob_ref             text        NOT NULL,
    uploaded_at          timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    version              bigint      NOT NULL,
    stage                text        NOT NULL DEFAULT 'uploaded',
    failure_step         text,
    failure_reason       text,
    failure_retryable    boolean,
    failure_attempts     bigint,
    text_ref             text,
    text_chars           bigint,
    format               text,
    encoding             text,
    boilerplate_removed  boolean,
    pages                bigint,
    analysis_ref         text,
    analyser             text,
    words                bigint,
    sentences            bigint,
    paragraphs           bigint,
    chapter_count        bigint,
    flesch_reading_ease  double precision,
    flesch_kincaid_grade double precision,
    dialogue_share       double precision,
    processed_at         timestamptz
);

CREATE INDEX documents_by_owner ON documents (owner_id, uploaded_at, document_id);
CREATE INDEX documents_by_time ON documents (uploaded_at, document_id);
CREATE INDEX documents_by_stage ON documents (stage, uploaded_at, document_id);

CREATE TABLE characters (
    character_id        uuid        PRIMARY KEY,
    owner_id            uuid        NOT NULL,
    name                text        NOT NULL,
    aliases             jsonb       NOT NULL,
    personality_profile jsonb       NOT NULL,
    source_document_id  uuid,
    origin              text        NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    version             bigint      NOT NULL
);

CREATE INDEX characters_by_owner ON characters (owner_id, created_at, character_id);
CREATE INDEX characters_by_time ON characters (created_at, character_id);
CREATE INDEX characters_by_document ON characters (source_document_id, created_at, character_id);

CREATE TABLE event_feed (
    partition      bigint      NOT NULL,
    "offset"       bigint      NOT NULL,
    event_id       uuid        NOT NULL,
    event_type     text        NOT NULL,
    aggregate_id   uuid        NOT NULL,
    aggregate_type text        NOT NULL,
    sequence       bigint      NOT NULL,
    time           timestamptz NOT NULL,
    actor          text        NOT NULL,
    tenant         uuid        NOT NULL,
    data           jsonb       NOT NULL,
    PRIMARY KEY (partition, "offset")
);

CREATE UNIQUE INDEX event_feed_by_stream ON event_feed (aggregate_id, sequence);
CREATE INDEX event_feed_by_tenant ON event_feed (tenant, partition, "offset");

CREATE TABLE document_chapters (
    document_id  uuid   NOT NULL,
    ordinal      bigint NOT NULL,
    title        text   NOT NULL,
    start_offset bigint NOT NULL,
    end_offset   bigint NOT NULL,
    PRIMARY KEY (document_id, ordinal)
);

CREATE TABLE document_terms (
    document_id uuid             NOT NULL,
    rank        bigint           NOT NULL,
    term        text             NOT NULL,
    occurrences bigint           NOT NULL,
    score       double precision NOT NULL,
    PRIMARY KEY (document_id, rank)
);

CREATE TABLE document_characters (
    document_id   uuid    NOT NULL,
    character_id  uuid    NOT NULL,
    name          text    NOT NULL,
    mentions      bigint  NOT NULL,
    first_mention bigint  NOT NULL,
    linked        boolean NOT NULL,
    PRIMARY KEY (document_id, character_id)
);

CREATE INDEX document_characters_by_character ON document_characters (character_id);

CREATE TABLE mentions (
    document_id  uuid   NOT NULL,
    start_offset bigint NOT NULL,
    end_offset   bigint NOT NULL,
    character_id uuid   NOT NULL,
    PRIMARY KEY (document_id, start_offset)
);

CREATE INDEX mentions_by_character ON mentions (character_id, document_id, start_offset);

CREATE TABLE interactions (
    document_id uuid   NOT NULL,
    a           uuid   NOT NULL,
    b           uuid   NOT NULL,
    weight      bigint NOT NULL,
    PRIMARY KEY (document_id, a, b)
);

CREATE INDEX interactions_by_character ON interactions (a);
CREATE INDEX interactions_by_other ON interactions (b);

CREATE TABLE character_names (
    owner_id     uuid NOT NULL,
    name_key     text NOT NULL,
    character_id uuid NOT NULL,
    origin       text NOT NULL,
    PRIMARY KEY (owner_id, name_key, character_id)
);

CREATE INDEX character_names_by_character ON character_names (character_id);
