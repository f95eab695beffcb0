package seal

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carnet-sante/carnet"
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

var testClock = fixedClock{time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}

func testKEK(t testing.TB) []byte {
	t.Helper()
	k, err := GenerateKEK()
	if err != nil {
		t.Fatalf("GenerateKEK: %v", err)
	}
	return k
}

func testKeyring(t testing.TB, keks ...[]byte) *Keyring {
	t.Helper()
	if len(keks) == 0 {
		keks = [][]byte{testKEK(t)}
	}
	kr, err := NewKeyring(keks...)
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}
	return kr
}

// newTestSealer returns a Sealer over a fresh keyring and an empty
// in-memory key store.
func newTestSealer(t testing.TB, opts ...Option) (*Sealer, *Keyring, *MemoryKeys) {
	t.Helper()
	kr := testKeyring(t)
	keys := NewMemoryKeys()
	return New(kr, keys, append([]Option{WithClock(testClock)}, opts...)...), kr, keys
}

func mustSeal(t testing.TB, s carnet.Sealer, p carnet.PatientKey, b carnet.Binding, plaintext []byte) []byte {
	t.Helper()
	ct, err := s.Seal(context.Background(), p, b, plaintext)
	if err != nil {
		t.Fatalf("Seal(%s, %+v): %v", p, b, err)
	}
	return ct
}

func mustOpen(t testing.TB, s carnet.Sealer, p carnet.PatientKey, b carnet.Binding, ct, want []byte) {
	t.Helper()
	got, err := s.Open(context.Background(), p, b, ct)
	if err != nil {
		t.Fatalf("Open(%s, %+v): %v", p, b, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Open(%s, %+v) = %q, want %q", p, b, got, want)
	}
}

// wantKind fails unless err is a *carnet.Error of kind k.
func wantKind(t testing.TB, what string, err error, k carnet.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got no error, want kind %v", what, k)
	}
	if got := carnet.ErrorKind(err); got != k {
		t.Fatalf("%s: got kind %v (%v), want %v", what, got, err, k)
	}
}

// countingKeys counts the reads and writes that reach the key store.
type countingKeys struct {
	KeyStore
	reads, writes atomic.Int64
}

func (c *countingKeys) DataKeys(ctx context.Context, p carnet.PatientKey) ([]carnet.WrappedKey, error) {
	c.reads.Add(1)
	return c.KeyStore.DataKeys(ctx, p)
}

func (c *countingKeys) AddDataKey(ctx context.Context, p carnet.PatientKey, k carnet.WrappedKey, ifNone bool) ([]carnet.WrappedKey, error) {
	c.writes.Add(1)
	return c.KeyStore.AddDataKey(ctx, p, k, ifNone)
}

var docBinding = carnet.Binding{Kind: "document", ID: "7f3c2a10-0000-4000-8000-000000000001", Version: 1}
