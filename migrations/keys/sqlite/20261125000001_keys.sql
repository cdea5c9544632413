-- The key store of personal data: one data key per subject (a user), kept
-- outside the event log. Destroying a key erases that person's personal
-- data everywhere it was sealed.
CREATE TABLE subject_keys (
    subject    TEXT PRIMARY KEY NOT NULL,
    key        BLOB NOT NULL,
    created_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- Subjects whose key was destroyed: no new key is ever made for them.
CREATE TABLE forgotten_subjects (
    subject      TEXT PRIMARY KEY NOT NULL,
    forgotten_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;
