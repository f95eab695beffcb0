package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/synth"
)

type served struct {
	ResourceType      string
	ID                string
	EffectiveDateTime string
	Code              struct {
		Coding []struct{ System, Code string }
	}
	ValueQuantity *struct {
		Value float64
		Unit  string
	}
	Interpretation []struct {
		Coding []struct{ Code string }
	}
	Target   []struct{ Reference string }
	Recorded string
	Entity   []struct {
		What struct{ Reference string }
	}
}

// searchItems returns the matches and the included Provenances of a QEDm search.
func (c client) searchItems(path string) (matches, provenance []served) {
	c.t.Helper()
	r := c.get(path)
	if r.Status != 200 {
		c.t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
	}
	b := decode[fhir.Bundle](c.t, r)
	for _, e := range b.Entry {
		var s served
		if err := json.Unmarshal(e.Resource, &s); err != nil {
			c.t.Fatal(err)
		}
		switch {
		case e.Search != nil && e.Search.Mode == "match":
			matches = append(matches, s)
		case s.ResourceType == "Provenance":
			provenance = append(provenance, s)
		}
	}
	return matches, provenance
}

func firstLab(ds synth.Dataset, patient int, after int) (synth.Document, int) {
	for i := after; i < len(ds.Documents); i++ {
		d := ds.Documents[i]
		if d.Patient == patient && d.Kind == synth.KindLabN3 && len(d.Results) > 0 {
			return d, i
		}
	}
	return synth.Document{}, -1
}

// An N3 lab report filed through ITI-65 makes its results appear through
// QEDm, each with a Provenance to the document; replacing the report
// replaces them.
func TestLabResultsThroughQEDm(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{ValueSets: true})
		c := newClient(t, env)
		ds := synth.Generate(synth.Options{Seed: 51, Patients: 2, DocsPerPatient: 30})
		p := ds.Patients[0]
		lab, i := firstLab(ds, 0, 0)
		if i < 0 {
			t.Fatal("the synthetic record has no N3 lab report")
		}
		filedFrom := time.Now().Truncate(time.Second)
		r := c.provide(submissionOf(p.INS, "1.2.250.1.999.51.1", lab))
		if r.Status != 200 {
			t.Fatalf("ITI-65: %d %s", r.Status, r.Body)
		}
		filedTo := time.Now()
		docID := idFromLocation(decode[fhir.Bundle](t, r).Entry[1].Response.Location)

		q := "/Observation?" + insQuery(p.INS) + "&category=laboratory&_revinclude=Provenance:target&_count=200"
		obs, provs := c.searchItems(q)
		if len(obs) != len(lab.Results) {
			t.Fatalf("QEDm: %d Observations, want one per result (%d)", len(obs), len(lab.Results))
		}
		if len(provs) != len(obs) {
			t.Fatalf("%d Provenance for %d Observations", len(provs), len(obs))
		}
		for _, pv := range provs {
			if len(pv.Entity) != 1 || pv.Entity[0].What.Reference != "DocumentReference/"+docID {
				t.Errorf("Provenance %s does not point to the source document %s: %+v", pv.ID, docID, pv.Entity)
			}
			// recorded (required by FHIR) is when Carnet extracted the
			// result: the filing, whatever date the report gives.
			if rec, err := time.Parse(time.RFC3339, pv.Recorded); err != nil || rec.Before(filedFrom) || rec.After(filedTo) {
				t.Errorf("Provenance %s recorded %q, want the filing (%s to %s)", pv.ID, pv.Recorded, filedFrom, filedTo)
			}
		}
		// Each result as the report says it: code, value, unit, interpretation.
		res := lab.Results[0]
		byCode, _ := c.searchItems("/Observation?" + insQuery(p.INS) + "&code=" + url.QueryEscape("http://loinc.org|"+res.LOINC))
		if len(byCode) == 0 {
			t.Fatalf("no Observation for %s", res.LOINC)
		}
		o := byCode[0]
		if want, err := strconv.ParseFloat(res.Value, 64); err == nil {
			if o.ValueQuantity == nil || o.ValueQuantity.Value != want || o.ValueQuantity.Unit != res.Unit {
				t.Errorf("%s: value %+v, the report says %s %s", res.LOINC, o.ValueQuantity, res.Value, res.Unit)
			}
		}
		if res.Interpretation != "" && (len(o.Interpretation) == 0 || o.Interpretation[0].Coding[0].Code != res.Interpretation) {
			t.Errorf("%s: interpretation %+v, the report says %s", res.LOINC, o.Interpretation, res.Interpretation)
		}
		// One Observation read by id.
		if r := c.get("/Observation/" + o.ID); r.Status != 200 || decode[served](t, r).ID != o.ID {
			t.Errorf("read Observation/%s: %d", o.ID, r.Status)
		}

		// Another patient's results are never there.
		other, _ := firstLab(ds, 1, 0)
		if other.UniqueID != "" {
			if r := c.provide(submissionOf(ds.Patients[1].INS, "1.2.250.1.999.51.9", other)); r.Status != 200 {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			if again, _ := c.searchItems(q); len(again) != len(obs) {
				t.Errorf("another patient's report changed this patient's results: %d, want %d", len(again), len(obs))
			}
		}

		// Replace the report by a later one: the old results go, the new come.
		next, j := firstLab(ds, 0, i+1)
		if j < 0 {
			t.Fatal("the synthetic record has a single N3 lab report")
		}
		next.Meta.RelatesTo = []carnet.Relation{{Code: "replaces", Target: docID}}
		if r := c.provide(submissionOf(p.INS, "1.2.250.1.999.51.2", next)); r.Status != 200 {
			t.Fatalf("replacement: %d %s", r.Status, r.Body)
		}
		after, provs := c.searchItems(q)
		if len(after) != len(next.Results) {
			t.Errorf("after replacement: %d Observations, want the new report's %d", len(after), len(next.Results))
		}
		for _, pv := range provs {
			if pv.Entity[0].What.Reference == "DocumentReference/"+docID {
				t.Errorf("a result of the replaced report is still served")
			}
		}
		if r := c.get("/Observation/" + o.ID); r.Status != 404 {
			t.Errorf("a replaced result read by id: %d, want 404", r.Status)
		}
	})
}

// Declared metadata contradicting the document's own header is refused,
// naming both values.
func TestContradictionsWithTheHeaderRefused(t *testing.T) {
	env := testenv.New(t, testenv.SQLite, testenv.Options{})
	c := newClient(t, env)
	ds := synth.Generate(synth.Options{Seed: 52, Patients: 2, DocsPerPatient: 4})
	d := ds.Documents[0]
	other := ds.Patients[1]
	cases := []struct {
		name   string
		change func(*carnet.Submission)
		where  string
		names  []string
	}{
		{"other patient", func(s *carnet.Submission) { s.Patient = other.INS }, ".subject", nil},
		{"other type", func(s *carnet.Submission) {
			s.Documents[0].Meta.Type = carnet.Coding{System: "http://loinc.org", Code: "11488-4", Display: "CR de consultation"}
		}, ".type", []string{"11488-4", d.Meta.Type.Code}},
		{"other author", func(s *carnet.Submission) {
			s.Documents[0].Meta.Authors = []carnet.Author{{ID: carnet.Identifier{System: "urn:oid:" + carnet.OIDRPPS, Value: "810999999999"}, Family: "AUTRE"}}
		}, ".author", []string{"810999999999", d.Meta.Authors[0].ID.Value}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sub := submissionOf(ds.Patients[d.Patient].INS, fmt.Sprintf("1.2.250.1.999.52.%d", i), d)
			tc.change(&sub)
			r := c.provide(sub)
			if r.Status != 422 {
				t.Fatalf("status %d, want 422\n%s", r.Status, r.Body)
			}
			is := outcome(t, r).Issue[0]
			if len(is.Expression) == 0 || !strings.HasSuffix(is.Expression[0], tc.where) {
				t.Errorf("issue at %v, want …%s", is.Expression, tc.where)
			}
			for _, n := range tc.names {
				if !strings.Contains(is.Diagnostics, n) {
					t.Errorf("diagnostics %q should name %s", is.Diagnostics, n)
				}
			}
		})
	}
	if found, _ := c.search(insQuery(other.INS)); len(found) != 0 {
		t.Errorf("a refused document was filed")
	}
}

// ITI-106: the producer sends the CDA alone; Carnet reads its header,
// files it, and answers with the DocumentReference it built.
func TestGenerateMetadata(t *testing.T) {
	env := testenv.New(t, testenv.SQLite, testenv.Options{ValueSets: true})
	c := newClient(t, env)
	ds := synth.Generate(synth.Options{Seed: 53, Patients: 1, DocsPerPatient: 20})
	lab, i := firstLab(ds, 0, 0)
	if i < 0 {
		t.Fatal("no N3 lab report in the synthetic record")
	}
	body := fmt.Sprintf(`{"resourceType":"Parameters","parameter":[{"name":"document","resource":{"resourceType":"Binary","contentType":"text/xml","data":%q}}]}`,
		base64.StdEncoding.EncodeToString(lab.Content))
	// The biologist who wrote it files it, and reads what was filed.
	author := c.as(env.ProfessionalToken(t, lab.Meta.Authors[0], ""))
	r := author.do("POST", "/DocumentReference/$generate-metadata", "application/fhir+json", []byte(body))
	if r.Status != 201 {
		t.Fatalf("ITI-106: %d %s", r.Status, r.Body)
	}
	dr := decode[fhir.DocumentReference](t, r)
	if dr.Type == nil || dr.Type.Coding[0].Code != lab.Meta.Type.Code {
		t.Errorf("generated type %+v, the header says %s", dr.Type, lab.Meta.Type.Code)
	}
	if strings.TrimPrefix(dr.MasterIdentifier.Value, "urn:oid:") != lab.UniqueID {
		t.Errorf("generated uniqueId %s, the header's id is %s", dr.MasterIdentifier.Value, lab.UniqueID)
	}
	found, _ := c.search(insQuery(ds.Patients[0].INS))
	if len(found) != 1 || found[0].ID != dr.ID {
		t.Fatalf("the patient's record holds %d documents, want the generated one", len(found))
	}
	if got := c.get(dr.Content[0].Attachment.URL); string(got.Body) != string(lab.Content) {
		t.Error("the filed document is not the one sent")
	}
	if obs, _ := c.searchItems("/Observation?" + insQuery(ds.Patients[0].INS)); len(obs) != len(lab.Results) {
		t.Errorf("%d Observations extracted, want %d", len(obs), len(lab.Results))
	}
	// A retry is the same filing.
	if r := author.do("POST", "/DocumentReference/$generate-metadata", "application/fhir+json", []byte(body)); r.Status != 200 && r.Status != 201 {
		t.Errorf("retry: %d %s", r.Status, r.Body)
	}
	if found, _ := c.search(insQuery(ds.Patients[0].INS)); len(found) != 1 {
		t.Errorf("after a retry: %d documents", len(found))
	}
	// Not a CDA: refused.
	pdf := `{"resourceType":"Binary","contentType":"application/pdf","data":"JVBERi0xLjQK"}`
	if r := c.do("POST", "/DocumentReference/$generate-metadata", "application/fhir+json", []byte(pdf)); r.Status != 415 {
		t.Errorf("a PDF: %d, want 415", r.Status)
	}
}

// ITI-105 with a CDA: the producer may send only the subject and the
// document; the rest of the metadata is read from the header.
func TestSimplifiedPublishDerivesFromTheHeader(t *testing.T) {
	env := testenv.New(t, testenv.SQLite, testenv.Options{ValueSets: true})
	c := newClient(t, env)
	ds := synth.Generate(synth.Options{Seed: 54, Patients: 1, DocsPerPatient: 3})
	d, p := ds.Documents[0], ds.Patients[0]
	body := fmt.Sprintf(`{"resourceType":"DocumentReference","status":"current",
		"subject":{"identifier":{"system":%q,"value":%q}},
		"content":[{"attachment":{"contentType":"text/xml","data":%q}}]}`, p.INS.System, p.INS.Value, base64.StdEncoding.EncodeToString(d.Content))
	author := c.as(env.ProfessionalToken(t, d.Meta.Authors[0], ""))
	r := author.do("POST", "/DocumentReference", "application/fhir+json", []byte(body))
	if r.Status != 201 {
		t.Fatalf("minimal ITI-105: %d %s", r.Status, r.Body)
	}
	dr := decode[fhir.DocumentReference](t, r)
	if dr.Type == nil || dr.Type.Coding[0].Code != d.Meta.Type.Code || len(dr.Category) == 0 || dr.Content[0].Format == nil || len(dr.SecurityLabel) == 0 {
		t.Errorf("metadata not derived from the header: type %+v, category %+v, format %+v, labels %+v", dr.Type, dr.Category, dr.Content[0].Format, dr.SecurityLabel)
	}
	if strings.TrimPrefix(dr.MasterIdentifier.Value, "urn:oid:") != d.UniqueID {
		t.Errorf("uniqueId %s, the header's id is %s", dr.MasterIdentifier.Value, d.UniqueID)
	}
	// Without a readable document, what is missing is still refused.
	pdf := fmt.Sprintf(`{"resourceType":"DocumentReference","status":"current",
		"subject":{"identifier":{"system":%q,"value":%q}},
		"content":[{"attachment":{"contentType":"application/pdf","data":"JVBERi0xLjQK"}}]}`, p.INS.System, p.INS.Value)
	r = author.do("POST", "/DocumentReference", "application/fhir+json", []byte(pdf))
	if r.Status < 400 || r.Status >= 500 {
		t.Fatalf("a bare PDF without metadata: %d, want 4xx", r.Status)
	}
	if oo := outcome(t, r); len(oo.Issue) < 3 {
		t.Errorf("want one issue per missing element (type, category, format, …), got %d", len(oo.Issue))
	}
}

// Lab trends: one analyte's results over several reports, oldest first
// with _sort=date, ready to chart (value, unit, reference range).
func TestLabTrend(t *testing.T) {
	env := testenv.New(t, testenv.SQLite, testenv.Options{})
	c := newClient(t, env)
	ds := synth.Generate(synth.Options{Seed: 53, Patients: 1, DocsPerPatient: 80})
	p := ds.Patients[0]
	counts := map[string]int{}
	n := 0
	for i, d := range ds.Documents {
		if d.Kind != synth.KindLabN3 || len(d.Results) == 0 {
			continue
		}
		if r := c.provide(submissionOf(p.INS, fmt.Sprintf("1.2.250.1.999.53.%d", i), d)); r.Status != 200 {
			t.Fatalf("ITI-65: %d %s", r.Status, r.Body)
		}
		n++
		for _, res := range d.Results {
			counts[res.LOINC]++
		}
	}
	code, most := "", 0
	for c, k := range counts {
		if k > most || (k == most && c < code) {
			code, most = c, k
		}
	}
	if most < 2 {
		t.Fatalf("%d lab reports but no analyte measured twice", n)
	}
	series := func(sort string) []string {
		obs, _ := c.searchItems("/Observation?" + insQuery(p.INS) + "&code=" + url.QueryEscape("http://loinc.org|"+code) + sort + "&_count=200")
		var dates []string
		for _, o := range obs {
			if o.ValueQuantity == nil {
				t.Errorf("a point without a quantity: %+v", o)
			}
			dates = append(dates, o.EffectiveDateTime)
		}
		return dates
	}
	up, down := series("&_sort=date"), series("")
	if len(up) != most || len(down) != most {
		t.Fatalf("%s: %d and %d points, want %d", code, len(up), len(down), most)
	}
	for i := 1; i < len(up); i++ {
		if up[i] < up[i-1] || down[i] > down[i-1] {
			t.Errorf("series not ordered: %v / %v", up, down)
			break
		}
	}
	if r := c.get("/Observation?" + insQuery(p.INS) + "&_sort=value"); r.Status != 400 {
		t.Errorf("_sort=value: %d, want 400", r.Status)
	}
}
