package httpapi_test

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/synth"
)

// Every ITI-67 parameter finds exactly the documents a reader of their
// metadata would pick by hand.
func TestSearchParameters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{})
		c := newClient(t, env)
		ds := synth.Generate(synth.Options{Seed: 41, Patients: 1, DocsPerPatient: 30})
		p := ds.Patients[0]
		for i, d := range ds.Documents {
			if r := c.provide(submissionOf(p.INS, "1.2.250.1.999.41."+strconv.Itoa(i), d)); r.Status != 200 {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		}
		docs := ds.Documents
		count := func(pred func(synth.Document) bool) int {
			n := 0
			for _, d := range docs {
				if pred(d) {
					n++
				}
			}
			return n
		}
		d0 := docs[0]
		a0 := d0.Meta.Authors[0]
		mid := docs[len(docs)/2].Meta.Created
		cases := []struct {
			name, query string
			want        int
		}{
			{"type system|code", "type=" + url.QueryEscape(d0.Meta.Type.System+"|"+d0.Meta.Type.Code), count(func(d synth.Document) bool { return d.Meta.Type.Code == d0.Meta.Type.Code })},
			{"type code only", "type=" + d0.Meta.Type.Code, count(func(d synth.Document) bool { return d.Meta.Type.Code == d0.Meta.Type.Code })},
			{"category", "category=" + url.QueryEscape(d0.Meta.Class.System+"|"+d0.Meta.Class.Code), count(func(d synth.Document) bool { return d.Meta.Class.Code == d0.Meta.Class.Code })},
			{"format", "format=" + url.QueryEscape(d0.Meta.Format.Code), count(func(d synth.Document) bool { return d.Meta.Format.Code == d0.Meta.Format.Code })},
			{"facility", "facility=" + url.QueryEscape(d0.Meta.Facility.Code), count(func(d synth.Document) bool { return d.Meta.Facility.Code == d0.Meta.Facility.Code })},
			{"setting", "setting=" + url.QueryEscape(d0.Meta.PracticeSetting.Code), count(func(d synth.Document) bool { return d.Meta.PracticeSetting.Code == d0.Meta.PracticeSetting.Code })},
			{"security-label", "security-label=N", len(docs)},
			{"author.family (any case, accents)", "author.family=" + url.QueryEscape(strings.ToLower(a0.Family)), count(func(d synth.Document) bool { return d.Meta.Authors[0].Family == a0.Family })},
			{"author.given", "author.given=" + url.QueryEscape(a0.Given[0]), count(func(d synth.Document) bool {
				return len(d.Meta.Authors[0].Given) > 0 && d.Meta.Authors[0].Given[0] == a0.Given[0]
			})},
			{"identifier uniqueId", "identifier=" + url.QueryEscape("urn:oid:"+d0.UniqueID), 1},
			{"identifier bare OID", "identifier=" + d0.UniqueID, 1},
			{"creation ge", "creation=ge" + fhir.FormatDateTime(mid), count(func(d synth.Document) bool { return !d.Meta.Created.Before(mid) })},
			{"creation lt", "creation=lt" + fhir.FormatDateTime(mid), count(func(d synth.Document) bool { return d.Meta.Created.Before(mid) })},
			{"two types OR", "type=" + d0.Meta.Type.Code + "," + docs[1].Meta.Type.Code, count(func(d synth.Document) bool {
				return d.Meta.Type.Code == d0.Meta.Type.Code || d.Meta.Type.Code == docs[1].Meta.Type.Code
			})},
			{"type AND category", "type=" + d0.Meta.Type.Code + "&category=" + url.QueryEscape(d0.Meta.Class.Code), count(func(d synth.Document) bool {
				return d.Meta.Type.Code == d0.Meta.Type.Code && d.Meta.Class.Code == d0.Meta.Class.Code
			})},
			{"status=current", "status=current", len(docs)},
			{"status=superseded", "status=superseded", 0},
		}
		if len(d0.Meta.Events) > 0 {
			ev := d0.Meta.Events[0]
			cases = append(cases, struct {
				name, query string
				want        int
			}{"event", "event=" + url.QueryEscape(ev.Code), count(func(d synth.Document) bool {
				for _, e := range d.Meta.Events {
					if e.Code == ev.Code {
						return true
					}
				}
				return false
			})})
		}
		if start := d0.Meta.ServicePeriod.Start; !start.IsZero() {
			cases = append(cases, struct {
				name, query string
				want        int
			}{"period overlaps a day", "period=" + fhir.FormatDate(start), count(func(d synth.Document) bool {
				s, e := d.Meta.ServicePeriod.Start, d.Meta.ServicePeriod.End
				dayEnd := start.Truncate(24 * 60 * 60e9).Add(24 * 60 * 60e9)
				dayStart := start.Truncate(24 * 60 * 60e9)
				return !s.IsZero() && s.Before(dayEnd) && (e.IsZero() || !e.Before(dayStart))
			})})
		}
		for _, tc := range cases {
			if tc.want == 0 && !strings.HasPrefix(tc.name, "status=superseded") || tc.want == len(docs) && !strings.HasPrefix(tc.name, "s") {
				t.Errorf("%s: the fixture makes this case trivial (%d of %d)", tc.name, tc.want, len(docs))
			}
			found, total := c.search(insQuery(p.INS) + "&" + tc.query)
			if len(found) != tc.want || total != tc.want {
				t.Errorf("%s (%s): %d results (total %d), want %d", tc.name, tc.query, len(found), total, tc.want)
			}
			if tc.want == 0 && total != 0 {
				t.Errorf("%s: zero hits must still be a 200 Bundle", tc.name)
			}
		}

		// Unknown parameters are ignored, with a warning in the Bundle.
		r := c.get("/DocumentReference?" + insQuery(p.INS) + "&colour=blue")
		if r.Status != 200 || !strings.Contains(string(r.Body), "colour") {
			t.Errorf("unknown parameter: %d, warning mentioned=%v", r.Status, strings.Contains(string(r.Body), "colour"))
		}
		// POST _search is the same search.
		form := url.Values{"patient.identifier": {p.INS.System + "|" + p.INS.Value}, "type": {d0.Meta.Type.Code}}
		r = c.do("POST", "/DocumentReference/_search", "application/x-www-form-urlencoded", []byte(form.Encode()))
		if b := decode[fhir.Bundle](t, r); r.Status != 200 || b.Total == nil || *b.Total != cases[0].want {
			t.Errorf("POST _search: %d, %v", r.Status, b.Total)
		}
		// Search without a patient is refused.
		if r := c.get("/DocumentReference?type=" + d0.Meta.Type.Code); r.Status != 400 {
			t.Errorf("search without patient: %d, want 400", r.Status)
		}
	})
}

// ITI-66: the submission sets of a patient, and their documents.
func TestFindLists(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{})
		c := newClient(t, env)
		ds := synth.Generate(synth.Options{Seed: 42, Patients: 2, DocsPerPatient: 4})
		var mine []synth.Document
		for _, d := range ds.Documents {
			if d.Patient == 0 {
				mine = append(mine, d)
			}
		}
		if r := c.provide(submissionOf(ds.Patients[0].INS, "1.2.250.1.999.42.1", mine[:3]...)); r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		if r := c.provide(submissionOf(ds.Patients[0].INS, "1.2.250.1.999.42.2", mine[3])); r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		if r := c.provide(submissionOf(ds.Patients[1].INS, "1.2.250.1.999.42.3", ds.Documents[len(ds.Documents)-1])); r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		r := c.get("/List?" + insQuery(ds.Patients[0].INS) + "&code=submissionset")
		if r.Status != 200 {
			t.Fatalf("ITI-66: %d %s", r.Status, r.Body)
		}
		bundle := decode[fhir.Bundle](t, r)
		if bundle.Total == nil || *bundle.Total != 2 {
			t.Fatalf("ITI-66 total %v, want 2", bundle.Total)
		}
		items := 0
		for _, e := range bundle.Entry {
			var l fhir.List
			if err := json.Unmarshal(e.Resource, &l); err != nil {
				t.Fatal(err)
			}
			items += len(l.Entry)
			if r := c.get("/List/" + l.ID); r.Status != 200 {
				t.Errorf("read List/%s: %d", l.ID, r.Status)
			}
		}
		if items != 4 {
			t.Errorf("the two sets list %d documents, want 4", items)
		}
		r = c.get("/List?" + insQuery(ds.Patients[0].INS) + "&identifier=" + url.QueryEscape("urn:oid:1.2.250.1.999.42.2"))
		if b := decode[fhir.Bundle](t, r); b.Total == nil || *b.Total != 1 {
			t.Errorf("ITI-66 by identifier: %v, want 1", b.Total)
		}
	})
}
