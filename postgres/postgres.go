package postgres

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/carnet-sante/carnet"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is a carnet.Store on PostgreSQL.
type Store struct {
	pool   *pgxpool.Pool
	closed atomic.Bool
	// retries counts the transactions of Update rolled back on a lost
	// race (serialization failure, deadlock) and run again.
	retries atomic.Uint64
}

var errClosed = errors.New("postgres: store closed")

var _ carnet.Store = (*Store)(nil)

// Option tunes Open.
type Option func(*options)

type options struct {
	maxConns int
}

// WithMaxConns bounds the number of connections the Store opens (default:
// the DSN's pool_max_conns, else the number of CPUs, at least 4). Requests
// beyond it wait for a free connection, under their context.
func WithMaxConns(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxConns = n
		}
	}
}

// Open connects to the database named by dsn (a postgres:// URL or a
// "key=value" string, as libpq takes; a search_path parameter selects the
// schema, pool_* parameters tune the pool as pgxpool reads them) and brings
// its schema up to date. An unreachable server is KindUnavailable; a
// malformed dsn is KindInvalid.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	const op = "postgres.Open"
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, carnet.WrapError(carnet.KindInvalid, op, err)
	}
	if o.maxConns > 0 {
		cfg.MaxConns = int32(o.maxConns)
	}

	// One connection of its own for the checks and the migrations, before
	// the pool exists, so that every pooled session gets the settings
	// decided here.
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return nil, mapError(op, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// Update promises that a commit is durable when it returns. If the
	// server lets commits return before their WAL is flushed, ask for the
	// flush on our own sessions (stronger settings, such as remote_apply,
	// are left alone).
	var syncCommit string
	if err := conn.QueryRow(ctx, `SELECT current_setting('synchronous_commit')`).Scan(&syncCommit); err != nil {
		return nil, mapError(op, err)
	}
	if syncCommit == "off" {
		cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	}
	// The planner is told to prefer index scans, as it was while Update
	// ran SERIALIZABLE (a sequential scan then took a predicate lock on a
	// whole small table, and every concurrent filing conflicted with every
	// other). Update no longer takes predicate locks (lock.go); the
	// setting stays because the searches' plans were measured with it. A
	// query with no usable index still scans.
	// Statements outside an explicit transaction (reads, and the audit
	// log's appends: events.go) count on READ COMMITTED, where each
	// statement sees what committed before it began.
	cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "read committed"
	if _, ok := cfg.ConnConfig.RuntimeParams["enable_seqscan"]; !ok {
		cfg.ConnConfig.RuntimeParams["enable_seqscan"] = "off"
	}
	if err := migrate(ctx, conn); err != nil {
		return nil, mapError(op, err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, mapError(op, err)
	}
	return &Store{pool: pool}, nil
}

// Close closes the store's connections, once those in use are released.
// Calls after Close fail with KindUnavailable.
func (s *Store) Close() error {
	if s.closed.CompareAndSwap(false, true) {
		s.pool.Close()
	}
	return nil
}

// acquire returns a pooled connection, to be released.
func (s *Store) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil && s.closed.Load() {
		return nil, errClosed
	}
	return conn, err
}

// Retries of a transaction that lost a race (deadlock, serialization
// failure): how many runs of fn at most, and the cap of the random wait
// between two runs. Under contention on one row (a record's version) a
// transaction may lose many times before it wins.
const (
	maxAttempts = 30
	maxBackoff  = 50 * time.Millisecond
)

// Retries returns how many times Update rolled a transaction back on a
// lost race (serialization failure, deadlock) and ran it again since Open:
// what contention between writers costs, for monitoring and benchmarks.
func (s *Store) Retries() uint64 { return s.retries.Load() }

// Update runs fn in one transaction and commits it. The transaction locks
// each record on its first read or write of that record's rows, until it
// ends (lock.go), and runs READ COMMITTED: a read-modify-write inside fn
// (read the record, put it back with Version+1) therefore sees the last
// committed state and never overwrites a concurrent one, while
// transactions on different records run in parallel without conflicting.
// One that loses a race all the same (a deadlock between two transactions
// locking two records in opposite orders) is rolled back and fn runs again,
// up to maxAttempts times (then KindUnavailable). PostgreSQL returns from
// COMMIT once the WAL is flushed (synchronous_commit on, which Open
// ensures), so a nil error means durable.
func (s *Store) Update(ctx context.Context, fn func(tx carnet.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.update(ctx, fn)
		if err == nil || attempt == maxAttempts || !retryable(err) {
			return err
		}
		s.retries.Add(1)
		// A random wait, growing with the attempts, so that the colliding
		// transactions don't meet again at once.
		wait := time.Duration(rand.Int64N(int64(min(time.Millisecond<<attempt, maxBackoff))))
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return mapError("postgres.Update", ctx.Err())
		}
	}
}

func (s *Store) update(ctx context.Context, fn func(tx carnet.Tx) error) error {
	const op = "postgres.Update"
	conn, ptx, err := s.begin(ctx, op, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return err
	}
	defer conn.Release()
	// Roll back whatever way fn leaves (error, panic); a no-op after commit.
	// A canceled ctx must not keep the rollback from reaching the server.
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = ptx.Rollback(rctx)
	}()
	tq := &txQuerier{q: ptx}
	if err := fn(&tx{reader: reader{tq}, tq: tq}); err != nil {
		return err
	}
	if err := ptx.Commit(ctx); err != nil {
		return mapError(op, err)
	}
	return nil
}

// begin starts a transaction on a pooled connection, which the caller
// releases. A pooled connection the server has dropped (within the second
// after which the pool pings idle ones) fails at BEGIN, before anything ran:
// then one more try, on a new connection.
func (s *Store) begin(ctx context.Context, op string, opts pgx.TxOptions) (*pgxpool.Conn, pgx.Tx, error) {
	for try := 0; ; try++ {
		conn, err := s.acquire(ctx)
		if err != nil {
			return nil, nil, mapError(op, err)
		}
		ptx, err := conn.BeginTx(ctx, opts)
		if err == nil {
			return conn, ptx, nil
		}
		closed := conn.Conn().IsClosed()
		conn.Release()
		if !closed || ctx.Err() != nil || try == 1 {
			return nil, nil, mapError(op, err)
		}
	}
}

// querier is what the queries need: a connection or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// withReader runs fn with a reader on a pooled connection, outside any
// explicit transaction: each statement sees the latest committed state.
// Reads change nothing, so one that failed because the server dropped the
// connection (a restart, a failover) runs once more on a new one.
func (s *Store) withReader(ctx context.Context, op string, fn func(r reader) error) error {
	for try := 0; ; try++ {
		conn, err := s.acquire(ctx)
		if err != nil {
			return mapError(op, err)
		}
		err = fn(reader{conn})
		closed := conn.Conn().IsClosed()
		conn.Release()
		if err == nil || !closed || ctx.Err() != nil || try == 1 {
			return err
		}
	}
}

func (s *Store) Patient(ctx context.Context, p carnet.PatientKey) (row carnet.PatientRow, err error) {
	err = s.withReader(ctx, "postgres.Patient", func(r reader) (err error) {
		row, err = r.Patient(ctx, p)
		return err
	})
	return row, err
}

func (s *Store) PatientByToken(ctx context.Context, token string) (row carnet.PatientRow, err error) {
	err = s.withReader(ctx, "postgres.PatientByToken", func(r reader) (err error) {
		row, err = r.PatientByToken(ctx, token)
		return err
	})
	return row, err
}

func (s *Store) DataKeys(ctx context.Context, p carnet.PatientKey) (keys []carnet.WrappedKey, err error) {
	err = s.withReader(ctx, "postgres.DataKeys", func(r reader) (err error) {
		keys, err = r.DataKeys(ctx, p)
		return err
	})
	return keys, err
}

func (s *Store) Route(ctx context.Context, id string) (p carnet.PatientKey, err error) {
	err = s.withReader(ctx, "postgres.Route", func(r reader) (err error) {
		p, err = r.Route(ctx, id)
		return err
	})
	return p, err
}

func (s *Store) UniqueIDRecords(ctx context.Context, uniqueID string, limit int) (ps []carnet.PatientKey, err error) {
	err = s.withReader(ctx, "postgres.UniqueIDRecords", func(r reader) (err error) {
		ps, err = r.UniqueIDRecords(ctx, uniqueID, limit)
		return err
	})
	return ps, err
}

func (s *Store) SetUniqueIDRecords(ctx context.Context, uniqueID string, limit int) (ps []carnet.PatientKey, err error) {
	err = s.withReader(ctx, "postgres.SetUniqueIDRecords", func(r reader) (err error) {
		ps, err = r.SetUniqueIDRecords(ctx, uniqueID, limit)
		return err
	})
	return ps, err
}

func (s *Store) Document(ctx context.Context, p carnet.PatientKey, id string) (row carnet.DocumentRow, err error) {
	err = s.withReader(ctx, "postgres.Document", func(r reader) (err error) {
		row, err = r.Document(ctx, p, id)
		return err
	})
	return row, err
}

func (s *Store) FindDocuments(ctx context.Context, p carnet.PatientKey, f carnet.DocumentFilter) (rows []carnet.DocumentRow, err error) {
	err = s.withReader(ctx, "postgres.FindDocuments", func(r reader) (err error) {
		rows, err = r.FindDocuments(ctx, p, f)
		return err
	})
	return rows, err
}

func (s *Store) Content(ctx context.Context, p carnet.PatientKey, contentID string) (sealed []byte, err error) {
	err = s.withReader(ctx, "postgres.Content", func(r reader) (err error) {
		sealed, err = r.Content(ctx, p, contentID)
		return err
	})
	return sealed, err
}

func (s *Store) SubmissionSet(ctx context.Context, p carnet.PatientKey, id string) (row carnet.SubmissionSetRow, err error) {
	err = s.withReader(ctx, "postgres.SubmissionSet", func(r reader) (err error) {
		row, err = r.SubmissionSet(ctx, p, id)
		return err
	})
	return row, err
}

func (s *Store) SubmissionSetByUniqueID(ctx context.Context, p carnet.PatientKey, filer, uniqueID string) (row carnet.SubmissionSetRow, err error) {
	err = s.withReader(ctx, "postgres.SubmissionSetByUniqueID", func(r reader) (err error) {
		row, err = r.SubmissionSetByUniqueID(ctx, p, filer, uniqueID)
		return err
	})
	return row, err
}

func (s *Store) FindSubmissionSets(ctx context.Context, p carnet.PatientKey, f carnet.SubmissionSetFilter) (rows []carnet.SubmissionSetRow, err error) {
	err = s.withReader(ctx, "postgres.FindSubmissionSets", func(r reader) (err error) {
		rows, err = r.FindSubmissionSets(ctx, p, f)
		return err
	})
	return rows, err
}

// Initialized says whether the database at dsn (its schema, by
// search_path) already holds Carnet data: its tables and at least one data
// key (the first start seals the key check). It creates nothing, so that a
// first start refused (no key to create) leaves the database as it was.
func Initialized(ctx context.Context, dsn string) (bool, error) {
	const op = "postgres.Initialized"
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return false, carnet.WrapError(carnet.KindInvalid, op, err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, mapError(op, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var tables bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('data_keys') IS NOT NULL`).Scan(&tables); err != nil {
		return false, mapError(op, err)
	}
	if !tables {
		return false, nil
	}
	var keys bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM data_keys)`).Scan(&keys); err != nil {
		return false, mapError(op, err)
	}
	return keys, nil
}

// KeyChanges implements carnet.Store.
func (s *Store) KeyChanges(ctx context.Context, after uint64, limit int) (out []carnet.KeyChange, err error) {
	const op = "postgres.KeyChanges"
	if limit <= 0 {
		return nil, carnet.Errorf(carnet.KindInvalid, "%s: limit must be positive", op)
	}
	err = s.withReader(ctx, op, func(r reader) error {
		rows, err := r.q.Query(ctx, `SELECT seq, patient_key FROM key_changes WHERE seq > $1 ORDER BY seq LIMIT $2`, seqArg(after), limit)
		if err != nil {
			return mapError(op, err)
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (carnet.KeyChange, error) {
			var (
				seq int64
				p   string
			)
			err := row.Scan(&seq, &p)
			return carnet.KeyChange{Seq: uint64(seq), Patient: carnet.PatientKey(p)}, err
		})
		return mapError(op, err)
	})
	return out, err
}
