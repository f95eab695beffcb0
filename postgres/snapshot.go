package postgres

import (
	"context"

	"github.com/carnet-sante/carnet"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Snapshot is a REPEATABLE READ transaction whose snapshot is exported, so
// that another session — pg_dump --snapshot=ID — reads exactly the same
// database. `carnet backup --postgres` signs the audit log's checkpoint from
// it and dumps in it: the dump and the checkpoint agree.
type Snapshot struct {
	ID     string // the exported snapshot's id, for pg_dump --snapshot
	Schema string // the schema the store uses (search_path)
	conn   *pgxpool.Conn
	tx     pgx.Tx
}

// ExportSnapshot starts a read-only REPEATABLE READ transaction and exports
// its snapshot. It stays valid until Close.
func (s *Store) ExportSnapshot(ctx context.Context) (*Snapshot, error) {
	const op = "postgres.ExportSnapshot"
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, mapError(op, err)
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		conn.Release()
		return nil, mapError(op, err)
	}
	sn := &Snapshot{conn: conn, tx: tx}
	if err := tx.QueryRow(ctx, `SELECT pg_export_snapshot(), current_schema()`).Scan(&sn.ID, &sn.Schema); err != nil {
		sn.Close()
		return nil, mapError(op, err)
	}
	return sn, nil
}

// Size is the audit log's size in the snapshot (auditlog.Storage).
func (sn *Snapshot) Size(ctx context.Context) (uint64, error) {
	n, err := reader{q: sn.tx}.auditSize(ctx)
	return n, mapError("postgres.Snapshot.Size", err)
}

// Append refuses: a snapshot is read-only (auditlog.Storage).
func (sn *Snapshot) Append(context.Context, uint64, [][]byte) error {
	return carnet.Errorf(carnet.KindInternal, "a snapshot is read-only")
}

// LeafHashes returns the leaf hashes [from, to) in the snapshot
// (auditlog.Storage).
func (sn *Snapshot) LeafHashes(ctx context.Context, from, to uint64) ([][]byte, error) {
	const op = "postgres.Snapshot.LeafHashes"
	rows, err := sn.tx.Query(ctx, `SELECT seq, leaf_hash FROM audit_events WHERE seq >= $1 AND seq < $2 ORDER BY seq`, int64(from), int64(to))
	if err != nil {
		return nil, mapError(op, err)
	}
	out := make([][]byte, 0, to-from)
	var (
		seq  int64
		hash []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&seq, &hash}, func() error {
		if uint64(seq) != from+uint64(len(out)) {
			return errGap
		}
		out = append(out, hash)
		return nil
	})
	if err == nil && uint64(len(out)) != to-from {
		err = errGap
	}
	return out, mapError(op, err)
}

// SchemaVersion is the schema's version in the snapshot.
func (sn *Snapshot) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := sn.tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v)
	return v, mapError("postgres.Snapshot.SchemaVersion", err)
}

// Close ends the transaction; the snapshot can no longer be imported.
func (sn *Snapshot) Close() {
	sn.tx.Rollback(context.Background())
	sn.conn.Release()
}

// SchemaVersion returns the highest migration applied.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v)
	return v, mapError("postgres.SchemaVersion", err)
}

// Writable reports whether the server accepts writes (not a standby in
// recovery, not read-only): readiness checks read it.
func (s *Store) Writable(ctx context.Context) error {
	var ro string
	if err := s.pool.QueryRow(ctx, `SHOW transaction_read_only`).Scan(&ro); err != nil {
		return mapError("postgres.Writable", err)
	}
	if ro == "on" {
		return carnet.Errorf(carnet.KindUnavailable, "the database is read-only")
	}
	return nil
}

// Setting returns a server setting (SHOW name), for operators' checks.
func (s *Store) Setting(ctx context.Context, name string) (string, error) {
	switch name {
	case "archive_mode", "archive_command", "wal_level", "archive_timeout":
	default:
		return "", carnet.Errorf(carnet.KindInvalid, "setting %q is not one the doctor reads", name)
	}
	var v string
	err := s.pool.QueryRow(ctx, "SHOW "+name).Scan(&v)
	return v, mapError("postgres.Setting", err)
}
