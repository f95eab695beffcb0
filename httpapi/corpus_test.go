package httpapi_test

import (
	"bytes"
	"crypto/sha1"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/internal/testenv"
)

// The official FHIR R4 examples are not MHD submissions for a French
// record: each is refused with an OperationOutcome that says where and why.
func TestOfficialR4ExamplesRefusedPrecisely(t *testing.T) {
	dir := testenv.Shared(t, "corpus", "fhir-r4")
	env := testenv.New(t, testenv.SQLite, testenv.Options{ValueSets: true})
	c := client{t, env.URL}
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

// cdaHeader is the little of a CDA header this test needs to describe the
// document as its producer would (full CDA reading is the cda package's).
type cdaHeader struct {
	ID struct {
		Root      string `xml:"root,attr"`
		Extension string `xml:"extension,attr"`
	} `xml:"id"`
	Code struct {
		Code        string `xml:"code,attr"`
		CodeSystem  string `xml:"codeSystem,attr"`
		DisplayName string `xml:"displayName,attr"`
	} `xml:"code"`
	Title         string `xml:"title"`
	EffectiveTime struct {
		Value string `xml:"value,attr"`
	} `xml:"effectiveTime"`
	Patient []struct {
		Root      string `xml:"root,attr"`
		Extension string `xml:"extension,attr"`
	} `xml:"recordTarget>patientRole>id"`
}

func readHeader(t *testing.T, b []byte) cdaHeader {
	t.Helper()
	// Self-presenting documents wrap the ClinicalDocument in a stylesheet.
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("CDA header: no ClinicalDocument: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "ClinicalDocument" {
			var h cdaHeader
			if err := dec.DecodeElement(&h, &se); err != nil {
				t.Fatalf("CDA header: %v", err)
			}
			return h
		}
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
		c := client{t, env.URL}
		for i, f := range files {
			content, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			h := readHeader(t, content)
			var ins carnet.Identifier
			for _, id := range h.Patient {
				cand := carnet.Identifier{System: "urn:oid:" + id.Root, Value: id.Extension}
				if isINS, _ := cand.IsINS(); isINS && ins.Value == "" {
					ins = cand
				}
			}
			if ins.Value == "" {
				t.Fatalf("%s: no INS in the header", filepath.Base(f))
			}
			typ := carnet.Coding{System: "urn:oid:" + h.Code.CodeSystem, Code: h.Code.Code, Display: h.Code.DisplayName}
			if h.Code.CodeSystem == "2.16.840.1.113883.6.1" {
				typ.System = "http://loinc.org"
			}
			sum := sha1.Sum(content)
			meta := carnet.DocumentMeta{
				Title: h.Title, Type: typ,
				Class:           carnet.Coding{System: "urn:oid:1.2.250.1.213.1.1.4.1", Code: "10"},
				Format:          carnet.Coding{System: "urn:oid:1.3.6.1.4.1.19376.1.2.3", Code: "urn:ihe:iti:xds-sd:text:2008"},
				Confidentiality: []carnet.Coding{{System: "urn:oid:2.16.840.1.113883.5.25", Code: "N"}},
				ContentType:     "text/xml", Language: "fr-FR", SHA1: sum[:],
				Created: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
				Authors: []carnet.Author{{ID: carnet.Identifier{System: "urn:oid:" + carnet.OIDRPPS, Value: "810000000001"}, Family: "ANS"}},
			}
			uid := fmt.Sprintf("%s.%d", h.ID.Root, i)
			if h.ID.Extension != "" {
				uid = fmt.Sprintf("%s.%d.%d", h.ID.Root, len(h.ID.Extension), i)
			}
			var dr fhir.DocumentReference
			if i%2 == 0 {
				r := c.provide(carnet.Submission{Patient: ins, Set: carnet.SubmissionSet{UniqueID: uid + ".1", SourceID: "1.2.250.1.999.2", ContentType: typ},
					Documents: []carnet.SubmittedDocument{{UniqueID: uid, Meta: meta, Content: content}}})
				if r.Status != 200 {
					t.Fatalf("%s via ITI-65: %d %s", filepath.Base(f), r.Status, r.Body)
				}
				dr = decode[fhir.DocumentReference](t, c.get("/DocumentReference/"+idFromLocation(decode[fhir.Bundle](t, r).Entry[1].Response.Location)))
			} else {
				r := c.do("POST", "/DocumentReference", "application/fhir+json", publishBody(t, ins, uid, meta, content))
				if r.Status != 201 {
					t.Fatalf("%s via ITI-105: %d %s", filepath.Base(f), r.Status, r.Body)
				}
				dr = decode[fhir.DocumentReference](t, r)
			}
			got := c.get(dr.Content[0].Attachment.URL)
			if got.Status != 200 || !bytes.Equal(got.Body, content) {
				t.Errorf("%s: retrieved %d bytes (status %d), not byte-identical to the %d filed", filepath.Base(f), len(got.Body), got.Status, len(content))
			}
		}
	})
}
