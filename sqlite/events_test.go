package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/storetest"
)

// An appended event is in the file once AppendAudit returned: it is there
// after a reopen. An event missing from the file (deleted behind the
// store's back) shows as a gap: AuditEvents lists what is left, and the
// leaf hashes of a range across it are refused rather than shifted.
func TestAuditReopenAndGap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "carnet.db")
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	rows := []carnet.AuditRow{
		storetest.NewAuditRow("p1", "ev-0", storetest.Epoch, "actor"),
		storetest.NewAuditRow("p1", "ev-1", storetest.Epoch, "actor"),
		storetest.NewAuditRow("", "ev-2", storetest.Epoch, "actor"),
	}
	if _, err := s.AppendAudit(ctx, rows); err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openTest(t, path)
	if got, err := s.AuditEvents(ctx, 0, 3); err != nil || !slices.Equal(auditIDs(got), []string{"ev-0", "ev-1", "ev-2"}) {
		t.Fatalf("AuditEvents after reopen: got %v, %v", auditIDs(got), err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("DELETE FROM audit_events WHERE seq = 1"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s = openTest(t, path)
	if size, err := s.AuditSize(ctx); err != nil || size != 3 {
		t.Fatalf("AuditSize with a gap: got %d, %v; want 3", size, err)
	}
	got, err := s.AuditEvents(ctx, 0, 3)
	if err != nil || !slices.Equal(auditIDs(got), []string{"ev-0", "ev-2"}) || got[1].Seq != 2 {
		t.Fatalf("AuditEvents with a gap: got %v, %v; want [ev-0 ev-2] at 0 and 2", auditIDs(got), err)
	}
	_, err = s.AuditLeafHashes(ctx, 0, 3)
	if !carnet.IsKind(err, carnet.KindInternal) {
		t.Fatalf("AuditLeafHashes across a gap: got %v, want KindInternal", err)
	}
	if hs, err := s.AuditLeafHashes(ctx, 2, 3); err != nil || len(hs) != 1 {
		t.Fatalf("AuditLeafHashes after the gap: got %d, %v", len(hs), err)
	}
}

// Concurrent appends go through the writer's group commits: they share
// commits instead of paying one fsync each.
func TestAuditAppendsShareCommits(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "carnet.db"))
	ctx := context.Background()
	const appenders, perAppender = 32, 4
	before := s.commits.Load()
	var wg sync.WaitGroup
	for w := range appenders {
		wg.Go(func() {
			for i := range perAppender {
				row := storetest.NewAuditRow("p1", storetest.NewID("ev-"), storetest.Epoch, "actor")
				if _, err := s.AppendAudit(ctx, []carnet.AuditRow{row}); err != nil {
					t.Errorf("appender %d, append %d: %v", w, i, err)
				}
			}
		})
	}
	wg.Wait()
	commits := s.commits.Load() - before
	if size, err := s.AuditSize(ctx); err != nil || size != appenders*perAppender {
		t.Fatalf("AuditSize: got %d, %v; want %d", size, err, appenders*perAppender)
	}
	t.Logf("%d appends in %d commits", appenders*perAppender, commits)
	if commits >= appenders*perAppender {
		t.Errorf("%d appends took %d commits: appends do not share group commits", appenders*perAppender, commits)
	}
}

func auditIDs(rows []carnet.AuditRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.ID)
	}
	return out
}

// An event appended by a transaction (carnet.AuditTx, a filing's own
// event) is in the log only if the transaction commits, and takes the next
// index among the events appended by the Store, concurrent ones included.
func TestAuditAppendInTransaction(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "carnet.db"))
	if _, err := s.AppendAudit(ctx, []carnet.AuditRow{storetest.NewAuditRow("p1", "ev-0", storetest.Epoch, "actor")}); err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
	inTx := func(id string, fail bool) error {
		return s.Update(ctx, func(tx carnet.Tx) error {
			if _, err := tx.(carnet.AuditTx).AppendAudit(ctx, []carnet.AuditRow{storetest.NewAuditRow("p1", id, storetest.Epoch, "actor")}); err != nil {
				return err
			}
			if fail {
				return carnet.Errorf(carnet.KindInvalid, "the filing failed after its event")
			}
			return nil
		})
	}
	if err := inTx("ev-rolled-back", true); !carnet.IsKind(err, carnet.KindInvalid) {
		t.Fatalf("failing Update: got %v", err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if err := inTx(fmt.Sprintf("ev-tx-%d", i), false); err != nil {
				t.Errorf("Update appending: %v", err)
			}
		})
		wg.Go(func() {
			if _, err := s.AppendAudit(ctx, []carnet.AuditRow{storetest.NewAuditRow("p1", fmt.Sprintf("ev-store-%d", i), storetest.Epoch, "actor")}); err != nil {
				t.Errorf("AppendAudit: %v", err)
			}
		})
	}
	wg.Wait()
	if err := inTx("ev-0", false); !carnet.IsKind(err, carnet.KindConflict) {
		t.Fatalf("an id already in the log, appended in a transaction: got %v, want KindConflict", err)
	}
	got, err := s.AuditEvents(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	ids := auditIDs(got)
	if len(ids) != 17 || slices.Contains(ids, "ev-rolled-back") {
		t.Fatalf("log: got %d events %v, want 17 without the rolled-back one", len(ids), ids)
	}
	for i, row := range got {
		if row.Seq != uint64(i) {
			t.Fatalf("event %s at index %d, want %d: the indexes have a gap", row.ID, row.Seq, i)
		}
	}
}
