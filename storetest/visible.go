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

// visibleVocabulary is what generated rows and conditions are made of: a
// few kinds and values, so that conditions meet rows often, with codes in
// bare and "system|code" forms and look-alikes that must not match.
var (
	visibleKinds  = []string{"label", "type", "author"}
	visibleValues = []string{"MASQUE_PS", "INVISIBLE_PATIENT", "N", "11488-4", "68599-0", "810000000001", "810000000002"}
)

func visibleToken(r *rand.Rand) carnet.Token {
	k := visibleKinds[r.IntN(len(visibleKinds))]
	v := visibleValues[r.IntN(len(visibleValues))]
	switch r.IntN(5) {
	case 0:
		v = "urn:oid:1.2.250.1.213.1.1.4.13|" + v
	case 1:
		v = "x|" + v + "x" // a look-alike
	case 2:
		v = "|" + v
	}
	return carnet.Token{Kind: k, Value: v}
}

// visibleCond generates a condition over the vocabulary, depth at most d.
func visibleCond(r *rand.Rand, d int, logical []string) carnet.Cond {
	op := r.IntN(8)
	if d == 0 {
		op = 3 + r.IntN(5)
	}
	values := func() []string {
		vs := make([]string, 1+r.IntN(3))
		for i := range vs {
			vs[i] = visibleValues[r.IntN(len(visibleValues))]
		}
		return vs
	}
	sub := func() []carnet.Cond {
		cs := make([]carnet.Cond, r.IntN(4)) // none included: all() is true, any() false
		for i := range cs {
			cs[i] = visibleCond(r, d-1, logical)
		}
		return cs
	}
	// Raw conditions, not the folding constructors: the stores must
	// evaluate every shape.
	switch op {
	case 0:
		return carnet.Cond{Op: carnet.CondAnd, Args: sub()}
	case 1:
		return carnet.Cond{Op: carnet.CondOr, Args: sub()}
	case 2:
		return carnet.Cond{Op: carnet.CondNot, Args: []carnet.Cond{visibleCond(r, d-1, logical)}}
	case 3:
		return carnet.Cond{Op: carnet.CondHas, Kind: visibleKinds[r.IntN(len(visibleKinds))], Values: values(), Suffix: r.IntN(2) == 0}
	case 4:
		return carnet.Cond{Op: carnet.CondStatus, Values: []string{string([]carnet.DocumentStatus{carnet.StatusCurrent, carnet.StatusArchived, carnet.StatusDeleted}[r.IntN(3)])}}
	case 5:
		return carnet.Cond{Op: carnet.CondLogicalID, Values: []string{logical[r.IntN(len(logical))], "logical-none"}}
	case 6:
		return carnet.Cond{Op: carnet.CondTrue}
	}
	return carnet.Cond{Op: carnet.CondFalse}
}

// testFindVisible: FindDocuments with Visible returns exactly the rows
// Cond.Match accepts (the policy's compiled condition is evaluated by the
// store), in order, and After and Limit page them without gap or repeat.
func testFindVisible(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(15, 9))
	var rows []carnet.DocumentRow
	statuses := []carnet.DocumentStatus{carnet.StatusCurrent, carnet.StatusArchived, carnet.StatusDeleted}
	for i := range 60 {
		d := NewDocumentRow("p1", fmt.Sprintf("doc-%02d", i))
		d.UniqueID += ".v"
		d.Status = statuses[r.IntN(len(statuses))]
		d.Date = Epoch.Add(time.Duration(r.IntN(20)) * time.Hour) // ties, ordered by id
		d.Tokens = nil
		for range r.IntN(6) {
			d.Tokens = append(d.Tokens, visibleToken(r))
		}
		slices.SortFunc(d.Tokens, func(a, b carnet.Token) int {
			if a.Kind != b.Kind {
				return compare(a.Kind, b.Kind)
			}
			return compare(a.Value, b.Value)
		})
		d.Tokens = slices.Compact(d.Tokens)
		rows = append(rows, d)
	}
	// Another record holding the same tokens, never returned.
	other := NewDocumentRow("p2", "doc-other")
	other.Tokens = []carnet.Token{{Kind: "label", Value: "N"}}
	logical := make([]string, len(rows))
	for i, d := range rows {
		logical[i] = d.LogicalID
	}
	rows = insertAndOrder(t, s, rows, other)
	ids := func(rs []carnet.DocumentRow) []string {
		out := make([]string, len(rs))
		for i, d := range rs {
			out[i] = d.ID
		}
		return out
	}
	for i := range 80 {
		c := visibleCond(r, 3, logical)
		var want []carnet.DocumentRow
		for j := range rows {
			if c.Match(&rows[j]) {
				want = append(want, rows[j])
			}
		}
		f := carnet.DocumentFilter{Visible: &c, Statuses: statuses, WithoutSealed: i%2 == 0}
		got, err := s.FindDocuments(ctx, "p1", f)
		if err != nil {
			t.Fatalf("FindDocuments(%s): %v", c, err)
		}
		if !slices.Equal(ids(got), ids(want)) {
			t.Fatalf("FindDocuments(%s):\n got %v\nwant %v", c, ids(got), ids(want))
		}
		// The same rows, page by page.
		f.Limit = 1 + r.IntN(7)
		if paged := walkPages(t, s, f, len(rows)); !slices.Equal(paged, ids(want)) {
			t.Fatalf("pages of %d under %s:\n got %v\nwant %v", f.Limit, c, paged, ids(want))
		}
	}
	// The zero condition shows nothing.
	none, err := s.FindDocuments(ctx, "p1", carnet.DocumentFilter{Visible: &carnet.Cond{}})
	if err != nil || len(none) != 0 {
		t.Errorf("the zero condition: %d rows, %v; want none", len(none), err)
	}
}

// testFindVisibleTokenPages: a search's own token conditions with the
// compiled condition, paged, on a record large enough that a store may
// plan a common token (more than a hundred rows) differently from a rare
// one (PostgreSQL probes the former row by row in date order, joins the
// latter): the same rows either way, without gap or repeat.
func testFindVisibleTokenPages(t *testing.T, s carnet.Store) {
	r := rand.New(rand.NewPCG(15, 67))
	var rows []carnet.DocumentRow
	for i := range 240 {
		d := NewDocumentRow("p1", fmt.Sprintf("doc-%03d", i))
		d.UniqueID += ".v"
		d.Date = Epoch.Add(time.Duration(r.IntN(90)) * time.Minute) // ties, ordered by id
		d.Tokens = []carnet.Token{{Kind: "type", Value: "common"}}
		if r.IntN(40) == 0 {
			d.Tokens = []carnet.Token{{Kind: "type", Value: "rare"}}
		}
		if r.IntN(3) == 0 {
			d.Tokens = append(d.Tokens, carnet.Token{Kind: "label", Value: "urn:oid:1.2.250.1.213.1.1.4.13|MASQUE_PS"})
		}
		if r.IntN(2) == 0 {
			d.Tokens = append(d.Tokens, carnet.Token{Kind: "author", Value: "810000000001"})
		}
		rows = append(rows, d)
	}
	other := NewDocumentRow("p2", "doc-other")
	other.Tokens = []carnet.Token{{Kind: "type", Value: "common"}}
	rows = insertAndOrder(t, s, rows, other)
	// As the policy compiles it for a professional: author, or not masked.
	vis := carnet.Cond{Op: carnet.CondOr, Args: []carnet.Cond{
		{Op: carnet.CondHas, Kind: "author", Values: []string{"810000000001"}},
		{Op: carnet.CondNot, Args: []carnet.Cond{{Op: carnet.CondHas, Kind: "label", Values: []string{"MASQUE_PS"}, Suffix: true}}},
	}}
	for _, filter := range [][]carnet.TokenFilter{
		{{Kind: "type", Values: []string{"common"}}},
		{{Kind: "type", Values: []string{"rare"}}},
		{{Kind: "type", Values: []string{"common", "rare"}}},
		{{Kind: "type", Values: []string{"common"}}, {Kind: "author", Values: []string{"810000000001"}}},
		{{Kind: "type", Values: []string{"none"}}},
	} {
		var want []string
		for i := range rows {
			d := &rows[i]
			ok := vis.Match(d)
			for _, tf := range filter {
				ok = ok && slices.ContainsFunc(d.Tokens, func(tk carnet.Token) bool { return tk.Kind == tf.Kind && slices.Contains(tf.Values, tk.Value) })
			}
			if ok {
				want = append(want, d.ID)
			}
		}
		for _, limit := range []int{1, 7, 21} {
			f := carnet.DocumentFilter{Visible: &vis, Tokens: filter, Statuses: []carnet.DocumentStatus{carnet.StatusCurrent}, Limit: limit, WithoutSealed: true}
			if got := walkPages(t, s, f, len(rows)); !slices.Equal(got, want) {
				t.Fatalf("%v, pages of %d:\n got %v\nwant %v", filter, limit, got, want)
			}
		}
	}
}

// insertAndOrder inserts rows and other (another record's row), and
// returns rows in the order the stores serve them: date descending, id.
func insertAndOrder(t *testing.T, s carnet.Store, rows []carnet.DocumentRow, other carnet.DocumentRow) []carnet.DocumentRow {
	t.Helper()
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
		for _, d := range append(slices.Clone(rows), other) {
			if err := tx.InsertDocument(ctx, d); err != nil {
				return err
			}
		}
		return nil
	})
	rows = slices.Clone(rows)
	slices.SortFunc(rows, func(a, b carnet.DocumentRow) int {
		if c := b.Date.Compare(a.Date); c != 0 {
			return c
		}
		return compare(a.ID, b.ID)
	})
	return rows
}

// walkPages reads f's rows of p1 page by page (f.Limit each, After the
// last one served) and returns their ids.
func walkPages(t *testing.T, s carnet.Store, f carnet.DocumentFilter, most int) []string {
	t.Helper()
	var got []string
	for pages := 0; pages <= most; pages++ {
		page, err := s.FindDocuments(context.Background(), "p1", f)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > f.Limit {
			t.Fatalf("Limit %d: %d rows", f.Limit, len(page))
		}
		for _, d := range page {
			got = append(got, d.ID)
		}
		if len(page) < f.Limit {
			break
		}
		last := page[len(page)-1]
		f.After = &carnet.Position{Date: last.Date, ID: last.ID}
	}
	return got
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
