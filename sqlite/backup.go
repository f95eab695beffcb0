package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"

	"github.com/carnet-sante/carnet"
)

// Backup writes a consistent copy of the database at src to dst (which must
// not exist) with VACUUM INTO: one read transaction, so the copy is the
// database as of one commit, while a server keeps writing. It uses a
// connection of its own that never checkpoints, so a running server's
// replication is not disturbed; the copy is fsynced before Backup returns.
func Backup(ctx context.Context, src, dst string) error {
	const op = "sqlite.Backup"
	if _, err := os.Stat(src); err != nil {
		return carnet.WrapError(carnet.KindNotFound, op, err)
	}
	if _, err := os.Stat(dst); !errors.Is(err, fs.ErrNotExist) {
		return carnet.Errorf(carnet.KindConflict, "backup target %s already exists", dst)
	}
	db, err := sql.Open("sqlite", src+"?_pragma=busy_timeout(10000)&_pragma=wal_autocheckpoint(0)")
	if err != nil {
		return carnet.WrapError(carnet.KindUnavailable, op, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		os.Remove(dst)
		return carnet.WrapError(carnet.KindUnavailable, op, err)
	}
	f, err := os.OpenFile(dst, os.O_RDWR, 0)
	if err != nil {
		return carnet.WrapError(carnet.KindUnavailable, op, err)
	}
	err = f.Chmod(0o600)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return wrap(op, err)
}
