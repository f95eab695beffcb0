package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/carnet-sante/carnet"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Store is the SQLite carnet.Store.
type Store struct {
	reader // reads outside any Update: the read-only pool

	path  string
	opts  options
	wdb   *sql.DB   // holds the one write connection
	wconn *sql.Conn // the write connection, owned by the writer goroutine
	wc    *conn
	rdb   *sql.DB // read-only connections
	rc    *conn

	queue      chan *request // unbuffered: callers wait in line in their send
	closing    chan struct{}
	writerDone chan struct{}
	// cdb checkpoints the WAL into the database file in the background, so
	// that the single writer does not pay for it inside a COMMIT.
	cdb            *sql.DB
	checkpointDone chan struct{}
	closeOnce      sync.Once
	closeErr       error

	// failed is set once a commit failed: from then on no write is
	// acknowledged (see RELIABILITY.md, fsyncgate).
	failed atomic.Pointer[carnet.Error]

	commits     atomic.Int64 // group commits done, for benchmarks
	commitNanos atomic.Int64 // time spent in COMMIT (the fsync), for benchmarks
	batchNanos  atomic.Int64 // time the writer spent on batches, COMMIT included
	truncations atomic.Int64 // checkpoints that emptied the WAL

	// repl ships the WAL to a replica directory; nil without one.
	repl *replicator

	// commitHook, for tests, runs instead of COMMIT's first step and may
	// make the commit fail.
	commitHook func() error
}

var _ carnet.Store = (*Store)(nil)

// Option configures Open.
type Option func(*options)

type options struct {
	readConns   int
	maxBatch    int
	busyTimeout time.Duration
	logger      *slog.Logger
	clock       carnet.Clock
	replica     string
	shipEvery   time.Duration
	truncEvery  time.Duration
}

// WithReadConns sets the size of the read-only connection pool (default:
// the number of CPUs, at least 4).
func WithReadConns(n int) Option { return func(o *options) { o.readConns = n } }

// WithMaxBatch bounds how many queued Updates one commit groups (default 128).
func WithMaxBatch(n int) Option { return func(o *options) { o.maxBatch = n } }

// WithBusyTimeout sets how long a connection waits for a lock held by
// another process (default 10s).
func WithBusyTimeout(d time.Duration) Option { return func(o *options) { o.busyTimeout = d } }

// WithLogger sets where the store reports failures (never patient data).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithClock sets the clock used to date applied migrations.
func WithClock(c carnet.Clock) Option { return func(o *options) { o.clock = c } }

// WithReplica ships the write-ahead log continuously to dir (another disk
// or host), shipping committed frames every interval (default 1s):
// docs/BACKUP.md, "Replica directory". The store then checkpoints only
// frames already shipped.
func WithReplica(dir string, interval time.Duration) Option {
	return func(o *options) { o.replica, o.shipEvery = dir, interval }
}

// WithWALTruncation sets how often the writer, between two group commits,
// checkpoints the whole WAL and empties it (default every 10s, every 1s
// with a replica): what bounds the WAL even when readers never stop.
func WithWALTruncation(every time.Duration) Option {
	return func(o *options) { o.truncEvery = every }
}

// walSizeLimit is journal_size_limit: a WAL restarted by a writer is cut
// back to it.
const walSizeLimit = 16 << 20

// Open opens (creating if needed) the database at path, applies the
// migrations and starts the writer. The caller must Close the store.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	const op = "sqlite.Open"
	o := options{
		readConns:   max(4, runtime.NumCPU()),
		maxBatch:    128,
		busyTimeout: 10 * time.Second,
		logger:      slog.Default(),
		clock:       carnet.SystemClock{},
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.truncEvery <= 0 {
		o.truncEvery = 10 * time.Second
		if o.replica != "" {
			o.truncEvery = time.Second
		}
	}
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return nil, carnet.Errorf(carnet.KindInvalid, "sqlite: the database must be a plain file path")
	}
	s := &Store{
		path:       path,
		opts:       o,
		queue:      make(chan *request),
		closing:    make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	if err := s.open(ctx); err != nil {
		s.closeDBs()
		return nil, wrap(op, err)
	}
	s.checkpointDone = make(chan struct{})
	if o.replica != "" {
		r, err := newReplicator(s, o.replica, o.shipEvery)
		if err != nil {
			s.closeDBs()
			return nil, wrap(op, err)
		}
		s.repl = r
		// The first generation starts now, before any write.
		s.maintain()
		close(s.checkpointDone) // frames are checkpointed only once shipped, by maintain
		go r.loop()
	} else {
		go s.checkpointLoop()
	}
	go s.writeLoop()
	return s, nil
}

func (s *Store) dsn(extra ...string) string {
	ms := s.opts.busyTimeout.Milliseconds()
	params := []string{
		fmt.Sprintf("_pragma=busy_timeout(%d)", ms),
		// Sorts and temporary indexes stay in memory: no temp file
		// outside the data directory ever holds a row.
		"_pragma=temp_store(MEMORY)",
		"_pragma=foreign_keys(1)",
	}
	return s.path + "?" + strings.Join(append(params, extra...), "&")
}

func (s *Store) open(ctx context.Context) error {
	var err error
	// wal_autocheckpoint(0): checkpoints run in checkpointLoop, not in the
	// writer's COMMIT (durability does not depend on them: a committed
	// transaction is durable once in the WAL). The one writer gets a 16 MiB
	// page cache and reads through mmap, like the readers: indexing a
	// document's terms touches pages all over the term index, and with the
	// default 2 MiB cache they spill and are read again. Not more: at every
	// COMMIT SQLite walks the whole hash table of the writer's page cache
	// (pcache1TruncateUnsafe), which with 64 MiB cost about 0.4 ms per
	// commit (docs/STORAGE.md, docs/PERFORMANCE.md).
	s.wdb, err = sql.Open("sqlite", s.dsn("_pragma=journal_mode(WAL)", "_pragma=synchronous(FULL)", "_pragma=wal_autocheckpoint(0)",
		fmt.Sprintf("_pragma=journal_size_limit(%d)", walSizeLimit),
		"_pragma=cache_size(-16384)", "_pragma=mmap_size(1073741824)"))
	if err != nil {
		return err
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)
	if s.wconn, err = s.wdb.Conn(ctx); err != nil {
		return err
	}
	if err := checkDurability(ctx, s.wconn); err != nil {
		return err
	}
	if err := migrate(ctx, s.wconn, s.opts.clock.Now()); err != nil {
		return err
	}
	s.wc = &conn{writer: true, stmts: newStmtCache(s.wconn.PrepareContext)}

	// Readers map the file (no read syscall per page) and keep a larger
	// page cache than the 2 MB default: searches touch many rows.
	s.rdb, err = sql.Open("sqlite", s.dsn("_pragma=query_only(1)", "_pragma=mmap_size(1073741824)", "_pragma=cache_size(-16384)"))
	if err != nil {
		return err
	}
	s.rdb.SetMaxOpenConns(s.opts.readConns)
	s.rdb.SetMaxIdleConns(s.opts.readConns)
	if err := s.rdb.PingContext(ctx); err != nil {
		return err
	}
	s.rc = &conn{stmts: newStmtCache(s.rdb.PrepareContext)}
	s.reader = reader{c: s.rc}

	s.cdb, err = sql.Open("sqlite", s.dsn("_pragma=synchronous(FULL)"))
	if err != nil {
		return err
	}
	s.cdb.SetMaxOpenConns(1)
	return s.cdb.PingContext(ctx)
}

// checkpointInterval is how often the WAL is copied into the database.
const checkpointInterval = 200 * time.Millisecond

// checkpointLoop copies committed WAL frames into the database file
// (PASSIVE: it never blocks the writer or readers), so that the WAL does
// not grow without bound and readers do not walk a long WAL.
func (s *Store) checkpointLoop() {
	defer close(s.checkpointDone)
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-t.C:
			if _, err := s.cdb.Exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
				s.opts.logger.Warn("sqlite: WAL checkpoint failed", "err", err)
			}
		}
	}
}

// checkDurability reads back the settings the durability promise rests on:
// a file system that refuses WAL must not silently run in another mode.
func checkDurability(ctx context.Context, c *sql.Conn) error {
	var mode string
	var sync int
	if err := c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if err := c.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") || sync != 2 {
		return fmt.Errorf("sqlite: durability settings not in force (journal_mode=%s synchronous=%d)", mode, sync)
	}
	return nil
}

// Files returns the files the store keeps: the database, its write-ahead log
// and the WAL index. The -wal and -shm files exist only while the database
// is open (and are removed on a clean Close).
func (s *Store) Files() []string {
	return []string{s.path, s.path + "-wal", s.path + "-shm"}
}

// SchemaVersion returns the highest migration applied to the database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.rc.queryOne(ctx, func(rows *sql.Rows) error { return rows.Scan(&v) },
		"SELECT coalesce(max(version), 0) FROM schema_version")
	return v, wrap("sqlite.SchemaVersion", err)
}

// Close stops the writer after the batch in progress, refuses further
// Updates and closes the database. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		<-s.writerDone
		if s.checkpointDone != nil {
			<-s.checkpointDone
		}
		if s.repl != nil {
			s.repl.close()
		}
		s.closeErr = s.closeDBs()
	})
	return s.closeErr
}

func (s *Store) closeDBs() error {
	var errs []error
	if s.rc != nil {
		s.rc.stmts.close()
	}
	if s.wc != nil {
		s.wc.stmts.close()
	}
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	if s.cdb != nil {
		errs = append(errs, s.cdb.Close())
	}
	if s.wconn != nil {
		errs = append(errs, s.wconn.Close())
	}
	if s.wdb != nil {
		errs = append(errs, s.wdb.Close())
	}
	return errors.Join(errs...)
}

// request is one Update waiting for the writer.
type request struct {
	ctx  context.Context
	fn   func(carnet.Tx) error
	done chan result // buffered: the writer never waits for the caller
}

type result struct {
	err      error
	panicked bool
	panicVal any
}

// Update runs fn in the next group commit and returns once the group is
// durable, or with the error of fn or of the commit. fn runs on the writer
// goroutine: it must not call Update (it would wait for itself), and the tx
// it gets is for that goroutine only and for the duration of fn.
func (s *Store) Update(ctx context.Context, fn func(carnet.Tx) error) error {
	const op = "sqlite.Update"
	if err := s.failed.Load(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return wrap(op, err)
	}
	r := &request{ctx: ctx, fn: fn, done: make(chan result, 1)}
	select {
	case s.queue <- r:
	case <-ctx.Done():
		return wrap(op, ctx.Err())
	case <-s.closing:
		return wrap(op, errClosed)
	}
	// Once the writer has the request, wait for its answer whatever the
	// context says: the writer alone knows whether fn's work committed.
	res := <-r.done
	if res.panicked {
		panic(res.panicVal)
	}
	return res.err
}

func (s *Store) writeLoop() {
	stopped := false
	defer func() {
		if !stopped {
			// An fn ended this goroutine (runtime.Goexit, as t.FailNow
			// does); its batch was rolled back and answered. Keep writing.
			go s.writeLoop()
			return
		}
		close(s.writerDone)
	}()
	batch := make([]*request, 0, s.opts.maxBatch)
	maint := time.NewTicker(s.opts.truncEvery)
	defer maint.Stop()
	for {
		select {
		case <-s.closing:
			stopped = true
			return
		case <-maint.C:
			// Between two group commits: no write is in flight.
			s.maintain()
			continue
		case r := <-s.queue:
			batch = append(batch[:0], r)
		}
	gather:
		for len(batch) < s.opts.maxBatch {
			select {
			case r := <-s.queue:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		t0 := time.Now()
		s.commitBatch(batch)
		s.batchNanos.Add(int64(time.Since(t0)))
		clear(batch)
	}
}

// commitBatch runs every request of the batch in one transaction, each in
// its own savepoint, commits once and answers every caller.
func (s *Store) commitBatch(batch []*request) {
	const op = "sqlite.Update"
	results := make([]result, len(batch))
	answered := false
	answer := func() {
		answered = true
		for i, r := range batch {
			r.done <- results[i]
		}
	}
	failAll := func(err error) {
		for i := range results {
			if results[i].err == nil && !results[i].panicked {
				results[i].err = err
			}
		}
	}
	if err := s.failed.Load(); err != nil {
		failAll(err)
		answer()
		return
	}
	bg := context.Background()
	defer func() {
		if !answered { // an fn called runtime.Goexit: abandon the batch
			s.wc.exec(bg, "ROLLBACK")
			failAll(carnet.Errorf(carnet.KindInternal, "an Update's function exited its goroutine"))
			answer()
		}
	}()
	if _, err := s.wc.exec(bg, "BEGIN IMMEDIATE"); err != nil {
		if isStorageFailure(err) {
			s.poison(err)
		}
		failAll(wrap(op, err))
		answer()
		return
	}
	// broke abandons the batch: the transaction is in an unknown state
	// (a statement failed midway) and nothing of it may commit.
	broke := func(err error) {
		s.wc.exec(bg, "ROLLBACK")
		if isStorageFailure(err) {
			s.poison(err)
		}
		failAll(wrap(op, err))
		answer()
	}
	failed := func(res result) bool { return res.err != nil || res.panicked }
	// First pass, without savepoints: a savepoint is not free, SQLite
	// copies every page an Update changes into its in-memory sub-journal
	// first, again for each Update of a batch that writes into the same
	// record. Usually every Update succeeds and the batch commits.
	committable, failedAt := 0, -1
	for i, r := range batch {
		res, broken := s.runOne(r, false)
		results[i] = res
		if broken != nil {
			broke(broken)
			return
		}
		if failed(res) {
			failedAt = i
			break
		}
		committable++
	}
	if failedAt >= 0 {
		// An Update failed: nothing of it may stay. The transaction is
		// rolled back and the others run again (Store.Update's fn may run
		// more than once), each in a savepoint now but the first.
		committable = 0
		if _, err := s.wc.exec(bg, "ROLLBACK"); err != nil {
			broke(err)
			return
		}
		if _, err := s.wc.exec(bg, "BEGIN IMMEDIATE"); err != nil {
			broke(err)
			return
		}
		for i, r := range batch {
			if i == failedAt {
				continue
			}
			// The first Update of the transaction needs no savepoint:
			// if it fails, the transaction begins again.
			fresh := committable == 0
			res, broken := s.runOne(r, !fresh)
			results[i] = res
			if broken == nil && fresh && failed(res) {
				if _, err := s.wc.exec(bg, "ROLLBACK"); err != nil {
					broken = err
				} else if _, err := s.wc.exec(bg, "BEGIN IMMEDIATE"); err != nil {
					broken = err
				}
			}
			if broken != nil {
				broke(broken)
				return
			}
			if !failed(res) {
				committable++
			}
		}
	}
	if committable == 0 {
		if _, err := s.wc.exec(bg, "ROLLBACK"); err != nil && isStorageFailure(err) {
			s.poison(err)
		}
		answer()
		return
	}
	if err := s.commit(); err != nil {
		// Whatever reached the disk, no caller of this batch is told it
		// is durable, and no later write is acknowledged.
		s.wc.exec(bg, "ROLLBACK")
		failAll(s.poison(err))
	}
	answer()
}

func (s *Store) commit() error {
	if s.commitHook != nil {
		if err := s.commitHook(); err != nil {
			return err
		}
	}
	t0 := time.Now()
	_, err := s.wc.exec(context.Background(), "COMMIT")
	if err == nil {
		s.commits.Add(1)
		s.commitNanos.Add(int64(time.Since(t0)))
	}
	return err
}

// poison makes the store refuse every later write, and returns the error
// given to callers.
func (s *Store) poison(cause error) *carnet.Error {
	e := &carnet.Error{Kind: carnet.KindUnavailable, Op: "sqlite.Update", Msg: "the store stopped accepting writes after a storage failure", Err: cause}
	if s.failed.CompareAndSwap(nil, e) {
		s.opts.logger.Error("sqlite: commit failed; refusing all further writes until restart", "err", cause.Error())
	}
	return s.failed.Load()
}

// runOne runs one Update's fn, in a savepoint when savepoint is set
// (without, the caller undoes a failed fn by rolling the transaction back).
// broken is non-nil when the transaction is in an unknown state (a Tx
// method failed midway, or the savepoint could not be closed), which dooms
// the whole batch.
func (s *Store) runOne(r *request, savepoint bool) (res result, broken error) {
	const op = "sqlite.Update"
	if err := r.ctx.Err(); err != nil {
		return result{err: wrap(op, err)}, nil
	}
	bg := context.Background()
	if savepoint {
		if _, err := s.wc.exec(bg, "SAVEPOINT request"); err != nil {
			return result{}, err
		}
	}
	t := &tx{reader: reader{c: s.wc}, ctx: r.ctx}
	func() {
		defer func() {
			if v := recover(); v != nil {
				res = result{panicked: true, panicVal: v}
			}
		}()
		res.err = r.fn(t)
	}()
	t.done = true
	if t.broken != nil {
		return res, t.broken
	}
	if !savepoint {
		return res, nil
	}
	if res.err == nil && !res.panicked {
		if _, err := s.wc.exec(bg, "RELEASE request"); err != nil {
			return res, err
		}
		return res, nil
	}
	if _, err := s.wc.exec(bg, "ROLLBACK TO request"); err != nil {
		return res, err
	}
	if _, err := s.wc.exec(bg, "RELEASE request"); err != nil {
		return res, err
	}
	return res, nil
}

// WriterStats is what the writer did since the store was opened, for
// benchmarks: group commits, the time spent in COMMIT (writing the WAL and
// its fsync) and the time spent on batches (the Updates' statements and
// COMMIT). The writer is serial: busy over elapsed time is its share.
type WriterStats struct {
	Commits    int64
	CommitTime time.Duration
	WriterBusy time.Duration
}

func (s *Store) WriterStats() WriterStats {
	return WriterStats{Commits: s.commits.Load(), CommitTime: time.Duration(s.commitNanos.Load()), WriterBusy: time.Duration(s.batchNanos.Load())}
}

// Writable reports whether the store still accepts writes: after a failed
// commit it refuses them until restart (readiness checks read it).
func (s *Store) Writable(context.Context) error {
	if err := s.failed.Load(); err != nil {
		return err
	}
	select {
	case <-s.closing:
		return wrap("sqlite.Writable", errClosed)
	default:
		return nil
	}
}
