package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/mhd"
	"github.com/carnet-sante/carnet/qedm"
	"github.com/carnet-sante/carnet/synth"
)

// client speaks to a running server with real signed tokens. With a
// token set (as), every request carries it. Without, it acts the way the
// record is used: producing software (the demo "lgc", system/ scopes)
// writes, and the patient reads their own record; the client learns which
// patient each id it was answered belongs to.
type client struct {
	t     testing.TB
	base  string
	env   *testenv.Env
	token string
	known *sync.Map // resource id -> carnet.Identifier (INS)
}

func newClient(t testing.TB, env *testenv.Env) client {
	return client{t: t, base: env.URL, env: env, known: &sync.Map{}}
}

// as returns the client acting with token.
func (c client) as(token string) client {
	c.token = token
	return c
}

// bearer chooses the token of a request in the automatic mode, and the
// patient the answer is about (zero when unknown).
func (c client) bearer(method, u string, body []byte) (string, carnet.Identifier) {
	pu, _ := url.Parse(u)
	read := method == "GET" || strings.HasSuffix(pu.Path, "/_search")
	var ins carnet.Identifier
	q := pu.Query()
	if strings.HasSuffix(pu.Path, "/_search") {
		form, _ := url.ParseQuery(string(body))
		for k, vs := range form {
			q[k] = append(q[k], vs...)
		}
	}
	v := q.Get("patient.identifier")
	if strings.HasSuffix(pu.Path, "/Patient") {
		v = q.Get("identifier")
	}
	if v != "" {
		sys, val, _ := strings.Cut(v, "|")
		ins = carnet.Identifier{System: sys, Value: val}
	} else if method == "POST" && pu.Path == "/" {
		if sub, _, err := mhd.ParseProvide(body, lenient); err == nil {
			ins = sub.Patient
		}
	} else if method == "POST" && pu.Path == "/DocumentReference" {
		if sub, err := mhd.ParseSimplifiedPublish(body, lenient); err == nil {
			ins = sub.Patient
		}
	} else if method == "POST" && pu.Path == "/DocumentReference/$generate-metadata" {
		if x, ok := generatedFrom(body); ok {
			ins = x.Patient
		}
	} else if v, ok := c.known.Load(strings.TrimPrefix(q.Get("patient"), "Patient/")); ok {
		ins = v.(carnet.Identifier)
	} else if v, ok := c.known.Load(resourceID(pu.Path)); ok {
		ins = v.(carnet.Identifier)
	}
	switch {
	case c.token != "":
		return c.token, ins
	case read && ins.Value != "":
		return c.env.PatientToken(c.t, ins, false), ins
	case method == "POST" && pu.Path == "/":
		if sub, _, err := mhd.ParseProvide(body, lenient); err == nil {
			return softwareFor(c.t, c.env, sub), ins
		}
	case method == "POST" && pu.Path == "/DocumentReference":
		if sub, err := mhd.ParseSimplifiedPublish(body, lenient); err == nil {
			return softwareFor(c.t, c.env, sub), ins
		}
	case method == "POST" && pu.Path == "/DocumentReference/$generate-metadata":
		if x, ok := generatedFrom(body); ok {
			return c.env.SoftwareToken(c.t, "lgc-test", x.Derived.Authors...), ins
		}
	}
	return c.env.Token(c.t, "lgc"), ins
}

// resourceID is the id a path names: /Type/{id}, or /Type/{id}/_history/{vid}.
func resourceID(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) >= 4 && parts[len(parts)-2] == "_history" {
		return parts[len(parts)-3]
	}
	return parts[len(parts)-1]
}

// generatedFrom reads the document of an ITI-106 request as the server
// will: its header's patient and authors.
func generatedFrom(body []byte) (carnet.Extraction, bool) {
	var p struct {
		Parameter []struct {
			Resource struct {
				ContentType string `json:"contentType"`
				Data        []byte `json:"data"`
			} `json:"resource"`
		} `json:"parameter"`
	}
	if json.Unmarshal(body, &p) != nil || len(p.Parameter) == 0 {
		return carnet.Extraction{}, false
	}
	x, ok, err := (qedm.Extractor{}).Extract(p.Parameter[0].Resource.ContentType, p.Parameter[0].Resource.Data)
	return x, ok && err == nil
}

// filed returns the document an ITI-105 or ITI-106 answer filed: the
// DocumentReference it carries when the filer may read it, else the one
// at its Location, read by the patient.
func filed(t testing.TB, c client, r response) fhir.DocumentReference {
	t.Helper()
	if dr := decode[fhir.DocumentReference](t, r); dr.ResourceType == "DocumentReference" {
		return dr
	}
	got := c.get(r.Header.Get("Location"))
	if got.Status != 200 {
		t.Fatalf("GET %s: %d %s", r.Header.Get("Location"), got.Status, got.Body)
	}
	return decode[fhir.DocumentReference](t, got)
}

// softwareFor returns a token of producing software that may file sub:
// software of the organisations its documents' authors name, in their
// metadata and in their CDA headers (docs/ACCESS.md).
func softwareFor(t testing.TB, env *testenv.Env, sub carnet.Submission) string {
	t.Helper()
	var authors []carnet.Author
	for _, d := range sub.Documents {
		authors = append(authors, d.Meta.Authors...)
		if x, ok, err := (qedm.Extractor{}).Extract(d.Meta.ContentType, d.Content); err == nil && ok {
			authors = append(authors, x.Derived.Authors...)
		}
	}
	return env.SoftwareToken(t, "lgc-test", authors...)
}

// asSoftware returns the client acting as producing software that may
// file sub.
func (c client) asSoftware(sub carnet.Submission) client {
	return c.as(softwareFor(c.t, c.env, sub))
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

var lenient = mhd.ParseOptions{AcceptTestINS: true, AcceptNonINS: true, Derivable: true}

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// learn remembers that the ids in an answer about ins belong to ins.
func (c client) learn(ins carnet.Identifier, body []byte) {
	if ins.Value == "" {
		return
	}
	for _, id := range uuidRE.FindAll(body, -1) {
		c.known.LoadOrStore(string(id), ins)
	}
}

func (c client) do(method, path, contentType string, body []byte, hdr ...string) response {
	c.t.Helper()
	u := path
	if !strings.HasPrefix(path, "http") {
		u = c.base + path
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	tok, ins := c.bearer(method, u, body)
	req.Header.Set("Authorization", "Bearer "+tok)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	c.learn(ins, b)
	return response{res.StatusCode, res.Header, b}
}

func (c client) get(path string) response { return c.do("GET", path, "", nil) }

func (c client) provide(sub carnet.Submission) response {
	c.t.Helper()
	b, err := json.Marshal(mhd.ProvideBundle(sub))
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do("POST", "/", "application/fhir+json", b)
}

func decode[T any](t testing.TB, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("decode %T: %v\n%s", v, err, r.Body)
	}
	return v
}

// search runs ITI-67 and returns the DocumentReferences of all pages.
func (c client) search(query string) ([]fhir.DocumentReference, int) {
	c.t.Helper()
	var out []fhir.DocumentReference
	total := -1
	next := "/DocumentReference?" + query
	for pages := 0; next != "" && pages < 100; pages++ {
		r := c.get(next)
		if r.Status != 200 {
			c.t.Fatalf("search %s: status %d\n%s", next, r.Status, r.Body)
		}
		b := decode[fhir.Bundle](c.t, r)
		if total < 0 && b.Total != nil {
			total = *b.Total
		}
		next = ""
		for _, l := range b.Link {
			if l.Relation == "next" {
				next = l.URL
			}
		}
		for _, e := range b.Entry {
			if e.Search != nil && e.Search.Mode == "outcome" {
				continue
			}
			var dr fhir.DocumentReference
			if err := json.Unmarshal(e.Resource, &dr); err != nil {
				c.t.Fatal(err)
			}
			out = append(out, dr)
		}
	}
	return out, total
}

// idFromLocation returns the id of a location such as
// http://host/DocumentReference/{id} or …/{id}/_history/2.
func idFromLocation(loc string) string {
	loc, _, _ = strings.Cut(loc, "/_history/")
	return loc[strings.LastIndex(loc, "/")+1:]
}

func insQuery(p carnet.Identifier) string {
	return "patient.identifier=" + url.QueryEscape(p.System+"|"+p.Value)
}

// submissionOf makes a one-set submission of synthetic documents.
func submissionOf(ins carnet.Identifier, setUID string, docs ...synth.Document) carnet.Submission {
	sub := carnet.Submission{Patient: ins, Set: carnet.SubmissionSet{UniqueID: setUID, SourceID: "1.2.250.1.999.2", Title: "envoi de test", ContentType: docs[0].Meta.Type}}
	for _, d := range docs {
		sub.Documents = append(sub.Documents, carnet.SubmittedDocument{UniqueID: d.UniqueID, Meta: d.Meta, Content: d.Content})
	}
	return sub
}

func outcome(t testing.TB, r response) fhir.OperationOutcome {
	t.Helper()
	oo := decode[fhir.OperationOutcome](t, r)
	if oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
		t.Fatalf("want an OperationOutcome with issues, got %s", r.Body)
	}
	return oo
}

func forEachBackend(t *testing.T, fn func(t *testing.T, b testenv.Backend)) {
	for _, b := range testenv.Backends {
		t.Run(b.Name, func(t *testing.T) { fn(t, b) })
	}
}

func TestMetadataTellsWhatIsSupported(t *testing.T) {
	env := testenv.New(t, testenv.SQLite, testenv.Options{})
	c := newClient(t, env)
	r := c.get("/metadata")
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/fhir+json") {
		t.Fatalf("GET /metadata: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	var cs struct {
		ResourceType, FhirVersion string
		Rest                      []struct {
			Resource []struct {
				Type        string
				SearchParam []struct{ Name string }
			}
		}
	}
	if err := json.Unmarshal(r.Body, &cs); err != nil {
		t.Fatal(err)
	}
	if cs.ResourceType != "CapabilityStatement" || cs.FhirVersion != "4.0.1" {
		t.Fatalf("got %s %s", cs.ResourceType, cs.FhirVersion)
	}
	var params []string
	for _, res := range cs.Rest[0].Resource {
		if res.Type == "DocumentReference" {
			for _, p := range res.SearchParam {
				params = append(params, p.Name)
			}
		}
	}
	for _, want := range []string{"patient", "patient.identifier", "status", "author.given", "author.family", "category", "creation", "date", "event", "facility", "format", "identifier", "period", "related", "security-label", "setting", "type"} {
		if !slices.Contains(params, want) {
			t.Errorf("CapabilityStatement lacks DocumentReference search parameter %q", want)
		}
	}
}

// A producer files documents; a clinician's software finds them and
// retrieves each byte for byte.
func TestFileFindRetrieve(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{ValueSets: true})
		c := newClient(t, env)
		ds := synth.Generate(synth.Options{Seed: 7, Patients: 2, DocsPerPatient: 12})
		byPatient := map[int][]synth.Document{}
		for _, d := range ds.Documents {
			byPatient[d.Patient] = append(byPatient[d.Patient], d)
		}
		p := ds.Patients[0]
		docs := byPatient[0]
		// Two submissions: one of three documents, then the rest one by one.
		request := mhd.ProvideBundle(submissionOf(p.INS, "1.2.250.1.999.3.1", docs[:3]...))
		body, _ := json.Marshal(request)
		r := c.do("POST", "/", "application/fhir+json", body)
		if r.Status != 200 {
			t.Fatalf("ITI-65: status %d\n%s", r.Status, r.Body)
		}
		resp := decode[fhir.Bundle](t, r)
		if resp.Type != "transaction-response" || len(resp.Entry) != len(request.Entry) || len(resp.Entry) != 1+3+3 {
			t.Fatalf("want a transaction-response with one entry per request entry (7), got %s with %d", resp.Type, len(resp.Entry))
		}
		// One response per request entry, in order: each names where its resource now lives.
		for i, e := range resp.Entry {
			want := fhir.PeekResourceType(request.Entry[i].Resource) + "/"
			if e.Response == nil || !strings.HasPrefix(e.Response.Status, "201") || !strings.HasPrefix(e.Response.Location, env.URL+"/"+want) {
				t.Errorf("entry %d: response %+v, want 201 and %s…", i, e.Response, want)
			}
		}
		for i, d := range docs[3:] {
			if r := c.provide(submissionOf(p.INS, fmt.Sprintf("1.2.250.1.999.3.%d", i+2), d)); r.Status != 200 {
				t.Fatalf("ITI-65 #%d: %d\n%s", i, r.Status, r.Body)
			}
		}
		// Another patient's documents must never show up.
		if r := c.provide(submissionOf(ds.Patients[1].INS, "1.2.250.1.999.4.1", byPatient[1]...)); r.Status != 200 {
			t.Fatalf("ITI-65 other patient: %d\n%s", r.Status, r.Body)
		}

		found, total := c.search(insQuery(p.INS) + "&status=current&_count=5&_total=accurate")
		if total != len(docs) || len(found) != len(docs) {
			t.Fatalf("search: total %d, %d entries over the pages; want %d", total, len(found), len(docs))
		}
		seen := map[string]bool{}
		for _, dr := range found {
			if seen[dr.ID] {
				t.Errorf("document %s served twice across pages", dr.ID)
			}
			seen[dr.ID] = true
		}

		// Search by type: exactly the documents of that type.
		typ := docs[0].Meta.Type
		want := 0
		for _, d := range docs {
			if d.Meta.Type.Code == typ.Code {
				want++
			}
		}
		byType, _ := c.search(insQuery(p.INS) + "&status=current&type=" + url.QueryEscape(typ.System+"|"+typ.Code))
		if len(byType) != want {
			t.Errorf("search by type %s: %d documents, want %d", typ.Code, len(byType), want)
		}

		// Retrieve every document: byte-identical, with its content type.
		byUID := map[string]synth.Document{}
		for _, d := range docs {
			byUID[d.UniqueID] = d
		}
		for _, dr := range found {
			d, ok := byUID[strings.TrimPrefix(dr.MasterIdentifier.Value, "urn:oid:")]
			if !ok {
				t.Fatalf("search returned unknown uniqueId %s", dr.MasterIdentifier.Value)
			}
			r := c.get(dr.Content[0].Attachment.URL)
			if r.Status != 200 || !bytes.Equal(r.Body, d.Content) {
				t.Fatalf("retrieve %s: status %d, %d bytes, identical=%v", dr.Content[0].Attachment.URL, r.Status, len(r.Body), bytes.Equal(r.Body, d.Content))
			}
			if got := r.Header.Get("Content-Type"); got != d.Meta.ContentType {
				t.Errorf("retrieve: Content-Type %q, want %q", got, d.Meta.ContentType)
			}
		}
		if r := c.get("/Binary/" + carnet.NewID()); r.Status != 404 {
			t.Errorf("unknown Binary: status %d, want 404", r.Status)
		}
		// Zero hits is 200 with an empty Bundle.
		none, total := c.search("patient.identifier=" + url.QueryEscape("urn:oid:1.2.250.1.213.1.4.10|123456789012345"))
		if len(none) != 0 || total != 0 {
			t.Errorf("unknown patient: %d results", len(none))
		}
	})
}

// A submission with one bad document stores nothing, and says which
// element of which entry is wrong.
func TestBadSubmissionStoresNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{ValueSets: true})
		c := newClient(t, env)
		ds := synth.Generate(synth.Options{Seed: 8, Patients: 1, DocsPerPatient: 3})
		p := ds.Patients[0]
		bad := ds.Documents[1]
		bad.Meta.Type = carnet.Coding{System: "http://loinc.org", Code: "99999-9"}
		request := mhd.ProvideBundle(submissionOf(p.INS, "1.2.250.1.999.5.1", ds.Documents[0], bad, ds.Documents[2]))
		badEntry := -1
		for i, e := range request.Entry {
			if bytes.Contains(e.Resource, []byte(`"code":"99999-9"`)) {
				badEntry = i
			}
		}
		body, _ := json.Marshal(request)
		r := c.do("POST", "/", "application/fhir+json", body)
		if r.Status != 422 {
			t.Fatalf("status %d, want 422\n%s", r.Status, r.Body)
		}
		oo := outcome(t, r)
		want := fmt.Sprintf("Bundle.entry[%d].resource.type", badEntry)
		// The unknown code is named where it is (the header's type differs
		// too: that is a second issue at the same place).
		var codeIssue *fhir.OperationOutcomeIssue
		for i, is := range oo.Issue {
			if is.Code == "code-invalid" {
				codeIssue = &oo.Issue[i]
			}
		}
		if codeIssue == nil || len(codeIssue.Expression) == 0 || codeIssue.Expression[0] != want {
			t.Fatalf("issues %+v: want code-invalid at %s", oo.Issue, want)
		}
		if !strings.Contains(codeIssue.Diagnostics, "99999-9") {
			t.Errorf("diagnostics %q should name the code", codeIssue.Diagnostics)
		}
		if found, _ := c.search(insQuery(p.INS)); len(found) != 0 {
			t.Errorf("after a refused submission %d documents are visible, want 0", len(found))
		}
	})
}

func TestDuplicateUniqueID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{})
		c := newClient(t, env)
		ds := synth.Generate(synth.Options{Seed: 9, Patients: 1, DocsPerPatient: 2})
		p := ds.Patients[0]
		d := ds.Documents[0]
		if r := c.provide(submissionOf(p.INS, "1.2.250.1.999.6.1", d)); r.Status != 200 {
			t.Fatalf("first: %d\n%s", r.Status, r.Body)
		}
		// The same uniqueId in another submission: refused, nothing stored.
		r := c.provide(submissionOf(p.INS, "1.2.250.1.999.6.2", ds.Documents[1], d))
		if r.Status != 422 {
			t.Fatalf("duplicate: status %d, want 422\n%s", r.Status, r.Body)
		}
		if oo := outcome(t, r); oo.Issue[0].Code != "duplicate" || !strings.Contains(oo.Issue[0].Diagnostics, d.UniqueID) {
			t.Errorf("issue %+v: want duplicate naming %s", oo.Issue[0], d.UniqueID)
		}
		if found, _ := c.search(insQuery(p.INS)); len(found) != 1 {
			t.Errorf("%d documents stored, want 1", len(found))
		}
	})
}

// Concurrent submissions of the same uniqueId store exactly one document.
func TestConcurrentSameUniqueID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{})
		c := newClient(t, env)
		ds := synth.Generate(synth.Options{Seed: 10, Patients: 1, DocsPerPatient: 1})
		p, d := ds.Patients[0], ds.Documents[0]
		const n = 12
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = c.provide(submissionOf(p.INS, fmt.Sprintf("1.2.250.1.999.7.%d", i), d)).Status
			}()
		}
		wg.Wait()
		ok := 0
		for _, s := range statuses {
			switch s {
			case 200:
				ok++
			case 409, 422:
			default:
				t.Errorf("unexpected status %d", s)
			}
		}
		if ok != 1 {
			t.Errorf("%d submissions succeeded, want exactly 1 (statuses %v)", ok, statuses)
		}
		if found, _ := c.search(insQuery(p.INS)); len(found) != 1 {
			t.Errorf("%d documents stored, want exactly 1", len(found))
		}
	})
}

// A retried submission (same set uniqueId, same documents) is answered as
// the first one, and nothing is stored twice.
func TestRetryIsIdempotent(t *testing.T) {
	env := testenv.New(t, testenv.SQLite, testenv.Options{})
	c := newClient(t, env)
	ds := synth.Generate(synth.Options{Seed: 11, Patients: 1, DocsPerPatient: 2})
	sub := submissionOf(ds.Patients[0].INS, "1.2.250.1.999.8.1", ds.Documents...)
	first, second := c.provide(sub), c.provide(sub)
	if first.Status != 200 || second.Status != 200 {
		t.Fatalf("statuses %d, %d", first.Status, second.Status)
	}
	a, b := decode[fhir.Bundle](t, first), decode[fhir.Bundle](t, second)
	for i := range a.Entry {
		if a.Entry[i].Response.Location != b.Entry[i].Response.Location {
			t.Errorf("entry %d: retry answered %s, first answer %s", i, b.Entry[i].Response.Location, a.Entry[i].Response.Location)
		}
	}
	if found, _ := c.search(insQuery(ds.Patients[0].INS)); len(found) != 2 {
		t.Errorf("%d documents stored, want 2", len(found))
	}
	// Same set uniqueId, other content: refused.
	other := submissionOf(ds.Patients[0].INS, "1.2.250.1.999.8.1", ds.Documents[0])
	if r := c.provide(other); r.Status != 422 {
		t.Errorf("different submission under a used set uniqueId: %d, want 422", r.Status)
	}
}

// Replacing a document supersedes it in the same transaction.
func TestReplace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{})
		c := newClient(t, env)
		ds := synth.Generate(synth.Options{Seed: 12, Patients: 1, DocsPerPatient: 2})
		p := ds.Patients[0]
		orig, repl := ds.Documents[0], ds.Documents[1]
		r := c.provide(submissionOf(p.INS, "1.2.250.1.999.9.1", orig))
		if r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		origID := idFromLocation(decode[fhir.Bundle](t, r).Entry[1].Response.Location)
		repl.Meta.RelatesTo = []carnet.Relation{{Code: "replaces", Target: origID}}
		if r := c.provide(submissionOf(p.INS, "1.2.250.1.999.9.2", repl)); r.Status != 200 {
			t.Fatalf("replacement: %d %s", r.Status, r.Body)
		}
		current, _ := c.search(insQuery(p.INS) + "&status=current")
		if len(current) != 1 || strings.TrimPrefix(current[0].MasterIdentifier.Value, "urn:oid:") != repl.UniqueID {
			t.Fatalf("current documents after replacement: %d, want only the replacement", len(current))
		}
		old := c.get("/DocumentReference/" + origID)
		if dr := decode[fhir.DocumentReference](t, old); dr.Status != "superseded" {
			t.Errorf("replaced document status %q, want superseded", dr.Status)
		}
		// Replacing it again is refused: it is no longer current.
		again := ds.Documents[0]
		again.UniqueID += ".bis"
		again.Meta.RelatesTo = []carnet.Relation{{Code: "replaces", Target: origID}}
		if r := c.provide(submissionOf(p.INS, "1.2.250.1.999.9.3", again)); r.Status != 422 {
			t.Errorf("replacing a superseded document: %d, want 422", r.Status)
		}
	})
}

// MHD's own form of replacement: the new document relates to the old one
// and a PATCH entry in the same transaction marks the old one superseded.
func TestReplaceWithPatchEntry(t *testing.T) {
	env := testenv.New(t, testenv.SQLite, testenv.Options{})
	c := newClient(t, env)
	ds := synth.Generate(synth.Options{Seed: 13, Patients: 1, DocsPerPatient: 2})
	p := ds.Patients[0]
	orig, repl := ds.Documents[0], ds.Documents[1]
	r := c.provide(submissionOf(p.INS, "1.2.250.1.999.13.1", orig))
	if r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	origID := idFromLocation(decode[fhir.Bundle](t, r).Entry[1].Response.Location)
	repl.Meta.RelatesTo = []carnet.Relation{{Code: "replaces", Target: origID}}
	sub := submissionOf(p.INS, "1.2.250.1.999.13.2", repl)
	sub.Changes = []carnet.DocumentChange{{DocumentID: origID, Status: carnet.StatusSuperseded}}
	request := mhd.ProvideBundle(sub)
	body, _ := json.Marshal(request)
	r = c.do("POST", "/", "application/fhir+json", body)
	if r.Status != 200 {
		t.Fatalf("replacement with a PATCH entry: %d %s", r.Status, r.Body)
	}
	resp := decode[fhir.Bundle](t, r)
	if len(resp.Entry) != len(request.Entry) {
		t.Fatalf("%d response entries for %d request entries", len(resp.Entry), len(request.Entry))
	}
	current, _ := c.search(insQuery(p.INS) + "&status=current")
	if len(current) != 1 || strings.TrimPrefix(current[0].MasterIdentifier.Value, "urn:oid:") != repl.UniqueID {
		t.Errorf("current documents after replacement: %d, want only the replacement", len(current))
	}
	if old, _ := c.search(insQuery(p.INS) + "&status=superseded"); len(old) != 1 {
		t.Errorf("superseded documents: %d, want the original", len(old))
	}
}
