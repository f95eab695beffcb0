-- Carnet schema, version 5: who filed each document and submission set
-- (carnet.FilerOf). A uniqueId is unique per record and filer, so that
-- whether a filing is a duplicate never depends on documents another filer
-- filed, which the caller may not see (docs/ACCESS.md, "Writes"). Rows filed
-- before have the empty filer: they keep one namespace of their own.

ALTER TABLE documents ADD COLUMN filer text COLLATE "C" NOT NULL DEFAULT '';
DROP INDEX documents_latest_unique_id;
CREATE UNIQUE INDEX documents_latest_unique_id ON documents (patient_key, filer, unique_id) WHERE latest;

ALTER TABLE submission_sets ADD COLUMN filer text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE submission_sets DROP CONSTRAINT submission_sets_patient_key_unique_id_key;
ALTER TABLE submission_sets ADD CONSTRAINT submission_sets_filer_unique_id UNIQUE (patient_key, filer, unique_id);
