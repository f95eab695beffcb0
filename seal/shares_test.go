package seal

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet"
)

// Any k of n shares open the keys; k−1 never do; shares of two exports do
// not mix; a damaged share is refused.
func TestKeySharesKOfN(t *testing.T) {
	bundle := []byte("file carnet.keys AAAA\nfile audit-log.key BBBB\n")
	shares, err := SplitKeys(bundle, "carnet.test/audit", 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	// Through the file format, as custodians hand them back.
	for i := range shares {
		text, _ := shares[i].MarshalText()
		if shares[i], err = ParseShare(text); err != nil {
			t.Fatalf("share %d does not parse back: %v", i+1, err)
		}
	}
	opened, refused := 0, 0
	for a := 0; a < 5; a++ {
		for b := a + 1; b < 5; b++ {
			if _, err := CombineKeys([]Share{shares[a], shares[b]}); err == nil {
				t.Errorf("shares %d and %d (k-1) opened the keys", a+1, b+1)
			} else {
				refused++
			}
			for c := b + 1; c < 5; c++ {
				got, err := CombineKeys([]Share{shares[c], shares[a], shares[b]})
				if err != nil || !bytes.Equal(got, bundle) {
					t.Errorf("shares %d, %d, %d (k): %v", a+1, b+1, c+1, err)
					continue
				}
				opened++
			}
		}
	}
	if opened != 10 || refused != 10 {
		t.Errorf("opened %d of 10 k-subsets, refused %d of 10 (k-1)-subsets", opened, refused)
	}
	// The same share twice is one share.
	if _, err := CombineKeys([]Share{shares[0], shares[0], shares[1]}); err == nil {
		t.Error("a share given twice counted twice")
	}
	// A lowered threshold in the files does not let k-1 shares in.
	low := []Share{shares[0], shares[1]}
	for i := range low {
		low[i].Threshold = 2
	}
	if _, err := CombineKeys(low); err == nil {
		t.Error("k-1 shares opened the keys once their threshold line was edited")
	}
	other, _ := SplitKeys(bundle, "carnet.test/audit", 3, 5)
	if _, err := CombineKeys([]Share{shares[0], shares[1], other[2]}); err == nil {
		t.Error("shares of two exports combined")
	}
	bad := shares[2]
	bad.point = bytes.Clone(bad.point)
	bad.point[40] ^= 1
	if _, err := CombineKeys([]Share{shares[0], shares[1], bad}); err == nil {
		t.Error("a damaged share opened the keys")
	}
}

func FuzzParseShare(f *testing.F) {
	shares, _ := SplitKeys([]byte("x"), "carnet.test/audit", 2, 3)
	text, _ := shares[0].MarshalText()
	f.Add(text)
	f.Add([]byte(shareTag + "\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		s, err := ParseShare(text)
		if err != nil {
			return
		}
		again, _ := s.MarshalText()
		if _, err := ParseShare(again); err != nil {
			t.Fatalf("a parsed share does not parse back: %v", err)
		}
	})
}

func TestKeyFileReadableByOthersIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), KeyFileName)
	if _, err := LoadOrCreateKeyFile(path, true); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadOrCreateKeyFile(path, false)
	if !errors.Is(err, ErrKeyFileMode) || !strings.Contains(err.Error(), "chmod 600 "+path) {
		t.Fatalf("a 0644 key file: got %v, want a refusal naming the file and chmod 600", err)
	}
}

// A KEK rotated by one node is seen by another sharing the store, without
// a restart: data keys wrapped under the new term open there at once, and
// after a refresh it wraps new data keys under it too. Older data keeps
// opening; no (data key, nonce) pair repeats.
func TestRotateKEKIsSeenByEveryNode(t *testing.T) {
	ctx := context.Background()
	root := testKEK(t)
	keys := NewMemoryKeys()
	a := New(testKeyring(t, root), keys, WithClock(testClock))
	b := New(testKeyring(t, root), keys, WithClock(testClock))
	bind := carnet.Binding{Kind: "document", ID: "d", Version: 1}
	type sealed struct {
		p  carnet.PatientKey
		ct []byte
	}
	var all []sealed
	seal := func(s *Sealer, p carnet.PatientKey) {
		all = append(all, sealed{p, mustSeal(t, s, p, bind, []byte("compte rendu "+string(p)))})
	}
	seal(a, "p-before")
	seal(b, "p-before-b")
	term, err := a.RotateKEK(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seal(a, "p-after") // a new data key, under the new term
	wks, _ := keys.DataKeys(ctx, "p-after")
	if wks[0].KEKID != term {
		t.Fatalf("new data key wrapped under %s, want the new term %s", wks[0].KEKID, term)
	}
	// b has not refreshed: it still opens what a sealed under the new term.
	mustOpen(t, b, "p-after", bind, all[2].ct, []byte("compte rendu p-after"))
	if err := b.RefreshKeyring(ctx); err != nil {
		t.Fatal(err)
	}
	seal(b, "p-after-b")
	wks, _ = keys.DataKeys(ctx, "p-after-b")
	if wks[0].KEKID != term {
		t.Fatalf("node b wraps under %s after refresh, want %s", wks[0].KEKID, term)
	}
	if _, err := a.RotateDataKey(ctx, "p-before"); err != nil {
		t.Fatal(err)
	}
	seal(a, "p-before")
	// A third node, fresh, opens everything.
	c := New(testKeyring(t, root), keys, WithClock(testClock))
	seen := map[string]bool{}
	for _, s := range all {
		mustOpen(t, c, s.p, bind, s.ct, []byte("compte rendu "+string(s.p)))
		k := string(s.ct[1:headerSize])
		if seen[k] {
			t.Errorf("a (data key, nonce) pair repeats")
		}
		seen[k] = true
	}
	// Without the root key, the terms do not open: a node with another key
	// file opens nothing new.
	d := New(testKeyring(t), keys, WithClock(testClock))
	if _, err := d.Open(ctx, "p-after", bind, all[2].ct); !carnet.IsKind(err, carnet.KindUnavailable) {
		t.Errorf("a node without the root key: %v, want unavailable", err)
	}
}
