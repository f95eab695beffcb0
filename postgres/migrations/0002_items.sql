-- Carnet schema, version 2: items extracted from documents (IHE QEDm /
-- mXDE), replaced as a whole per source document.
--
-- Same shape as documents: patient_key first in every key, the tokens in the
-- row (read) and in item_tokens (searched), item ids in routes (kind 'item').
-- With Citus, distribute both tables with the rest:
--
--   SELECT create_distributed_table('items',       'patient_key', colocate_with => 'patients');
--   SELECT create_distributed_table('item_tokens', 'patient_key', colocate_with => 'patients');

CREATE TABLE items (
	patient_key       text COLLATE "C" NOT NULL,
	id                text COLLATE "C" NOT NULL, -- the FHIR id of the resource
	kind              text COLLATE "C" NOT NULL, -- Observation, Immunization, …
	source_logical_id text COLLATE "C" NOT NULL, -- the document it was extracted from
	effective         timestamptz,               -- NULL: unknown
	tokens            bytea NOT NULL,
	sealed            bytea NOT NULL,
	PRIMARY KEY (patient_key, id)
);
-- The search path: a patient's items of a kind, newest first, unknown times last.
CREATE INDEX items_find ON items (patient_key, kind, effective DESC NULLS LAST, id);
-- Replacing or deleting a document deletes its items.
CREATE INDEX items_source ON items (patient_key, source_logical_id);

CREATE TABLE item_tokens (
	patient_key text COLLATE "C" NOT NULL,
	item_id     text COLLATE "C" NOT NULL,
	kind        text COLLATE "C" NOT NULL,
	value       bytea NOT NULL,
	PRIMARY KEY (patient_key, item_id, kind, value)
);
-- item_id last, so that a token condition is answered from the index alone.
CREATE INDEX item_tokens_value ON item_tokens (patient_key, kind, value, item_id);
