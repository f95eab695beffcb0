-- Carnet SQLite schema, version 5: who filed each document and submission
-- set (carnet.FilerOf). A uniqueId is unique per record and filer, so that
-- whether a filing is a duplicate never depends on documents another filer
-- filed, which the caller may not see (docs/ACCESS.md, "Writes"). Rows filed
-- before have the empty filer: they keep one namespace of their own.

ALTER TABLE documents ADD COLUMN filer TEXT NOT NULL DEFAULT '';
DROP INDEX documents_latest_unique_id;
CREATE UNIQUE INDEX documents_latest_unique_id ON documents (patient_key, filer, unique_id) WHERE latest = 1;

-- The table's UNIQUE (patient_key, unique_id) cannot be dropped in place.
CREATE TABLE submission_sets_v5 (
    patient_key TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    unique_id   TEXT    NOT NULL,
    date        INTEGER,
    tokens      BLOB    NOT NULL,
    sealed      BLOB    NOT NULL,
    filer       TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (patient_key, id),
    UNIQUE (patient_key, filer, unique_id)
) STRICT;
INSERT INTO submission_sets_v5 (patient_key, id, unique_id, date, tokens, sealed)
    SELECT patient_key, id, unique_id, date, tokens, sealed FROM submission_sets;
DROP TABLE submission_sets;
ALTER TABLE submission_sets_v5 RENAME TO submission_sets;
CREATE INDEX submission_sets_date ON submission_sets (patient_key, date DESC, id);
