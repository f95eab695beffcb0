package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in order. Their names are
// NNNN_description.sql; numbers are consecutive from 1.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with its number", base)
		}
		b, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected number %d", m.name, i+1)
		}
	}
	return ms, nil
}

// migrate applies the migrations not yet recorded in schema_version, each in
// its own IMMEDIATE transaction, so that two processes opening the same file
// cannot apply one twice. Running it again is a no-op.
func migrate(ctx context.Context, c *sql.Conn, now time.Time) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if _, err := c.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version INTEGER NOT NULL PRIMARY KEY,
		name    TEXT    NOT NULL,
		applied INTEGER NOT NULL
	) STRICT`); err != nil {
		return err
	}
	var newest int
	if err := c.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_version").Scan(&newest); err != nil {
		return err
	}
	if newest > len(ms) {
		// Written by a newer Carnet: this program does not know its schema.
		return carnet.Errorf(carnet.KindUnavailable, "the database schema (version %d) is newer than this program's (%d)", newest, len(ms))
	}
	for _, m := range ms {
		if err := applyMigration(ctx, c, m, now); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, c *sql.Conn, m migration, now time.Time) (err error) {
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			c.ExecContext(context.Background(), "ROLLBACK")
		}
	}()
	var n int
	if err := c.QueryRowContext(ctx, "SELECT count(*) FROM schema_version WHERE version = ?", m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		_, err = c.ExecContext(ctx, "ROLLBACK")
		return err
	}
	if _, err := c.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := c.ExecContext(ctx, "INSERT INTO schema_version (version, name, applied) VALUES (?, ?, ?)",
		m.version, m.name, now.UnixMicro()); err != nil {
		return err
	}
	_, err = c.ExecContext(ctx, "COMMIT")
	return err
}
