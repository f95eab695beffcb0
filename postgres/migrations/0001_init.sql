-- Carnet schema, version 1.
--
-- Everything clinical belongs to one patient, so every table but the two
-- lookup tables (routes, patient_tokens) has patient_key as the first column
-- of its primary key, and no foreign key crosses patients. With Citus, an
-- operator distributes the schema by patient after this migration:
--
--   SELECT create_distributed_table('patients',        'patient_key');
--   SELECT create_distributed_table('data_keys',       'patient_key', colocate_with => 'patients');
--   SELECT create_distributed_table('documents',       'patient_key', colocate_with => 'patients');
--   SELECT create_distributed_table('document_tokens', 'patient_key', colocate_with => 'patients');
--   SELECT create_distributed_table('contents',        'patient_key', colocate_with => 'patients');
--   SELECT create_distributed_table('submission_sets', 'patient_key', colocate_with => 'patients');
--   SELECT create_distributed_table('set_tokens',      'patient_key', colocate_with => 'patients');
--
-- routes (id -> patient) and patient_tokens (identifier token -> patient) are
-- read before the patient is known, and their uniqueness is global, so they
-- are distributed by their own key, not colocated with the rest:
--
--   SELECT create_distributed_table('routes',         'id');
--   SELECT create_distributed_table('patient_tokens', 'token');
--
-- A write touching them is a multi-shard transaction (Citus commits it with
-- two-phase commit). schema_version stays a local table on the coordinator.
--
-- Identifiers are compared byte-wise (COLLATE "C"): ordering by id must not
-- depend on the server's locale, and it makes the b-trees cheaper. Token
-- values are opaque bytes (bytea): blind-index tokens and codes may hold any
-- byte, NUL included, which text refuses. Times are timestamptz
-- (microseconds); NULL is the zero time (unknown, or an open end).
--
-- A row's tokens are kept twice: in the row (tokens, an encoded list, see
-- tokens.go), so that reading a row reads one tuple and decodes fast, and in
-- *_tokens, one per row, to be searched.

CREATE TABLE patients (
	patient_key text COLLATE "C" NOT NULL,
	state       text NOT NULL,
	version     integer NOT NULL,
	tokens      bytea[] NOT NULL, -- the identifier tokens; patient_tokens indexes them
	sealed      bytea NOT NULL,
	created     timestamptz NOT NULL,
	updated     timestamptz NOT NULL,
	PRIMARY KEY (patient_key)
);

CREATE TABLE patient_tokens (
	token       bytea NOT NULL,
	patient_key text COLLATE "C" NOT NULL,
	PRIMARY KEY (token)
);

CREATE TABLE data_keys (
	patient_key text COLLATE "C" NOT NULL,
	id          text COLLATE "C" NOT NULL,
	kek_id      text NOT NULL,
	wrapped     bytea NOT NULL,
	created     timestamptz NOT NULL,
	PRIMARY KEY (patient_key, id)
);

CREATE TABLE documents (
	patient_key    text COLLATE "C" NOT NULL,
	id             text COLLATE "C" NOT NULL, -- entryUUID, the FHIR id
	logical_id     text COLLATE "C" NOT NULL,
	unique_id      text COLLATE "C" NOT NULL,
	version        integer NOT NULL,
	latest         boolean NOT NULL,
	status         text COLLATE "C" NOT NULL,
	submission_set text COLLATE "C" NOT NULL,
	content_id     text COLLATE "C" NOT NULL,
	date           timestamptz NOT NULL,
	created        timestamptz, -- NULL: unknown
	period_start   timestamptz, -- NULL: open
	period_end     timestamptz,
	tokens         bytea NOT NULL,
	sealed         bytea NOT NULL,
	PRIMARY KEY (patient_key, id)
);
-- One latest version per uniqueId and patient; older versions may repeat it.
CREATE UNIQUE INDEX documents_latest_unique_id ON documents (patient_key, unique_id) WHERE latest;
-- The search path: a patient's latest documents by status, newest first.
CREATE INDEX documents_find ON documents (patient_key, latest, status, date DESC, id);
CREATE INDEX documents_logical_id ON documents (patient_key, logical_id);
CREATE INDEX documents_submission_set ON documents (patient_key, submission_set);

CREATE TABLE document_tokens (
	patient_key text COLLATE "C" NOT NULL,
	doc_id      text COLLATE "C" NOT NULL,
	kind        text COLLATE "C" NOT NULL,
	value       bytea NOT NULL,
	PRIMARY KEY (patient_key, doc_id, kind, value)
);
-- doc_id last, so that a token condition is answered from the index alone.
CREATE INDEX document_tokens_value ON document_tokens (patient_key, kind, value, doc_id);

CREATE TABLE contents (
	patient_key text COLLATE "C" NOT NULL,
	id          text COLLATE "C" NOT NULL,
	sealed      bytea NOT NULL,
	PRIMARY KEY (patient_key, id)
);
-- Ciphertext does not compress: store it out of line without trying.
ALTER TABLE contents ALTER COLUMN sealed SET STORAGE EXTERNAL;

CREATE TABLE submission_sets (
	patient_key  text COLLATE "C" NOT NULL,
	id           text COLLATE "C" NOT NULL,
	unique_id    text COLLATE "C" NOT NULL,
	date         timestamptz NOT NULL,
	tokens       bytea NOT NULL,
	sealed       bytea NOT NULL,
	PRIMARY KEY (patient_key, id),
	UNIQUE (patient_key, unique_id)
);
CREATE INDEX submission_sets_date ON submission_sets (patient_key, date DESC, id);

CREATE TABLE set_tokens (
	patient_key text COLLATE "C" NOT NULL,
	set_id      text COLLATE "C" NOT NULL,
	kind        text COLLATE "C" NOT NULL,
	value       bytea NOT NULL,
	PRIMARY KEY (patient_key, set_id, kind, value)
);
CREATE INDEX set_tokens_value ON set_tokens (patient_key, kind, value, set_id);

-- Which patient owns a document, content or submission set id: ids are
-- unique across patients, and a read by id alone starts here.
CREATE TABLE routes (
	id          text COLLATE "C" NOT NULL,
	patient_key text COLLATE "C" NOT NULL,
	kind        text NOT NULL, -- document, content, submissionset
	PRIMARY KEY (id)
);
