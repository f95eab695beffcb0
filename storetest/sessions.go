package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/carnet-sante/carnet"
)

// testSessions is the contract of carnet.SessionStore: what one server
// writes another reads, a replaced session is the new one, touch and delete
// are silent on a missing session, prune removes exactly the expired and
// idle ones.
func testSessions(t *testing.T, st carnet.Store) {
	s, ok := st.(carnet.SessionStore)
	if !ok {
		t.Fatalf("%T does not keep web sessions (carnet.SessionStore)", st)
	}
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	row := func(id string, seen, expires time.Time) carnet.SessionRow {
		return carnet.SessionRow{ID: id, Sealed: []byte("sealed " + id), Created: now.Add(-time.Hour), Seen: seen, Expires: expires}
	}
	a := row("a", now, now.Add(8*time.Hour))
	if err := s.PutSession(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err := s.Session(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Sealed) != "sealed a" || !got.Created.Equal(a.Created) || !got.Seen.Equal(a.Seen) || !got.Expires.Equal(a.Expires) {
		t.Errorf("round trip: %+v, want %+v", got, a)
	}
	if _, err := s.Session(ctx, "absent"); !carnet.IsKind(err, carnet.KindNotFound) {
		t.Errorf("absent session: %v, want not found", err)
	}
	// Replacing keeps the creation time and takes the rest.
	b := a
	b.Sealed, b.Created, b.Seen = []byte("changed"), now, now.Add(time.Minute)
	if err := s.PutSession(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Session(ctx, "a"); string(got.Sealed) != "changed" || !got.Seen.Equal(b.Seen) || !got.Created.Equal(a.Created) {
		t.Errorf("replaced: %+v", got)
	}
	if err := s.TouchSession(ctx, "a", now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Session(ctx, "a"); !got.Seen.Equal(now.Add(2 * time.Minute)) {
		t.Errorf("touched: seen %v", got.Seen)
	}
	if err := s.TouchSession(ctx, "absent", now); err != nil {
		t.Errorf("touching an absent session: %v", err)
	}
	// Prune: c expired, d idle, a and e alive.
	for _, r := range []carnet.SessionRow{row("c", now, now), row("d", now.Add(-31*time.Minute), now.Add(time.Hour)), row("e", now.Add(-time.Minute), now.Add(time.Hour))} {
		if err := s.PutSession(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PruneSessions(ctx, now, now.Add(-30*time.Minute))
	if err != nil || n != 2 {
		t.Errorf("prune: %d, %v; want 2", n, err)
	}
	for id, alive := range map[string]bool{"a": true, "c": false, "d": false, "e": true} {
		if _, err := s.Session(ctx, id); (err == nil) != alive {
			t.Errorf("after prune, session %s: %v (alive %v)", id, err, alive)
		}
	}
	if err := s.DeleteSession(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, "a"); !carnet.IsKind(err, carnet.KindNotFound) {
		t.Errorf("deleted session still there: %v", err)
	}
	if err := s.DeleteSession(ctx, "a"); err != nil {
		t.Errorf("deleting twice: %v", err)
	}
}
