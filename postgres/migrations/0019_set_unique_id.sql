-- Carnet schema, version 19: a submission set by its uniqueId alone,
-- whatever its record (issue 17). XDS.b GetSubmissionSetAndContents may name
-- a set by uniqueId and no patient: the registry finds the records holding
-- it here, then reads each through the policy and the audit. Distributed by
-- patient_key (Citus), this lookup asks every shard: one index probe each.
CREATE INDEX submission_sets_unique_id ON submission_sets (unique_id, patient_key);
