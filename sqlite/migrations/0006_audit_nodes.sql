-- Carnet SQLite schema, version 6: the interior nodes of the audit log's
-- Merkle tree, so that a checkpoint's root and each proof read O(log n)
-- nodes instead of every leaf hash (the trust review's item 8). Each row is
-- a perfect subtree of level >= 1 (level 0, the leaves, stay with their
-- events); they are derived from the leaves, written once, and re-checked
-- by fsck. audit_tree holds how many leaves the stored nodes cover.

CREATE TABLE audit_nodes (
    level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 63),
    idx   INTEGER NOT NULL CHECK (idx >= 0),
    hash  BLOB    NOT NULL,
    PRIMARY KEY (level, idx)
) STRICT, WITHOUT ROWID;

CREATE TABLE audit_tree (
    one   INTEGER NOT NULL PRIMARY KEY CHECK (one = 1),
    cover INTEGER NOT NULL CHECK (cover >= 0)
) STRICT;
INSERT INTO audit_tree (one, cover) VALUES (1, 0);
