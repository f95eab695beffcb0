package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/carnet-sante/carnet"
)

// The web sessions (carnet.SessionStore). Writes go through the one writer
// like everything else; the web space touches a session at most once a
// minute, so a page view rarely writes one.

var _ carnet.SessionStore = (*Store)(nil)

func (s *Store) sessionWrite(ctx context.Context, op string, fn func(ctx context.Context, t *tx) error) error {
	err := s.Update(ctx, func(ct carnet.Tx) error {
		t := ct.(*tx)
		return t.step(ctx, op, func(ctx context.Context) error { return fn(ctx, t) })
	})
	return wrap(op, err)
}

func (s *Store) PutSession(ctx context.Context, row carnet.SessionRow) error {
	return s.sessionWrite(ctx, "sqlite.PutSession", func(ctx context.Context, t *tx) error {
		_, err := t.c.exec(ctx, `INSERT INTO web_sessions (id, sealed, created, seen, expires) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed, seen = excluded.seen, expires = excluded.expires`,
			row.ID, nonNil(row.Sealed), requiredTime(row.Created), requiredTime(row.Seen), requiredTime(row.Expires))
		return err
	})
}

func (s *Store) Session(ctx context.Context, id string) (carnet.SessionRow, error) {
	const op = "sqlite.Session"
	row := carnet.SessionRow{ID: id}
	var created, seen, expires sql.NullInt64
	err := s.rc.queryOne(ctx, func(rows *sql.Rows) error { return rows.Scan(&row.Sealed, &created, &seen, &expires) },
		"SELECT sealed, created, seen, expires FROM web_sessions WHERE id = ?", id)
	if errors.Is(err, sql.ErrNoRows) {
		return carnet.SessionRow{}, &carnet.Error{Kind: carnet.KindNotFound, Op: op, Msg: "session not found"}
	}
	if err != nil {
		return carnet.SessionRow{}, wrap(op, err)
	}
	row.Created, row.Seen, row.Expires = goTime(created), goTime(seen), goTime(expires)
	return row, nil
}

func (s *Store) TouchSession(ctx context.Context, id string, seen time.Time) error {
	return s.sessionWrite(ctx, "sqlite.TouchSession", func(ctx context.Context, t *tx) error {
		_, err := t.c.exec(ctx, "UPDATE web_sessions SET seen = ? WHERE id = ?", requiredTime(seen), id)
		return err
	})
}

func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return s.sessionWrite(ctx, "sqlite.DeleteSession", func(ctx context.Context, t *tx) error {
		_, err := t.c.exec(ctx, "DELETE FROM web_sessions WHERE id = ?", id)
		return err
	})
}

func (s *Store) PruneSessions(ctx context.Context, now, idleBefore time.Time) (int, error) {
	var n int64
	err := s.sessionWrite(ctx, "sqlite.PruneSessions", func(ctx context.Context, t *tx) error {
		res, err := t.c.exec(ctx, "DELETE FROM web_sessions WHERE expires <= ? OR seen < ?", requiredTime(now), requiredTime(idleBefore))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
