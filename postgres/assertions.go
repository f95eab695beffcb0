package postgres

import (
	"context"
	"time"

	"github.com/carnet-sante/carnet"
)

var _ carnet.AssertionStore = (*Store)(nil)

// UseAssertion implements carnet.AssertionStore in one statement (one
// round trip, one commit): the key is inserted, or takes the place of its
// own expired record; a live record leaves it untouched (no row), so that
// two nodes given the same assertion at once accept it once. Other
// expired records are forgotten on the way.
func (s *Store) UseAssertion(ctx context.Context, key string, now, expires time.Time) (bool, error) {
	tag, err := s.exec(ctx, "postgres.UseAssertion", `WITH gone AS (DELETE FROM used_assertions WHERE expires < $3 AND key <> $1)
		INSERT INTO used_assertions AS u (key, expires) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET expires = EXCLUDED.expires WHERE u.expires < $3`, key, expires, now)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}
