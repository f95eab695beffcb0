-- Carnet schema, version 9: a record's latest documents newest first,
-- whatever their status (issue 15). A search without a status parameter
-- (current, superseded or archived) reads its page in this order and stops
-- there, instead of sorting every match of documents_find's ranges.
CREATE INDEX documents_recent ON documents (patient_key, latest, date DESC, id);
