package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/carnet-sante/carnet"
)

func testSubmissionSets(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	paris := time.FixedZone("Europe/Paris", 3600)
	set := NewSubmissionSetRow("p1", "set-1")
	set.Date = time.Date(2025, 2, 3, 4, 5, 6, 7_000_000, paris)
	set.Sealed = NewContent(10 << 10)
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error { return tx.InsertSubmissionSet(ctx, set) })

	got, err := s.SubmissionSet(ctx, "p1", "set-1")
	if err != nil {
		t.Fatalf("SubmissionSet: %v", err)
	}
	if d := SubmissionSetRowDiff(got, set); d != "" {
		t.Fatalf("SubmissionSet: %s", d)
	}
	got, err = s.SubmissionSetByUniqueID(ctx, "p1", set.Filer, set.UniqueID)
	if err != nil {
		t.Fatalf("SubmissionSetByUniqueID: %v", err)
	}
	if d := SubmissionSetRowDiff(got, set); d != "" {
		t.Fatalf("SubmissionSetByUniqueID: %s", d)
	}
	_, err = s.SubmissionSet(ctx, "p1", "set-unknown")
	wantKind(t, err, carnet.KindNotFound, "SubmissionSet(unknown)")
	_, err = s.SubmissionSetByUniqueID(ctx, "p1", set.Filer, "1.2.3.unknown")
	wantKind(t, err, carnet.KindNotFound, "SubmissionSetByUniqueID(unknown)")

	sameID := NewSubmissionSetRow("p1", "set-1")
	sameID.UniqueID = "1.2.3.another"
	err = update(s, func(ctx context.Context, tx carnet.Tx) error { return tx.InsertSubmissionSet(ctx, sameID) })
	wantKind(t, err, carnet.KindConflict, "InsertSubmissionSet(duplicate id)")

	sameUID := NewSubmissionSetRow("p1", "set-2")
	sameUID.UniqueID = set.UniqueID
	err = update(s, func(ctx context.Context, tx carnet.Tx) error { return tx.InsertSubmissionSet(ctx, sameUID) })
	wantKind(t, err, carnet.KindConflict, "InsertSubmissionSet(duplicate uniqueId)")
	_, err = s.SubmissionSet(ctx, "p1", "set-2")
	wantKind(t, err, carnet.KindNotFound, "SubmissionSet(set-2) after a refused insert")
	_, err = s.SubmissionSetByUniqueID(ctx, "p1", "patient", set.UniqueID)
	wantKind(t, err, carnet.KindNotFound, "SubmissionSetByUniqueID(another filer)")

	// Another filer may use the same uniqueId: each filer has its own.
	otherFiler := NewSubmissionSetRow("p1", "set-4")
	otherFiler.UniqueID, otherFiler.Filer = set.UniqueID, "patient"
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error { return tx.InsertSubmissionSet(ctx, otherFiler) })
	if got, err := s.SubmissionSetByUniqueID(ctx, "p1", "patient", set.UniqueID); err != nil || got.ID != "set-4" {
		t.Fatalf("SubmissionSetByUniqueID(p1, patient): got %q, %v; want set-4", got.ID, err)
	}

	// Another patient may use the same uniqueId.
	otherUID := NewSubmissionSetRow("p2", "set-3")
	otherUID.UniqueID = set.UniqueID
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error { return tx.InsertSubmissionSet(ctx, otherUID) })
	got, err = s.SubmissionSetByUniqueID(ctx, "p2", set.Filer, set.UniqueID)
	if err != nil {
		t.Fatalf("SubmissionSetByUniqueID(p2): %v", err)
	}
	if d := SubmissionSetRowDiff(got, otherUID); d != "" {
		t.Fatalf("SubmissionSetByUniqueID(p2): %s", d)
	}
	got, err = s.SubmissionSetByUniqueID(ctx, "p1", set.Filer, set.UniqueID)
	if err != nil || got.ID != "set-1" {
		t.Fatalf("SubmissionSetByUniqueID(p1): got %q, %v; want set-1", got.ID, err)
	}
}

func testFindSubmissionSets(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	mk := func(p carnet.PatientKey, id, source string, date time.Time) carnet.SubmissionSetRow {
		r := NewSubmissionSetRow(p, id)
		r.Date = date
		r.Tokens = []carnet.Token{{Kind: "source", Value: source}, {Kind: "author", Value: "rpps|" + id}}
		return r
	}
	rows := []carnet.SubmissionSetRow{
		mk("p1", "set-b", "src-1", Epoch.Add(time.Hour)),
		mk("p1", "set-a", "src-2", Epoch),
		mk("p1", "set-d", "src-1", Epoch.Add(3*time.Hour)),
		mk("p1", "set-c", "src-2", Epoch.Add(3*time.Hour)),
		mk("p2", "set-z", "src-1", Epoch.Add(2*time.Hour)),
	}
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
		for _, r := range rows {
			if err := tx.InsertSubmissionSet(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	tf := func(kind string, values ...string) carnet.TokenFilter {
		return carnet.TokenFilter{Kind: kind, Values: values}
	}
	for _, tc := range []struct {
		name   string
		filter carnet.SubmissionSetFilter
		want   []string
	}{
		{"all, newest first", carnet.SubmissionSetFilter{}, []string{"set-c", "set-d", "set-b", "set-a"}},
		{"source", carnet.SubmissionSetFilter{Tokens: []carnet.TokenFilter{tf("source", "src-1")}}, []string{"set-d", "set-b"}},
		{"source OR", carnet.SubmissionSetFilter{Tokens: []carnet.TokenFilter{tf("source", "src-1", "src-2")}}, []string{"set-c", "set-d", "set-b", "set-a"}},
		{"source AND author", carnet.SubmissionSetFilter{Tokens: []carnet.TokenFilter{tf("source", "src-2"), tf("author", "rpps|set-a")}}, []string{"set-a"}},
		{"no match", carnet.SubmissionSetFilter{Tokens: []carnet.TokenFilter{tf("source", "src-9")}}, nil},
		{"date range", carnet.SubmissionSetFilter{Date: carnet.TimeRange{From: Epoch.Add(time.Hour), To: Epoch.Add(3 * time.Hour)}}, []string{"set-b"}},
		{"date from", carnet.SubmissionSetFilter{Date: carnet.TimeRange{From: Epoch.Add(time.Hour)}}, []string{"set-c", "set-d", "set-b"}},
		{"date to and token", carnet.SubmissionSetFilter{Date: carnet.TimeRange{To: Epoch.Add(2 * time.Hour)}, Tokens: []carnet.TokenFilter{tf("source", "src-2")}}, []string{"set-a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.FindSubmissionSets(ctx, "p1", tc.filter)
			if err != nil {
				t.Fatalf("FindSubmissionSets: %v", err)
			}
			if g := ids(got); !slices.Equal(g, tc.want) && len(g)+len(tc.want) > 0 {
				t.Fatalf("FindSubmissionSets: got %v, want %v", g, tc.want)
			}
		})
	}
	got, err := s.FindSubmissionSets(ctx, "p1", carnet.SubmissionSetFilter{Tokens: []carnet.TokenFilter{tf("author", "rpps|set-b")}})
	if err != nil || len(got) != 1 {
		t.Fatalf("FindSubmissionSets(author): got %d rows, %v; want 1", len(got), err)
	}
	if d := SubmissionSetRowDiff(got[0], rows[0]); d != "" {
		t.Fatalf("FindSubmissionSets row: %s", d)
	}
}
