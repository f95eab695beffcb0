package storetest

import (
	"bytes"
	"context"
	"testing"

	"github.com/carnet-sante/carnet"
)

// testCareForms: a record's point-of-care form is kept with the stamp it
// was written with, replaced by the next write, per record only.
func testCareForms(t *testing.T, st carnet.Store) {
	s, ok := st.(carnet.CareFormStore)
	if !ok {
		t.Fatalf("%T does not keep point-of-care forms (carnet.CareFormStore)", st)
	}
	ctx := context.Background()
	p, q := carnet.PatientKey(NewID("form")), carnet.PatientKey(NewID("other"))
	if _, _, err := s.CareForm(ctx, p); !carnet.IsKind(err, carnet.KindNotFound) {
		t.Fatalf("form of a record that has none: %v, want not found", err)
	}
	big := bytes.Repeat([]byte{0, 1, 2, 0xff}, 1<<18) // 1 MiB, zero bytes included
	if err := s.PutCareForm(ctx, p, "3/100", []byte("form at 3")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCareForm(ctx, q, "1/5", big); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCareForm(ctx, p, "4/200", []byte("form at 4")); err != nil {
		t.Fatal(err)
	}
	stamp, sealed, err := s.CareForm(ctx, p)
	if err != nil || stamp != "4/200" || string(sealed) != "form at 4" {
		t.Errorf("after the second write: %q %q %v, want 4/200 and the second form", stamp, sealed, err)
	}
	stamp, sealed, err = s.CareForm(ctx, q)
	if err != nil || stamp != "1/5" || !bytes.Equal(sealed, big) {
		t.Errorf("another record's form: %q, %d bytes, %v; want 1/5 and the 1 MiB form as written", stamp, len(sealed), err)
	}
	// An older form may be written after a newer one (two servers): the
	// last write wins, and its stamp says which it is.
	if err := s.PutCareForm(ctx, p, "3/100", []byte("form at 3")); err != nil {
		t.Fatal(err)
	}
	if stamp, _, err := s.CareForm(ctx, p); err != nil || stamp != "3/100" {
		t.Errorf("after writing an older form: %q %v, want 3/100", stamp, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.PutCareForm(cctx, p, "9/9", []byte("x")); err == nil {
		t.Error("PutCareForm with a canceled context succeeded")
	}
	if stamp, _, _ := s.CareForm(ctx, p); stamp != "3/100" {
		t.Errorf("a canceled write changed the form: stamp %q", stamp)
	}
}
