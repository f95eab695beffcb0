package carnet

import (
	"context"
	"time"
)

// AssertionStore remembers the signed assertions (XUA SAML assertions) a
// deployment accepted, so that each is used once by the whole deployment:
// by every node over one database, and across restarts. A node's memory
// alone let an assertion be replayed to another node, or to the same one
// after a restart, within its lifetime.
type AssertionStore interface {
	// UseAssertion records key (an assertion's issuer and id, hashed by
	// the caller) until expires and says whether this is its first use:
	// false when key is recorded and has not expired at now. Records
	// expired at now are forgotten.
	UseAssertion(ctx context.Context, key string, now, expires time.Time) (bool, error)
}
