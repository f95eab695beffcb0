package httpapi_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/secondary"
	"github.com/carnet-sante/carnet/synth"
)

// A synthetic population for secondary use: three quasi-identifier groups
// (two large, one of two people), canaries in metadata and narratives,
// one patient opted out, one document masked, one invisible to the
// patient, one restricted.
type population struct {
	ds       synth.Dataset
	docs     [][]carnet.Document // filed, per patient
	optedOut int
	hidden   []carnet.Document // masked, invisible to the patient, restricted
	canaries []string          // folded words and numbers that must never leave
}

const (
	rareGroupFrom = 28 // patients 28 and 29: born 1931, F, Lozère
	optedOut      = 3
)

var reBirth = regexp.MustCompile(`<birthTime value="\d+"`)
var reGender = regexp.MustCompile(`administrativeGenderCode code="[FMU]"`)
var rePostal = regexp.MustCompile(`<postalCode>\d+</postalCode>`)

// plant rewrites one synthetic document: its patient's quasi-identifiers
// per group, and canaries in its narrative and metadata.
func plant(d synth.Document, p synth.Patient, i int) synth.Document {
	birth, sex, postal := "19700615", "F", "75011"
	switch {
	case i >= rareGroupFrom:
		birth, sex, postal = "19310101", "F", "48000"
	case i >= 12:
		birth, sex, postal = "19800301", "M", "69003"
	}
	c := string(d.Content)
	c = reBirth.ReplaceAllString(c, `<birthTime value="`+birth+`"`)
	c = reGender.ReplaceAllString(c, `administrativeGenderCode code="`+sex+`"`)
	c = rePostal.ReplaceAllLiteralString(c, "<postalCode>"+postal+"</postalCode>")
	given := strings.Fields(p.Identity.Given[0])[0]
	canary := fmt.Sprintf("Patiente %s %s, INS %s, domiciliée 12 rue du Canari Jaune, tél. 06 12 34 56 %02d, courriel %s.kanari@exemple.fr, vue par le Dr Zorglub.",
		strings.Title(strings.ToLower(given)), p.Identity.Family, p.INS.Value, i, strings.ToLower(given))
	c = strings.Replace(c, "<text>", "<text><paragraph>"+canary+"</paragraph>", 1)
	d.Content = []byte(c)
	s1, s256 := sha1.Sum(d.Content), sha256.Sum256(d.Content)
	d.Meta.SHA1, d.Meta.SHA256, d.Meta.Size = s1[:], s256[:], int64(len(d.Content))
	d.Meta.Title = "Compte rendu de " + given + " " + p.Identity.Family
	d.Meta.Description = "Patient INS " + p.INS.Value + ", 12 rue du Canari Jaune"
	return d
}

func newPopulation(t *testing.T, env *testenv.Env) *population {
	t.Helper()
	ctx := testenv.Context(t, time.Minute)
	pop := &population{ds: synth.Generate(synth.Options{Seed: 71, Patients: 30, DocsPerPatient: 3}), optedOut: optedOut}
	pop.docs = make([][]carnet.Document, len(pop.ds.Patients))
	byPatient := map[int][]synth.Document{}
	for _, d := range pop.ds.Documents {
		byPatient[d.Patient] = append(byPatient[d.Patient], plant(d, pop.ds.Patients[d.Patient], d.Patient))
	}
	for i, p := range pop.ds.Patients {
		docs := byPatient[i]
		switch i {
		case 5:
			docs[0].Meta.Confidentiality = append(docs[0].Meta.Confidentiality, carnet.Coding{System: carnet.OIDVisibility, Code: carnet.LabelMasquePS})
		case 6:
			docs[0].Meta.Confidentiality = append(docs[0].Meta.Confidentiality, carnet.Coding{System: carnet.OIDVisibility, Code: carnet.LabelInvisiblePatient})
		}
		res, err := env.Service.Provide(ctx, testenv.SoftwareFiling("logiciel-test", submissionOf(p.INS, fmt.Sprintf("1.2.250.1.999.71.%d", i), docs...)), submissionOf(p.INS, fmt.Sprintf("1.2.250.1.999.71.%d", i), docs...))
		if err != nil {
			t.Fatalf("file patient %d: %v", i, err)
		}
		pop.docs[i] = res.Documents
		if i == 5 || i == 6 {
			pop.hidden = append(pop.hidden, res.Documents[0])
		}
		pop.canaries = append(pop.canaries, p.Identity.Family, p.INS.Value, p.INS.Value[:13])
		for _, g := range strings.Fields(p.Identity.Given[0]) {
			pop.canaries = append(pop.canaries, g)
		}
	}
	patient := func(i int) carnet.Request {
		return carnet.Request{Actor: carnet.Actor{Kind: carnet.ActorPatient, ID: pop.ds.Patients[i].INS}}
	}
	if _, err := env.Service.AddConsent(ctx, patient(7), pop.ds.Patients[7].INS, carnet.Consent{Kind: carnet.ConsentRestrict, Document: pop.docs[7][0].LogicalID}, "Consent"); err != nil {
		t.Fatalf("restrict: %v", err)
	}
	pop.hidden = append(pop.hidden, pop.docs[7][0])
	if _, err := env.Service.AddConsent(ctx, patient(optedOut), pop.ds.Patients[optedOut].INS, carnet.Consent{Kind: carnet.ConsentSecondaryUse, Permit: false}, "Consent"); err != nil {
		t.Fatalf("opt out: %v", err)
	}
	for _, pro := range pop.ds.Professionals {
		pop.canaries = append(pop.canaries, pro.Author.Family, pro.Author.ID.Value)
	}
	pop.canaries = append(pop.canaries, "kanari", "canari", "zorglub", "exemple.fr", "0612345600", "06 12 34 56 0", "rue du")
	return pop
}

// bulkClient drives an export the way the Bulk Data IG tells a client to.
type bulkClient struct {
	t     *testing.T
	base  string
	token string
}

func (c bulkClient) do(method, u string, hdr map[string]string, body []byte) *http.Response {
	c.t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultTransport.RoundTrip(req) // no transparent gzip: the client decodes what it asked for
	if err != nil {
		c.t.Fatal(err)
	}
	return res
}

func readAll(t *testing.T, res *http.Response) []byte {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// kickOff starts an export; it returns the status URL, or "" and the
// response's status and body when it was refused.
func (c bulkClient) kickOff(path string) (string, int, []byte) {
	c.t.Helper()
	res := c.do("GET", c.base+path, map[string]string{"Accept": "application/fhir+json", "Prefer": "respond-async"}, nil)
	body := readAll(c.t, res)
	if res.StatusCode != http.StatusAccepted {
		return "", res.StatusCode, body
	}
	loc := res.Header.Get("Content-Location")
	if loc == "" {
		c.t.Fatalf("kick-off: 202 without Content-Location")
	}
	return loc, res.StatusCode, body
}

type manifest struct {
	TransactionTime     string `json:"transactionTime"`
	Request             string `json:"request"`
	RequiresAccessToken bool   `json:"requiresAccessToken"`
	Output              []struct {
		Type  string `json:"type"`
		URL   string `json:"url"`
		Count int    `json:"count"`
	} `json:"output"`
	Error     []json.RawMessage `json:"error"`
	Extension struct {
		KAnonymity secondary.KReport `json:"kAnonymity"`
	} `json:"extension"`
}

// wait polls the status URL, honouring Retry-After, until the manifest.
func (c bulkClient) wait(status string) manifest {
	c.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	sawProgress := false
	for time.Now().Before(deadline) {
		res := c.do("GET", status, map[string]string{"Accept": "application/json"}, nil)
		body := readAll(c.t, res)
		switch res.StatusCode {
		case http.StatusAccepted:
			if res.Header.Get("X-Progress") == "" {
				c.t.Errorf("202 without X-Progress")
			}
			sawProgress = true
			secs, err := strconv.Atoi(res.Header.Get("Retry-After"))
			if err != nil || secs < 1 {
				c.t.Fatalf("202 with Retry-After %q", res.Header.Get("Retry-After"))
			}
			time.Sleep(time.Duration(secs) * time.Second)
			continue
		case http.StatusOK:
			var m manifest
			if err := json.Unmarshal(body, &m); err != nil {
				c.t.Fatalf("manifest: %v: %s", err, body)
			}
			if !m.RequiresAccessToken || m.TransactionTime == "" || m.Request == "" {
				c.t.Errorf("manifest lacks a required field: %s", body)
			}
			_ = sawProgress
			return m
		default:
			c.t.Fatalf("status: %d %s", res.StatusCode, body)
		}
	}
	c.t.Fatal("the export did not finish in time")
	return manifest{}
}

// download fetches one output file with gzip, as asked, and returns its
// resources.
func (c bulkClient) download(u string) []map[string]any {
	c.t.Helper()
	res := c.do("GET", u, map[string]string{"Accept": "application/fhir+ndjson", "Accept-Encoding": "gzip"}, nil)
	defer res.Body.Close()
	if res.StatusCode != 200 {
		c.t.Fatalf("download %s: %d %s", u, res.StatusCode, readAll(c.t, res))
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/fhir+ndjson" {
		c.t.Errorf("download: Content-Type %q", ct)
	}
	if res.Header.Get("Content-Encoding") != "gzip" {
		c.t.Fatalf("download: asked for gzip, got Content-Encoding %q", res.Header.Get("Content-Encoding"))
	}
	gz, err := gzip.NewReader(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	var out []map[string]any
	sc := bufio.NewScanner(gz)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r map[string]any
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		if err := dec.Decode(&r); err != nil {
			c.t.Fatalf("NDJSON line is not JSON: %v: %s", err, sc.Bytes())
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		c.t.Fatal(err)
	}
	return out
}

// export runs one export end to end and returns its resources by type;
// then it deletes the export (the IG's client rule), unless keep.
func (c bulkClient) export(path string, keep bool) (map[string][]map[string]any, manifest, string) {
	c.t.Helper()
	status, code, body := c.kickOff(path)
	if status == "" {
		c.t.Fatalf("kick-off %s: %d %s", path, code, body)
	}
	m := c.wait(status)
	out := map[string][]map[string]any{}
	for _, o := range m.Output {
		rs := c.download(o.URL)
		if len(rs) != o.Count {
			c.t.Errorf("%s: %d lines, manifest says %d", o.Type, len(rs), o.Count)
		}
		for _, r := range rs {
			if r["resourceType"] != o.Type {
				c.t.Errorf("file of %s holds a %v", o.Type, r["resourceType"])
			}
		}
		out[o.Type] = rs
	}
	if !keep {
		if res := c.do("DELETE", status, nil, nil); res.StatusCode != http.StatusAccepted {
			c.t.Errorf("DELETE after download: %d", res.StatusCode)
		}
	}
	return out, m, status
}

var (
	bulkID       = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)
	bulkDate     = regexp.MustCompile(`^\d{4}(-\d{2}(-\d{2})?)?$`)
	bulkInstant  = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$`)
	bulkDateTime = regexp.MustCompile(`^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))?)?)?$`)
)

// checkR4 checks a resource against the FHIR R4 rules its type must keep:
// its elements are R4 elements of that type, required ones present,
// references, codes and dates well formed.
func checkR4(t *testing.T, r map[string]any) {
	t.Helper()
	typ, _ := r["resourceType"].(string)
	allowed := map[string][]string{
		"Patient":            {"gender", "birthDate", "address"},
		"DocumentReference":  {"status", "type", "category", "subject", "date", "author", "content", "context"},
		"Observation":        {"status", "category", "code", "subject", "effectiveDateTime", "effectivePeriod", "issued", "valueQuantity", "valueCodeableConcept", "valueBoolean", "valueInteger", "valueRange", "valueRatio", "interpretation", "referenceRange", "component", "method", "bodySite"},
		"Condition":          {"clinicalStatus", "verificationStatus", "category", "severity", "code", "bodySite", "subject", "onsetDateTime", "onsetPeriod", "abatementDateTime", "recordedDate"},
		"MedicationRequest":  {"status", "intent", "category", "priority", "medicationCodeableConcept", "subject", "authoredOn", "dosageInstruction"},
		"Immunization":       {"status", "vaccineCode", "patient", "occurrenceDateTime", "primarySource", "site", "route", "doseQuantity", "protocolApplied"},
		"AllergyIntolerance": {"clinicalStatus", "verificationStatus", "type", "category", "criticality", "code", "patient", "onsetDateTime", "recordedDate", "reaction"},
	}
	required := map[string][]string{
		"DocumentReference":  {"status", "content"},
		"Observation":        {"status", "code"},
		"Condition":          {"subject"},
		"MedicationRequest":  {"status", "intent", "subject", "medicationCodeableConcept"},
		"Immunization":       {"status", "vaccineCode", "patient", "occurrenceDateTime"},
		"AllergyIntolerance": {"patient"},
	}
	fields, ok := allowed[typ]
	if !ok {
		t.Fatalf("unexpected resourceType %q", typ)
	}
	id, _ := r["id"].(string)
	if !bulkID.MatchString(id) {
		t.Errorf("%s id %q is not a FHIR id", typ, id)
	}
	for k := range r {
		if k != "resourceType" && k != "id" && !slices.Contains(fields, k) {
			t.Errorf("%s has element %q, not an R4 element of it here", typ, k)
		}
	}
	for _, k := range required[typ] {
		if _, ok := r[k]; !ok {
			t.Errorf("%s %s lacks required %s", typ, id, k)
		}
	}
	for k, v := range r {
		s, isString := v.(string)
		switch {
		case k == "birthDate" && !bulkDate.MatchString(s),
			k == "date" && !bulkInstant.MatchString(s),
			strings.HasSuffix(k, "DateTime") && !bulkDateTime.MatchString(s),
			(k == "authoredOn" || k == "recordedDate") && !bulkDateTime.MatchString(s):
			t.Errorf("%s.%s = %v is not a valid FHIR date", typ, k, v)
		case k == "gender" && !slices.Contains([]string{"male", "female", "other", "unknown"}, s):
			t.Errorf("Patient.gender %q", s)
		case k == "status" && (!isString || s == ""):
			t.Errorf("%s.status %v", typ, v)
		}
	}
	for _, k := range []string{"subject", "patient"} {
		if ref, ok := r[k].(map[string]any); ok {
			if s, _ := ref["reference"].(string); !strings.HasPrefix(s, "Patient/") {
				t.Errorf("%s.%s.reference %q", typ, k, s)
			}
		}
	}
}

// words returns everything an export holds as readable text: the JSON and
// every base64 attachment decoded, folded.
func exportText(t *testing.T, all map[string][]map[string]any) string {
	var b strings.Builder
	for _, rs := range all {
		for _, r := range rs {
			j, _ := json.Marshal(r)
			b.Write(j)
			b.WriteByte('\n')
			if r["resourceType"] == "DocumentReference" {
				for _, c := range r["content"].([]any) {
					att := c.(map[string]any)["attachment"].(map[string]any)
					if d, ok := att["data"].(string); ok {
						txt, err := base64.StdEncoding.DecodeString(d)
						if err != nil {
							t.Fatalf("attachment data: %v", err)
						}
						b.Write(txt)
						b.WriteByte('\n')
					}
				}
			}
		}
	}
	return foldText(b.String())
}

func foldText(s string) string {
	r := strings.NewReplacer("é", "e", "è", "e", "ê", "e", "ë", "e", "à", "a", "â", "a", "ç", "c", "î", "i", "ï", "i", "ô", "o", "ù", "u", "û", "u", "ü", "u")
	return r.Replace(strings.ToLower(s))
}

// containsWord reports whether folded text holds w as a whole word.
func containsWord(text, w string) bool {
	w = foldText(w)
	for i := strings.Index(text, w); i >= 0; {
		before := i == 0 || !isWordByte(text[i-1])
		end := i + len(w)
		after := end >= len(text) || !isWordByte(text[end])
		if before && after {
			return true
		}
		j := strings.Index(text[i+1:], w)
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= 0x80
}

func postJSON(t *testing.T, c bulkClient, path string, v any) (int, []byte) {
	b, _ := json.Marshal(v)
	res := c.do("POST", c.base+path, map[string]string{"Content-Type": "application/json"}, b)
	return res.StatusCode, readAll(t, res)
}

// The whole of secondary use over HTTP: an operator enters permits, their
// holders export (a client following the Bulk Data IG: kick-off, polls
// honouring Retry-After, manifest, gzip NDJSON, delete), and what leaves
// is pseudonymised, minimised and k-anonymous; what must not leave does
// not; patients see the use in their history without the recipient.
func TestBulkExportUnderPermits(t *testing.T) {
	forEachBackend(t, testBulkExportUnderPermits)
}

func testBulkExportUnderPermits(t *testing.T, backend testenv.Backend) {
	env := testenv.New(t, backend, testenv.Options{})
	pop := newPopulation(t, env)
	ctx := testenv.Context(t, 5*time.Minute)
	op := bulkClient{t: t, base: env.URL, token: env.OperatorToken(t)}

	var docTypes []string
	for _, d := range pop.ds.Documents {
		if tok := d.Meta.Type.Token(); !slices.Contains(docTypes, tok) {
			docTypes = append(docTypes, tok)
		}
	}
	newPermit := func(client, narrative string, expires time.Time, epsilon float64) string {
		t.Helper()
		code, body := postJSON(t, op, "/Permit", map[string]any{
			"purpose": "Étude de la fonction rénale", "recipient": "Institut Canari de recherche, Lyon", "client": client,
			"documentTypes": docTypes, "itemTypes": []string{"Observation", "MedicationRequest"}, "expires": expires,
			"minK": 5, "narrative": narrative, "epsilon": epsilon})
		if code != http.StatusCreated {
			t.Fatalf("create permit: %d %s", code, body)
		}
		var v struct{ ID, Status string }
		json.Unmarshal(body, &v)
		if strings.Contains(string(body), "secret") {
			t.Errorf("the permit's answer shows its secret: %s", body)
		}
		return v.ID
	}
	permitA := newPermit("chercheur-a", carnet.NarrativeDeidentify, time.Now().Add(24*time.Hour), 1)
	permitB := newPermit("chercheur-b", carnet.NarrativeRemove, time.Now().Add(24*time.Hour), 0)
	expired := newPermit("chercheur-a", carnet.NarrativeRemove, time.Now().Add(-time.Minute), 0)

	// Only the operator manages permits.
	for _, tok := range []string{env.Token(t, "lgc"), env.PermitToken(t, "chercheur-a", permitA)} {
		if code, body := postJSON(t, bulkClient{t: t, base: env.URL, token: tok}, "/Permit", map[string]any{"purpose": "x"}); code != http.StatusForbidden {
			t.Errorf("a non-operator creates a permit: %d %s", code, body)
		}
	}

	a := bulkClient{t: t, base: env.URL, token: env.PermitToken(t, "chercheur-a", permitA)}
	all, m, status := a.export("/$export", true)

	// k-anonymity: every released group has k members; the rare group and
	// the opted-out patient are not there.
	rep := m.Extension.KAnonymity
	if rep.K != 5 || rep.RecordsReleased != 27 || rep.RecordsSuppressed != 2 || rep.GroupsSuppressed != 1 {
		t.Errorf("k-anonymity report %+v, want 27 released, 2 suppressed in 1 group", rep)
	}
	groups := map[string]int{}
	for _, p := range all["Patient"] {
		checkR4(t, p)
		addr, _ := json.Marshal(p["address"])
		groups[fmt.Sprint(p["birthDate"], p["gender"], string(addr))]++
	}
	if len(all["Patient"]) != 27 {
		t.Errorf("%d Patients exported, want 27", len(all["Patient"]))
	}
	for g, n := range groups {
		if n < 5 {
			t.Errorf("quasi-identifier group %s has %d members, fewer than k=5", g, n)
		}
		if strings.Contains(g, "1931") {
			t.Errorf("the rare group was released: %s", g)
		}
	}
	for _, typ := range []string{"DocumentReference", "Observation", "MedicationRequest"} {
		if len(all[typ]) == 0 {
			t.Errorf("no %s exported: the export proves nothing", typ)
		}
		for _, r := range all[typ] {
			checkR4(t, r)
		}
	}

	// No canary left: names, INS, addresses, phones, e-mails, professionals.
	text := exportText(t, all)
	if !strings.Contains(text, "[…]") {
		t.Errorf("no narrative was de-identified: the canary check proves nothing")
	}
	for _, c := range pop.canaries {
		if len(c) >= 3 && containsWord(text, c) {
			t.Errorf("canary %q left in the export", c)
		}
	}

	// Pseudonyms: the opted-out patient and the hidden documents are absent;
	// a released patient is present under their HMAC pseudonym.
	pa, err := env.Secondary.Permit(ctx, carnet.Request{Actor: carnet.Actor{Kind: carnet.ActorSystem, Operator: true}}, permitA)
	if err != nil {
		t.Fatal(err)
	}
	ps := secondary.NewPseudonyms(pa.Secret)
	ids := map[string]bool{}
	for _, rs := range all {
		for _, r := range rs {
			ids[r["id"].(string)] = true
		}
	}
	if !ids[ps.Of("patient", string(pop.docs[0][0].Patient))] {
		t.Errorf("patient 0 is not in the export under its pseudonym")
	}
	if ids[ps.Of("patient", string(pop.docs[optedOut][0].Patient))] {
		t.Errorf("the opted-out patient was exported")
	}
	for _, d := range pop.hidden {
		if ids[ps.Of("document", d.LogicalID)] {
			t.Errorf("hidden document %s (%v) was exported", d.LogicalID, d.Meta.Confidentiality)
		}
		items, err := env.Store.FindItems(ctx, d.Patient, carnet.ItemFilter{Sources: []string{d.LogicalID}})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if ids[ps.Of("item", it.ID)] {
				t.Errorf("an item of hidden document %s was exported", d.LogicalID)
			}
		}
	}
	if !ids[ps.Of("document", pop.docs[5][1].LogicalID)] {
		t.Errorf("the other documents of the patient with a masked one are missing")
	}

	// Within a permit the pseudonyms are stable; across permits unrelated.
	again, _, _ := a.export("/$export?_type=Patient", false)
	if len(again) != 1 || len(again["Patient"]) != 27 {
		t.Errorf("_type=Patient exported %d types", len(again))
	}
	for _, p := range again["Patient"] {
		if !ids[p["id"].(string)] {
			t.Errorf("patient pseudonym %v changed between two exports of one permit", p["id"])
		}
	}
	b := bulkClient{t: t, base: env.URL, token: env.PermitToken(t, "chercheur-b", permitB)}
	other, _, _ := b.export("/Group/"+permitB+"/$export?_type=Patient,DocumentReference", false)
	if len(other["Patient"]) != 27 {
		t.Errorf("permit B: %d patients", len(other["Patient"]))
	}
	for _, rs := range other {
		for _, r := range rs {
			if ids[r["id"].(string)] {
				t.Errorf("pseudonym %v is the same under two permits", r["id"])
			}
			if r["resourceType"] == "DocumentReference" {
				att := r["content"].([]any)[0].(map[string]any)["attachment"].(map[string]any)
				if _, ok := att["data"]; ok {
					t.Errorf("permit B removes narrative, yet a document carries text")
				}
			}
		}
	}

	// A POST kick-off carries its parameters in a Parameters resource.
	res := a.do("POST", env.URL+"/$export", map[string]string{"Accept": "application/fhir+json", "Prefer": "respond-async", "Content-Type": "application/fhir+json"},
		[]byte(`{"resourceType":"Parameters","parameter":[{"name":"_type","valueString":"Patient"},{"name":"_since","valueInstant":"2000-01-01T00:00:00Z"}]}`))
	if body := readAll(t, res); res.StatusCode != http.StatusAccepted {
		t.Errorf("POST kick-off: %d %s", res.StatusCode, body)
	} else {
		pm := a.wait(res.Header.Get("Content-Location"))
		if len(pm.Output) != 1 || pm.Output[0].Type != "Patient" || pm.Output[0].Count != 27 {
			t.Errorf("POST kick-off manifest: %+v", pm.Output)
		}
		a.do("DELETE", res.Header.Get("Content-Location"), nil, nil).Body.Close()
	}

	// _since: nothing registered after now.
	since, _, _ := a.export("/$export?_type=DocumentReference&_since="+url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339)), false)
	if len(since["DocumentReference"]) != 0 {
		t.Errorf("_since in the future exported %d documents", len(since["DocumentReference"]))
	}

	// Refused: past expiry, outside the categories, another client's
	// permit, a token without a permit.
	for _, tc := range []struct {
		name   string
		client bulkClient
		path   string
		want   int
	}{
		{"expired", bulkClient{t: t, base: env.URL, token: env.PermitToken(t, "chercheur-a", expired)}, "/$export", 403},
		{"type outside", a, "/$export?_type=Condition", 403},
		{"type filter outside", a, "/$export?_typeFilter=" + url.QueryEscape("DocumentReference?type=http://loinc.org|68599-0"), 403},
		{"another client's permit", bulkClient{t: t, base: env.URL, token: env.PermitToken(t, "chercheur-b", permitA)}, "/$export", 404},
		{"no permit scope", bulkClient{t: t, base: env.URL, token: env.Token(t, "lgc")}, "/$export", 403},
		{"unsupported parameter", a, "/$export?patient=Patient/x", 400},
	} {
		if loc, code, body := tc.client.kickOff(tc.path); loc != "" || code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, code, body, tc.want)
		}
	}
	// The finished export's files are the job's client's only, and only
	// under the permit's scope.
	if res := b.do("GET", status, nil, nil); res.StatusCode != 404 {
		t.Errorf("another client reads a job's status: %d", res.StatusCode)
	}
	sameClientOtherScope := bulkClient{t: t, base: env.URL, token: env.PermitToken(t, "chercheur-a", expired)}
	if res := sameClientOtherScope.do("GET", m.Output[0].URL, nil, nil); res.StatusCode != 404 {
		t.Errorf("the client reads a file without the permit's scope: %d", res.StatusCode)
	}

	// Cancel: DELETE answers 202, then the job is gone.
	loc, code, body := a.kickOff("/$export")
	if loc == "" {
		t.Fatalf("kick-off: %d %s", code, body)
	}
	if res := a.do("DELETE", loc, nil, nil); res.StatusCode != http.StatusAccepted {
		t.Errorf("DELETE: %d", res.StatusCode)
	}
	if res := a.do("GET", loc, nil, nil); res.StatusCode != 404 {
		t.Errorf("status after DELETE: %d", res.StatusCode)
	}
	if res := a.do("DELETE", status, nil, nil); res.StatusCode != http.StatusAccepted {
		t.Errorf("DELETE of a finished export: %d", res.StatusCode)
	}
	if res := a.do("GET", m.Output[0].URL, nil, nil); res.StatusCode != 404 {
		t.Errorf("file after DELETE: %d", res.StatusCode)
	}

	// Revocation stops the permit at once.
	if res := op.do("DELETE", env.URL+"/Permit/"+permitB, nil, nil); res.StatusCode != http.StatusNoContent {
		t.Errorf("revoke: %d", res.StatusCode)
	}
	if loc, code, _ := b.kickOff("/$export"); loc != "" || code != 403 {
		t.Errorf("export under a revoked permit: %d", code)
	}

	// The patient's history shows the use under permit A, not its recipient.
	hist, err := env.Service.AuditHistory(ctx, carnet.Request{Actor: carnet.Actor{Kind: carnet.ActorPatient, ID: pop.ds.Patients[0].INS}},
		pop.ds.Patients[0].INS, carnet.AuditFilter{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range hist {
		j, _ := json.Marshal(e.Event)
		if strings.Contains(string(j), "chercheur") || strings.Contains(string(j), "Institut Canari") {
			t.Errorf("the patient's history names the recipient: %s", j)
		}
		if e.Event.Action == carnet.ActionSecondaryUse && e.Event.Actor.ID == (carnet.Identifier{System: carnet.PermitSystem, Value: permitA}) {
			found = true
		}
	}
	if !found {
		t.Errorf("the patient's history does not show the use under permit %s", permitA)
	}
	optHist, err := env.Service.AuditHistory(ctx, carnet.Request{Actor: carnet.Actor{Kind: carnet.ActorPatient, ID: pop.ds.Patients[optedOut].INS}},
		pop.ds.Patients[optedOut].INS, carnet.AuditFilter{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range optHist {
		if e.Event.Action == carnet.ActionSecondaryUse {
			t.Errorf("the opted-out patient's data was used: %+v", e.Event)
		}
	}

	// Statistics: noisy counts over the fixed grid, within the budget.
	obsCode := ""
	for _, o := range all["Observation"] {
		c := o["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)
		obsCode = c["system"].(string) + "|" + c["code"].(string)
		break
	}
	stats := func(eps string) (int, []byte) {
		res := a.do("GET", env.URL+"/$stats?granularity=year&epsilon="+eps+"&code="+url.QueryEscape(obsCode), nil, nil)
		return res.StatusCode, readAll(t, res)
	}
	code, body = stats("0.5")
	var sr secondary.StatsResult
	if code != 200 || json.Unmarshal(body, &sr) != nil || len(sr.Cells) < 5 || sr.NoiseScale != 2 || sr.BudgetLeft != 0.5 {
		t.Errorf("stats: %d %s", code, body)
	}
	if code, _ = stats("0.5"); code != 200 {
		t.Errorf("second stats within the budget: %d", code)
	}
	if code, body = stats("0.1"); code != 403 {
		t.Errorf("stats past the budget: %d %s", code, body)
	}
	for _, bad := range []string{"NaN", "-1", "Inf", "0"} {
		if code, body = stats(bad); code != 400 {
			t.Errorf("stats with epsilon %s: %d %s", bad, code, body)
		}
	}
}
