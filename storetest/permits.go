package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/carnet-sante/carnet"
)

// testPermits is the contract of carnet.PermitStore: a permit written is
// read back, a change is a compare-and-set on the version (a stale one is
// refused and changes nothing), ids are unique, the list is oldest first.
func testPermits(t *testing.T, st carnet.Store) {
	s, ok := st.(carnet.PermitStore)
	if !ok {
		t.Fatalf("%T does not keep data permits (carnet.PermitStore)", st)
	}
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	a := carnet.PermitRow{ID: "a", Version: 1, Sealed: []byte("sealed a v1"), Created: now}
	if err := s.PutPermit(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPermit(ctx, carnet.PermitRow{ID: "a", Version: 1, Sealed: []byte("other"), Created: now}); !carnet.IsKind(err, carnet.KindConflict) {
		t.Errorf("second permit under id a: %v, want conflict", err)
	}
	got, err := s.Permit(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 1 || string(got.Sealed) != "sealed a v1" || !got.Created.Equal(now) {
		t.Errorf("round trip: %+v", got)
	}
	if _, err := s.Permit(ctx, "absent"); !carnet.IsKind(err, carnet.KindNotFound) {
		t.Errorf("absent permit: %v, want not found", err)
	}
	// A change must name the next version; a stale writer loses.
	if err := s.PutPermit(ctx, carnet.PermitRow{ID: "a", Version: 2, Sealed: []byte("sealed a v2")}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPermit(ctx, carnet.PermitRow{ID: "a", Version: 2, Sealed: []byte("stale")}); !carnet.IsKind(err, carnet.KindConflict) {
		t.Errorf("stale change: %v, want conflict", err)
	}
	if err := s.PutPermit(ctx, carnet.PermitRow{ID: "b", Version: 3, Sealed: []byte("x")}); !carnet.IsKind(err, carnet.KindConflict) {
		t.Errorf("change of an absent permit: %v, want conflict", err)
	}
	if got, _ := s.Permit(ctx, "a"); got.Version != 2 || string(got.Sealed) != "sealed a v2" || !got.Created.Equal(now) {
		t.Errorf("after the change: %+v", got)
	}
	if err := s.PutPermit(ctx, carnet.PermitRow{ID: "b", Version: 1, Sealed: []byte("b"), Created: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	all, err := s.Permits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].ID != "a" || all[1].ID != "b" {
		t.Errorf("Permits: %+v, want a then b", all)
	}
}
