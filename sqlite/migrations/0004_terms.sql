-- Carnet SQLite schema, version 4: the full-text index of each record, for
-- BM25 ranking. Terms arrive as blind tokens (keyed per patient): the store
-- never holds a word of a document.
--
-- doc_terms is read by (patient, token): patient_key leads its key, then the
-- token, so that a query term's postings are one range. Replacing or
-- deleting a document goes through doc_terms_doc, which holds the document's
-- terms (the table being WITHOUT ROWID, its entries end with the token) and
-- their tf: what is indexed for a document is read from it alone.
-- doc_lengths holds one row per indexed document, a document without terms
-- included: the statistics (how many documents, their total length) are
-- read from it.

CREATE TABLE doc_terms (
    patient_key TEXT    NOT NULL,
    token       TEXT    NOT NULL,
    logical_id  TEXT    NOT NULL,
    tf          INTEGER NOT NULL CHECK (tf >= 1),
    PRIMARY KEY (patient_key, token, logical_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX doc_terms_doc ON doc_terms (patient_key, logical_id, tf);

CREATE TABLE doc_lengths (
    patient_key TEXT    NOT NULL,
    logical_id  TEXT    NOT NULL,
    len         INTEGER NOT NULL CHECK (len >= 0),
    PRIMARY KEY (patient_key, logical_id)
) STRICT, WITHOUT ROWID;
