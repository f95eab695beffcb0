package storetest

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/carnet-sante/carnet"
)

func testRoute(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	d := NewDocumentRow("p1", "doc-1")
	set := NewSubmissionSetRow("p2", "set-1")
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
		if err := tx.InsertDocument(ctx, d); err != nil {
			return err
		}
		if err := tx.PutContent(ctx, "p1", "content-1", []byte("x")); err != nil {
			return err
		}
		return tx.InsertSubmissionSet(ctx, set)
	})
	for _, tc := range []struct {
		id   string
		want carnet.PatientKey
	}{
		{"doc-1", "p1"},
		{"content-1", "p1"},
		{"set-1", "p2"},
	} {
		got, err := s.Route(ctx, tc.id)
		if err != nil {
			t.Fatalf("Route(%s): %v", tc.id, err)
		}
		if got != tc.want {
			t.Errorf("Route(%s): got %s, want %s", tc.id, got, tc.want)
		}
	}
	_, err := s.Route(ctx, "unknown")
	wantKind(t, err, carnet.KindNotFound, "Route(unknown)")
}

func testIDsUniqueAcrossPatients(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
		if err := tx.InsertDocument(ctx, NewDocumentRow("p1", "doc-1")); err != nil {
			return err
		}
		if err := tx.PutContent(ctx, "p1", "content-1", []byte("x")); err != nil {
			return err
		}
		return tx.InsertSubmissionSet(ctx, NewSubmissionSetRow("p1", "set-1"))
	})
	for _, tc := range []struct {
		name string
		fn   func(ctx context.Context, tx carnet.Tx) error
	}{
		{"document", func(ctx context.Context, tx carnet.Tx) error {
			return tx.InsertDocument(ctx, NewDocumentRow("p2", "doc-1"))
		}},
		{"content", func(ctx context.Context, tx carnet.Tx) error {
			return tx.PutContent(ctx, "p2", "content-1", []byte("y"))
		}},
		{"submission set", func(ctx context.Context, tx carnet.Tx) error {
			return tx.InsertSubmissionSet(ctx, NewSubmissionSetRow("p2", "set-1"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantKind(t, update(s, tc.fn), carnet.KindConflict, tc.name+" id of another patient")
		})
	}
	for _, id := range []string{"doc-1", "content-1", "set-1"} {
		if p, err := s.Route(ctx, id); err != nil || p != "p1" {
			t.Errorf("Route(%s) after refused reuse: got %q, %v; want p1", id, p, err)
		}
	}
	wantNoDocument(t, s, "p2", "doc-1")
	_, err := s.Content(ctx, "p2", "content-1")
	wantKind(t, err, carnet.KindNotFound, "Content(p2, content-1)")
	_, err = s.SubmissionSet(ctx, "p2", "set-1")
	wantKind(t, err, carnet.KindNotFound, "SubmissionSet(p2, set-1)")
}

func testDocumentRoundTrip(t *testing.T, s carnet.Store) {
	paris := time.FixedZone("Europe/Paris", 3600)
	full := NewDocumentRow("p1", "doc-full")
	full.Date = time.Date(2025, 6, 7, 8, 9, 10, 123_000_000, paris)
	full.Created = time.Date(1999, 12, 31, 23, 59, 59, 999_000_000, paris)
	full.PeriodStart = time.Date(1969, 7, 20, 20, 17, 40, 1_000_000, time.UTC)
	full.PeriodEnd = time.Date(2031, 1, 1, 0, 0, 0, 0, paris)
	full.Version = 7
	full.Status = carnet.StatusArchived
	full.Tokens = append(full.Tokens, carnet.Token{Kind: "author.family", Value: "blind:ÉÈ|x\x00y"})
	full.Sealed = NewContent(64 << 10)

	bare := NewDocumentRow("p1", "doc-bare")
	bare.Created, bare.PeriodStart, bare.PeriodEnd = time.Time{}, time.Time{}, time.Time{}
	bare.Tokens = nil
	bare.SubmissionSet = ""
	bare.LogicalID = "logical-bare"

	insertDocuments(t, s, full, bare)
	wantDocument(t, s, full)
	wantDocument(t, s, bare)
}

func testDocumentUniqueID(t *testing.T, s carnet.Store) {
	d1 := NewDocumentRow("p1", "doc-1")
	insertDocuments(t, s, d1)

	dup := NewDocumentRow("p1", "doc-2")
	dup.UniqueID = d1.UniqueID
	err := update(s, func(ctx context.Context, tx carnet.Tx) error { return tx.InsertDocument(ctx, dup) })
	wantKind(t, err, carnet.KindConflict, "InsertDocument(same UniqueID as a latest document)")
	wantNoDocument(t, s, "p1", "doc-2")

	// The same uniqueId under another patient is another document.
	other := NewDocumentRow("p2", "doc-3")
	other.UniqueID = d1.UniqueID
	insertDocuments(t, s, other)
	wantDocument(t, s, other)

	// So is the same uniqueId filed by another filer: a uniqueId is unique
	// per record and filer.
	otherFiler := NewDocumentRow("p1", "doc-5")
	otherFiler.UniqueID, otherFiler.Filer = d1.UniqueID, "professional|810000000002"
	insertDocuments(t, s, otherFiler)
	wantDocument(t, s, otherFiler)
	again := NewDocumentRow("p1", "doc-6")
	again.UniqueID, again.Filer = d1.UniqueID, otherFiler.Filer
	err = update(s, func(ctx context.Context, tx carnet.Tx) error { return tx.InsertDocument(ctx, again) })
	wantKind(t, err, carnet.KindConflict, "InsertDocument(same UniqueID and filer as a latest document)")

	// Older metadata versions share the uniqueId of the latest one.
	old := NewDocumentRow("p1", "doc-4")
	old.UniqueID = d1.UniqueID
	old.Latest = false
	insertDocuments(t, s, old)
	wantDocument(t, s, old)

	// Whatever the status, a latest document holds its uniqueId.
	deleted := d1
	deleted.Status = carnet.StatusDeleted
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error { return tx.UpdateDocument(ctx, deleted) })
	err = update(s, func(ctx context.Context, tx carnet.Tx) error { return tx.InsertDocument(ctx, dup) })
	wantKind(t, err, carnet.KindConflict, "InsertDocument(same UniqueID as a deleted latest document)")

	// Making an old version latest again while another is latest is refused too.
	relatest := old
	relatest.Latest = true
	err = update(s, func(ctx context.Context, tx carnet.Tx) error { return tx.UpdateDocument(ctx, relatest) })
	wantKind(t, err, carnet.KindConflict, "UpdateDocument(second latest with the same UniqueID)")
	wantDocument(t, s, old)
}

func testUniqueIDRecords(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	a := NewDocumentRow("p2", "doc-1")
	b := NewDocumentRow("p1", "doc-2")
	b.UniqueID = a.UniqueID
	// An older version only: its record does not hold the uniqueId.
	old := NewDocumentRow("p3", "doc-3")
	old.UniqueID, old.Latest = a.UniqueID, false
	other := NewDocumentRow("p4", "doc-4")
	other.UniqueID = "2.25.999"
	insertDocuments(t, s, a, b, old, other)
	check := func(t *testing.T, r carnet.Reader) {
		got, err := r.UniqueIDRecords(ctx, a.UniqueID, 10)
		if err != nil {
			t.Fatal(err)
		}
		if want := []carnet.PatientKey{"p1", "p2"}; !slices.Equal(got, want) {
			t.Errorf("UniqueIDRecords = %v, want %v (sorted, latest versions only)", got, want)
		}
		if got, _ := r.UniqueIDRecords(ctx, a.UniqueID, 1); len(got) != 1 {
			t.Errorf("UniqueIDRecords(limit 1) = %v", got)
		}
		if got, err := r.UniqueIDRecords(ctx, "2.25.404", 10); err != nil || len(got) != 0 {
			t.Errorf("UniqueIDRecords(unknown) = %v, %v; want none", got, err)
		}
	}
	t.Run("store", func(t *testing.T) { check(t, s) })
	t.Run("tx", func(t *testing.T) {
		mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error { check(t, tx); return nil })
	})
}

func testSetUniqueIDRecords(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	a := NewSubmissionSetRow("p2", "set-a")
	b := NewSubmissionSetRow("p1", "set-b")
	b.UniqueID, b.Filer = a.UniqueID, "patient" // another filer, another record
	other := NewSubmissionSetRow("p3", "set-c")
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
		for _, set := range []carnet.SubmissionSetRow{a, b, other} {
			if err := tx.InsertSubmissionSet(ctx, set); err != nil {
				return err
			}
		}
		return nil
	})
	check := func(t *testing.T, r carnet.Reader) {
		got, err := r.SetUniqueIDRecords(ctx, a.UniqueID, 10)
		if err != nil {
			t.Fatal(err)
		}
		if want := []carnet.PatientKey{"p1", "p2"}; !slices.Equal(got, want) {
			t.Errorf("SetUniqueIDRecords = %v, want %v (sorted)", got, want)
		}
		if got, _ := r.SetUniqueIDRecords(ctx, a.UniqueID, 1); len(got) != 1 {
			t.Errorf("SetUniqueIDRecords(limit 1) = %v", got)
		}
		if got, err := r.SetUniqueIDRecords(ctx, "2.25.404", 10); err != nil || len(got) != 0 {
			t.Errorf("SetUniqueIDRecords(unknown) = %v, %v; want none", got, err)
		}
	}
	t.Run("store", func(t *testing.T) { check(t, s) })
	t.Run("tx", func(t *testing.T) {
		mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error { check(t, tx); return nil })
	})
}

func testDocumentDuplicateID(t *testing.T, s carnet.Store) {
	d1 := NewDocumentRow("p1", "doc-1")
	insertDocuments(t, s, d1)
	again := NewDocumentRow("p1", "doc-1")
	again.UniqueID = "another-unique-id"
	again.Latest = false
	again.Sealed = []byte("must not replace")
	err := update(s, func(ctx context.Context, tx carnet.Tx) error { return tx.InsertDocument(ctx, again) })
	wantKind(t, err, carnet.KindConflict, "InsertDocument(id in use)")
	wantDocument(t, s, d1)
}

// testDocumentNewVersion is the metadata update flow: the previous version
// stops being latest, the new one takes its uniqueId, in one transaction.
func testDocumentNewVersion(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	v1 := NewDocumentRow("p1", "doc-v1")
	insertDocuments(t, s, v1)

	v1old := v1
	v1old.Latest = false
	v1old.Status = carnet.StatusSuperseded
	v2 := NewDocumentRow("p1", "doc-v2")
	v2.LogicalID, v2.UniqueID, v2.Version = v1.LogicalID, v1.UniqueID, 2
	v2.Date = v1.Date.Add(time.Hour)
	v2.Tokens = append(v2.Tokens, LabelTokens(carnet.LabelMasquePS)...)

	// The new version first: the old one is still latest.
	err := update(s, func(ctx context.Context, tx carnet.Tx) error {
		if err := tx.InsertDocument(ctx, v2); err != nil {
			return err
		}
		return tx.UpdateDocument(ctx, v1old)
	})
	wantKind(t, err, carnet.KindConflict, "InsertDocument(new version before the old one stops being latest)")
	wantDocument(t, s, v1)
	wantNoDocument(t, s, "p1", "doc-v2")

	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
		if err := tx.UpdateDocument(ctx, v1old); err != nil {
			return err
		}
		return tx.InsertDocument(ctx, v2)
	})
	wantDocument(t, s, v1old)
	wantDocument(t, s, v2)

	got, err := s.FindDocuments(ctx, "p1", carnet.DocumentFilter{LogicalID: v1.LogicalID})
	if err != nil {
		t.Fatalf("FindDocuments: %v", err)
	}
	if g, w := ids(got), []string{"doc-v2"}; !slices.Equal(g, w) {
		t.Fatalf("FindDocuments(latest of the logical document): got %v, want %v", g, w)
	}
	got, err = s.FindDocuments(ctx, "p1", carnet.DocumentFilter{LogicalID: v1.LogicalID, AllVersions: true})
	if err != nil {
		t.Fatalf("FindDocuments: %v", err)
	}
	if g, w := ids(got), []string{"doc-v2", "doc-v1"}; !slices.Equal(g, w) {
		t.Fatalf("FindDocuments(all versions): got %v, want %v", g, w)
	}
}

func testUpdateDocument(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	d := NewDocumentRow("p1", "doc-1")
	insertDocuments(t, s, d)

	changed := d
	changed.Status = carnet.StatusArchived
	changed.Latest = false
	changed.Tokens = append(TypeTokens(TypeBio), LabelTokens(carnet.LabelMasquePS)...)
	changed.Sealed = []byte("new sealed metadata")
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error { return tx.UpdateDocument(ctx, changed) })
	wantDocument(t, s, changed)

	// Tokens are searched as rewritten, not as first inserted.
	for _, tc := range []struct {
		filter carnet.TokenFilter
		want   []string
	}{
		{carnet.TokenFilter{Kind: "type", Values: []string{TypeCR}}, nil},
		{carnet.TokenFilter{Kind: "type", Values: []string{TypeBio}}, []string{"doc-1"}},
		{carnet.TokenFilter{Kind: "label", Values: []string{carnet.LabelNormal}}, nil},
		{carnet.TokenFilter{Kind: "label", Values: []string{carnet.LabelMasquePS}}, []string{"doc-1"}},
	} {
		got, err := s.FindDocuments(ctx, "p1", carnet.DocumentFilter{AllVersions: true, Tokens: []carnet.TokenFilter{tc.filter}})
		if err != nil {
			t.Fatalf("FindDocuments: %v", err)
		}
		if g := ids(got); !slices.Equal(g, tc.want) && len(g)+len(tc.want) > 0 {
			t.Errorf("FindDocuments(%v) after UpdateDocument: got %v, want %v", tc.filter, g, tc.want)
		}
	}

	unknown := NewDocumentRow("p1", "doc-unknown")
	err := update(s, func(ctx context.Context, tx carnet.Tx) error { return tx.UpdateDocument(ctx, unknown) })
	wantKind(t, err, carnet.KindNotFound, "UpdateDocument(unknown id)")

	// Another patient's document is unknown to this patient.
	foreign := changed
	foreign.Patient = "p2"
	foreign.Sealed = []byte("must not be stored")
	err = update(s, func(ctx context.Context, tx carnet.Tx) error { return tx.UpdateDocument(ctx, foreign) })
	wantKind(t, err, carnet.KindNotFound, "UpdateDocument(id of another patient)")
	wantDocument(t, s, changed)
}

// findFixture files documents for p1 (and look-alikes for p2) covering every
// filter of DocumentFilter.
//
//	id      latest status     type date  created  period            set
//	doc-c1  yes    current    CR   E+1h  E-10d    [E-20d, E-15d]    S1
//	doc-b2  yes    archived   Bio  E+2h  E-5d     [E-12d, open)     S1
//	doc-d3  yes    deleted    CR   E+3h  unknown  (open, E-30d]     S1
//	doc-a4  yes    current    Bio  E+2h  E-1d     none              S2
//	doc-e5  no     current    CR   E     E-10d    [E-20d, E-15d]    S0  (older version of doc-c1)
func findFixture(t *testing.T, s carnet.Store) {
	t.Helper()
	day := 24 * time.Hour
	mk := func(id, typ string, status carnet.DocumentStatus, date, created, start, end time.Time, set string) carnet.DocumentRow {
		d := NewDocumentRow("p1", id)
		d.Tokens = slices.DeleteFunc(d.Tokens, func(tk carnet.Token) bool { return tk.Kind == "type" })
		d.Tokens = append(d.Tokens, TypeTokens(typ)...)
		d.Status, d.Date, d.Created, d.PeriodStart, d.PeriodEnd, d.SubmissionSet = status, date, created, start, end, set
		return d
	}
	var zero time.Time
	c1 := mk("doc-c1", TypeCR, carnet.StatusCurrent, Epoch.Add(time.Hour), Epoch.Add(-10*day), Epoch.Add(-20*day), Epoch.Add(-15*day), "S1")
	c1.Version = 2
	b2 := mk("doc-b2", TypeBio, carnet.StatusArchived, Epoch.Add(2*time.Hour), Epoch.Add(-5*day), Epoch.Add(-12*day), zero, "S1")
	b2.Tokens = append(b2.Tokens, LabelTokens(carnet.LabelMasquePS)...)
	d3 := mk("doc-d3", TypeCR, carnet.StatusDeleted, Epoch.Add(3*time.Hour), zero, zero, Epoch.Add(-30*day), "S1")
	a4 := mk("doc-a4", TypeBio, carnet.StatusCurrent, Epoch.Add(2*time.Hour), Epoch.Add(-day), zero, zero, "S2")
	e5 := mk("doc-e5", TypeCR, carnet.StatusCurrent, Epoch, Epoch.Add(-10*day), Epoch.Add(-20*day), Epoch.Add(-15*day), "S0")
	e5.LogicalID, e5.UniqueID, e5.Latest = c1.LogicalID, c1.UniqueID, false
	// Inserted in an order that is neither the date nor the id order.
	insertDocuments(t, s, e5, b2, c1, a4, d3)

	// Another patient's documents match every filter below; none may leak.
	var others []carnet.DocumentRow
	for _, d := range []carnet.DocumentRow{c1, b2, d3, a4, e5} {
		o := d
		o.Patient, o.ID = "p2", "p2-"+d.ID
		others = append(others, o)
	}
	insertDocuments(t, s, others...)
}

func testFindDocuments(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	findFixture(t, s)
	day := 24 * time.Hour
	tf := func(kind string, values ...string) carnet.TokenFilter {
		return carnet.TokenFilter{Kind: kind, Values: values}
	}
	at := func(d time.Duration) time.Time { return Epoch.Add(d) }
	var open time.Time
	for _, tc := range []struct {
		name   string
		filter carnet.DocumentFilter
		want   []string
	}{
		{"no filter: latest versions", carnet.DocumentFilter{}, []string{"doc-d3", "doc-a4", "doc-b2", "doc-c1"}},
		{"all versions", carnet.DocumentFilter{AllVersions: true}, []string{"doc-d3", "doc-a4", "doc-b2", "doc-c1", "doc-e5"}},
		{"status current", carnet.DocumentFilter{Statuses: []carnet.DocumentStatus{carnet.StatusCurrent}}, []string{"doc-a4", "doc-c1"}},
		{"status current or archived", carnet.DocumentFilter{Statuses: []carnet.DocumentStatus{carnet.StatusCurrent, carnet.StatusArchived}}, []string{"doc-a4", "doc-b2", "doc-c1"}},
		{"status superseded", carnet.DocumentFilter{Statuses: []carnet.DocumentStatus{carnet.StatusSuperseded}}, nil},
		{"type system|code", carnet.DocumentFilter{Tokens: []carnet.TokenFilter{tf("type", LOINC+"|"+TypeCR)}}, []string{"doc-d3", "doc-c1"}},
		{"type code alone", carnet.DocumentFilter{Tokens: []carnet.TokenFilter{tf("type", TypeBio)}}, []string{"doc-a4", "doc-b2"}},
		{"type code of another kind", carnet.DocumentFilter{Tokens: []carnet.TokenFilter{tf("class", TypeBio)}}, nil},
		{"type one of two (OR)", carnet.DocumentFilter{Tokens: []carnet.TokenFilter{tf("type", TypeBio, LOINC+"|"+TypeCR)}}, []string{"doc-d3", "doc-a4", "doc-b2", "doc-c1"}},
		{"type and label (AND)", carnet.DocumentFilter{Tokens: []carnet.TokenFilter{tf("type", TypeBio), tf("label", carnet.LabelMasquePS)}}, []string{"doc-b2"}},
		{"two label filters (AND)", carnet.DocumentFilter{Tokens: []carnet.TokenFilter{tf("label", carnet.LabelNormal), tf("label", carnet.LabelMasquePS)}}, []string{"doc-b2"}},
		{"unknown token", carnet.DocumentFilter{Tokens: []carnet.TokenFilter{tf("type", "00000-0")}}, nil},
		{"created range", carnet.DocumentFilter{Created: carnet.TimeRange{From: at(-6 * day), To: at(-day)}}, []string{"doc-b2"}},
		{"created from is inclusive", carnet.DocumentFilter{Created: carnet.TimeRange{From: at(-5 * day), To: Epoch}}, []string{"doc-a4", "doc-b2"}},
		{"created before (unknown never matches)", carnet.DocumentFilter{Created: carnet.TimeRange{To: at(-6 * day)}}, []string{"doc-c1"}},
		{"created after", carnet.DocumentFilter{Created: carnet.TimeRange{From: at(-6 * day)}}, []string{"doc-a4", "doc-b2"}},
		{"date range, to is exclusive", carnet.DocumentFilter{Date: carnet.TimeRange{From: at(2 * time.Hour), To: at(3 * time.Hour)}}, []string{"doc-a4", "doc-b2"}},
		{"date from", carnet.DocumentFilter{Date: carnet.TimeRange{From: at(3 * time.Hour)}}, []string{"doc-d3"}},
		{"date to, all versions", carnet.DocumentFilter{Date: carnet.TimeRange{To: at(2 * time.Hour)}, AllVersions: true}, []string{"doc-c1", "doc-e5"}},
		{"period overlaps a closed period", carnet.DocumentFilter{Period: carnet.TimeRange{From: at(-16 * day), To: at(-14 * day)}}, []string{"doc-c1"}},
		{"period end is inclusive", carnet.DocumentFilter{Period: carnet.TimeRange{From: at(-15 * day), To: at(-14 * day)}}, []string{"doc-c1"}},
		{"period filter to is exclusive", carnet.DocumentFilter{Period: carnet.TimeRange{From: at(-25 * day), To: at(-20 * day)}}, nil},
		{"period with open start", carnet.DocumentFilter{Period: carnet.TimeRange{From: at(-40 * day), To: at(-35 * day)}}, []string{"doc-d3"}},
		{"period with open end", carnet.DocumentFilter{Period: carnet.TimeRange{From: Epoch, To: at(day)}}, []string{"doc-b2"}},
		{"period filter open from", carnet.DocumentFilter{Period: carnet.TimeRange{To: at(-12 * day)}}, []string{"doc-d3", "doc-c1"}},
		{"period filter open to", carnet.DocumentFilter{Period: carnet.TimeRange{From: at(-16 * day)}}, []string{"doc-b2", "doc-c1"}},
		{"period after every closed period", carnet.DocumentFilter{Period: carnet.TimeRange{From: at(-13 * day)}}, []string{"doc-b2"}},
		{"logical id", carnet.DocumentFilter{LogicalID: "logical-doc-c1"}, []string{"doc-c1"}},
		{"logical id, all versions", carnet.DocumentFilter{LogicalID: "logical-doc-c1", AllVersions: true}, []string{"doc-c1", "doc-e5"}},
		{"submission set", carnet.DocumentFilter{SubmissionSet: "S1"}, []string{"doc-d3", "doc-b2", "doc-c1"}},
		{"submission set of an old version", carnet.DocumentFilter{SubmissionSet: "S0"}, nil},
		{"submission set, all versions", carnet.DocumentFilter{SubmissionSet: "S0", AllVersions: true}, []string{"doc-e5"}},
		{"everything together", carnet.DocumentFilter{
			Statuses:      []carnet.DocumentStatus{carnet.StatusCurrent},
			Tokens:        []carnet.TokenFilter{tf("type", TypeCR), tf("class", ClassCR)},
			Created:       carnet.TimeRange{From: at(-11 * day), To: at(-9 * day)},
			Date:          carnet.TimeRange{From: Epoch, To: at(4 * time.Hour)},
			Period:        carnet.TimeRange{From: at(-30 * day), To: open},
			AllVersions:   true,
			LogicalID:     "logical-doc-c1",
			SubmissionSet: "S1",
		}, []string{"doc-c1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.FindDocuments(ctx, "p1", tc.filter)
			if err != nil {
				t.Fatalf("FindDocuments: %v", err)
			}
			if g := ids(got); !slices.Equal(g, tc.want) && len(g)+len(tc.want) > 0 {
				t.Fatalf("FindDocuments: got %v, want %v", g, tc.want)
			}
			for _, d := range got {
				if d.Patient != "p1" {
					t.Fatalf("FindDocuments(p1) returned a row of %s", d.Patient)
				}
			}
		})
	}
}

func testFindDocumentsOrder(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	// Full rows come back, in order: Date descending, then id ascending.
	var want []carnet.DocumentRow
	for i, id := range []string{"z", "m", "a", "q", "b", "y"} {
		d := NewDocumentRow("p1", "doc-"+id)
		d.Date = Epoch.Add(time.Duration(i/2) * time.Millisecond) // pairs share a date
		d.Sealed = bytes.Repeat([]byte(id), 100)
		want = append(want, d)
	}
	insertDocuments(t, s, want...)
	slices.SortFunc(want, func(a, b carnet.DocumentRow) int {
		if c := b.Date.Compare(a.Date); c != 0 {
			return c
		}
		return bytes.Compare([]byte(a.ID), []byte(b.ID))
	})
	got, err := s.FindDocuments(ctx, "p1", carnet.DocumentFilter{})
	if err != nil {
		t.Fatalf("FindDocuments: %v", err)
	}
	if g, w := ids(got), ids(want); !slices.Equal(g, w) {
		t.Fatalf("FindDocuments order: got %v, want %v", g, w)
	}
	for i := range want {
		if d := DocumentRowDiff(got[i], want[i]); d != "" {
			t.Fatalf("FindDocuments[%d]: %s", i, d)
		}
	}
	// WithoutSealed: the same rows in the same order, every field but Sealed.
	bare, err := s.FindDocuments(ctx, "p1", carnet.DocumentFilter{WithoutSealed: true})
	if err != nil {
		t.Fatalf("FindDocuments WithoutSealed: %v", err)
	}
	if g, w := ids(bare), ids(want); !slices.Equal(g, w) {
		t.Fatalf("FindDocuments WithoutSealed order: got %v, want %v", g, w)
	}
	for i := range want {
		if bare[i].Sealed != nil {
			t.Fatalf("FindDocuments WithoutSealed[%d]: Sealed has %d bytes, want nil", i, len(bare[i].Sealed))
		}
		w := want[i]
		w.Sealed = nil
		if d := DocumentRowDiff(bare[i], w); d != "" {
			t.Fatalf("FindDocuments WithoutSealed[%d]: %s", i, d)
		}
	}
}

func testPatientIsolation(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	d := NewDocumentRow("p1", "doc-1")
	set := NewSubmissionSetRow("p1", "set-1")
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
		if err := tx.PutPatient(ctx, NewPatientRow("p1", "tok-1")); err != nil {
			return err
		}
		if err := tx.PutPatient(ctx, NewPatientRow("p2", "tok-2")); err != nil {
			return err
		}
		if err := tx.PutDataKey(ctx, "p1", NewWrappedKey("k1", Epoch)); err != nil {
			return err
		}
		if err := tx.InsertDocument(ctx, d); err != nil {
			return err
		}
		if err := tx.PutContent(ctx, "p1", d.ContentID, []byte("bytes")); err != nil {
			return err
		}
		return tx.InsertSubmissionSet(ctx, set)
	})

	check := func(t tb, r carnet.Reader) {
		t.Helper()
		wantNoDocument(t, r, "p2", d.ID)
		docs, err := r.FindDocuments(ctx, "p2", carnet.DocumentFilter{AllVersions: true})
		if err != nil || len(docs) != 0 {
			t.Fatalf("FindDocuments(p2): got %d rows, %v; want none", len(docs), err)
		}
		_, err = r.Content(ctx, "p2", d.ContentID)
		wantKind(t, err, carnet.KindNotFound, "Content(p2, content of p1)")
		_, err = r.SubmissionSet(ctx, "p2", set.ID)
		wantKind(t, err, carnet.KindNotFound, "SubmissionSet(p2, set of p1)")
		_, err = r.SubmissionSetByUniqueID(ctx, "p2", set.Filer, set.UniqueID)
		wantKind(t, err, carnet.KindNotFound, "SubmissionSetByUniqueID(p2, set of p1)")
		sets, err := r.FindSubmissionSets(ctx, "p2", carnet.SubmissionSetFilter{})
		if err != nil || len(sets) != 0 {
			t.Fatalf("FindSubmissionSets(p2): got %d rows, %v; want none", len(sets), err)
		}
		keys, err := r.DataKeys(ctx, "p2")
		if err != nil || len(keys) != 0 {
			t.Fatalf("DataKeys(p2): got %d keys, %v; want none", len(keys), err)
		}
		// And p1 still sees its own.
		wantDocument(t, r, d)
	}
	t.Run("store", func(t *testing.T) { check(t, s) })
	t.Run("tx", func(t *testing.T) {
		mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
			return checkIn(func(t tb) { check(t, tx) })
		})
	})
}

func testContent(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	big := NewContent(3 << 20)
	contents := map[string][]byte{
		"c-small": []byte("%PDF-1.4 sealed"),
		"c-big":   big,
		"c-zeros": make([]byte, 4096),
	}
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
		for id, b := range contents {
			if err := tx.PutContent(ctx, "p1", id, b); err != nil {
				return err
			}
		}
		return nil
	})
	for id, want := range contents {
		got, err := s.Content(ctx, "p1", id)
		if err != nil {
			t.Fatalf("Content(%s): %v", id, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("Content(%s): got %d bytes, want the %d bytes stored", id, len(got), len(want))
		}
	}
	_, err := s.Content(ctx, "p1", "c-unknown")
	wantKind(t, err, carnet.KindNotFound, "Content(unknown)")

	err = update(s, func(ctx context.Context, tx carnet.Tx) error {
		return tx.PutContent(ctx, "p1", "c-small", []byte("other"))
	})
	wantKind(t, err, carnet.KindConflict, "PutContent(id in use)")
	got, err := s.Content(ctx, "p1", "c-small")
	if err != nil || !bytes.Equal(got, contents["c-small"]) {
		t.Fatalf("Content after a refused PutContent: got %q, %v; want the original bytes", got, err)
	}
}
