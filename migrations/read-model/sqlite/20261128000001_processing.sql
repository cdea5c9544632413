-- Document processing: where each document stands, its statistics, and
-- what the analysis found (chapters, distinctive terms, characters and
-- their mentions, interactions). Mentions, chapters and terms come from
-- the analysis blob the `analysed` event references.

ALTER TABLE documents ADD COLUMN stage TEXT NOT NULL DEFAULT 'uploaded';
ALTER TABLE documents ADD COLUMN failure_step TEXT;
ALTER TABLE documents ADD COLUMN failure_reason TEXT;
ALTER TABLE documents ADD COLUMN failure_retryable INTEGER;
ALTER TABLE documents ADD COLUMN failure_attempts INTEGER;
ALTER TABLE documents ADD COLUMN text_ref TEXT;
ALTER TABLE documents ADD COLUMN text_chars INTEGER;
ALTER TABLE documents ADD COLUMN format TEXT;
ALTER TABLE documents ADD COLUMN encoding TEXT;
ALTER TABLE documents ADD COLUMN boilerplate_removed INTEGER;
ALTER TABLE documents ADD COLUMN pages INTEGER;
ALTER TABLE documents ADD COLUMN analysis_ref TEXT;
ALTER TABLE documents ADD COLUMN analyser TEXT;
ALTER TABLE documents ADD COLUMN words INTEGER;
ALTER TABLE documents ADD COLUMN sentences INTEGER;
ALTER TABLE documents ADD COLUMN paragraphs INTEGER;
ALTER TABLE documents ADD COLUMN chapter_count INTEGER;
ALTER TABLE documents ADD COLUMN flesch_reading_ease REAL;
ALTER TABLE documents ADD COLUMN flesch_kincaid_grade REAL;
ALTER TABLE documents ADD COLUMN dialogue_share REAL;
ALTER TABLE documents ADD COLUMN processed_at TEXT;

-- The jobs view: documents still processing, or failed.
CREATE INDEX documents_by_stage ON documents (stage, uploaded_at, document_id);

CREATE TABLE document_chapters (
    document_id  TEXT    NOT NULL,
    ordinal      INTEGER NOT NULL,
    title        TEXT    NOT NULL,
    start_offset INTEGER NOT NULL,
    end_offset   INTEGER NOT NULL,
    PRIMARY KEY (document_id, ordinal)
) STRICT, WITHOUT ROWID;

CREATE TABLE document_terms (
    document_id TEXT    NOT NULL,
    rank        INTEGER NOT NULL,
    term        TEXT    NOT NULL,
    occurrences INTEGER NOT NULL,
    score       REAL    NOT NULL,
    PRIMARY KEY (document_id, rank)
) STRICT, WITHOUT ROWID;

CREATE TABLE document_characters (
    document_id   TEXT    NOT NULL,
    character_id  TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    mentions      INTEGER NOT NULL,
    first_mention INTEGER NOT NULL,
    linked        INTEGER NOT NULL,
    PRIMARY KEY (document_id, character_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX document_characters_by_character ON document_characters (character_id);

CREATE TABLE mentions (
    document_id  TEXT    NOT NULL,
    start_offset INTEGER NOT NULL,
    end_offset   INTEGER NOT NULL,
    character_id TEXT    NOT NULL,
    PRIMARY KEY (document_id, start_offset)
) STRICT, WITHOUT ROWID;

CREATE INDEX mentions_by_character ON mentions (character_id, document_id, start_offset);

CREATE TABLE interactions (
    document_id TEXT    NOT NULL,
    a           TEXT    NOT NULL,
    b           TEXT    NOT NULL,
    weight      INTEGER NOT NULL,
    PRIMARY KEY (document_id, a, b)
) STRICT, WITHOUT ROWID;

CREATE INDEX interactions_by_character ON interactions (a);
CREATE INDEX interactions_by_other ON interactions (b);

-- Every name and alias of every character, in the form names compare in
-- (lower case, single spaces), so the pipeline can join what it detects
-- to the characters an owner already has.
CREATE TABLE character_names (
    owner_id     TEXT NOT NULL,
    name_key     TEXT NOT NULL,
    character_id TEXT NOT NULL,
    origin       TEXT NOT NULL,
    PRIMARY KEY (owner_id, name_key, character_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX character_names_by_character ON character_names (character_id);
