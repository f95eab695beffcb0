package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/internal/migration"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

func migrations() ([]migration.Migration, error) {
	return migration.Load(migrationFiles, "migrations")
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
	if newest > migration.Newest(ms) {
		// Written by a newer Carnet: this program does not know its schema.
		return carnet.Errorf(carnet.KindUnavailable, "the database schema (version %d) is newer than this program's (%d)", newest, migration.Newest(ms))
	}
	for _, m := range ms {
		if err := applyMigration(ctx, c, m, now); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, c *sql.Conn, m migration.Migration, now time.Time) (err error) {
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			c.ExecContext(context.Background(), "ROLLBACK")
		}
	}()
	var n int
	if err := c.QueryRowContext(ctx, "SELECT count(*) FROM schema_version WHERE version = ?", m.Version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		_, err = c.ExecContext(ctx, "ROLLBACK")
		return err
	}
	if _, err := c.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := c.ExecContext(ctx, "INSERT INTO schema_version (version, name, applied) VALUES (?, ?, ?)",
		m.Version, m.Name, now.UnixMicro()); err != nil {
		return err
	}
	_, err = c.ExecContext(ctx, "COMMIT")
	return err
}
