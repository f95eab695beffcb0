package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/synth"
)

// fileDemo files the first n patients of the demo dataset the way
// `carnet serve --demo` does (one submission a document, by the producing
// software of each author's organisation).
func fileDemo(t *testing.T, env *testenv.Env, n int) synth.Dataset {
	t.Helper()
	o := synth.DemoOptions
	o.Patients = n
	ds := synth.Generate(o)
	ctx := testenv.Context(t, 5*time.Minute)
	for i, d := range ds.Documents {
		p := ds.Patients[d.Patient]
		sub := carnet.Submission{Patient: p.INS,
			Set:       carnet.SubmissionSet{UniqueID: d.UniqueID + ".set", SourceID: "1.2.250.1.999.2", Title: d.Meta.Title, Authors: d.Meta.Authors, ContentType: d.Meta.Type},
			Documents: []carnet.SubmittedDocument{{UniqueID: d.UniqueID, Meta: d.Meta, Content: d.Content, Path: fmt.Sprintf("demo.document[%d]", i)}}}
		if _, err := env.Service.Provide(ctx, testenv.SoftwareFiling("demo-loader", sub), sub); err != nil {
			t.Fatalf("demo document %d: %v", i, err)
		}
	}
	return ds
}

// itemsOf returns the items a caller finds through QEDm, by fullUrl.
func itemsOf(t *testing.T, c client, ins carnet.Identifier) map[string]served {
	t.Helper()
	out := map[string]served{}
	for _, kind := range []string{"Observation", "MedicationRequest", "Immunization", "AllergyIntolerance", "Condition"} {
		matches, _ := c.searchItems("/" + kind + "?" + insQuery(ins) + "&_count=200")
		for _, m := range matches {
			out[c.base+"/"+kind+"/"+m.ID] = m
		}
	}
	return out
}

// summaryOf gets and checks a $summary: the IPS document shape, and that
// what it holds is what the caller may see through QEDm.
func summaryOf(t *testing.T, p ipsProfile, c client, path string, ins carnet.Identifier) *ipsChecked {
	t.Helper()
	r := c.get(path)
	if r.Status != 200 {
		t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
	}
	doc, problems := checkIPS(p, r.Body, true)
	if len(problems) > 0 {
		t.Fatalf("GET %s is not an IPS document:\n  %s", path, strings.Join(problems, "\n  "))
	}
	var pat fhir.Patient
	json.Unmarshal(doc.patient, &pat)
	if !slices.ContainsFunc(pat.Identifier, func(id fhir.Identifier) bool { return id.Value == ins.Value }) {
		t.Errorf("the summary's Patient is not the patient asked for: %+v", pat.Identifier)
	}
	// Each item with its Provenance, whose source is a DocumentReference of
	// the bundle; and the item as QEDm shows it to the same caller.
	visible := itemsOf(t, c, ins)
	for u, ty := range doc.types {
		if doc.sectionOf[u] == "" {
			continue
		}
		if _, ok := visible[u]; !ok {
			t.Errorf("%s %s is in the summary but not among the items QEDm shows the same caller", ty, u)
		}
		id := u[strings.LastIndex(u, "/")+1:]
		prov := doc.byURL[c.base+"/Provenance/prov-"+id]
		var pv struct {
			Entity []struct{ What struct{ Reference string } }
		}
		if json.Unmarshal(prov, &pv) != nil || len(pv.Entity) != 1 || doc.types[c.base+"/"+pv.Entity[0].What.Reference] != "DocumentReference" {
			t.Errorf("%s has no Provenance naming a DocumentReference of the bundle: %s", u, prov)
		}
	}
	return doc
}

// The demo patients' summaries (the first four of the demo dataset, filed
// as the demo loader files them) are IPS documents as the IG's profile
// and examples shape them, built from the items the patient may see.
func TestSummaryDemoPatientsIPS(t *testing.T) {
	p, _ := loadIPSProfile(t)
	env := testenv.New(t, testenv.SQLite, testenv.Options{AccessMatrix: testenv.HasShared(t)})
	c := newClient(t, env)
	ds := fileDemo(t, env, 4)
	sections := map[string]int{} // LOINC -> patients with entries there
	for i, pat := range ds.Patients {
		pc := c.as(env.PatientToken(t, pat.INS, false))
		doc := summaryOf(t, p, pc, "/Patient/$summary", pat.INS)
		got := map[string]bool{}
		for u, code := range doc.sectionOf {
			if !got[code] {
				got[code] = true
				sections[code]++
			}
			_ = u
		}
		// Every allergy, problem code and vaccination the patient sees
		// through QEDm is in the summary, once.
		inSummary := map[string]int{}
		for u := range doc.sectionOf {
			var it served
			json.Unmarshal(doc.byURL[u], &it)
			inSummary[it.ResourceType+codeKey(it)]++
		}
		for _, it := range itemsOf(t, pc, pat.INS) {
			switch it.ResourceType {
			case "AllergyIntolerance", "Immunization":
				if inSummary[it.ResourceType+codeKey(it)] == 0 {
					t.Errorf("patient%d: %s %s is not in the summary", i, it.ResourceType, codeKey(it))
				}
			}
		}
		for k, n := range inSummary {
			if n > 1 && !strings.HasPrefix(k, "Immunization") && strings.Contains(k, "|") {
				t.Errorf("patient%d: %s is %d times in the summary", i, k, n)
			}
		}
		// The same summary by the record's id and by INS.
		if r := pc.get("/Patient/$summary?identifier=" + url.QueryEscape(pat.INS.System+"|"+pat.INS.Value)); r.Status != 200 {
			t.Errorf("patient%d: $summary?identifier: %d %s", i, r.Status, r.Body)
		}
		key := strings.TrimPrefix(doc.composition.Subject.Reference, c.base+"/Patient/")
		summaryOf(t, p, pc, "/Patient/"+key+"/$summary", pat.INS)
	}
	// The demo records fill the summary: results, vaccinations and at least
	// one required section with entries somewhere.
	for _, code := range []string{"30954-2", "11369-6"} {
		if sections[code] == 0 {
			t.Errorf("no demo patient has entries in section %s: %v", code, sections)
		}
	}
	if sections["48765-2"]+sections["11450-4"]+sections["10160-0"] == 0 {
		t.Errorf("no demo patient has an allergy, a problem or a current treatment in their summary: %v", sections)
	}
}

func codeKey(s served) string {
	if len(s.Code.Coding) == 0 {
		return ""
	}
	return "|" + s.Code.Coding[0].System + "|" + s.Code.Coding[0].Code + "|" + s.EffectiveDateTime
}

// hiddenRecord is a record with three N3 documents: one plain, one hidden
// from the patient, one masked to professionals; a professional of the
// care team who wrote none of them, and one outside it.
type hiddenRecord struct {
	env                 *testenv.Env
	c                   client
	ins                 carnet.Identifier
	plain, hidden, mask string // document ids
	minor               string // hidden from legal representatives
	pro, stranger       string // tokens
	proRPPS             string
}

func newHiddenRecord(t *testing.T, b testenv.Backend) *hiddenRecord {
	t.Helper()
	env := testenv.New(t, b, testenv.Options{})
	c := newClient(t, env)
	ds := synth.Generate(synth.Options{Seed: 61, Patients: 1, DocsPerPatient: 40})
	pick := func(k synth.Kind, nth int) synth.Document {
		for _, d := range ds.Documents {
			if d.Kind == k {
				if nth == 0 {
					return d
				}
				nth--
			}
		}
		t.Fatalf("no %s document in the synthetic record", k)
		return synth.Document{}
	}
	label := func(d synth.Document, l string) synth.Document {
		d.Meta.Confidentiality = append(slices.Clone(d.Meta.Confidentiality), carnet.Coding{System: "urn:oid:" + carnet.OIDVisibility, Code: l})
		return d
	}
	docs := []synth.Document{pick(synth.KindLabN3, 0), label(pick(synth.KindVaccination, 0), carnet.LabelInvisiblePatient), label(pick(synth.KindSummary, 0), carnet.LabelMasquePS),
		label(pick(synth.KindLabN3, 1), carnet.LabelInvisibleLegalRep)}
	h := &hiddenRecord{env: env, c: c, ins: ds.Patients[0].INS}
	var ids []string
	authors := map[string]bool{}
	for i, d := range docs {
		sub := submissionOf(h.ins, fmt.Sprintf("1.2.250.1.999.61.9.%d", i), d)
		r := c.asSoftware(sub).provide(sub)
		if r.Status != 200 {
			t.Fatalf("filing %s: %d %s", d.Kind, r.Status, r.Body)
		}
		ids = append(ids, documentIDs(t, r)[0])
		for _, a := range d.Meta.Authors {
			authors[a.ID.Value] = true
		}
	}
	h.plain, h.hidden, h.mask, h.minor = ids[0], ids[1], ids[2], ids[3]
	// Two physicians who wrote none of the documents: one declares their
	// care relationship, the other does not.
	var doctors []carnet.Author
	for _, p := range ds.Professionals {
		if p.Author.Profession.Code == "G15_10" && !authors[p.Author.ID.Value] {
			doctors = append(doctors, p.Author)
		}
	}
	if len(doctors) < 2 {
		t.Fatalf("the synthetic roster has %d physicians who wrote none of the documents", len(doctors))
	}
	h.pro, h.stranger, h.proRPPS = env.ProfessionalToken(t, doctors[0], ""), env.ProfessionalToken(t, doctors[1], ""), doctors[0].ID.Value
	if r := declareCareTeam(t, c.as(h.pro), h.ins, doctors[0]); r.Status != 201 {
		t.Fatalf("care-team declaration: %d %s", r.Status, r.Body)
	}
	return h
}

// sources returns the documents the items of a summary came from.
func (h *hiddenRecord) sources(t *testing.T, doc *ipsChecked) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for u := range doc.sectionOf {
		var it struct{ Meta struct{ Source string } }
		json.Unmarshal(doc.byURL[u], &it)
		out[it.Meta.Source[strings.LastIndex(it.Meta.Source, "/")+1:]] = true
	}
	return out
}

// everything pages through $everything and returns every entry by fullUrl,
// and the number of pages.
func everything(t *testing.T, c client, path string) (map[string]json.RawMessage, []string, int) {
	t.Helper()
	all := map[string]json.RawMessage{}
	var order []string
	pages := 0
	for next := path; next != ""; pages++ {
		if pages > 500 {
			t.Fatal("$everything pages without end")
		}
		r := c.get(next)
		if r.Status != 200 {
			t.Fatalf("GET %s: %d %s", next, r.Status, r.Body)
		}
		b := decode[fhir.Bundle](t, r)
		if b.Type != "searchset" {
			t.Fatalf("$everything answers a %s bundle", b.Type)
		}
		next = ""
		for _, l := range b.Link {
			if l.Relation == "next" {
				next = l.URL
			}
		}
		for _, e := range b.Entry {
			if _, dup := all[e.FullURL]; dup {
				t.Errorf("%s served twice by $everything", e.FullURL)
			}
			all[e.FullURL] = e.Resource
			order = append(order, e.FullURL)
		}
	}
	return all, order, pages
}

// What the policy hides from a reader never reaches them through $summary
// or $everything: the items of a document hidden from the patient, those
// of a document masked to professionals. A professional outside the care
// team is told the record does not exist, and $everything is the patient
// side's only.
func TestSummaryAndEverythingHideWhatPolicyHides(t *testing.T) {
	p, _ := loadIPSProfile(t)
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		h := newHiddenRecord(t, b)
		c := h.c
		patient := c.as(h.env.PatientToken(t, h.ins, false))
		insParam := "?identifier=" + url.QueryEscape(h.ins.System+"|"+h.ins.Value)

		// The patient: the lab report's and the masked synthesis's items,
		// none of the vaccination note hidden from them.
		r := patient.get("/Patient/$summary")
		doc := summaryOf(t, p, patient, "/Patient/$summary", h.ins)
		src := h.sources(t, doc)
		if src[h.hidden] || bytes.Contains(r.Body, []byte(h.hidden)) {
			t.Errorf("the patient's summary shows the document hidden from them (%s)", h.hidden)
		}
		if !src[h.plain] || !src[h.mask] {
			t.Errorf("the patient's summary lacks items of the documents they may see: sources %v, want %s and %s", src, h.plain, h.mask)
		}
		all, _, _ := everything(t, patient, "/Patient/$everything?_count=5")
		for u, raw := range all {
			if strings.Contains(u, h.hidden) || bytes.Contains(raw, []byte(h.hidden)) {
				t.Errorf("the patient's $everything shows the document hidden from them in %s", u)
			}
		}
		for _, id := range []string{h.plain, h.mask} {
			if _, ok := all[c.base+"/DocumentReference/"+id]; !ok {
				t.Errorf("the patient's $everything lacks their document %s", id)
			}
		}

		// A legal representative: none of the report hidden from legal
		// representatives, which the patient sees.
		if !src[h.minor] {
			t.Errorf("the patient's summary lacks the items of the report hidden from legal representatives only")
		}
		rep := c.as(h.env.PatientToken(t, h.ins, true))
		r = rep.get("/Patient/$summary")
		rdoc := summaryOf(t, p, rep, "/Patient/$summary", h.ins)
		if h.sources(t, rdoc)[h.minor] || bytes.Contains(r.Body, []byte(h.minor)) {
			t.Errorf("the legal representative's summary shows the report hidden from legal representatives")
		}
		rall, _, _ := everything(t, rep, "/Patient/$everything")
		for u, raw := range rall {
			if strings.Contains(u, h.minor) || bytes.Contains(raw, []byte(h.minor)) {
				t.Errorf("the legal representative's $everything shows the report hidden from them in %s", u)
			}
		}

		// The professional of the care team: the vaccination note's items,
		// none of the masked synthesis's.
		pro := c.as(h.pro)
		key := strings.TrimPrefix(doc.composition.Subject.Reference, c.base+"/Patient/")
		r = pro.get("/Patient/" + key + "/$summary")
		pdoc := summaryOf(t, p, pro, "/Patient/"+key+"/$summary", h.ins)
		psrc := h.sources(t, pdoc)
		if psrc[h.mask] || bytes.Contains(r.Body, []byte(h.mask)) {
			t.Errorf("the professional's summary shows the document masked to professionals (%s)", h.mask)
		}
		if !psrc[h.hidden] || !psrc[h.plain] {
			t.Errorf("the professional's summary lacks items of documents they may see: sources %v", psrc)
		}
		summaryOf(t, p, pro, "/Patient/$summary"+insParam, h.ins)

		// Outside the care team, or on the patient side's operation: the
		// answer to a record that does not exist.
		stranger := c.as(h.stranger)
		absent := stranger.get("/Patient/" + carnet.NewID() + "/$summary")
		sameAsNotFound(t, "$summary by a professional outside the care team", stranger.get("/Patient/"+key+"/$summary"), absent)
		if r := stranger.get("/Patient/$summary" + insParam); r.Status != 404 {
			t.Errorf("$summary?identifier by a professional outside the care team: %d, want 404", r.Status)
		}
		sameAsNotFound(t, "$everything by a professional", pro.get("/Patient/"+key+"/$everything"), pro.get("/Patient/"+carnet.NewID()+"/$everything"))
		// Another patient's record is not the patient's.
		other := c.as(h.env.PatientToken(t, carnet.Identifier{System: h.ins.System, Value: synth.Generate(synth.Options{Seed: 62, Patients: 2, DocsPerPatient: 1}).Patients[1].INS.Value}, false))
		if r := other.get("/Patient/" + key + "/$summary"); r.Status != 404 {
			t.Errorf("another patient's $summary of this record: %d, want 404", r.Status)
		}

		// The patient sees in their history that the professional read
		// their summary, and the refusals left no data behind.
		hist, _, _ := everything(t, patient, "/Patient/$everything?_type=AuditEvent&_count=200")
		found := false
		for _, raw := range hist {
			found = found || bytes.Contains(raw, []byte(h.proRPPS))
		}
		if !found {
			t.Errorf("the patient's history does not show the professional's $summary")
		}
	})
}

// $everything pages: with a small _count, every resource once and the
// same as one large page; the history as it stood at the first page; each
// page in the history; a cursor of another search refused.
func TestEverythingPaged(t *testing.T) {
	env := testenv.New(t, testenv.SQLite, testenv.Options{})
	c := newClient(t, env)
	ds := synth.Generate(synth.Options{Seed: 63, Patients: 1, DocsPerPatient: 8})
	ins := ds.Patients[0].INS
	for i, d := range ds.Documents {
		sub := submissionOf(ins, fmt.Sprintf("1.2.250.1.999.63.%d", i), d)
		if r := c.asSoftware(sub).provide(sub); r.Status != 200 {
			t.Fatalf("filing: %d %s", r.Status, r.Body)
		}
	}
	patient := c.as(env.PatientToken(t, ins, false))
	postConsent(t, patient, consentBody(t, carnet.Consent{Kind: carnet.ConsentBlock, Professional: carnet.Identifier{System: "urn:oid:" + carnet.OIDRPPS, Value: "810000000017"}}, carnet.Identifier{}))

	one, _, pages := everything(t, patient, "/Patient/$everything?_count=200")
	if pages != 1 {
		t.Fatalf("%d pages for _count=200", pages)
	}
	count := map[string]int{}
	for u := range one {
		count[strings.Split(strings.TrimPrefix(u, c.base+"/"), "/")[0]]++
	}
	if count["Patient"] != 1 || count["DocumentReference"] != len(ds.Documents) || count["Binary"] != len(ds.Documents) ||
		count["Consent"] == 0 || count["AuditEvent"] == 0 || count["Provenance"] == 0 {
		t.Errorf("one page of $everything holds %v; want the patient, %d documents and their Binaries, the items, the consents, the history", count, len(ds.Documents))
	}
	paged, order, pages := everything(t, patient, "/Patient/$everything?_count=3")
	if pages < 5 {
		t.Errorf("%d pages of 3 for %d resources", pages, len(paged))
	}
	for u := range one {
		if _, ok := paged[u]; !ok {
			t.Errorf("%s is in the single page, not in the paged run", u)
		}
	}
	// The paged run's history stops at its first page: the single page's
	// read is in it, its own pages are not.
	if got, want := countPrefix(paged, c.base+"/AuditEvent/"), count["AuditEvent"]+1; got != want {
		t.Errorf("the paged run shows %d events of the history, want %d (as it stood at its first page)", got, want)
	}
	if order[0] != c.base+"/Patient/"+strings.Split(order[0], "/Patient/")[1] {
		t.Errorf("the first entry is %s, want the Patient", order[0])
	}
	after, _, _ := everything(t, patient, "/Patient/$everything?_type=AuditEvent&_count=200")
	if got, want := len(after), countPrefix(paged, c.base+"/AuditEvent/")+pages; got != want {
		t.Errorf("after the paged run the history holds %d events, want %d (one per page)", got, want)
	}
	// Binaries are the documents' bytes.
	for i, d := range ds.Documents {
		var bin fhir.Binary
		found := false
		for u, raw := range paged {
			if strings.Contains(u, "/Binary/") && json.Unmarshal(raw, &bin) == nil && bytes.Equal(bin.Data, d.Content) {
				found = true
			}
		}
		if !found {
			t.Errorf("document %d: no Binary holds its bytes", i)
		}
	}
	// A cursor belongs to its search.
	r := patient.get("/Patient/$everything?_count=3")
	var next string
	for _, l := range decode[fhir.Bundle](t, r).Link {
		if l.Relation == "next" {
			next = l.URL
		}
	}
	u, _ := url.Parse(next)
	cursor := u.Query().Get("_page")
	if r := patient.get("/Patient/$everything?_type=Patient&_page=" + url.QueryEscape(cursor)); r.Status != 400 {
		t.Errorf("a cursor of another $everything: %d, want 400", r.Status)
	}
	if r := patient.get("/Patient/$everything?_since=2020-01-01"); r.Status != 400 {
		t.Errorf("_since: %d, want 400 (refused, not ignored)", r.Status)
	}
	if r := patient.get("/Patient/$everything?_type=Observation,Provenance&_count=200"); r.Status != 200 {
		t.Errorf("_type=Observation,Provenance: %d %s", r.Status, r.Body)
	} else {
		for _, e := range decode[fhir.Bundle](t, r).Entry {
			if ty := fhir.PeekResourceType(e.Resource); ty != "Observation" && ty != "Provenance" {
				t.Errorf("_type=Observation,Provenance serves a %s", ty)
			}
		}
	}
}

func countPrefix(m map[string]json.RawMessage, prefix string) int {
	n := 0
	for u := range m {
		if strings.HasPrefix(u, prefix) {
			n++
		}
	}
	return n
}
