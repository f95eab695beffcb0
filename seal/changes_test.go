package seal_test

import (
	"context"
	"encoding/hex"
	"path/filepath"
	"testing"

	"github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/seal"
	"github.com/carnet-sante/carnet/sqlite"
)

// Two sealers over one store stand for two processes sharing a database:
// what one rotates or shreds, the other drops from its cache when it
// applies the key changes, and not before.
func TestKeyChangesBetweenSealers(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "carnet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kek, err := seal.GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := seal.NewKeyring(kek)
	if err != nil {
		t.Fatal(err)
	}
	a, b := seal.New(kr, seal.StoreKeys(st)), seal.New(kr, seal.StoreKeys(st))
	for _, s := range []*seal.Sealer{a, b} {
		if err := s.MarkKeyChanges(ctx); err != nil {
			t.Fatal(err)
		}
	}
	const p carnet.PatientKey = "p1"
	bind := carnet.Binding{Kind: "content", ID: "c1", Version: 1}
	old, err := a.Seal(ctx, p, bind, []byte("compte rendu"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Open(ctx, p, bind, old); err != nil { // b caches p's key
		t.Fatal(err)
	}

	// A rotation by a: b seals under the old key until it applies the
	// change, under the new one after.
	newID, err := a.RotateDataKey(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	keyOf := func(ct []byte) string {
		if hex.EncodeToString(ct[1:17]) == newID {
			return "new"
		}
		return "old"
	}
	ct, _ := b.Seal(ctx, p, bind, []byte("x"))
	if keyOf(ct) != "old" {
		t.Fatal("b saw the rotation before applying the changes: the test proves nothing")
	}
	if _, err := b.ApplyKeyChanges(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if ct, _ := b.Seal(ctx, p, bind, []byte("x")); keyOf(ct) != "new" {
		t.Error("after applying the changes b still seals under the replaced data key")
	}

	// Shredding by a: b opens the record until it applies the change,
	// never after.
	if n, err := a.Shred(ctx, p); err != nil || n != 2 {
		t.Fatalf("Shred: %d, %v; want 2 keys", n, err)
	}
	if _, err := a.Open(ctx, p, bind, old); err == nil {
		t.Error("a opens what it shredded")
	}
	if _, err := b.Open(ctx, p, bind, old); err != nil {
		t.Fatal("b dropped its keys before applying the changes: the test proves nothing")
	}
	if _, err := b.ApplyKeyChanges(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Open(ctx, p, bind, old); err == nil {
		t.Error("b still opens a shredded record after applying the changes")
	}
}
