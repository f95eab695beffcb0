package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/internal/migration"
	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

func migrations() ([]migration.Migration, error) {
	return migration.Load(migrationFiles, "migrations")
}

// migrate brings the schema selected by conn's search_path up to date. It
// runs in one transaction under an advisory lock keyed by the schema, so that
// servers starting together apply each migration once and a failed migration
// leaves nothing behind.
func migrate(ctx context.Context, conn *pgx.Conn) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // no-op after commit

	if _, err := tx.Exec(ctx,
		`SELECT pg_advisory_xact_lock(hashtextextended('carnet.migrate.' || coalesce(current_schema(), ''), 0))`); err != nil {
		return err
	}
	var schema *string
	if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return err
	}
	if schema == nil {
		return &carnet.Error{Kind: carnet.KindUnavailable, Op: "postgres.migrate",
			Msg: "no schema to use: the search_path names no existing schema"}
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version integer PRIMARY KEY,
		name    text NOT NULL,
		applied timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return err
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return err
	}
	if current > migration.Newest(ms) {
		return &carnet.Error{Kind: carnet.KindUnavailable, Op: "postgres.migrate",
			Msg: fmt.Sprintf("database schema version %d is newer than this program's %d: upgrade the program", current, migration.Newest(ms))}
	}
	// Every version not yet recorded is applied, in order: numbers may
	// leave gaps filled by a later program (internal/migration).
	applied := map[int]bool{}
	rows, err := tx.Query(ctx, `SELECT version FROM schema_version`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return err
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		// Without arguments pgx uses the simple protocol, which takes a
		// script of several statements.
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}
