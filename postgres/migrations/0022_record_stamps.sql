-- Carnet schema, version 22: each record's stamp (Store.RecordStamp) is
-- kept, not counted, as on SQLite (its migration 0022). It was count(*) and
-- max(date) of the record's document rows, read on every card and every
-- point-of-care view: about 1.2 ms at 2,000 documents, growing with the
-- record. Now every statement that inserts, rewrites or removes document
-- rows adds their number to each record's counter, in the same
-- transaction: the stamp is one primary-key read, it only grows (so it
-- never repeats), and a rolled-back change leaves it as it was. Triggers,
-- so that no write path can forget it; per statement, with transition
-- tables, so that a filing of a thousand documents moves each counter
-- once. Writers of one record are serialised by its advisory lock
-- (docs/POSTGRES.md), so the counter's row lock adds no wait.
-- Keyed by patient: with Citus, distribute it by patient_key.

CREATE TABLE record_stamps (
	patient_key text COLLATE "C" PRIMARY KEY,
	n           bigint NOT NULL
);

INSERT INTO record_stamps (patient_key, n)
	SELECT patient_key, count(*) FROM documents GROUP BY patient_key;

-- One function for every trigger: each names its transition table
-- changed_rows (the rows inserted, the new or the old side of a rewrite,
-- the rows removed).
CREATE FUNCTION record_stamps_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO record_stamps AS s (patient_key, n)
		SELECT patient_key, count(*) FROM changed_rows GROUP BY patient_key ORDER BY patient_key
		ON CONFLICT (patient_key) DO UPDATE SET n = s.n + EXCLUDED.n;
	RETURN NULL;
END $$;

CREATE TRIGGER documents_stamp_insert AFTER INSERT ON documents
	REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION record_stamps_move();
-- A rewrite counts for the record it leaves and the one it lands in (the
-- same one, in every path Carnet has).
CREATE TRIGGER documents_stamp_update_new AFTER UPDATE ON documents
	REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION record_stamps_move();
CREATE TRIGGER documents_stamp_update_old AFTER UPDATE ON documents
	REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION record_stamps_move();
CREATE TRIGGER documents_stamp_delete AFTER DELETE ON documents
	REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION record_stamps_move();
