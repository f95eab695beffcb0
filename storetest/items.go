package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/carnet-sante/carnet"
)

// Codes the suite's items use.
const (
	LoincHb      = "718-7"  // hémoglobine
	LoincGlucose = "2345-7" // glycémie
	CategoryLab  = "laboratory"
)

// NewItemRow returns a laboratory Observation of p (haemoglobin, normal)
// extracted from the document with logicalId source, effective at Epoch.
func NewItemRow(p carnet.PatientKey, id, source string) carnet.ItemRow {
	tokens := carnet.CodingTokens(carnet.TokCode, carnet.Coding{System: LOINC, Code: LoincHb})
	tokens = append(tokens, carnet.Token{Kind: "category", Value: CategoryLab})
	return carnet.ItemRow{
		Patient:         p,
		ID:              id,
		Kind:            carnet.ItemObservation,
		SourceLogicalID: source,
		Effective:       Epoch,
		Tokens:          tokens,
		Sealed:          []byte("sealed-item:" + id),
	}
}

// ItemRowDiff describes how got differs from want, or returns "".
func ItemRowDiff(got, want carnet.ItemRow) string {
	var d differ
	d.eq("Patient", got.Patient, want.Patient)
	d.eq("ID", got.ID, want.ID)
	d.eq("Kind", got.Kind, want.Kind)
	d.eq("SourceLogicalID", got.SourceLogicalID, want.SourceLogicalID)
	d.time("Effective", got.Effective, want.Effective)
	d.tokens("Tokens", got.Tokens, want.Tokens)
	d.bytes("Sealed", got.Sealed, want.Sealed)
	return d.String()
}

func itemIDs(rows []carnet.ItemRow) []string {
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.ID)
	}
	return out
}

func insertItems(t *testing.T, s carnet.Store, rows ...carnet.ItemRow) {
	t.Helper()
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error { return tx.InsertItems(ctx, rows) })
}

// wantItems checks that FindItems(p, f) returns exactly want, in order and
// field by field.
func wantItems(t tb, r carnet.Reader, p carnet.PatientKey, f carnet.ItemFilter, want ...carnet.ItemRow) {
	t.Helper()
	got, err := r.FindItems(context.Background(), p, f)
	if err != nil {
		t.Fatalf("FindItems(%s): %v", p, err)
	}
	if g, w := itemIDs(got), itemIDs(want); !slices.Equal(g, w) {
		t.Fatalf("FindItems(%s, %+v): got %v, want %v", p, f, g, w)
	}
	for i := range want {
		if d := ItemRowDiff(got[i], want[i]); d != "" {
			t.Fatalf("FindItems(%s)[%d]: %s", p, i, d)
		}
	}
}

func wantRoute(t tb, r carnet.Reader, id string, want carnet.PatientKey) {
	t.Helper()
	got, err := r.Route(context.Background(), id)
	if err != nil || got != want {
		t.Fatalf("Route(%s): got %q, %v; want %s", id, got, err, want)
	}
}

func wantNoRoute(t tb, r carnet.Reader, id string) {
	t.Helper()
	_, err := r.Route(context.Background(), id)
	wantKind(t, err, carnet.KindNotFound, "Route("+id+")")
}

func testItemRoundTrip(t *testing.T, s carnet.Store) {
	paris := time.FixedZone("Europe/Paris", 3600)
	full := NewItemRow("p1", "item-full", "logical-doc-1")
	full.Kind = carnet.ItemImmunization
	full.Effective = time.Date(1999, 12, 31, 23, 59, 59, 999_000_000, paris)
	full.Tokens = append(full.Tokens,
		carnet.Token{Kind: "abnormal", Value: "true"},
		carnet.Token{Kind: "code", Value: "odd:ÉÈ|x\x00y"})
	full.Sealed = NewContent(64 << 10)

	bare := NewItemRow("p1", "item-bare", "logical-doc-2")
	bare.Effective = time.Time{}
	bare.Tokens = nil

	insertItems(t, s, full, bare)
	wantItems(t, s, "p1", carnet.ItemFilter{}, full, bare)
	wantItems(t, s, "p1", carnet.ItemFilter{Sources: []string{"logical-doc-2"}}, bare)

	// Nothing to insert is no error and inserts nothing.
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error { return tx.InsertItems(ctx, nil) })
	wantItems(t, s, "p1", carnet.ItemFilter{}, full, bare)
}

func testFindItemsOrder(t *testing.T, s carnet.Store) {
	// Effective descending, unknown (zero) last, then id ascending in byte
	// order ("B" sorts before "a").
	mk := func(id string, eff time.Time) carnet.ItemRow {
		it := NewItemRow("p1", id, "logical-doc-1")
		it.Effective = eff
		return it
	}
	var zero time.Time
	early, late := Epoch.Add(-time.Hour), Epoch.Add(time.Millisecond)
	rows := []carnet.ItemRow{
		mk("item-z", zero), mk("item-c", early), mk("item-a", Epoch), mk("item-B", Epoch),
		mk("item-b", late), mk("item-0", zero), mk("item-y", early),
	}
	insertItems(t, s, rows...)
	want := []carnet.ItemRow{rows[4], rows[3], rows[2], rows[1], rows[6], rows[5], rows[0]}
	wantItems(t, s, "p1", carnet.ItemFilter{}, want...)
	// A limit keeps the first rows of that order, unknown times last.
	for _, n := range []int{1, 3, 6, 7, 20} {
		wantItems(t, s, "p1", carnet.ItemFilter{Limit: n}, want[:min(n, len(want))]...)
	}
	wantItems(t, s, "p1", carnet.ItemFilter{Limit: 2, Effective: carnet.TimeRange{From: Epoch}}, rows[4], rows[3])
}

// itemFixture files items for p1 (and a look-alike for p2) covering every
// filter of ItemFilter.
//
//	id       kind               code     category    abnormal effective  source
//	item-hb  Observation        Hb       laboratory  -        E          L1
//	item-gl  Observation        glucose  laboratory  yes      E-1d       L1
//	item-vx  Immunization       vaccine  -           -        E-10d      L2
//	item-al  AllergyIntolerance allergen -           -        unknown    L3
//	item-p2  Observation        Hb       laboratory  -        E          L1  (patient p2)
func itemFixture(t *testing.T, s carnet.Store) map[string]carnet.ItemRow {
	t.Helper()
	day := 24 * time.Hour
	mk := func(p carnet.PatientKey, id string, kind carnet.ItemKind, code carnet.Coding, category string, abnormal bool,
		eff time.Time, source string) carnet.ItemRow {
		it := NewItemRow(p, id, source)
		it.Kind, it.Effective = kind, eff
		it.Tokens = carnet.CodingTokens(carnet.TokCode, code)
		if category != "" {
			it.Tokens = append(it.Tokens, carnet.Token{Kind: "category", Value: category})
		}
		if abnormal {
			it.Tokens = append(it.Tokens, carnet.Token{Kind: "abnormal", Value: "true"})
		}
		return it
	}
	loinc := func(c string) carnet.Coding { return carnet.Coding{System: LOINC, Code: c} }
	rows := []carnet.ItemRow{
		mk("p1", "item-hb", carnet.ItemObservation, loinc(LoincHb), CategoryLab, false, Epoch, "L1"),
		mk("p1", "item-gl", carnet.ItemObservation, loinc(LoincGlucose), CategoryLab, true, Epoch.Add(-day), "L1"),
		mk("p1", "item-vx", carnet.ItemImmunization, carnet.Coding{System: "urn:oid:1.2.250.1.213.2.3.1", Code: "3400930000000"}, "", false, Epoch.Add(-10*day), "L2"),
		mk("p1", "item-al", carnet.ItemAllergy, carnet.Coding{System: "http://snomed.info/sct", Code: "91936005"}, "", false, time.Time{}, "L3"),
		mk("p2", "item-p2", carnet.ItemObservation, loinc(LoincHb), CategoryLab, false, Epoch, "L1"),
	}
	insertItems(t, s, rows...)
	m := make(map[string]carnet.ItemRow)
	for _, r := range rows {
		m[r.ID] = r
	}
	return m
}

func testFindItems(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	itemFixture(t, s)
	day := 24 * time.Hour
	at := func(d time.Duration) time.Time { return Epoch.Add(d) }
	tf := func(kind string, values ...string) carnet.TokenFilter {
		return carnet.TokenFilter{Kind: kind, Values: values}
	}
	for _, tc := range []struct {
		name   string
		filter carnet.ItemFilter
		want   []string
	}{
		{"everything", carnet.ItemFilter{}, []string{"item-hb", "item-gl", "item-vx", "item-al"}},
		{"one kind", carnet.ItemFilter{Kinds: []carnet.ItemKind{carnet.ItemObservation}}, []string{"item-hb", "item-gl"}},
		{"two kinds", carnet.ItemFilter{Kinds: []carnet.ItemKind{carnet.ItemImmunization, carnet.ItemAllergy}}, []string{"item-vx", "item-al"}},
		{"kind with no item", carnet.ItemFilter{Kinds: []carnet.ItemKind{carnet.ItemCondition}}, nil},
		{"code system|code", carnet.ItemFilter{Tokens: []carnet.TokenFilter{tf("code", LOINC+"|"+LoincHb)}}, []string{"item-hb"}},
		{"code alone", carnet.ItemFilter{Tokens: []carnet.TokenFilter{tf("code", LoincGlucose)}}, []string{"item-gl"}},
		{"code, any of two values", carnet.ItemFilter{Tokens: []carnet.TokenFilter{tf("code", LoincHb, "91936005")}}, []string{"item-hb", "item-al"}},
		{"code of another system", carnet.ItemFilter{Tokens: []carnet.TokenFilter{tf("code", "http://snomed.info/sct|"+LoincHb)}}, nil},
		{"category", carnet.ItemFilter{Tokens: []carnet.TokenFilter{tf("category", CategoryLab)}}, []string{"item-hb", "item-gl"}},
		{"abnormal", carnet.ItemFilter{Tokens: []carnet.TokenFilter{tf("abnormal", "true")}}, []string{"item-gl"}},
		{"token filters AND", carnet.ItemFilter{Tokens: []carnet.TokenFilter{tf("category", CategoryLab), tf("code", LoincHb, "91936005")}}, []string{"item-hb"}},
		{"token filter with no value", carnet.ItemFilter{Tokens: []carnet.TokenFilter{tf("code")}}, nil},
		{"value of another kind", carnet.ItemFilter{Tokens: []carnet.TokenFilter{tf("category", LoincHb)}}, nil},
		{"effective from (inclusive)", carnet.ItemFilter{Effective: carnet.TimeRange{From: at(-day)}}, []string{"item-hb", "item-gl"}},
		{"effective to (exclusive)", carnet.ItemFilter{Effective: carnet.TimeRange{To: at(-day)}}, []string{"item-vx"}},
		{"effective within", carnet.ItemFilter{Effective: carnet.TimeRange{From: at(-11 * day), To: at(-time.Millisecond)}}, []string{"item-gl", "item-vx"}},
		{"effective after everything", carnet.ItemFilter{Effective: carnet.TimeRange{From: at(time.Millisecond)}}, nil},
		{"one source", carnet.ItemFilter{Sources: []string{"L1"}}, []string{"item-hb", "item-gl"}},
		{"two sources", carnet.ItemFilter{Sources: []string{"L3", "L2"}}, []string{"item-vx", "item-al"}},
		{"unknown source", carnet.ItemFilter{Sources: []string{"L9"}}, nil},
		{"everything together", carnet.ItemFilter{
			Kinds:     []carnet.ItemKind{carnet.ItemObservation, carnet.ItemAllergy},
			Tokens:    []carnet.TokenFilter{tf("category", CategoryLab), tf("code", LoincHb, LoincGlucose)},
			Effective: carnet.TimeRange{From: at(-2 * day), To: at(-time.Hour)},
			Sources:   []string{"L1", "L2"},
		}, []string{"item-gl"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.FindItems(ctx, "p1", tc.filter)
			if err != nil {
				t.Fatalf("FindItems: %v", err)
			}
			if g := itemIDs(got); !slices.Equal(g, tc.want) && len(g)+len(tc.want) > 0 {
				t.Fatalf("FindItems: got %v, want %v", g, tc.want)
			}
			for _, it := range got {
				if it.Patient != "p1" {
					t.Fatalf("FindItems(p1) returned an item of %s", it.Patient)
				}
			}
		})
	}
}

func testItemsPatientIsolation(t *testing.T, s carnet.Store) {
	rows := itemFixture(t, s)
	check := func(t tb, r carnet.Reader) {
		t.Helper()
		wantItems(t, r, "p2", carnet.ItemFilter{}, rows["item-p2"])
		wantItems(t, r, "p2", carnet.ItemFilter{Sources: []string{"L2", "L3"}})
		wantItems(t, r, "p3", carnet.ItemFilter{})
		wantRoute(t, r, "item-p2", "p2")
		wantRoute(t, r, "item-hb", "p1")
	}
	t.Run("store", func(t *testing.T) { check(t, s) })
	t.Run("tx", func(t *testing.T) {
		mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
			return checkIn(func(t tb) { check(t, tx) })
		})
	})
	// Deleting a source of one patient leaves the other's items of the
	// same source logicalId alone.
	var n int
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) (err error) {
		n, err = tx.DeleteItems(ctx, "p2", "L1")
		return err
	})
	if n != 1 {
		t.Fatalf("DeleteItems(p2, L1): got %d, want 1", n)
	}
	wantItems(t, s, "p2", carnet.ItemFilter{})
	wantItems(t, s, "p1", carnet.ItemFilter{Sources: []string{"L1"}}, rows["item-hb"], rows["item-gl"])
	wantRoute(t, s, "item-hb", "p1")
	wantNoRoute(t, s, "item-p2")
}

func testDeleteItems(t *testing.T, s carnet.Store) {
	rows := itemFixture(t, s)
	del := func(p carnet.PatientKey, source string) int {
		t.Helper()
		var n int
		mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) (err error) {
			n, err = tx.DeleteItems(ctx, p, source)
			return err
		})
		return n
	}
	for _, tc := range []struct {
		p      carnet.PatientKey
		source string
		want   int
	}{
		{"p1", "L9", 0},      // unknown source
		{"p3", "L1", 0},      // unknown patient
		{"p1", "item-hb", 0}, // an item id is not a source
	} {
		if n := del(tc.p, tc.source); n != tc.want {
			t.Fatalf("DeleteItems(%s, %s): got %d, want %d", tc.p, tc.source, n, tc.want)
		}
	}
	wantItems(t, s, "p1", carnet.ItemFilter{}, rows["item-hb"], rows["item-gl"], rows["item-vx"], rows["item-al"])

	if n := del("p1", "L1"); n != 2 {
		t.Fatalf("DeleteItems(p1, L1): got %d, want 2", n)
	}
	wantItems(t, s, "p1", carnet.ItemFilter{}, rows["item-vx"], rows["item-al"])
	wantItems(t, s, "p2", carnet.ItemFilter{}, rows["item-p2"])
	for _, id := range []string{"item-hb", "item-gl"} {
		wantNoRoute(t, s, id)
	}
	wantRoute(t, s, "item-vx", "p1")
	// Their tokens went with them: a code search finds nothing.
	wantItems(t, s, "p1", carnet.ItemFilter{Tokens: []carnet.TokenFilter{{Kind: "category", Values: []string{CategoryLab}}}})
	if n := del("p1", "L1"); n != 0 {
		t.Fatalf("DeleteItems(p1, L1) again: got %d, want 0", n)
	}

	// The ids are free again: re-extraction stores the items anew, under
	// the same ids, and they are found again, tokens included.
	redo := rows["item-hb"]
	redo.Sealed = []byte("re-extracted")
	insertItems(t, s, redo)
	wantItems(t, s, "p1", carnet.ItemFilter{Tokens: []carnet.TokenFilter{{Kind: "category", Values: []string{CategoryLab}}}}, redo)
	wantRoute(t, s, "item-hb", "p1")
}

func testItemRoute(t *testing.T, s carnet.Store) {
	insertItems(t, s, NewItemRow("p1", "item-1", "logical-doc-1"), NewItemRow("p2", "item-2", "logical-doc-2"))
	wantRoute(t, s, "item-1", "p1")
	wantRoute(t, s, "item-2", "p2")
	wantNoRoute(t, s, "item-unknown")
}

func testInsertItemsConflict(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	taken := NewItemRow("p1", "item-taken", "logical-doc-1")
	doc := NewDocumentRow("p1", "doc-1")
	insertItems(t, s, taken)
	insertDocuments(t, s, doc)

	fresh := func(p carnet.PatientKey, id string) carnet.ItemRow { return NewItemRow(p, id, "logical-doc-new") }
	for _, tc := range []struct {
		name string
		rows []carnet.ItemRow
	}{
		{"item id of the same patient", []carnet.ItemRow{fresh("p1", "item-new-1"), fresh("p1", "item-taken"), fresh("p1", "item-new-2")}},
		{"item id of another patient", []carnet.ItemRow{fresh("p2", "item-new-1"), fresh("p2", "item-taken")}},
		{"id of a document", []carnet.ItemRow{fresh("p1", "item-new-1"), fresh("p1", "doc-1")}},
		{"id twice in the call", []carnet.ItemRow{fresh("p1", "item-new-1"), fresh("p2", "item-new-2"), fresh("p1", "item-new-1")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The refused call leaves nothing, and the transaction goes on:
			// what fn writes after it commits.
			after := fresh("p3", "item-after")
			err := update(s, func(ctx context.Context, tx carnet.Tx) error {
				err := tx.InsertItems(ctx, tc.rows)
				if !carnet.IsKind(err, carnet.KindConflict) {
					return errors.Join(errors.New("InsertItems: want a conflict"), err)
				}
				if err := checkIn(func(t tb) {
					wantItems(t, tx, "p1", carnet.ItemFilter{}, taken)
					wantItems(t, tx, "p2", carnet.ItemFilter{})
					for _, id := range []string{"item-new-1", "item-new-2"} {
						wantNoRoute(t, tx, id)
					}
				}); err != nil {
					return err
				}
				return tx.InsertItems(ctx, []carnet.ItemRow{after})
			})
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			wantItems(t, s, "p1", carnet.ItemFilter{}, taken)
			wantItems(t, s, "p2", carnet.ItemFilter{})
			wantItems(t, s, "p3", carnet.ItemFilter{}, after)
			for _, id := range []string{"item-new-1", "item-new-2"} {
				wantNoRoute(t, s, id)
			}
			wantRoute(t, s, "item-taken", "p1")
			wantRoute(t, s, "doc-1", "p1")
			wantDocument(t, s, doc)
			mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
				_, err := tx.DeleteItems(ctx, "p3", after.SourceLogicalID)
				return err
			})
		})
	}

	// An item's id is taken for documents too.
	err := update(s, func(ctx context.Context, tx carnet.Tx) error {
		return tx.InsertDocument(ctx, NewDocumentRow("p1", "item-taken"))
	})
	wantKind(t, err, carnet.KindConflict, "InsertDocument(id of an item)")
	wantNoDocument(t, s, "p1", "item-taken")

	// A conflict returned by fn rolls back the whole Update.
	err = update(s, func(ctx context.Context, tx carnet.Tx) error {
		if err := tx.InsertItems(ctx, []carnet.ItemRow{fresh("p1", "item-before")}); err != nil {
			return err
		}
		return tx.InsertItems(ctx, []carnet.ItemRow{fresh("p1", "item-taken")})
	})
	wantKind(t, err, carnet.KindConflict, "Update with a conflicting InsertItems")
	wantItems(t, s, "p1", carnet.ItemFilter{}, taken)
	wantNoRoute(t, s, "item-before")
	if _, err := s.FindItems(ctx, "p1", carnet.ItemFilter{}); err != nil {
		t.Fatalf("FindItems after a failed Update: %v", err)
	}
}

func testItemsUpdate(t *testing.T, s carnet.Store) {
	kept := NewItemRow("p1", "item-kept", "logical-kept")
	old := NewItemRow("p1", "item-old", "logical-doc-1")
	insertItems(t, s, kept, old)
	newer := NewItemRow("p1", "item-new", "logical-doc-1")
	newer.Effective = Epoch.Add(time.Hour)

	// A failing fn leaves nothing: neither the delete nor the insert.
	err := update(s, func(ctx context.Context, tx carnet.Tx) error {
		if _, err := tx.DeleteItems(ctx, "p1", "logical-doc-1"); err != nil {
			return err
		}
		if err := tx.InsertItems(ctx, []carnet.ItemRow{newer}); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update: got error %v, want fn's error", err)
	}
	wantItems(t, s, "p1", carnet.ItemFilter{}, kept, old)
	wantRoute(t, s, "item-old", "p1")
	wantNoRoute(t, s, "item-new")

	// Replacing a document's items in one Update: reads inside see each
	// step, the store outside sees none of it before the commit.
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
		n, err := tx.DeleteItems(ctx, "p1", "logical-doc-1")
		if err != nil {
			return err
		}
		if n != 1 {
			return errors.New("DeleteItems in the tx: want 1 item deleted")
		}
		if err := checkIn(func(t tb) {
			wantItems(t, tx, "p1", carnet.ItemFilter{}, kept)
			wantNoRoute(t, tx, "item-old")
		}); err != nil {
			return err
		}
		if err := tx.InsertItems(ctx, []carnet.ItemRow{newer}); err != nil {
			return err
		}
		return checkIn(func(t tb) {
			wantItems(t, tx, "p1", carnet.ItemFilter{}, newer, kept)
			wantItems(t, tx, "p1", carnet.ItemFilter{Tokens: []carnet.TokenFilter{{Kind: "code", Values: []string{LoincHb}}}}, newer, kept)
			wantRoute(t, tx, "item-new", "p1")
			// The store outside the tx still sees the old state.
			wantItems(t, s, "p1", carnet.ItemFilter{}, kept, old)
			wantNoRoute(t, s, "item-new")
		})
	})
	wantItems(t, s, "p1", carnet.ItemFilter{}, newer, kept)
	wantRoute(t, s, "item-new", "p1")
	wantNoRoute(t, s, "item-old")
}
