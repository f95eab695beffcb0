-- Carnet SQLite schema, version 15: a document by its uniqueId alone,
-- whatever its record (issue 17). ITI-43 Retrieve names a repository and a
-- uniqueId, no patient: the repository finds the records holding that
-- uniqueId here, then reads each through the policy and the audit.
CREATE INDEX documents_unique_id ON documents (unique_id, patient_key) WHERE latest = 1;
