package httpapi_test

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"

	carnet "github.com/carnet-sante/carnet"
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
			found, total := c.search(insQuery(p.INS) + "&" + tc.query + "&_total=accurate")
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

// ITI-67 totals (docs/VISIBILITY.md): given when one page holds every
// match or when asked with _total=accurate, and then counting only what
// the reader may see; omitted otherwise. Pages never show a hidden
// document, and walking them finds every visible one once.
func TestSearchTotal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{})
		c := newClient(t, env)
		ds := synth.Generate(synth.Options{Seed: 43, Patients: 1, DocsPerPatient: 25})
		p := ds.Patients[0]
		hidden := map[string]bool{}
		for i, d := range ds.Documents {
			if i%5 == 2 {
				d.Meta.Confidentiality = append(d.Meta.Confidentiality, carnet.Coding{System: "urn:oid:" + carnet.OIDVisibility, Code: carnet.LabelInvisiblePatient})
			}
			for _, l := range d.Meta.Confidentiality {
				// Synthetic documents carry labels of their own too.
				if l.Code == carnet.LabelInvisiblePatient {
					hidden[d.UniqueID] = true
				}
			}
			if r := c.provide(submissionOf(p.INS, "1.2.250.1.999.43."+strconv.Itoa(i), d)); r.Status != 200 {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		}
		visible := len(ds.Documents) - len(hidden)
		patient := c.as(env.PatientToken(t, p.INS, false))
		bundle := func(query string) fhir.Bundle {
			t.Helper()
			r := patient.get("/DocumentReference?" + insQuery(p.INS) + query)
			if r.Status != 200 {
				t.Fatalf("%s: %d %s", query, r.Status, r.Body)
			}
			return decode[fhir.Bundle](t, r)
		}
		hasNext := func(b fhir.Bundle) bool {
			for _, l := range b.Link {
				if l.Relation == "next" {
					return true
				}
			}
			return false
		}
		if first := bundle("&_count=7"); first.Total != nil || !hasNext(first) || len(first.Entry) != 7 {
			t.Errorf("a first page of several: total %v, next %v, %d entries; want no total, a next link, 7 entries", first.Total, hasNext(first), len(first.Entry))
		}
		if est := bundle("&_count=7&_total=estimate"); est.Total != nil {
			t.Errorf("_total=estimate on a first page of several: total %d, want none", *est.Total)
		}
		for _, q := range []string{"&_count=7&_total=accurate", "&_count=50", "&_count=50&_total=none"} {
			if b := bundle(q); b.Total == nil || *b.Total != visible {
				got := -1
				if b.Total != nil {
					got = *b.Total
				}
				t.Errorf("%s: total %d, want %d (the documents the patient may see)", q, got, visible)
			}
		}
		if r := patient.get("/DocumentReference?" + insQuery(p.INS) + "&_total=all"); r.Status != 400 {
			t.Errorf("_total=all: %d, want 400", r.Status)
		}
		found, _ := patient.search(insQuery(p.INS) + "&_count=3")
		seen := map[string]bool{}
		for _, dr := range found {
			uid := ""
			if dr.MasterIdentifier != nil {
				uid = carnet.NormalizeIdentifier(dr.MasterIdentifier.Value)
			}
			if uid == "" || hidden[uid] {
				t.Errorf("a document invisible to the patient (or without uniqueId) was served: %q", uid)
			}
			if seen[dr.ID] {
				t.Errorf("%s served twice over the pages", dr.ID)
			}
			seen[dr.ID] = true
		}
		if len(found) != visible {
			t.Errorf("pages of 3: %d documents, want %d", len(found), visible)
		}
	})
}
