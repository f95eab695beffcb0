package httpapi_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/qedm"
)

// The official FHIR R4 examples are not MHD submissions for a French
// record: each is refused with an OperationOutcome that says where and why.
func TestOfficialR4ExamplesRefusedPrecisely(t *testing.T) {
	dir := testenv.Shared(t, "corpus", "fhir-r4")
	env := testenv.New(t, testenv.SQLite, testenv.Options{ValueSets: true})
	c := newClient(t, env)
	cases := []struct {
		file, method, path string
		wantIn             []string // expressions that must be named
	}{
		// An XDS-on-FHIR bundle of 2017: no SubmissionSet, a Patient entry, the subject by local id.
		{"Bundle-xds.json", "POST", "/", []string{"Bundle.entry[1].resource", "Bundle.entry"}},
		// A DocumentReference with an attachment URL elsewhere, not the document inline.
		{"DocumentReference-example.json", "POST", "/DocumentReference", []string{"DocumentReference.subject", "DocumentReference.content[0].attachment"}},
		// Not a transaction at all.
		{"Bundle-bundle-example.json", "POST", "/", []string{"Bundle.type"}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join(dir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			r := c.do(tc.method, tc.path, "application/fhir+json", body)
			if r.Status < 400 || r.Status >= 500 {
				t.Fatalf("status %d, want 4xx\n%s", r.Status, r.Body)
			}
			oo := outcome(t, r)
			var exprs []string
			for _, is := range oo.Issue {
				if is.Diagnostics == "" {
					t.Errorf("issue without diagnostics: %+v", is)
				}
				exprs = append(exprs, is.Expression...)
			}
			for _, want := range tc.wantIn {
				ok := false
				for _, e := range exprs {
					ok = ok || strings.HasPrefix(e, want)
				}
				if !ok {
					t.Errorf("no issue at %s; issues at %v", want, exprs)
				}
			}
			if found, _ := c.search("patient.identifier=" + "urn:oid:1.2.250.1.213.1.4.8%7C279035121518989"); len(found) != 0 {
				t.Errorf("a refused example stored something")
			}
		})
	}
}

// The 55 ANS CDA examples can be filed through ITI-65 and ITI-105 and come
// back byte-identical.
func TestANSExamplesFiledAndRetrievedByteIdentical(t *testing.T) {
	dir := testenv.Shared(t, "corpus", "ans-cda")
	files, err := filepath.Glob(filepath.Join(dir, "*.xml"))
	if err != nil || len(files) < 55 {
		t.Fatalf("found %d ANS examples, want 55 (%v)", len(files), err)
	}
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{})
		c := newClient(t, env)
		for i, f := range files {
			content, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			// Described as a careful producer would: from its own header.
			x, ok, err := qedm.Extractor{}.Extract("text/xml", content)
			if err != nil || !ok {
				t.Fatalf("%s: header not read: %v", filepath.Base(f), err)
			}
			ins, meta := x.Patient, x.Derived
			meta.ContentType = "text/xml"
			if meta.Format.Code == "" {
				meta.Format = carnet.Coding{System: "urn:oid:1.3.6.1.4.1.19376.1.2.3", Code: "urn:ihe:iti:xds-sd:text:2008"}
			}
			if len(meta.Confidentiality) == 0 {
				meta.Confidentiality = []carnet.Coding{{System: "urn:oid:2.16.840.1.113883.5.25", Code: "N"}}
			}
			// Several examples share their id: keep each filing distinct.
			uid := fmt.Sprintf("%s.%d", strings.NewReplacer("^", ".").Replace(x.UniqueID), i)
			typ := meta.Type
			// An author who is a health professional reads back what they
			// filed, whatever its labels; else the patient does.
			reader := c.as(env.PatientToken(t, ins, false))
			for _, a := range meta.Authors {
				if strings.HasPrefix(a.Profession.Code, "G15_") && a.ID.Value != "" {
					reader = c.as(env.ProfessionalToken(t, a, ""))
					break
				}
			}
			var dr fhir.DocumentReference
			if i%2 == 0 {
				r := c.provide(carnet.Submission{Patient: ins, Set: carnet.SubmissionSet{UniqueID: uid + ".1", SourceID: "1.2.250.1.999.2", ContentType: typ},
					Documents: []carnet.SubmittedDocument{{UniqueID: uid, Meta: meta, Content: content}}})
				if r.Status != 200 {
					t.Fatalf("%s via ITI-65: %d %s", filepath.Base(f), r.Status, r.Body)
				}
				dr = decode[fhir.DocumentReference](t, reader.get("/DocumentReference/"+idFromLocation(decode[fhir.Bundle](t, r).Entry[1].Response.Location)))
			} else {
				r := c.do("POST", "/DocumentReference", "application/fhir+json", publishBody(t, ins, uid, meta, content))
				if r.Status != 201 {
					t.Fatalf("%s via ITI-105: %d %s", filepath.Base(f), r.Status, r.Body)
				}
				// Software does not read what it filed: the answer is an
				// OperationOutcome and the Location of the document.
				dr = decode[fhir.DocumentReference](t, reader.get(r.Header.Get("Location")))
			}
			if len(dr.Content) == 0 {
				t.Fatalf("%s: cannot be read back (authors %+v, labels %v)", filepath.Base(f), meta.Authors, meta.Confidentiality)
			}
			got := reader.get(dr.Content[0].Attachment.URL)
			if got.Status != 200 || !bytes.Equal(got.Body, content) {
				t.Errorf("%s: retrieved %d bytes (status %d), not byte-identical to the %d filed", filepath.Base(f), len(got.Body), got.Status, len(content))
			}
		}
	})
}
