package postgres

import (
	"context"
	"time"

	"github.com/carnet-sante/carnet"
)

var _ carnet.AssertionStore = (*Store)(nil)

// UseAssertion implements carnet.AssertionStore: one statement, so that
// two nodes given the same assertion at once accept it once (the primary
// key decides); expired records are forgotten on the way.
func (s *Store) UseAssertion(ctx context.Context, key string, now, expires time.Time) (bool, error) {
	const op = "postgres.UseAssertion"
	if _, err := s.exec(ctx, op, `DELETE FROM used_assertions WHERE expires < $1`, now); err != nil {
		return false, err
	}
	tag, err := s.exec(ctx, op, `INSERT INTO used_assertions (key, expires) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, key, expires)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}
