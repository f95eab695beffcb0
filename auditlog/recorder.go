package auditlog

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/carnet-sante/carnet"
)

// DefaultMaxBatch bounds the events one AppendAudit writes when
// RecorderOptions.MaxBatch is not set.
const DefaultMaxBatch = 256

// DefaultAppendTimeout bounds one AppendAudit when
// RecorderOptions.AppendTimeout is not set.
const DefaultAppendTimeout = 30 * time.Second

// RecorderOptions adjust a Recorder. The zero value is the default.
type RecorderOptions struct {
	// MaxBatch bounds the events written by one AppendAudit (default
	// DefaultMaxBatch).
	MaxBatch int
	// AppendTimeout bounds one AppendAudit (default DefaultAppendTimeout).
	// The callers' contexts do not bound it: one caller leaving must not
	// fail the other events of its batch.
	AppendTimeout time.Duration
	// Clock stamps events that come without a time (default: the system
	// clock).
	Clock carnet.Clock
}

// Recorder is the carnet.Auditor that puts access events in the
// tamper-evident log. Record seals the event (SealAuditEvent), computes its
// leaf (Entry over the row's id, time and digest) and hands the row to one
// batching goroutine, which writes whatever is waiting (up to MaxBatch rows)
// with one AppendAudit: one transaction, one fsync, for all the concurrent
// requests. Record returns once that transaction is durable.
//
// A batch is written whole or not at all; when it fails, every caller in it
// gets the error (KindUnavailable), and no part of it is in the log. A
// caller whose context ends while waiting gets an error at once; its event
// is left out of the batch if the batch has not started, and may still be
// recorded otherwise (an access is never served without its event; an
// event may exist for an access that then failed).
type Recorder struct {
	store   carnet.AuditStore
	sealer  carnet.Sealer
	clock   carnet.Clock
	max     int
	timeout time.Duration

	mu     sync.RWMutex // held for reading while sending to reqs, for writing to close it
	closed bool
	// lag is how long the oldest event of the last batch waited until
	// durable, in nanoseconds; failed counts failed appends.
	lag    atomic.Int64
	failed atomic.Int64
	reqs   chan *pendingEvent
	done   chan struct{} // closed when the batcher has returned
}

var _ carnet.Auditor = (*Recorder)(nil)

type pendingEvent struct {
	at  time.Time // when handed over, for AppendLag
	ctx context.Context
	row carnet.AuditRow
	res chan error // buffered: the batcher never waits for a caller
}

var _ carnet.AuditPreparer = (*Recorder)(nil)

// NewRecorder starts a Recorder appending to store, sealing with sealer.
// Close stops it.
func NewRecorder(store carnet.AuditStore, sealer carnet.Sealer, opts RecorderOptions) *Recorder {
	r := &Recorder{store: store, sealer: sealer, clock: opts.Clock, max: opts.MaxBatch, timeout: opts.AppendTimeout}
	if r.clock == nil {
		r.clock = carnet.SystemClock{}
	}
	if r.max <= 0 {
		r.max = DefaultMaxBatch
	}
	if r.timeout <= 0 {
		r.timeout = DefaultAppendTimeout
	}
	r.reqs = make(chan *pendingEvent, r.max)
	r.done = make(chan struct{})
	go r.run()
	return r
}

// Record implements carnet.Auditor: it returns nil once ev is durably in
// the log. An event without an id gets one, without a time the clock's. An
// id already in the log is KindConflict; a closed Recorder, a failed write
// or the caller's context ending is KindUnavailable.
func (r *Recorder) Record(ctx context.Context, ev carnet.AuditEvent) error {
	const op = "auditlog.Record"
	if err := ctx.Err(); err != nil {
		return canceled(op, err)
	}
	row, err := r.Prepare(ctx, ev)
	if err != nil {
		return err
	}
	p := &pendingEvent{at: time.Now(), ctx: ctx, row: row, res: make(chan error, 1)}
	if err := r.enqueue(ctx, p); err != nil {
		return err
	}
	select {
	case err := <-p.res:
		return err
	case <-ctx.Done():
		return canceled(op, ctx.Err())
	}
}

// Prepare implements carnet.AuditPreparer: the row Record appends for ev
// (sealed, its leaf hash computed), for a Store transaction to append
// (carnet.AuditTx).
func (r *Recorder) Prepare(ctx context.Context, ev carnet.AuditEvent) (carnet.AuditRow, error) {
	const op = "auditlog.Prepare"
	if ev.Time.IsZero() {
		ev.Time = r.clock.Now()
	}
	row, _, err := carnet.SealAuditEvent(ctx, r.sealer, ev)
	if err != nil {
		return carnet.AuditRow{}, err
	}
	if len(row.Digest) != HashSize {
		return carnet.AuditRow{}, &carnet.Error{Kind: carnet.KindInternal, Op: op, Msg: "sealed audit event has no SHA-256 digest"}
	}
	leaf, err := Entry{EventID: row.ID, Time: row.Time, RowDigest: [HashSize]byte(row.Digest)}.MarshalLeaf()
	if err != nil {
		return carnet.AuditRow{}, err
	}
	row.LeafHash = HashLeaf(leaf)
	return row, nil
}

func (r *Recorder) enqueue(ctx context.Context, p *pendingEvent) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return &carnet.Error{Kind: carnet.KindUnavailable, Op: "auditlog.Record", Msg: "the audit log is closed"}
	}
	select {
	case r.reqs <- p:
		return nil
	case <-ctx.Done():
		return canceled("auditlog.Record", ctx.Err())
	}
}

// Close stops accepting events, writes those already handed over, and
// returns when the batcher has stopped. It does not close the store.
func (r *Recorder) Close() error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.reqs)
	}
	r.mu.Unlock()
	<-r.done
	return nil
}

// run is the batcher: it takes what is waiting, writes it, answers, and
// starts again; requests arriving during a write wait for the next one.
func (r *Recorder) run() {
	defer close(r.done)
	batch := make([]*pendingEvent, 0, r.max)
	for p := range r.reqs {
		batch = append(batch[:0], p)
	collect:
		for len(batch) < r.max {
			select {
			case p, ok := <-r.reqs:
				if !ok {
					break collect
				}
				batch = append(batch, p)
			default:
				break collect
			}
		}
		r.write(batch)
		clear(batch) // let the rows go
	}
}

// write appends the batch's events whose callers still wait, answering
// each caller.
func (r *Recorder) write(batch []*pendingEvent) {
	live := make([]*pendingEvent, 0, len(batch))
	for _, p := range batch {
		if err := p.ctx.Err(); err != nil {
			p.res <- canceled("auditlog.Record", err)
			continue
		}
		live = append(live, p)
	}
	if len(live) == 0 {
		return
	}
	err := r.append(live)
	r.lag.Store(int64(time.Since(live[0].at)))
	if err != nil && !carnet.IsKind(err, carnet.KindConflict) {
		r.failed.Add(1)
	}
	if err != nil && carnet.IsKind(err, carnet.KindConflict) && len(live) > 1 {
		// One event's id is in use, and the Store refused the whole batch:
		// write each alone, so that only that event's caller fails.
		for _, p := range live {
			p.res <- r.append([]*pendingEvent{p})
		}
		return
	}
	for _, p := range live {
		p.res <- err
	}
}

func (r *Recorder) append(ps []*pendingEvent) error {
	const op = "auditlog.Record"
	rows := make([]carnet.AuditRow, len(ps))
	for i, p := range ps {
		rows[i] = p.row
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	if _, err := r.store.AppendAudit(ctx, rows); err != nil {
		if carnet.IsKind(err, carnet.KindConflict) {
			return &carnet.Error{Kind: carnet.KindConflict, Op: op, Msg: "audit event id already in the log", Err: err}
		}
		return &carnet.Error{Kind: carnet.KindUnavailable, Op: op, Msg: "audit event not recorded", Err: err}
	}
	return nil
}

// AppendLag is how long the oldest event of the last batch waited from
// Record until it was durable: the audit-append lag operators watch.
func (r *Recorder) AppendLag() time.Duration { return time.Duration(r.lag.Load()) }

// FailedAppends counts the batches the store refused (not counting ids
// in use).
func (r *Recorder) FailedAppends() int64 { return r.failed.Load() }

func canceled(op string, err error) error {
	return &carnet.Error{Kind: carnet.KindUnavailable, Op: op, Msg: "request canceled", Err: err}
}
