package postgres

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// pool is a small connection pool of *pgx.Conn.
//
// It stands in for pgxpool, which needs github.com/jackc/puddle/v2, a module
// go.mod does not list yet. It keeps to what pgxpool does that matters here:
// a bound on open connections, waiting for a free one under the caller's
// context, a ping before reusing a connection that sat idle (so a restarted
// server costs no request), and dropping connections left broken or inside a
// transaction. Swapping it for pgxpool touches this file and the few calls
// to acquire/release.
type pool struct {
	cfg   *pgx.ConnConfig
	slots chan struct{} // one token per connection in use; cap is the pool size

	mu     sync.Mutex
	idle   []idleConn              // most recently used last
	born   map[*pgx.Conn]time.Time // when each open connection was dialled
	closed bool
}

type idleConn struct {
	conn  *pgx.Conn
	since time.Time
}

// pingAfter is how long a connection may sit idle before it is pinged on
// reuse; maxLifetime is how long a connection is reused. Both are pgxpool's
// defaults.
const (
	pingAfter   = time.Second
	maxLifetime = time.Hour
)

var errPoolClosed = errors.New("postgres: store closed")

func newPool(cfg *pgx.ConnConfig, size int) *pool {
	return &pool{cfg: cfg, slots: make(chan struct{}, size), born: make(map[*pgx.Conn]time.Time)}
}

// acquire returns a connection for the caller's exclusive use; the caller
// must release it.
func (p *pool) acquire(ctx context.Context) (*pgx.Conn, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			<-p.slots
			return nil, errPoolClosed
		}
		var ic idleConn
		if n := len(p.idle); n > 0 {
			ic = p.idle[n-1]
			p.idle = p.idle[:n-1]
		}
		p.mu.Unlock()

		if ic.conn == nil {
			conn, err := pgx.ConnectConfig(ctx, p.cfg)
			if err != nil {
				<-p.slots
				return nil, err
			}
			p.mu.Lock()
			p.born[conn] = time.Now()
			p.mu.Unlock()
			return conn, nil
		}
		if time.Since(ic.since) < pingAfter {
			return ic.conn, nil
		}
		if err := ic.conn.Ping(ctx); err == nil {
			return ic.conn, nil
		} else if ctx.Err() != nil {
			p.closeConn(ic.conn)
			<-p.slots
			return nil, ctx.Err()
		}
		// The server dropped it (restart, idle timeout): try the next one.
		p.closeConn(ic.conn)
	}
}

// release gives conn back. A connection that is closed, busy or still in a
// transaction (its owner gave up half-way) is closed rather than reused.
func (p *pool) release(conn *pgx.Conn) {
	defer func() { <-p.slots }()
	pc := conn.PgConn()
	p.mu.Lock()
	reuse := !p.closed && !conn.IsClosed() && !pc.IsBusy() && pc.TxStatus() == 'I' &&
		time.Since(p.born[conn]) < maxLifetime
	if reuse {
		p.idle = append(p.idle, idleConn{conn: conn, since: time.Now()})
	}
	p.mu.Unlock()
	if !reuse {
		p.closeConn(conn)
	}
}

// discard closes conn instead of returning it to the pool.
func (p *pool) discard(conn *pgx.Conn) {
	p.closeConn(conn)
	<-p.slots
}

// close closes idle connections now and connections in use when released.
func (p *pool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, ic := range idle {
		p.closeConn(ic.conn)
	}
}

func (p *pool) closeConn(conn *pgx.Conn) {
	p.mu.Lock()
	delete(p.born, conn)
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = conn.Close(ctx) // best effort: the server ends the session when the socket goes
}
