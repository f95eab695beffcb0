-- Carnet SQLite schema, version 22: each record's stamp (Store.RecordStamp)
-- is kept, not counted. It was count(*) and max(date) of the record's
-- document rows, read on every card and every point-of-care view: a cost
-- that grew with the record (1.2 ms of CPU at 2,000 documents, 18 ms at
-- 30,000). Now every insert, rewrite or removal of a document row adds one
-- to its record's counter, in the same transaction: the stamp is one
-- primary-key read, it never repeats (it only grows), and a rolled-back
-- change leaves it as it was. Triggers, so that no write path can forget it.

CREATE TABLE record_stamps (
    patient_key TEXT    NOT NULL PRIMARY KEY,
    n           INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

INSERT INTO record_stamps (patient_key, n)
    SELECT patient_key, count(*) FROM documents WHERE true GROUP BY patient_key;

CREATE TRIGGER documents_stamp_insert AFTER INSERT ON documents BEGIN
    INSERT INTO record_stamps (patient_key, n) VALUES (NEW.patient_key, 1)
        ON CONFLICT (patient_key) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER documents_stamp_update AFTER UPDATE ON documents BEGIN
    INSERT INTO record_stamps (patient_key, n) VALUES (NEW.patient_key, 1)
        ON CONFLICT (patient_key) DO UPDATE SET n = n + 1;
    INSERT INTO record_stamps (patient_key, n) SELECT OLD.patient_key, 1 WHERE OLD.patient_key <> NEW.patient_key
        ON CONFLICT (patient_key) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER documents_stamp_delete AFTER DELETE ON documents BEGIN
    INSERT INTO record_stamps (patient_key, n) VALUES (OLD.patient_key, 1)
        ON CONFLICT (patient_key) DO UPDATE SET n = n + 1;
END;
