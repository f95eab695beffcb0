package mhd

import (
	"crypto/sha1"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
)

func storedDocument(t *testing.T) carnet.Document {
	t.Helper()
	s, _, err := ParseProvide(mustJSON(t, validBundle()), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	sd := s.Documents[0]
	return carnet.Document{
		Patient: "p1", ID: "6f1c2b9e-0d5a-4c41-9a51-2d2f4a3e8b10", LogicalID: "L1", UniqueID: sd.UniqueID,
		Version: 2, Latest: true, Status: carnet.StatusCurrent, SubmissionSet: "set1", ContentID: "bin1",
		Date: time.Date(2024, 3, 15, 9, 0, 1, 0, time.UTC), Meta: sd.Meta,
	}
}

func TestDocumentReferenceRendering(t *testing.T) {
	d := storedDocument(t)
	d.Meta.RelatesTo = []carnet.Relation{{Code: "replaces", Target: "old-123"}}
	dr := DocumentReference(d, "https://carnet.example/fhir/")
	var buf strings.Builder
	if err := fhir.Encode(&buf, dr); err != nil {
		t.Fatal(err)
	}
	js := buf.String()
	h := sha1.Sum([]byte(cdaText))
	hash, _ := json.Marshal(h[:])
	for _, want := range []string{
		`"resourceType":"DocumentReference"`,
		`"id":"L1"`, // the FHIR id is the logicalId, stable across metadata versions
		`"versionId":"2"`,
		`"lastUpdated":"2024-03-15T09:00:01Z"`,
		`"masterIdentifier":{"system":"urn:ietf:rfc:3986","value":"urn:oid:1.2.250.1.999.2.1.1"}`,
		`{"use":"official","system":"urn:ietf:rfc:3986","value":"urn:uuid:6f1c2b9e-0d5a-4c41-9a51-2d2f4a3e8b10"}`,
		`{"use":"usual","system":"` + SystemLogicalID + `","value":"L1"}`,
		`"status":"current"`,
		`"subject":{"reference":"Patient/p1"}`,
		`"date":"2024-03-15T09:00:01Z"`,
		`"url":"https://carnet.example/fhir/Binary/bin1"`,
		`"size":` + strings.TrimSpace(strings.Split(strings.Split(js, `"size":`)[1], ",")[0]),
		`"hash":` + string(hash),
		`"creation":"2024-03-15T08:30:00Z"`,
		`"contentType":"text/xml"`,
		`"format":{"system":"http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode","code":"urn:ihe:iti:xds-sd:text:2008"}`,
		`"relatesTo":[{"code":"replaces","target":{"reference":"DocumentReference/old-123"}}]`,
		`"sourcePatientInfo":{"reference":"#source-patient"}`,
		`"practiceSetting":{"coding":[{"system":"urn:oid:1.2.250.1.213.1.1.4.9","code":"ORG01","display":"Médecine générale"}]}`,
		`"period":{"start":"2024-03-15T08:00:00Z","end":"2024-03-15T08:45:00Z"}`,
		`"author":[{"reference":"#author1"}]`,
		`"resourceType":"PractitionerRole","id":"author1"`,
	} {
		if !strings.Contains(js, want) {
			t.Errorf("rendered DocumentReference lacks %s\n%s", want, js)
		}
	}
	if !strings.Contains(js, `"size":`+itoa(len(cdaText))) {
		t.Errorf("size is not %d", len(cdaText))
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// What Carnet serves, submitted again, reads back as the same metadata:
// rendering and parsing are inverse for everything the domain keeps.
func TestDocumentReferenceRoundTrip(t *testing.T) {
	d := storedDocument(t)
	dr := DocumentReference(d, "https://carnet.example/fhir")
	dr.Subject = &fhir.Reference{Identifier: &fhir.Identifier{System: testINSSystem, Value: testINSValue}}
	raw, _ := json.Marshal(dr)
	var l issueList
	pd := readDocument(raw, "DocumentReference", testOpts.withDefaults(), &l)
	if len(l) > 0 {
		t.Fatalf("rendered DocumentReference does not read back:%s", formatIssues(l))
	}
	got, want := pd.doc.Meta, d.Meta
	attachContent(&pd, []byte(cdaText), &l)
	got = pd.doc.Meta
	if len(l) > 0 {
		t.Fatalf("size/hash do not check:%s", formatIssues(l))
	}
	// What legitimately differs: the JSON kept as sent, the producer's
	// patient re-identified in the container, Carnet's ids added.
	got.Original, want.Original = nil, nil
	got.SourcePatientRaw, want.SourcePatientRaw = nil, nil
	got.Identifiers = got.Identifiers[2:]
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.MarshalIndent(got, "", " ")
		wj, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("round trip differs:\ngot  %s\nwant %s", gj, wj)
	}
	if pd.doc.UniqueID != d.UniqueID {
		t.Errorf("uniqueId %s, want %s", pd.doc.UniqueID, d.UniqueID)
	}
}

func TestDocumentReferenceStatus(t *testing.T) {
	for _, tt := range []struct {
		in       carnet.DocumentStatus
		status   string
		archived bool
	}{
		{carnet.StatusCurrent, "current", false},
		{carnet.StatusSuperseded, "superseded", false},
		{carnet.StatusDeleted, "entered-in-error", false},
		{carnet.StatusArchived, "current", true},
	} {
		dr := DocumentReference(carnet.Document{ID: "x", Status: tt.in}, "")
		ext, has := fhir.FindExtension(dr.Extension, ExtAvailabilityStatus)
		if dr.Status != tt.status || has != tt.archived || has && (ext.ValueCode == nil || *ext.ValueCode != "archived") {
			t.Errorf("%s: status %s, extension %+v", tt.in, dr.Status, dr.Extension)
		}
	}
}

func TestDocumentReferenceAuthors(t *testing.T) {
	authors := []carnet.Author{
		{ID: carnet.Identifier{System: "urn:oid:" + carnet.OIDRPPS, Value: "8100"}, Family: "Durand"},
		{ID: carnet.Identifier{System: testINSSystem, Value: testINSValue}, Family: "Martin"},
		{Org: "Laboratoire", OrgID: carnet.Identifier{System: "urn:oid:1.2.250.1.71.4.2.2", Value: "75"}},
		{Family: "Lemaire", Profession: carnet.Coding{Code: "10"}, Role: carnet.Coding{Code: "R"}},
		{Family: "Petit", Role: carnet.Coding{Code: "R"}},
	}
	dr := DocumentReference(carnet.Document{ID: "x", Meta: carnet.DocumentMeta{Authors: authors}}, "")
	wantTypes := []string{"Practitioner", "Patient", "Organization", "PractitionerRole", "PractitionerRole"}
	if len(dr.Author) != len(authors) {
		t.Fatalf("%d authors rendered, want %d", len(dr.Author), len(authors))
	}
	for i, ref := range dr.Author {
		c, ok := dr.ResolveContained(ref.Reference)
		if !ok || c.ResourceType != wantTypes[i] {
			t.Errorf("author %d: %+v, want a contained %s", i, c, wantTypes[i])
		}
	}
	var l issueList
	for i, ref := range dr.Author {
		a, ok := readAuthor(dr.Contained, ref, "x", &l)
		if !ok || !reflect.DeepEqual(a, authors[i]) {
			t.Errorf("author %d reads back as %+v, want %+v", i, a, authors[i])
		}
	}
}

func TestListRendering(t *testing.T) {
	s := carnet.SubmissionSet{
		Patient: "p1", ID: "set1", UniqueID: "1.2.250.1.999.4.1", SourceID: "1.2.250.1.999.3",
		Date: time.Date(2024, 3, 15, 9, 0, 0, 0, time.UTC), Title: "Envoi",
		ContentType: carnet.Coding{System: "http://loinc.org", Code: "11488-4"},
		Authors:     []carnet.Author{{ID: carnet.Identifier{System: "urn:oid:" + carnet.OIDRPPS, Value: "8100"}}},
		Documents:   []string{"d1", "d2"},
	}
	l := List(s, "https://carnet.example/fhir")
	raw, _ := json.Marshal(l)
	// Rendered, it is a SubmissionSet that ITI-65 itself would accept.
	var issues issueList
	l.Subject = &fhir.Reference{Identifier: &fhir.Identifier{System: testINSSystem, Value: testINSValue}}
	raw2, _ := json.Marshal(l)
	rs := readSubmissionSet(raw2, "List", testOpts.withDefaults(), &issues)
	if len(issues) > 0 {
		t.Fatalf("rendered List does not read back:%s", formatIssues(issues))
	}
	if rs.set.UniqueID != s.UniqueID || rs.set.SourceID != s.SourceID || !rs.set.Date.Equal(s.Date) || rs.set.ContentType != s.ContentType || !reflect.DeepEqual(rs.set.Authors, s.Authors) {
		t.Errorf("read back %+v", rs.set)
	}
	for _, want := range []string{`"resourceType":"List"`, `"code":"submissionset"`, `"mode":"working"`, `{"item":{"reference":"DocumentReference/d2"}}`, `"value":"urn:uuid:set1"`, `"subject":{"reference":"Patient/p1"}`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("List lacks %s: %s", want, raw)
		}
	}
}

func TestParseSimplifiedPublish(t *testing.T) {
	b := validBundle()
	doc := at(t, b, "entry.1.resource")
	a := at(t, b, "entry.1.resource.content.0.attachment")
	delete(a, "url")
	a["data"] = b64(cdaText)
	body := mustJSON(t, doc)
	s, err := ParseSimplifiedPublish(body, testOpts)
	if err != nil {
		t.Fatalf("ParseSimplifiedPublish: %v%s", err, formatIssues(carnet.ErrorIssues(err)))
	}
	if len(s.Documents) != 1 || string(s.Documents[0].Content) != cdaText || s.Documents[0].UniqueID != "1.2.250.1.999.2.1.1" {
		t.Fatalf("submission %+v", s)
	}
	if s.Patient.Value != testINSValue || s.Set.ContentType.Code != "11488-4" || len(s.Set.Authors) != 1 {
		t.Errorf("patient %+v, set %+v", s.Patient, s.Set)
	}
	if !strings.HasPrefix(s.Set.UniqueID, "2.25.") || !isOID(s.Set.UniqueID) {
		t.Errorf("set uniqueId %q is not a 2.25 OID", s.Set.UniqueID)
	}
	again, _ := ParseSimplifiedPublish(body, testOpts)
	if again.Set.UniqueID != s.Set.UniqueID {
		t.Errorf("a retried publish gets another set uniqueId")
	}
	if strings.Contains(string(s.Documents[0].Meta.Original), `"data"`) {
		t.Errorf("the kept DocumentReference still holds the document")
	}
	// Without data, or with a wrong hash, it is refused precisely.
	delete(a, "data")
	_, err = ParseSimplifiedPublish(mustJSON(t, doc), testOpts)
	if issues := issuesOf(t, err); !hasIssue(issues, "required", "DocumentReference.content[0].attachment.data") {
		t.Errorf("issues:%s", formatIssues(issues))
	}
	a["data"] = b64(cdaText + " ")
	_, err = ParseSimplifiedPublish(mustJSON(t, doc), testOpts)
	if issues := issuesOf(t, err); !hasIssue(issues, "value", "DocumentReference.content[0].attachment.hash") || !hasIssue(issues, "value", "DocumentReference.content[0].attachment.size") {
		t.Errorf("issues:%s", formatIssues(issues))
	}
	_, err = ParseSimplifiedPublish(mustJSON(t, validBundle()), testOpts)
	if issues := issuesOf(t, err); !hasIssue(issues, "invalid", "DocumentReference.resourceType") {
		t.Errorf("a Bundle sent to ITI-105:%s", formatIssues(issues))
	}
}

func TestParseSimplifiedPublishCorpusExample(t *testing.T) {
	// The R4 example carries no data and no INS: refused, saying so.
	_, err := ParseSimplifiedPublish(corpusFile(t, "DocumentReference-example.json"), testOpts)
	issues := issuesOf(t, err)
	for _, want := range [][2]string{
		{"required", "DocumentReference.subject.identifier"},
		{"required", "DocumentReference.content[0].attachment.data"},
		{"code-invalid", "DocumentReference.content[0].attachment.contentType"},
		{"not-supported", "DocumentReference.author[0]"},
		{"not-supported", "DocumentReference.context.sourcePatientInfo"},
	} {
		if !hasIssue(issues, want[0], want[1]) {
			t.Errorf("issues lack %s @ %s:%s", want[0], want[1], formatIssues(issues))
		}
	}
}

func TestDocumentSearchBundle(t *testing.T) {
	d := storedDocument(t)
	p := carnet.Page[carnet.Document]{Items: []carnet.Document{d}, Total: 7, Next: "c2", Warnings: []string{`the search parameter "foo" is not supported and was ignored`}}
	b := DocumentSearchBundle(p, "https://carnet.example/fhir/", "https://carnet.example/fhir/DocumentReference?patient=p1", "https://carnet.example/fhir/DocumentReference?patient=p1&_page=c2")
	if b.Type != "searchset" || *b.Total != 7 || len(b.Link) != 2 || b.Link[1].Relation != "next" {
		t.Errorf("bundle header: %+v %+v", b, b.Link)
	}
	if len(b.Entry) != 2 || b.Entry[0].FullURL != "https://carnet.example/fhir/DocumentReference/"+d.ID || b.Entry[0].Search.Mode != "match" {
		t.Fatalf("entries: %+v", b.Entry)
	}
	if fhir.PeekResourceType(b.Entry[1].Resource) != "OperationOutcome" || b.Entry[1].Search.Mode != "outcome" || !strings.Contains(string(b.Entry[1].Resource), `"severity":"warning"`) {
		t.Errorf("warning entry: %s", b.Entry[1].Resource)
	}
	last := DocumentSearchBundle(carnet.Page[carnet.Document]{}, "", "self", "next-ignored")
	if len(last.Link) != 1 || *last.Total != 0 {
		t.Errorf("last page links: %+v", last.Link)
	}
	lb := ListSearchBundle(carnet.Page[carnet.SubmissionSet]{Items: []carnet.SubmissionSet{{ID: "s1"}}, Total: 1}, "https://x/fhir", "", "")
	if len(lb.Entry) != 1 || lb.Entry[0].FullURL != "https://x/fhir/List/s1" || fhir.PeekResourceType(lb.Entry[0].Resource) != "List" {
		t.Errorf("list bundle: %+v", lb.Entry)
	}
}

func TestDocumentReferenceToleratesEmptyCodings(t *testing.T) {
	d := carnet.Document{ID: "x", Meta: carnet.DocumentMeta{Confidentiality: []carnet.Coding{{}}, Events: []carnet.Coding{{System: "s"}}, Authors: []carnet.Author{{}}}}
	dr := DocumentReference(d, "")
	if len(dr.SecurityLabel) != 0 || dr.Context != nil || len(dr.Author) != 0 {
		t.Errorf("empty codings rendered: %+v", dr)
	}
}

// An ITI-65 answer carries each document's filing warnings in its entry's
// response.outcome, and nothing on the other entries.
func TestProvideResponseCarriesWarnings(t *testing.T) {
	m := &EntryMap{Entries: []Entry{{Kind: EntrySubmissionSet}, {Kind: EntryDocument, Index: 0}, {Kind: EntryBinary, Index: 0}, {Kind: EntryDocument, Index: 1}, {Kind: EntryBinary, Index: 1}}}
	warn := carnet.Issue{Severity: "warning", Code: "not-found", Diagnostics: "fallback format", Expression: "Bundle.entry[1].resource.content[0].format"}
	res := carnet.SubmissionResult{SetID: "s", DocumentIDs: []string{"d1", "d2"}, ContentIDs: []string{"b1", "b2"}, Warnings: [][]carnet.Issue{{warn}, nil}}
	b := BuildProvideResponse(res, m, "")
	for i, e := range b.Entry {
		got := string(e.Response.Outcome)
		if i == 1 {
			if !strings.Contains(got, `"severity":"warning"`) || !strings.Contains(got, "Bundle.entry[1].resource.content[0].format") {
				t.Errorf("document entry outcome %s, want the warning", got)
			}
		} else if got != "" {
			t.Errorf("entry %d outcome %s, want none", i, got)
		}
	}
}
