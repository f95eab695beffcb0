package postgres

import "context"

// EncodeTokens is the in-row encoding of a row's tokens, for loaders.
var EncodeTokens = encodeTokens

// Setting returns a server setting as seen by one of s's pooled sessions.
func Setting(ctx context.Context, s *Store, name string) (string, error) {
	var v string
	err := s.withReader(ctx, "test", func(r reader) error {
		return r.q.QueryRow(ctx, `SELECT current_setting($1)`, name).Scan(&v)
	})
	return v, err
}

// Backends returns the server process ids of s's idle pooled connections.
func Backends(s *Store) []uint32 {
	var pids []uint32
	for _, c := range s.pool.AcquireAllIdle(context.Background()) {
		pids = append(pids, c.Conn().PgConn().PID())
		c.Release()
	}
	return pids
}

// PoolSize returns how many connections s may open.
func PoolSize(s *Store) int { return int(s.pool.Config().MaxConns) }

// Sleep holds one pooled connection for the given seconds, on the server.
func Sleep(ctx context.Context, s *Store, seconds float64) error {
	return s.withReader(ctx, "test", func(r reader) error {
		_, err := r.q.Exec(ctx, `SELECT pg_sleep($1)`, seconds)
		return err
	})
}
