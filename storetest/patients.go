package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/carnet-sante/carnet"
)

func testPatientRoundTrip(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	paris := time.FixedZone("Europe/Paris", 3600)
	want := NewPatientRow("p1", "tok-a", "tok-b")
	want.Created = time.Date(2025, 1, 2, 3, 4, 5, 678_000_000, paris)
	want.Updated = want.Created.Add(90 * time.Minute)
	want.Sealed = NewContent(2000)
	putPatients(t, s, want)

	got, err := s.Patient(ctx, "p1")
	if err != nil {
		t.Fatalf("Patient: %v", err)
	}
	if d := PatientRowDiff(got, want); d != "" {
		t.Fatalf("Patient: %s", d)
	}

	closed := NewPatientRow("p2")
	closed.State = carnet.RecordClosed
	putPatients(t, s, closed)
	got, err = s.Patient(ctx, "p2")
	if err != nil {
		t.Fatalf("Patient(p2): %v", err)
	}
	if d := PatientRowDiff(got, closed); d != "" {
		t.Fatalf("Patient(p2) without tokens: %s", d)
	}
}

func testPatientVersion(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	v1 := NewPatientRow("p1", "tok-a")
	putPatients(t, s, v1)

	v2 := v1
	v2.Version = 2
	v2.State = carnet.RecordClosed
	v2.Sealed = []byte("second version")
	v2.Updated = Epoch.Add(time.Hour)
	putPatients(t, s, v2)

	for _, tc := range []struct {
		name    string
		version int
	}{
		{"same version again", 2},
		{"stale version", 1},
		{"version skipped", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := v2
			bad.Version = tc.version
			bad.Sealed = []byte("must not be stored")
			err := update(s, func(ctx context.Context, tx carnet.Tx) error { return tx.PutPatient(ctx, bad) })
			wantKind(t, err, carnet.KindConflict, "PutPatient")
			got, err := s.Patient(ctx, "p1")
			if err != nil {
				t.Fatalf("Patient: %v", err)
			}
			if d := PatientRowDiff(got, v2); d != "" {
				t.Fatalf("after a refused PutPatient: %s", d)
			}
		})
	}
}

func testPatientTokens(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	p1 := NewPatientRow("p1", "tok-a", "tok-b")
	p2 := NewPatientRow("p2", "tok-c")
	putPatients(t, s, p1, p2)

	byToken := func(token string, want carnet.PatientKey) {
		t.Helper()
		got, err := s.PatientByToken(ctx, token)
		if want == "" {
			wantKind(t, err, carnet.KindNotFound, "PatientByToken("+token+")")
			return
		}
		if err != nil {
			t.Fatalf("PatientByToken(%s): %v", token, err)
		}
		if got.Key != want {
			t.Fatalf("PatientByToken(%s): got %s, want %s", token, got.Key, want)
		}
	}
	byToken("tok-a", "p1")
	byToken("tok-b", "p1")
	byToken("tok-c", "p2")
	byToken("tok-unknown", "")

	// A token of another record is refused on insert and on update.
	p3 := NewPatientRow("p3", "tok-d", "tok-a")
	err := update(s, func(ctx context.Context, tx carnet.Tx) error { return tx.PutPatient(ctx, p3) })
	wantKind(t, err, carnet.KindConflict, "PutPatient(new record, token of another)")
	_, err = s.Patient(ctx, "p3")
	wantKind(t, err, carnet.KindNotFound, "Patient(p3) after refused insert")
	byToken("tok-d", "")

	p2v2 := p2
	p2v2.Version = 2
	p2v2.IdentifierTokens = []string{"tok-c", "tok-b"}
	err = update(s, func(ctx context.Context, tx carnet.Tx) error { return tx.PutPatient(ctx, p2v2) })
	wantKind(t, err, carnet.KindConflict, "PutPatient(update, token of another)")
	byToken("tok-b", "p1")

	// Re-putting a record with its own tokens is fine; dropping a token
	// unbinds it, and another record may then take it.
	p1v2 := p1
	p1v2.Version = 2
	p1v2.IdentifierTokens = []string{"tok-a", "tok-e"}
	putPatients(t, s, p1v2)
	byToken("tok-a", "p1")
	byToken("tok-e", "p1")
	byToken("tok-b", "")
	got, err := s.Patient(ctx, "p1")
	if err != nil {
		t.Fatalf("Patient(p1): %v", err)
	}
	if d := PatientRowDiff(got, p1v2); d != "" {
		t.Fatalf("Patient(p1) after token change: %s", d)
	}
	putPatients(t, s, p2v2)
	byToken("tok-b", "p2")
}

func testPatientNotFound(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	putPatients(t, s, NewPatientRow("p1", "tok-a"))
	_, err := s.Patient(ctx, "nobody")
	wantKind(t, err, carnet.KindNotFound, "Patient(nobody)")
	_, err = s.PatientByToken(ctx, "nothing")
	wantKind(t, err, carnet.KindNotFound, "PatientByToken(nothing)")
}

func testDataKeys(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	keys, err := s.DataKeys(ctx, "p1")
	if err != nil {
		t.Fatalf("DataKeys of a patient with none: %v", err)
	}
	if len(keys) != 0 {
		t.Fatalf("DataKeys of a patient with none: got %d keys, want 0", len(keys))
	}

	// Stored newest first, so that an implementation returning insertion
	// order fails.
	k3 := NewWrappedKey("k-a", Epoch.Add(48*time.Hour))
	k1 := NewWrappedKey("k-z", Epoch)
	k2 := NewWrappedKey("k-m", Epoch.Add(24*time.Hour))
	k2.KEKID = "kek-2"
	other := NewWrappedKey("k9", Epoch.Add(-time.Hour))
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
		for _, k := range []carnet.WrappedKey{k3, k1} {
			if err := tx.PutDataKey(ctx, "p1", k); err != nil {
				return err
			}
		}
		return tx.PutDataKey(ctx, "p2", other)
	})
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error { return tx.PutDataKey(ctx, "p1", k2) })

	keys, err = s.DataKeys(ctx, "p1")
	if err != nil {
		t.Fatalf("DataKeys: %v", err)
	}
	want := []carnet.WrappedKey{k1, k2, k3}
	if len(keys) != len(want) {
		t.Fatalf("DataKeys: got %d keys, want %d", len(keys), len(want))
	}
	for i := range want {
		if d := WrappedKeyDiff(keys[i], want[i]); d != "" {
			t.Fatalf("DataKeys[%d]: %s", i, d)
		}
	}

	dup := NewWrappedKey("k-z", Epoch.Add(72*time.Hour))
	err = update(s, func(ctx context.Context, tx carnet.Tx) error { return tx.PutDataKey(ctx, "p1", dup) })
	wantKind(t, err, carnet.KindConflict, "PutDataKey(duplicate id)")
	if keys, _ := s.DataKeys(ctx, "p1"); len(keys) != 3 {
		t.Fatalf("DataKeys after a refused duplicate: got %d keys, want 3", len(keys))
	}
	// Ids are unique per patient only.
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
		return tx.PutDataKey(ctx, "p2", NewWrappedKey("k-z", Epoch))
	})
	if keys, _ := s.DataKeys(ctx, "p2"); len(keys) != 2 {
		t.Fatalf("DataKeys(p2): got %d keys, want 2", len(keys))
	}

	// DropUnusedDataKeys deletes the keys of a key no record has, and
	// only those.
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error { return tx.PutPatient(ctx, NewPatientRow("p1")) })
	var dropped [2]int
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
		var err error
		if dropped[0], err = tx.DropUnusedDataKeys(ctx, "p1"); err != nil {
			return err
		}
		dropped[1], err = tx.DropUnusedDataKeys(ctx, "p2")
		return err
	})
	if dropped != [2]int{0, 2} {
		t.Errorf("DropUnusedDataKeys: dropped %d of a record's keys and %d of an unused key's, want 0 and 2", dropped[0], dropped[1])
	}
	if keys, _ := s.DataKeys(ctx, "p1"); len(keys) != 3 {
		t.Errorf("DataKeys(p1) after dropping unused keys: %d, want 3", len(keys))
	}
	if keys, _ := s.DataKeys(ctx, "p2"); len(keys) != 0 {
		t.Errorf("DataKeys(p2) after dropping them: %d, want 0", len(keys))
	}

	// Key changes: noted in order, read on from a seq; a shredding
	// deletes every key of the record and is noted too; a transaction
	// that fails notes nothing.
	if cs, err := s.KeyChanges(ctx, 0, 10); err != nil || len(cs) != 0 {
		t.Fatalf("KeyChanges of a new store: %v, %v; want none", cs, err)
	}
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error { return tx.NoteKeyChange(ctx, "p2") })
	err = update(s, func(ctx context.Context, tx carnet.Tx) error {
		if err := tx.NoteKeyChange(ctx, "p-failed"); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("failing Update: %v", err)
	}
	var shredded int
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) (err error) {
		shredded, err = tx.ShredDataKeys(ctx, "p1")
		return err
	})
	if keys, _ := s.DataKeys(ctx, "p1"); shredded != 3 || len(keys) != 0 {
		t.Errorf("ShredDataKeys(p1): %d deleted, %d left; want 3, 0", shredded, len(keys))
	}
	cs, err := s.KeyChanges(ctx, 0, 10)
	if err != nil || len(cs) != 2 || cs[0].Patient != "p2" || cs[1].Patient != "p1" || cs[1].Seq <= cs[0].Seq {
		t.Fatalf("KeyChanges: %+v, %v; want p2 then p1, in order", cs, err)
	}
	if rest, err := s.KeyChanges(ctx, cs[0].Seq, 10); err != nil || len(rest) != 1 || rest[0] != cs[1] {
		t.Errorf("KeyChanges after the first: %+v, %v; want the second only", rest, err)
	}
	if rest, err := s.KeyChanges(ctx, 0, 1); err != nil || len(rest) != 1 || rest[0] != cs[0] {
		t.Errorf("KeyChanges limited to 1: %+v, %v", rest, err)
	}
	if _, err := s.KeyChanges(ctx, 0, 0); !carnet.IsKind(err, carnet.KindInvalid) {
		t.Errorf("KeyChanges without a limit: %v, want KindInvalid", err)
	}
}

// Whole-store tools visit every record by key, in pages.
func testPatientKeys(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	var want []carnet.PatientKey
	for i := range 5 {
		k := carnet.PatientKey(fmt.Sprintf("pk-%d-%s", i, NewID("")))
		want = append(want, k)
		MustUpdate(t, s, func(tx carnet.Tx) error { return tx.PutPatient(ctx, NewPatientRow(k)) })
	}
	slices.Sort(want)
	var got []carnet.PatientKey
	after := carnet.PatientKey("")
	for pages := 0; pages < 10; pages++ {
		page, err := s.PatientKeys(ctx, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 2 {
			t.Fatalf("page of %d keys, limit 2", len(page))
		}
		got = append(got, page...)
		after = page[len(page)-1]
	}
	if !slices.Equal(got, want) {
		t.Errorf("keys %v, want %v", got, want)
	}
	if _, err := s.PatientKeys(ctx, "", 0); !carnet.IsKind(err, carnet.KindInvalid) {
		t.Errorf("limit 0: %v, want KindInvalid", err)
	}
}

// A record's stamp changes with every change of its documents, and only
// then: what a cache of its clear fields relies on.
func testRecordStamp(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	p := carnet.PatientKey(NewID("stamp"))
	MustUpdate(t, s, func(tx carnet.Tx) error { return tx.PutPatient(ctx, NewPatientRow(p)) })
	stamp := func() string {
		t.Helper()
		v, err := s.RecordStamp(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	empty := stamp()
	d := NewDocumentRow(p, NewID("doc"))
	MustUpdate(t, s, func(tx carnet.Tx) error { return tx.InsertDocument(ctx, d) })
	one := stamp()
	if one == empty {
		t.Fatal("the stamp did not change when a document was filed")
	}
	if again := stamp(); again != one {
		t.Errorf("the stamp changed without a change: %s then %s", one, again)
	}
	// A new metadata version (PDSm): the old row rewritten, a new one inserted.
	next := NewDocumentRow(p, NewID("doc"))
	next.LogicalID, next.UniqueID, next.Version = d.LogicalID, d.UniqueID, 2
	next.Date = d.Date.Add(time.Second)
	d.Latest = false
	MustUpdate(t, s, func(tx carnet.Tx) error {
		if err := tx.UpdateDocument(ctx, d); err != nil {
			return err
		}
		return tx.InsertDocument(ctx, next)
	})
	if stamp() == one {
		t.Error("the stamp did not change with a new metadata version")
	}
	// Another record's change does not move it.
	before := stamp()
	q := carnet.PatientKey(NewID("other"))
	MustUpdate(t, s, func(tx carnet.Tx) error {
		if err := tx.PutPatient(ctx, NewPatientRow(q)); err != nil {
			return err
		}
		return tx.InsertDocument(ctx, NewDocumentRow(q, NewID("doc")))
	})
	if stamp() != before {
		t.Error("another record's filing changed this record's stamp")
	}
	// A filing that rolls back leaves the stamp as it was: a cache made
	// at this stamp still holds.
	err := s.Update(ctx, func(tx carnet.Tx) error {
		if err := tx.InsertDocument(ctx, NewDocumentRow(p, NewID("doc"))); err != nil {
			return err
		}
		return errors.New("the filing fails after its document was written")
	})
	if err == nil {
		t.Fatal("the failing Update succeeded")
	}
	if got := stamp(); got != before {
		t.Errorf("a rolled-back filing moved the stamp: %s then %s", before, got)
	}
	// And the next change still moves it, to a value never seen before.
	MustUpdate(t, s, func(tx carnet.Tx) error { return tx.InsertDocument(ctx, NewDocumentRow(p, NewID("doc"))) })
	if got := stamp(); got == before || got == one || got == empty {
		t.Errorf("the stamp after a new filing (%s) is one it had before", got)
	}
}
