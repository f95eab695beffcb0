-- Carnet schema, version 6: the interior nodes of the audit log's Merkle
-- tree, so that a checkpoint's root and each proof read O(log n) nodes
-- instead of every leaf hash (the trust review's item 8). Each row is a
-- perfect subtree of level >= 1 (level 0, the leaves, stay with their
-- events); they are derived from the leaves, written once, and re-checked
-- by fsck. audit_tree holds how many leaves the stored nodes cover. Like
-- the audit trail, they stay on the coordinator with Citus.

CREATE TABLE audit_nodes (
	level smallint NOT NULL CHECK (level BETWEEN 1 AND 63),
	idx   bigint   NOT NULL CHECK (idx >= 0),
	hash  bytea    NOT NULL,
	PRIMARY KEY (level, idx)
);

CREATE TABLE audit_tree (
	one   smallint NOT NULL PRIMARY KEY CHECK (one = 1),
	cover bigint   NOT NULL CHECK (cover >= 0)
);
INSERT INTO audit_tree (one, cover) VALUES (1, 0);
