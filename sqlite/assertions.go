package sqlite

import (
	"context"
	"time"

	"github.com/carnet-sante/carnet"
)

var _ carnet.AssertionStore = (*Store)(nil)

// UseAssertion implements carnet.AssertionStore, through the one writer.
func (s *Store) UseAssertion(ctx context.Context, key string, now, expires time.Time) (bool, error) {
	fresh := false
	err := s.sessionWrite(ctx, "sqlite.UseAssertion", func(ctx context.Context, t *tx) error {
		if _, err := t.c.exec(ctx, `DELETE FROM used_assertions WHERE expires < ?`, requiredTime(now)); err != nil {
			return err
		}
		res, err := t.c.exec(ctx, `INSERT INTO used_assertions (key, expires) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`,
			key, requiredTime(expires))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		fresh = n == 1
		return err
	})
	return fresh, err
}
