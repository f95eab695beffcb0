-- Carnet schema, version 4: the full-text index of each record, for BM25
-- ranking. Terms arrive as blind tokens (keyed per patient): the store never
-- holds a word of a document.
--
-- doc_terms is read by (patient, token): patient_key leads its key, then the
-- token, and tf rides in the index so that a query term's postings are read
-- from the index alone. Replacing or deleting a document goes through
-- doc_terms_doc. doc_lengths holds one row per indexed document, a document
-- without terms included: the statistics (how many documents, their total
-- length) are read from it. With Citus, distribute both with the rest:
--
--   SELECT create_distributed_table('doc_terms',   'patient_key', colocate_with => 'patients');
--   SELECT create_distributed_table('doc_lengths', 'patient_key', colocate_with => 'patients');

CREATE TABLE doc_terms (
	patient_key text COLLATE "C" NOT NULL,
	token       bytea NOT NULL,               -- the term's blind token
	logical_id  text COLLATE "C" NOT NULL,    -- the document, all its versions
	tf          integer NOT NULL CHECK (tf >= 1),
	PRIMARY KEY (patient_key, token, logical_id) INCLUDE (tf)
);
CREATE INDEX doc_terms_doc ON doc_terms (patient_key, logical_id);

CREATE TABLE doc_lengths (
	patient_key text COLLATE "C" NOT NULL,
	logical_id  text COLLATE "C" NOT NULL,
	len         integer NOT NULL CHECK (len >= 0),
	PRIMARY KEY (patient_key, logical_id) INCLUDE (len)
);
