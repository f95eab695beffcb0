-- Carnet schema, version 8: the audit log's key, recorded once per
-- deployment, so that every node signs with the same key and a node
-- holding another one refuses to start (several nodes on one database).
-- verifier is the public note verifier key; signer, the signing key sealed
-- under the deployment's keys, lets a node without the key file sign.

CREATE TABLE audit_log_key (
	one      smallint NOT NULL PRIMARY KEY CHECK (one = 1),
	verifier text     NOT NULL,
	signer   bytea
);
