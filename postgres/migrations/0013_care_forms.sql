-- Carnet schema, version 13: each record's point-of-care form
-- (docs/PASTILLE.md, "How it is served"): what the CDS Hooks card and
-- $relevant read of a record (its latest document rows without their
-- sealed parts, the abnormal results' codes, the first filing dates, the
-- concepts), in one sealed row, as of the record's stamp
-- (Store.RecordStamp). A form whose stamp is not the record's current
-- one is never used as it is; it is a cache, rebuilt from the documents.
-- Keyed by patient: with Citus, distribute it by patient_key.

CREATE TABLE care_forms (
	patient_key text COLLATE "C" PRIMARY KEY,
	stamp       text NOT NULL,
	sealed      bytea NOT NULL
);
