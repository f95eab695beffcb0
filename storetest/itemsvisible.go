package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/carnet-sante/carnet"
)

// itemsVisibleFixture files, for p1, documents of every status with
// generated tokens (some with an older version whose tokens differ), and
// items extracted from them with ties and unknown times, common and rare
// categories; items naming no document; and, for p2, documents with the
// same logicalIds and items, which p1's searches never see. It returns p1's
// latest document rows by logicalId and p1's items.
func itemsVisibleFixture(t *testing.T, s carnet.Store, r *rand.Rand) (map[string]carnet.DocumentRow, []carnet.ItemRow) {
	t.Helper()
	statuses := []carnet.DocumentStatus{carnet.StatusCurrent, carnet.StatusCurrent, carnet.StatusArchived, carnet.StatusDeleted, carnet.StatusSuperseded}
	latest := map[string]carnet.DocumentRow{}
	var docs []carnet.DocumentRow // in insertion order, older versions first
	var items, others []carnet.ItemRow
	logical := func(i int) string { return fmt.Sprintf("logical-doc-%02d", i) }
	for i := range 30 {
		d := NewDocumentRow("p1", fmt.Sprintf("doc-%02d", i))
		d.LogicalID = logical(i)
		d.Status = statuses[r.IntN(len(statuses))]
		d.Tokens = generatedTokens(r)
		if i%4 == 0 {
			// An older version, of other tokens: only the latest decides.
			old := NewDocumentRow("p1", d.ID+"-v1")
			old.LogicalID, old.UniqueID = d.LogicalID, d.UniqueID
			old.Tokens = generatedTokens(r)
			d.Version = 2
			docs = append(docs, old)
		}
		docs = append(docs, d)
		latest[d.LogicalID] = d
		other := NewDocumentRow("p2", fmt.Sprintf("doc-p2-%02d", i))
		other.LogicalID = d.LogicalID
		other.Tokens = []carnet.Token{{Kind: "label", Value: "N"}}
		docs = append(docs, other)
	}
	days := []time.Duration{0, 0, -24 * time.Hour, -48 * time.Hour, time.Hour, -time.Microsecond}
	for n := range 170 {
		src := logical(r.IntN(32)) // 30 and 31 name no document
		it := NewItemRow("p1", fmt.Sprintf("item-%03d", r.IntN(1000)*1000+n), src)
		if r.IntN(8) == 0 {
			it.Effective = time.Time{}
		} else {
			it.Effective = Epoch.Add(days[r.IntN(len(days))])
		}
		if r.IntN(10) == 0 {
			it.Kind = carnet.ItemImmunization
		}
		it.Tokens = []carnet.Token{{Kind: "category", Value: CategoryLab}}
		if r.IntN(15) == 0 {
			it.Tokens = []carnet.Token{{Kind: "category", Value: "vital-signs"}}
		}
		items = append(items, it)
		other := NewItemRow("p2", "other-"+it.ID, src)
		other.Effective, other.Tokens = it.Effective, it.Tokens
		others = append(others, other)
	}
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
		for _, d := range docs {
			if err := tx.InsertDocument(ctx, d); err != nil {
				return err
			}
			if d.Patient == "p1" && d.Version == 1 && latest[d.LogicalID].Version == 2 {
				// The older version stops being latest before the next is
				// filed, keeping its status (as a metadata change does).
				d.Latest = false
				if err := tx.UpdateDocument(ctx, d); err != nil {
					return err
				}
			}
		}
		return tx.InsertItems(ctx, append(slices.Clone(items), others...))
	})
	return latest, items
}

func generatedTokens(r *rand.Rand) []carnet.Token {
	var ts []carnet.Token
	for range r.IntN(6) {
		ts = append(ts, visibleToken(r))
	}
	slices.SortFunc(ts, func(a, b carnet.Token) int {
		if a.Kind != b.Kind {
			return compare(a.Kind, b.Kind)
		}
		return compare(a.Value, b.Value)
	})
	return slices.Compact(ts)
}

// itemsInOrder returns rows in the order FindItems serves them: effective
// descending, unknown last, then by id; chronologically, the dated ones
// oldest first (ties by id descending), then the unknown ones by id.
func itemsInOrder(rows []carnet.ItemRow, chronological bool) []carnet.ItemRow {
	rows = slices.Clone(rows)
	slices.SortFunc(rows, func(a, b carnet.ItemRow) int {
		switch az, bz := a.Effective.IsZero(), b.Effective.IsZero(); {
		case az && bz:
			return compare(a.ID, b.ID)
		case az:
			return 1
		case bz:
			return -1
		}
		if chronological {
			if c := a.Effective.Compare(b.Effective); c != 0 {
				return c
			}
			return compare(b.ID, a.ID)
		}
		if c := b.Effective.Compare(a.Effective); c != 0 {
			return c
		}
		return compare(a.ID, b.ID)
	})
	return rows
}

// testFindItemsVisible: FindItems with Visible returns exactly the items
// whose source document's latest row is current or archived and matches
// the condition (Cond.Match), with that row, in order (both orders), and
// After and Limit page them without gap or repeat; another record's items
// never appear, whatever their source's logicalId.
func testFindItemsVisible(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(15, 44))
	latest, items := itemsVisibleFixture(t, s, r)
	logical := make([]string, 0, len(latest))
	for id := range latest {
		logical = append(logical, id)
	}
	slices.Sort(logical)
	for i := range 60 {
		c := visibleCond(r, 3, logical)
		f := carnet.ItemFilter{Visible: &c, Kinds: []carnet.ItemKind{carnet.ItemObservation}, WithoutSealed: i%2 == 0, Chronological: i%3 == 0}
		switch i % 5 {
		case 1:
			f.Tokens = []carnet.TokenFilter{{Kind: "category", Values: []string{CategoryLab}}} // common: probed per item
		case 2:
			f.Tokens = []carnet.TokenFilter{{Kind: "category", Values: []string{"vital-signs"}}} // rare: joined
		case 3:
			f.Effective = carnet.TimeRange{From: Epoch.Add(-30 * time.Hour)}
		}
		var want []carnet.ItemRow
		for _, it := range items {
			d, ok := latest[it.SourceLogicalID]
			if !ok || it.Kind != carnet.ItemObservation || d.Status != carnet.StatusCurrent && d.Status != carnet.StatusArchived || !c.Match(&d) {
				continue
			}
			if len(f.Tokens) > 0 && !slices.ContainsFunc(it.Tokens, func(tk carnet.Token) bool {
				return tk.Kind == "category" && tk.Value == f.Tokens[0].Values[0]
			}) {
				continue
			}
			if !f.Effective.IsZero() && (it.Effective.IsZero() || it.Effective.Before(f.Effective.From)) {
				continue
			}
			want = append(want, it)
		}
		want = itemsInOrder(want, f.Chronological)
		got, err := s.FindItems(ctx, "p1", f)
		if err != nil {
			t.Fatalf("FindItems(%s): %v", c, err)
		}
		if g, w := itemIDs(got), itemIDs(want); !slices.Equal(g, w) {
			t.Fatalf("FindItems(%s, %+v):\n got %v\nwant %v", c, f.Tokens, g, w)
		}
		for j, it := range got {
			w := want[j]
			if f.WithoutSealed {
				w.Sealed = nil
			}
			if d := ItemRowDiff(it, w); d != "" {
				t.Fatalf("FindItems(%s)[%d]: %s", c, j, d)
			}
			src := latest[it.SourceLogicalID]
			if it.Source == nil || it.Source.ID != src.ID || it.Source.Status != src.Status || len(it.Source.Sealed) != 0 {
				t.Fatalf("FindItems(%s)[%d]: source %+v, want the clear latest row %s (%s)", c, j, it.Source, src.ID, src.Status)
			}
		}
		// The same items, page by page.
		f.Limit = 1 + r.IntN(9)
		if paged := walkItemPages(t, s, f, len(items)); !slices.Equal(paged, itemIDs(want)) {
			t.Fatalf("pages of %d under %s (chronological %v):\n got %v\nwant %v", f.Limit, c, f.Chronological, paged, itemIDs(want))
		}
	}
	// The zero condition shows nothing.
	none, err := s.FindItems(ctx, "p1", carnet.ItemFilter{Visible: &carnet.Cond{}})
	if err != nil || len(none) != 0 {
		t.Errorf("the zero condition: %d items, %v; want none", len(none), err)
	}
	// As the policy compiles it for a professional who is not the author:
	// the items of a masked document are on no page, and the pages hold
	// every other item of a current or archived document.
	masked := carnet.Not(carnet.HasCode("label", carnet.LabelMasquePS))
	var want []string
	hidden := 0
	for _, it := range itemsInOrder(items, false) {
		d, ok := latest[it.SourceLogicalID]
		switch {
		case !ok || d.Status != carnet.StatusCurrent && d.Status != carnet.StatusArchived:
		case !masked.Match(&d):
			hidden++
		default:
			want = append(want, it.ID)
		}
	}
	if hidden == 0 || len(want) == 0 {
		t.Fatalf("the fixture has %d items of masked documents and %d of others: both are needed", hidden, len(want))
	}
	for _, limit := range []int{1, 5, 20} {
		got := walkItemPages(t, s, carnet.ItemFilter{Visible: &masked, Limit: limit, WithoutSealed: true}, len(items))
		if !slices.Equal(got, want) {
			t.Fatalf("masked documents, pages of %d:\n got %v\nwant %v", limit, got, want)
		}
	}
}

// walkItemPages reads f's items of p1 page by page (f.Limit each, After
// the last one served) and returns their ids.
func walkItemPages(t *testing.T, s carnet.Store, f carnet.ItemFilter, most int) []string {
	t.Helper()
	var got []string
	for pages := 0; pages <= most; pages++ {
		page, err := s.FindItems(context.Background(), "p1", f)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > f.Limit {
			t.Fatalf("Limit %d: %d items", f.Limit, len(page))
		}
		for _, it := range page {
			if it.Patient != "p1" {
				t.Fatalf("FindItems(p1) returned an item of %s", it.Patient)
			}
			got = append(got, it.ID)
		}
		if len(page) < f.Limit {
			return got
		}
		last := page[len(page)-1]
		f.After = &carnet.ItemPosition{Effective: last.Effective, ID: last.ID}
	}
	t.Fatalf("more than %d pages", most+1)
	return nil
}
