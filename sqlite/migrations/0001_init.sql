-- Carnet SQLite schema, version 1.
--
-- Every clinical table carries patient_key in its primary key and no table
-- refers to another patient's rows: the same shape as the PostgreSQL schema,
-- which distributes by patient_key. Two lookup tables are keyed globally on
-- purpose, because they are how a patient key is found: patient_tokens
-- (identifier blind-index -> patient) and routes (document, content or
-- submission set id -> patient).
--
-- Times are INTEGER microseconds since the Unix epoch, UTC; NULL is the zero
-- time (unknown, or an open end of a period).
-- Token lists are also kept encoded in their row (column tokens), so that a
-- search reads each row once; the *_tokens tables exist to be searched.

CREATE TABLE patients (
    patient_key       TEXT    NOT NULL PRIMARY KEY,
    state             TEXT    NOT NULL,
    version           INTEGER NOT NULL,
    identifier_tokens BLOB    NOT NULL,
    sealed            BLOB    NOT NULL,
    created           INTEGER,
    updated           INTEGER
) STRICT;

CREATE TABLE patient_tokens (
    token       TEXT NOT NULL PRIMARY KEY,
    patient_key TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE data_keys (
    patient_key TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    kek_id      TEXT    NOT NULL,
    wrapped     BLOB    NOT NULL,
    created     INTEGER,
    PRIMARY KEY (patient_key, id)
) STRICT;

CREATE TABLE documents (
    patient_key    TEXT    NOT NULL,
    id             TEXT    NOT NULL,
    logical_id     TEXT    NOT NULL,
    unique_id      TEXT    NOT NULL,
    version        INTEGER NOT NULL,
    latest         INTEGER NOT NULL,
    status         TEXT    NOT NULL,
    submission_set TEXT    NOT NULL,
    content_id     TEXT    NOT NULL,
    date           INTEGER,
    created        INTEGER,
    period_start   INTEGER,
    period_end     INTEGER,
    tokens         BLOB    NOT NULL,
    sealed         BLOB    NOT NULL,
    PRIMARY KEY (patient_key, id)
) STRICT;

-- At most one latest version per uniqueId and patient.
CREATE UNIQUE INDEX documents_latest_unique_id ON documents (patient_key, unique_id) WHERE latest = 1;
-- The usual search: a patient's latest documents of some statuses, newest first.
CREATE INDEX documents_find ON documents (patient_key, latest, status, date DESC, id);
CREATE INDEX documents_logical_id ON documents (patient_key, logical_id);
CREATE INDEX documents_submission_set ON documents (patient_key, submission_set);

-- Keyed in search order, so that the key is the only index. A row's old
-- tokens are deleted by full key, from the list kept in documents.tokens.
CREATE TABLE document_tokens (
    patient_key TEXT NOT NULL,
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    doc_id      TEXT NOT NULL,
    PRIMARY KEY (patient_key, kind, value, doc_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE contents (
    patient_key TEXT NOT NULL,
    id          TEXT NOT NULL,
    sealed      BLOB NOT NULL,
    PRIMARY KEY (patient_key, id)
) STRICT;

CREATE TABLE submission_sets (
    patient_key TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    unique_id   TEXT    NOT NULL,
    date        INTEGER,
    tokens      BLOB    NOT NULL,
    sealed      BLOB    NOT NULL,
    PRIMARY KEY (patient_key, id),
    UNIQUE (patient_key, unique_id)
) STRICT;

CREATE INDEX submission_sets_date ON submission_sets (patient_key, date DESC, id);

CREATE TABLE set_tokens (
    patient_key TEXT NOT NULL,
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    set_id      TEXT NOT NULL,
    PRIMARY KEY (patient_key, kind, value, set_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE routes (
    id          TEXT NOT NULL PRIMARY KEY,
    patient_key TEXT NOT NULL,
    kind        TEXT NOT NULL -- document, content, submissionset
) STRICT, WITHOUT ROWID;
