package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/carnet-sante/carnet"
)

// fullWrite performs one of every write for patient p with ids suffixed by
// sfx, and changes the existing document existing (if not empty).
func fullWrite(ctx context.Context, tx carnet.Tx, p carnet.PatientKey, sfx string, existing *carnet.DocumentRow) error {
	if err := tx.PutPatient(ctx, NewPatientRow(p, "tok-"+sfx)); err != nil {
		return fmt.Errorf("PutPatient: %w", err)
	}
	if err := tx.PutDataKey(ctx, p, NewWrappedKey("key-"+sfx, Epoch)); err != nil {
		return fmt.Errorf("PutDataKey: %w", err)
	}
	if err := tx.InsertDocument(ctx, NewDocumentRow(p, "doc-"+sfx)); err != nil {
		return fmt.Errorf("InsertDocument: %w", err)
	}
	if err := tx.PutContent(ctx, p, "content-"+sfx, []byte("bytes-"+sfx)); err != nil {
		return fmt.Errorf("PutContent: %w", err)
	}
	if err := tx.InsertSubmissionSet(ctx, NewSubmissionSetRow(p, "set-"+sfx)); err != nil {
		return fmt.Errorf("InsertSubmissionSet: %w", err)
	}
	if err := tx.InsertItems(ctx, []carnet.ItemRow{NewItemRow(p, "item-"+sfx, "logical-doc-"+sfx)}); err != nil {
		return fmt.Errorf("InsertItems: %w", err)
	}
	if existing != nil {
		changed := *existing
		changed.Status = carnet.StatusDeleted
		changed.Sealed = []byte("changed-" + sfx)
		if err := tx.UpdateDocument(ctx, changed); err != nil {
			return fmt.Errorf("UpdateDocument: %w", err)
		}
	}
	return nil
}

// wantNoneOf checks that nothing fullWrite(p, sfx) writes is visible in r.
func wantNoneOf(t tb, r carnet.Reader, p carnet.PatientKey, sfx string) {
	t.Helper()
	ctx := context.Background()
	_, err := r.Patient(ctx, p)
	wantKind(t, err, carnet.KindNotFound, "Patient")
	_, err = r.PatientByToken(ctx, "tok-"+sfx)
	wantKind(t, err, carnet.KindNotFound, "PatientByToken")
	if keys, err := r.DataKeys(ctx, p); err != nil || len(keys) != 0 {
		t.Fatalf("DataKeys: got %d keys, %v; want none", len(keys), err)
	}
	wantNoDocument(t, r, p, "doc-"+sfx)
	_, err = r.Content(ctx, p, "content-"+sfx)
	wantKind(t, err, carnet.KindNotFound, "Content")
	_, err = r.SubmissionSet(ctx, p, "set-"+sfx)
	wantKind(t, err, carnet.KindNotFound, "SubmissionSet")
	if items, err := r.FindItems(ctx, p, carnet.ItemFilter{}); err != nil || len(items) != 0 {
		t.Fatalf("FindItems: got %v, %v; want none", itemIDs(items), err)
	}
	for _, id := range []string{"doc-" + sfx, "content-" + sfx, "set-" + sfx, "item-" + sfx} {
		_, err = r.Route(ctx, id)
		wantKind(t, err, carnet.KindNotFound, "Route("+id+")")
	}
}

// wantAllOf checks that everything fullWrite(p, sfx) writes is visible in r.
func wantAllOf(t tb, r carnet.Reader, p carnet.PatientKey, sfx string) {
	t.Helper()
	ctx := context.Background()
	if got, err := r.Patient(ctx, p); err != nil {
		t.Fatalf("Patient: %v", err)
	} else if d := PatientRowDiff(got, NewPatientRow(p, "tok-"+sfx)); d != "" {
		t.Fatalf("Patient: %s", d)
	}
	if got, err := r.PatientByToken(ctx, "tok-"+sfx); err != nil || got.Key != p {
		t.Fatalf("PatientByToken: got %q, %v; want %s", got.Key, err, p)
	}
	if keys, err := r.DataKeys(ctx, p); err != nil || len(keys) != 1 || keys[0].ID != "key-"+sfx {
		t.Fatalf("DataKeys: got %v, %v; want key-%s", keys, err, sfx)
	}
	wantDocument(t, r, NewDocumentRow(p, "doc-"+sfx))
	if b, err := r.Content(ctx, p, "content-"+sfx); err != nil || !bytes.Equal(b, []byte("bytes-"+sfx)) {
		t.Fatalf("Content: got %q, %v", b, err)
	}
	want := NewSubmissionSetRow(p, "set-"+sfx)
	if got, err := r.SubmissionSet(ctx, p, want.ID); err != nil {
		t.Fatalf("SubmissionSet: %v", err)
	} else if d := SubmissionSetRowDiff(got, want); d != "" {
		t.Fatalf("SubmissionSet: %s", d)
	}
	if got, err := r.SubmissionSetByUniqueID(ctx, p, want.Filer, want.UniqueID); err != nil || got.ID != want.ID {
		t.Fatalf("SubmissionSetByUniqueID: got %q, %v", got.ID, err)
	}
	if sets, err := r.FindSubmissionSets(ctx, p, carnet.SubmissionSetFilter{}); err != nil || !slices.Equal(ids(sets), []string{want.ID}) {
		t.Fatalf("FindSubmissionSets: got %v, %v; want [%s]", ids(sets), err, want.ID)
	}
	wantItems(t, r, p, carnet.ItemFilter{}, NewItemRow(p, "item-"+sfx, "logical-doc-"+sfx))
	for _, id := range []string{"doc-" + sfx, "content-" + sfx, "set-" + sfx, "item-" + sfx} {
		if got, err := r.Route(ctx, id); err != nil || got != p {
			t.Fatalf("Route(%s): got %q, %v; want %s", id, got, err, p)
		}
	}
}

func testUpdateRollsBackOnError(t *testing.T, s carnet.Store) {
	existing := NewDocumentRow("p0", "doc-existing")
	insertDocuments(t, s, existing)

	err := update(s, func(ctx context.Context, tx carnet.Tx) error {
		if err := fullWrite(ctx, tx, "p1", "1", &existing); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update: got error %v, want fn's error", err)
	}
	wantNoneOf(t, s, "p1", "1")
	wantDocument(t, s, existing)

	// Nothing was reserved either: the same writes succeed now.
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error { return fullWrite(ctx, tx, "p1", "1", nil) })
	wantAllOf(t, s, "p1", "1")
}

func testUpdateRollsBackOnConflict(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	taken := NewDocumentRow("p1", "doc-taken")
	insertDocuments(t, s, taken)

	err := update(s, func(ctx context.Context, tx carnet.Tx) error {
		if err := fullWrite(ctx, tx, "p2", "2", nil); err != nil {
			return err
		}
		if err := tx.InsertDocument(ctx, NewDocumentRow("p1", "doc-new")); err != nil {
			return err
		}
		dup := NewDocumentRow("p1", "doc-dup")
		dup.UniqueID = taken.UniqueID
		if err := tx.InsertDocument(ctx, dup); err != nil {
			return err
		}
		return tx.InsertDocument(ctx, NewDocumentRow("p1", "doc-after"))
	})
	wantKind(t, err, carnet.KindConflict, "Update with a duplicate uniqueId in the middle")
	wantNoneOf(t, s, "p2", "2")
	for _, id := range []string{"doc-new", "doc-dup", "doc-after"} {
		wantNoDocument(t, s, "p1", id)
	}
	docs, err := s.FindDocuments(ctx, "p1", carnet.DocumentFilter{AllVersions: true})
	if err != nil || !slices.Equal(ids(docs), []string{"doc-taken"}) {
		t.Fatalf("FindDocuments after a failed Update: got %v, %v; want [doc-taken]", ids(docs), err)
	}
}

func testTxReadsOwnWrites(t *testing.T, s carnet.Store) {
	existing := NewDocumentRow("p1", "doc-existing")
	insertDocuments(t, s, existing)
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
		if err := checkIn(func(t tb) { wantNoneOf(t, tx, "p1", "1") }); err != nil {
			return err
		}
		if err := fullWrite(ctx, tx, "p1", "1", &existing); err != nil {
			return err
		}
		return checkIn(func(t tb) {
			wantAllOf(t, tx, "p1", "1")
			got, err := tx.FindDocuments(ctx, "p1", carnet.DocumentFilter{Statuses: []carnet.DocumentStatus{carnet.StatusDeleted}})
			if err != nil || !slices.Equal(ids(got), []string{"doc-existing"}) {
				t.Fatalf("FindDocuments(deleted) in the tx: got %v, %v; want [doc-existing]", ids(got), err)
			}
		})
	})
	wantAllOf(t, s, "p1", "1")
}

func testUncommittedInvisible(t *testing.T, s carnet.Store) {
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
		if err := fullWrite(ctx, tx, "p1", "1", nil); err != nil {
			return err
		}
		return checkIn(func(t tb) { wantNoneOf(t, s, "p1", "1") }) // the store, outside the tx
	})
	wantAllOf(t, s, "p1", "1")
}

func testConcurrentUpdates(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	const writers, perWriter = 16, 8
	putPatients(t, s, NewPatientRow("counter"))

	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter*2)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				sfx := fmt.Sprintf("%d-%d", w, i)
				errs <- update(s, func(ctx context.Context, tx carnet.Tx) error {
					return fullWrite(ctx, tx, carnet.PatientKey("p-"+sfx), sfx, nil)
				})
				// A read-modify-write of one shared record: Update is one
				// serializable transaction, so no increment is lost.
				errs <- update(s, func(ctx context.Context, tx carnet.Tx) error {
					p, err := tx.Patient(ctx, "counter")
					if err != nil {
						return err
					}
					p.Version++
					return tx.PutPatient(ctx, p)
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Update: %v", err)
		}
	}
	for w := range writers {
		for i := range perWriter {
			sfx := fmt.Sprintf("%d-%d", w, i)
			wantAllOf(t, s, carnet.PatientKey("p-"+sfx), sfx)
		}
	}
	p, err := s.Patient(ctx, "counter")
	if err != nil {
		t.Fatalf("Patient(counter): %v", err)
	}
	if want := 1 + writers*perWriter; p.Version != want {
		t.Fatalf("Patient(counter).Version after %d increments: got %d, want %d", writers*perWriter, p.Version, want)
	}
}

func testConcurrentSameUniqueID(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	const writers = 32
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for w := range writers {
		wg.Go(func() {
			d := NewDocumentRow("p1", fmt.Sprintf("doc-%02d", w))
			d.UniqueID = "1.2.250.1.999.1.1.same"
			errs[w] = update(s, func(ctx context.Context, tx carnet.Tx) error { return tx.InsertDocument(ctx, d) })
		})
	}
	wg.Wait()
	stored := 0
	for w, err := range errs {
		switch {
		case err == nil:
			stored++
		case carnet.IsKind(err, carnet.KindConflict):
		default:
			t.Errorf("writer %d: got %v, want nil or a conflict", w, err)
		}
	}
	if stored != 1 {
		t.Fatalf("concurrent inserts of one uniqueId: %d succeeded, want exactly 1", stored)
	}
	docs, err := s.FindDocuments(ctx, "p1", carnet.DocumentFilter{AllVersions: true})
	if err != nil || len(docs) != 1 {
		t.Fatalf("FindDocuments: got %d rows, %v; want 1", len(docs), err)
	}
}

func testContextCanceled(t *testing.T, s carnet.Store) {
	insertDocuments(t, s, NewDocumentRow("p1", "doc-1"))
	putPatients(t, s, NewPatientRow("p1", "tok-1"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	reads := []struct {
		name string
		fn   func() error
	}{
		{"Patient", func() error { _, err := s.Patient(ctx, "p1"); return err }},
		{"PatientByToken", func() error { _, err := s.PatientByToken(ctx, "tok-1"); return err }},
		{"Document", func() error { _, err := s.Document(ctx, "p1", "doc-1"); return err }},
		{"FindDocuments", func() error { _, err := s.FindDocuments(ctx, "p1", carnet.DocumentFilter{}); return err }},
		{"Route", func() error { _, err := s.Route(ctx, "doc-1"); return err }},
		{"FindItems", func() error { _, err := s.FindItems(ctx, "p1", carnet.ItemFilter{}); return err }},
	}
	for _, r := range reads {
		if err := r.fn(); err == nil {
			t.Errorf("%s with a canceled context: got nil error", r.name)
		}
	}

	err := s.Update(ctx, func(tx carnet.Tx) error {
		return tx.InsertDocument(ctx, NewDocumentRow("p1", "doc-2"))
	})
	if err == nil {
		t.Errorf("Update with a canceled context: got nil error")
	}
	wantNoDocument(t, s, "p1", "doc-2")

	// Canceled while fn runs: the tx's next call fails, nothing is kept.
	ctx, cancel = context.WithCancel(context.Background())
	err = s.Update(ctx, func(tx carnet.Tx) error {
		if err := tx.InsertDocument(ctx, NewDocumentRow("p1", "doc-3")); err != nil {
			return err
		}
		cancel()
		return tx.InsertDocument(ctx, NewDocumentRow("p1", "doc-4"))
	})
	if err == nil {
		t.Errorf("Update canceled midway: got nil error")
	}
	wantNoDocument(t, s, "p1", "doc-3")
	wantNoDocument(t, s, "p1", "doc-4")
}
