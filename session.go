package carnet

import (
	"context"
	"time"
)

// WebKeyRecord is the reserved record whose keys seal the web spaces'
// sessions: who is signed in, their CSRF token, their emergency access.
const WebKeyRecord PatientKey = "carnet-web"

// SessionRow is a web session as stored. ID is the SHA-256 (hex) of the
// session id the browser holds, so that the database never holds a cookie
// that would work; Sealed is the session's content, sealed (WebKeyRecord).
type SessionRow struct {
	ID      string
	Sealed  []byte
	Created time.Time
	Seen    time.Time // last use, for the idle expiry
	Expires time.Time // absolute expiry
}

// SessionStore keeps the web sessions, so that every server over one
// database shares them (SQLite and PostgreSQL implement it; storetest's
// TestSessions is the contract).
type SessionStore interface {
	// PutSession creates or replaces a session.
	PutSession(ctx context.Context, row SessionRow) error
	// Session returns a session, KindNotFound when there is none. Expiry is
	// the caller's to check.
	Session(ctx context.Context, id string) (SessionRow, error)
	// TouchSession sets a session's last use; no error when it is gone.
	TouchSession(ctx context.Context, id string, seen time.Time) error
	// DeleteSession removes a session; no error when it is gone.
	DeleteSession(ctx context.Context, id string) error
	// PruneSessions removes the sessions expired at now or unused since
	// idleBefore, and returns how many.
	PruneSessions(ctx context.Context, now, idleBefore time.Time) (int, error)
}
