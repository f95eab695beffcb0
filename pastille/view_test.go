package pastille

import (
	"reflect"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// RankView puts the new lines first when asked (each part in rank order),
// keeps what Keep keeps, counts every line in All, and opens only the Show
// first lines it returns.
func TestRankViewNewFirstKeep(t *testing.T) {
	now := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
	visit := now.AddDate(0, 0, -10)
	doc := func(id, typ string, filed time.Time) carnet.CareDoc {
		return carnet.CareDoc{Filed: filed, Row: &carnet.DocumentRow{ID: id, LogicalID: id, UniqueID: id, Status: carnet.StatusCurrent,
			Created: filed, Date: filed, Tokens: []carnet.Token{{Kind: carnet.TokType, Value: "http://loinc.org|" + typ}}}}
	}
	view := carnet.CareView{Patient: "p", Now: now, LastVisit: visit, Docs: []carnet.CareDoc{
		doc("old-lab", "11502-2", now.AddDate(0, 0, -20)),
		doc("new-presc", "57833-6", now.AddDate(0, 0, -2)),
		doc("old-letter", "11490-0", now.AddDate(0, 0, -15)),
		doc("new-lab", "11502-2", now.AddDate(0, 0, -1)),
	}}
	var picked []string
	gather := func(pick func(carnet.CareView) []string) (carnet.CareView, carnet.CareDetails, error) {
		picked = pick(view)
		return view, carnet.CareDetails{Documents: map[string]carnet.Document{}}, nil
	}
	cr, err := RankView(gather, RankOptions{Actor: carnet.Actor{Profession: "G15_10"}, Show: 3, NewFirst: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(cr.All) != 4 || len(cr.Ranked) != 4 || !cr.Ranked[0].New || !cr.Ranked[1].New || cr.Ranked[2].New || cr.Ranked[3].New {
		t.Fatalf("new first: %v", lineIDs(cr.Ranked))
	}
	if len(picked) != 3 || picked[0] != cr.Ranked[0].Doc.ID || picked[2] != cr.Ranked[2].Doc.ID {
		t.Errorf("picked %v of %v", picked, lineIDs(cr.Ranked))
	}
	cr, err = RankView(gather, RankOptions{Actor: carnet.Actor{Profession: "G15_10"}, Show: 10,
		Keep: func(r Ranked) bool { return r.Doc.Type.Code == "11502-2" }})
	if err != nil {
		t.Fatal(err)
	}
	if len(cr.All) != 4 || len(cr.Ranked) != 2 || len(picked) != 2 {
		t.Errorf("keep labs: %v (all %d), picked %v", lineIDs(cr.Ranked), len(cr.All), picked)
	}
	// A first visit, whatever the view says: nothing is new.
	cr, _ = RankView(gather, RankOptions{Show: 10, FirstVisit: true, NewFirst: true})
	for _, r := range cr.Ranked {
		if r.New {
			t.Errorf("first visit: %s marked new", r.Doc.ID)
		}
	}
}

func lineIDs(rs []Ranked) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Doc.ID
	}
	return out
}

// A uniqueId folds the documents of one filer: another filer's document
// under the same uniqueId is a line of its own (else a filer could hide a
// document under theirs); the same document filed twice still folds by
// its hash.
func TestRankViewFoldsUniqueIDsPerFiler(t *testing.T) {
	now := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
	doc := func(id, filer, hash string) carnet.CareDoc {
		return carnet.CareDoc{Filed: now, Row: &carnet.DocumentRow{ID: id, LogicalID: id, UniqueID: "1.2.250.1.999.1", Filer: filer, Status: carnet.StatusCurrent,
			Created: now, Date: now, Tokens: []carnet.Token{{Kind: carnet.TokType, Value: "http://loinc.org|11502-2"}, {Kind: carnet.TokContentHash, Value: hash}}}}
	}
	lines := func(docs ...carnet.CareDoc) int {
		view := carnet.CareView{Patient: "p", Now: now, Docs: docs}
		cr, err := RankView(func(pick func(carnet.CareView) []string) (carnet.CareView, carnet.CareDetails, error) {
			pick(view)
			return view, carnet.CareDetails{Documents: map[string]carnet.Document{}}, nil
		}, RankOptions{Actor: carnet.Actor{Profession: "G15_10"}, Show: 10})
		if err != nil {
			t.Fatal(err)
		}
		return len(cr.Ranked)
	}
	if n := lines(doc("a", "system|labo", "h1"), doc("b", "system|autre", "h2")); n != 2 {
		t.Errorf("two filers' documents under one uniqueId: %d lines, want 2", n)
	}
	if n := lines(doc("a", "system|labo", "h1"), doc("b", "system|autre", "h1")); n != 1 {
		t.Errorf("one document filed by two systems: %d lines, want 1", n)
	}
}

// The ViewCache keeps each row's form by position under the record's
// stamp: a caller who sees fewer rows shares what they made, one who sees
// more makes the rest; what a card opens (Fill) never reaches the cache;
// another stamp reads the rows again.
func TestViewCacheByPosition(t *testing.T) {
	now := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
	row := func(id, typ string) *carnet.DocumentRow {
		return &carnet.DocumentRow{ID: id, LogicalID: id, UniqueID: id, Status: carnet.StatusCurrent, Created: now, Date: now,
			Tokens: []carnet.Token{{Kind: carnet.TokType, Value: "http://loinc.org|" + typ}}}
	}
	rows := []*carnet.DocumentRow{row("a", "11502-2"), row("b", "11502-2"), row("c", "11490-0")}
	abnormal := []carnet.CareFinding{{ItemID: "i1", Code: carnet.Coding{System: "http://loinc.org", Code: "2823-3"}, Interpretation: "H"}}
	view := func(stamp string, rows []*carnet.DocumentRow, seen ...int) carnet.CareView {
		v := carnet.CareView{Stamp: stamp, Patient: "p", Now: now, Rows: len(rows)}
		for _, i := range seen {
			cd := carnet.CareDoc{Row: rows[i], Pos: i, Filed: now}
			if rows[i].ID == "b" {
				cd.Findings = abnormal
			}
			v.Docs = append(v.Docs, cd)
		}
		return v
	}
	gp := carnet.Actor{Profession: "G15_10"}
	var c ViewCache
	fromView(gp, view("s1", rows, 0, 2), time.Time{}, &c) // "b" not visible to the first caller
	all := docsOf(fromView(gp, view("s1", rows, 0, 1, 2), time.Time{}, &c))
	if want := docsOf(fromView(gp, view("s1", rows, 0, 1, 2), time.Time{}, nil)); !reflect.DeepEqual(all, want) {
		t.Fatalf("with the cache:\n%+v\nwithout:\n%+v", all, want)
	}
	if all[1].ID != "b" || len(all[1].Findings) != 1 {
		t.Fatalf("the row the first caller could not see: %+v", all[1])
	}
	// A card opens "b": its title and its findings' display are filled, on
	// its copy only.
	opened := carnet.Document{ID: "b", LogicalID: "b", Meta: carnet.DocumentMeta{Title: "Bilan sanguin"}}
	potassium := carnet.Item{ID: "i1", SourceLogicalID: "b", Code: abnormal[0].Code,
		Resource: []byte(`{"code":{"text":"Potassium"},"valueQuantity":{"value":5.9,"unit":"mmol/L"}}`)}
	cr, err := RankView(func(pick func(carnet.CareView) []string) (carnet.CareView, carnet.CareDetails, error) {
		v := view("s1", rows, 0, 1, 2)
		pick(v)
		return v, carnet.CareDetails{Documents: map[string]carnet.Document{"b": opened}, Items: map[string]carnet.Item{"i1": potassium}}, nil
	}, RankOptions{Actor: gp, Show: 3, Cache: &c, Keep: func(Ranked) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	var shown, counted *Doc
	for i := range cr.Ranked {
		if cr.Ranked[i].Doc.ID == "b" {
			shown = cr.Ranked[i].Doc
		}
	}
	for i := range cr.All {
		if cr.All[i].Doc.ID == "b" {
			counted = cr.All[i].Doc
		}
	}
	if shown == nil || shown.Title != "Bilan sanguin" || shown.Findings[0].Display != "Potassium" || counted != shown {
		t.Fatalf("the opened line is not filled, or not the same in All: shown %+v, in All %+v", shown, counted)
	}
	again := docsOf(fromView(gp, view("s1", rows, 0, 1, 2), time.Time{}, &c))
	if again[1].Title != "" || again[1].Findings[0].Display != "" {
		t.Errorf("an opened line's title or display reached the cache: %q %+v", again[1].Title, again[1].Findings)
	}
	// Another stamp: the row at position 2 is another document now.
	rows2 := []*carnet.DocumentRow{rows[0], rows[1], row("d", "57833-6"), rows[2]}
	next := docsOf(fromView(gp, view("s2", rows2, 0, 1, 2, 3), time.Time{}, &c))
	if next[2].ID != "d" || next[2].Type.Code != "57833-6" || next[3].ID != "c" {
		t.Errorf("at a new stamp, the forms of the old one: %s %s %s", next[2].ID, next[2].Type.Code, next[3].ID)
	}
}
