package httpapi_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/synth"
)

// itemPages follows a QEDm search's next links and returns every match
// (id → its source document's id), the number of pages, and the totals
// the pages gave (nil when a page gave none).
func itemPages(t *testing.T, c client, path string) (map[string]string, int, []*int) {
	t.Helper()
	got := map[string]string{}
	var totals []*int
	pages := 0
	for next := path; next != ""; pages++ {
		if pages > 200 {
			t.Fatal("QEDm pages without end")
		}
		r := c.get(next)
		if r.Status != 200 {
			t.Fatalf("GET %s: %d %s", next, r.Status, r.Body)
		}
		b := decode[fhir.Bundle](t, r)
		totals = append(totals, b.Total)
		next = ""
		for _, l := range b.Link {
			if l.Relation == "next" {
				next = l.URL
			}
		}
		for _, e := range b.Entry {
			if e.Search == nil || e.Search.Mode != "match" {
				continue
			}
			var it struct {
				ID   string
				Meta struct{ Source string }
			}
			if err := json.Unmarshal(e.Resource, &it); err != nil {
				t.Fatal(err)
			}
			if _, dup := got[it.ID]; dup {
				t.Errorf("%s served twice", it.ID)
			}
			got[it.ID] = it.Meta.Source[strings.LastIndex(it.Meta.Source, "/")+1:]
		}
	}
	return got, pages, totals
}

// The results of a lab report masked to professionals (or hidden from the
// patient) are on no page of a QEDm search of those it is hidden from, and
// tell of themselves neither through the total nor through the pages: a
// search of pages of 3 has exactly the pages the visible results fill, the
// accurate total counts those alone, and a first page that holds every
// visible result gives their number.
func TestQEDmPagesHideWhatPolicyHides(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{})
		c := newClient(t, env)
		ds := synth.Generate(synth.Options{Seed: 71, Patients: 1, DocsPerPatient: 60})
		ins := ds.Patients[0].INS
		var labs []synth.Document
		authors := map[string]bool{}
		for _, d := range ds.Documents {
			if d.Kind == synth.KindLabN3 && len(d.Results) > 0 && len(labs) < 6 {
				labs = append(labs, d)
				for _, a := range d.Meta.Authors {
					authors[a.ID.Value] = true
				}
			}
		}
		if len(labs) < 6 {
			t.Fatalf("the synthetic record has %d N3 lab reports, want 6", len(labs))
		}
		// Reports 1 and 4 masked to professionals, 2 hidden from the patient.
		labels := map[int]string{1: carnet.LabelMasquePS, 4: carnet.LabelMasquePS, 2: carnet.LabelInvisiblePatient}
		results := map[string]int{} // document id → its results
		hiddenFrom := map[string]string{}
		for i, d := range labs {
			if l, ok := labels[i]; ok {
				d.Meta.Confidentiality = append(slices.Clone(d.Meta.Confidentiality), carnet.Coding{System: "urn:oid:" + carnet.OIDVisibility, Code: l})
			}
			sub := submissionOf(ins, fmt.Sprintf("1.2.250.1.999.71.%d", i), d)
			r := c.asSoftware(sub).provide(sub)
			if r.Status != 200 {
				t.Fatalf("filing report %d: %d %s", i, r.Status, r.Body)
			}
			id := documentIDs(t, r)[0]
			results[id] = len(d.Results)
			hiddenFrom[id] = labels[i]
		}
		var doctor carnet.Author
		for _, p := range ds.Professionals {
			if p.Author.Profession.Code == "G15_10" && !authors[p.Author.ID.Value] {
				doctor = p.Author
				break
			}
		}
		if doctor.ID.Value == "" {
			t.Fatal("the synthetic roster has no physician who wrote none of the reports")
		}
		pro := c.as(env.ProfessionalToken(t, doctor, ""))
		if r := declareCareTeam(t, pro, ins, doctor); r.Status != 201 {
			t.Fatalf("care-team declaration: %d %s", r.Status, r.Body)
		}
		patient := c.as(env.PatientToken(t, ins, false))

		for _, reader := range []struct {
			name  string
			c     client
			label string // what hides a report from them
		}{{"professional", pro, carnet.LabelMasquePS}, {"patient", patient, carnet.LabelInvisiblePatient}} {
			want, hidden := 0, 0
			for id, n := range results {
				if hiddenFrom[id] == reader.label {
					hidden += n
				} else {
					want += n
				}
			}
			if hidden == 0 {
				t.Fatalf("%s: no result is hidden", reader.name)
			}
			const count = 3
			path := "/Observation?" + insQuery(ins) + "&category=laboratory&_count=3"
			got, pages, totals := itemPages(t, reader.c, path)
			for id, src := range got {
				if hiddenFrom[src] == reader.label {
					t.Errorf("%s: %s of a report hidden from them (%s) is served", reader.name, id, reader.label)
				}
			}
			if len(got) != want {
				t.Errorf("%s: %d results on the pages, want the %d of the reports they may see", reader.name, len(got), want)
			}
			if wantPages := (want + count - 1) / count; pages != wantPages {
				t.Errorf("%s: %d pages of %d, want %d: the pages tell of hidden results", reader.name, pages, count, wantPages)
			}
			for i, total := range totals {
				if total != nil && *total != want {
					t.Errorf("%s: page %d gives the total %d, want %d (or none)", reader.name, i+1, *total, want)
				}
			}
			// The accurate total counts what they may see.
			_, _, totals = itemPages(t, reader.c, path+"&_total=accurate")
			if totals[0] == nil || *totals[0] != want {
				t.Errorf("%s: _total=accurate gives %v, want %d", reader.name, totals[0], want)
			}
			// One page holding every visible result gives their number.
			_, pages, totals = itemPages(t, reader.c, "/Observation?"+insQuery(ins)+"&_count=200")
			if pages != 1 || totals[0] == nil || *totals[0] != want {
				t.Errorf("%s: one page of 200 (%d pages) gives the total %v, want %d", reader.name, pages, totals[0], want)
			}
			// Oldest first, the same results, on the same number of pages.
			up, upPages, _ := itemPages(t, reader.c, path+"&_sort=date")
			if len(up) != want || upPages != (want+count-1)/count {
				t.Errorf("%s: _sort=date gives %d results on %d pages, want %d", reader.name, len(up), upPages, want)
			}
		}
	})
}
