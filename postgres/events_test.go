package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/postgres"
	"github.com/carnet-sante/carnet/postgres/pgtest"
	"github.com/carnet-sante/carnet/storetest"
	"github.com/jackc/pgx/v5"
)

// Appends from two Stores on one schema (two servers) are serialised too:
// each append's events are consecutive and the log has no gap, with no
// error for the appenders to retry.
func TestAuditAppendsAcrossStores(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	stores := make([]*postgres.Store, 2)
	for i := range stores {
		s, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	const appenders, perAppender = 16, 10
	type batch struct {
		first uint64
		ids   []string
	}
	var (
		mu      sync.Mutex
		batches []batch
		wg      sync.WaitGroup
	)
	for w := range appenders {
		wg.Go(func() {
			s := stores[w%2]
			for i := range perAppender {
				rows := []carnet.AuditRow{
					storetest.NewAuditRow("p1", fmt.Sprintf("ev-%d-%d-a", w, i), storetest.Epoch, "actor"),
					storetest.NewAuditRow("p2", fmt.Sprintf("ev-%d-%d-b", w, i), storetest.Epoch, "actor"),
				}
				first, err := s.AppendAudit(ctx, rows)
				if err != nil {
					t.Errorf("appender %d, append %d: %v", w, i, err)
					return
				}
				mu.Lock()
				batches = append(batches, batch{first, []string{rows[0].ID, rows[1].ID}})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	log, err := stores[0].AuditEvents(ctx, 0, 1<<40)
	if err != nil || len(log) != 2*appenders*perAppender {
		t.Fatalf("AuditEvents: got %d rows, %v; want %d", len(log), err, 2*appenders*perAppender)
	}
	for i, r := range log {
		if r.Seq != uint64(i) {
			t.Fatalf("AuditEvents[%d]: seq %d: gap or duplicate", i, r.Seq)
		}
	}
	for _, b := range batches {
		if got := []string{log[b.first].ID, log[b.first+1].ID}; !slices.Equal(got, b.ids) {
			t.Fatalf("append at %d: log holds %v, want %v", b.first, got, b.ids)
		}
	}
}

// An event missing from the table shows as a gap: AuditEvents lists what is
// left, and the leaf hashes of a range across it are refused rather than
// shifted.
func TestAuditGap(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	rows := []carnet.AuditRow{
		storetest.NewAuditRow("p1", "ev-0", storetest.Epoch, "actor"),
		storetest.NewAuditRow("p1", "ev-1", storetest.Epoch, "actor"),
		storetest.NewAuditRow("", "ev-2", storetest.Epoch, "actor"),
	}
	if _, err := s.AppendAudit(ctx, rows); err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `DELETE FROM audit_events WHERE seq = 1`); err != nil {
		t.Fatal(err)
	}

	if size, err := s.AuditSize(ctx); err != nil || size != 3 {
		t.Fatalf("AuditSize with a gap: got %d, %v; want 3", size, err)
	}
	got, err := s.AuditEvents(ctx, 0, 3)
	if err != nil || len(got) != 2 || got[0].ID != "ev-0" || got[1].ID != "ev-2" || got[1].Seq != 2 {
		t.Fatalf("AuditEvents with a gap: got %d rows, %v; want ev-0 and ev-2 at 0 and 2", len(got), err)
	}
	_, err = s.AuditLeafHashes(ctx, 0, 3)
	wantKind(t, err, carnet.KindInternal, "AuditLeafHashes across a gap")
	if hs, err := s.AuditLeafHashes(ctx, 2, 3); err != nil || len(hs) != 1 {
		t.Fatalf("AuditLeafHashes after the gap: got %d, %v", len(hs), err)
	}
}
