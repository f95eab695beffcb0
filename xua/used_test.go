package xua

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/sqlite"
)

// With the deployment's store, an assertion accepted by one node is
// refused by another over the same database, and by a node started again:
// each kept its own memory before, and a replay to another node or after
// a restart was accepted within the assertion's lifetime.
func TestUsedAssertionsAreShared(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "carnet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	node := func() *Verifier {
		v, err := New(Config{Issuers: []Issuer{{Cert: pki.rsaCert}}, Audience: audience, AllowTestINS: true, Now: func() time.Time { return now }, Used: st})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	a, b := node(), node()
	signed := envelope(sign(t, claims(now), pki.rsaKey, pki.rsaCert))
	if _, err := a.Verify(signed); err != nil {
		t.Fatalf("first use on node a: %v", err)
	}
	if _, err := b.Verify(signed); err == nil {
		t.Error("the assertion node a accepted was accepted again by node b")
	}
	if _, err := node().Verify(signed); err == nil {
		t.Error("the assertion was accepted again by a node started afterwards")
	}
	// Another assertion of the same professional is a first use.
	c := claims(now)
	c.ID = "_another"
	if _, err := b.Verify(envelope(sign(t, c, pki.rsaKey, pki.rsaCert))); err != nil {
		t.Errorf("another assertion on node b: %v", err)
	}
	// A store that cannot write refuses (fail closed).
	st.Close()
	c.ID = "_third"
	if _, err := a.Verify(envelope(sign(t, c, pki.rsaKey, pki.rsaCert))); err == nil {
		t.Error("an assertion was accepted while its use could not be recorded")
	}
}
