-- Carnet SQLite schema, version 2: items extracted from documents (IHE
-- QEDm / mXDE), replaced as a whole per source document.
--
-- Same shape as documents: patient_key leads every key, the tokens are kept
-- encoded in the row (read) and in item_tokens (searched), and item ids are
-- registered in routes (kind 'item') like every other id.

CREATE TABLE items (
    patient_key       TEXT    NOT NULL,
    id                TEXT    NOT NULL,
    kind              TEXT    NOT NULL,
    source_logical_id TEXT    NOT NULL,
    effective         INTEGER, -- NULL: unknown
    tokens            BLOB    NOT NULL,
    sealed            BLOB    NOT NULL,
    PRIMARY KEY (patient_key, id)
) STRICT;

-- The usual search: a patient's items of one kind, newest first (SQLite
-- sorts NULL lowest, so unknown times come last in DESC order, as served).
CREATE INDEX items_find ON items (patient_key, kind, effective DESC, id);
-- Replacing or deleting a document deletes its items.
CREATE INDEX items_source ON items (patient_key, source_logical_id);

CREATE TABLE item_tokens (
    patient_key TEXT NOT NULL,
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    item_id     TEXT NOT NULL,
    PRIMARY KEY (patient_key, kind, value, item_id)
) STRICT, WITHOUT ROWID;
