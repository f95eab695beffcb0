package synth

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/ci"
)

// sharedPath returns a path under ../shared, or skips the test when it is
// absent (fails instead when CI=true: CI must have the shared data).
func sharedPath(t *testing.T, parts ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{"..", "..", "shared"}, parts...)...)
	if _, err := os.Stat(p); err != nil {
		if ci.Enforced() {
			t.Fatalf("shared data %s is missing: %v", p, err)
		}
		t.Skipf("shared data %s is absent; skipping", p)
	}
	return p
}

// The part of a CDA document tests read back. encoding/xml matches these
// names in any namespace; the documents use urn:hl7-org:v3.
type cdaII struct {
	Root      string `xml:"root,attr"`
	Extension string `xml:"extension,attr"`
}

type cdaCode struct {
	Code        string `xml:"code,attr"`
	CodeSystem  string `xml:"codeSystem,attr"`
	DisplayName string `xml:"displayName,attr"`
}

type cdaTS struct {
	Value string `xml:"value,attr"`
}

type cdaObservation struct {
	TemplateIDs []cdaII `xml:"templateId"`
	Code        cdaCode `xml:"code"`
	Value       struct {
		Value string `xml:"value,attr"`
		Unit  string `xml:"unit,attr"`
	} `xml:"value"`
	Interpretation cdaCode `xml:"interpretationCode"`
	Range          struct {
		Low struct {
			Value string `xml:"value,attr"`
		} `xml:"low"`
		High struct {
			Value string `xml:"value,attr"`
		} `xml:"high"`
	} `xml:"referenceRange>observationRange>value"`
}

type cdaDoc struct {
	XMLName         xml.Name
	TemplateIDs     []cdaII `xml:"templateId"`
	ID              cdaII   `xml:"id"`
	Code            cdaCode `xml:"code"`
	Title           string  `xml:"title"`
	EffectiveTime   cdaTS   `xml:"effectiveTime"`
	Confidentiality cdaCode `xml:"confidentialityCode"`
	Language        cdaCode `xml:"languageCode"`
	PatientIDs      []cdaII `xml:"recordTarget>patientRole>id"`
	Author          struct {
		ID   cdaII   `xml:"id"`
		Code cdaCode `xml:"code"`
		Org  struct {
			ID      cdaII   `xml:"id"`
			Name    string  `xml:"name"`
			Setting cdaCode `xml:"standardIndustryClassCode"`
		} `xml:"representedOrganization"`
	} `xml:"author>assignedAuthor"`
	LegalAuthenticator cdaII `xml:"legalAuthenticator>assignedEntity>id"`
	Events             []struct {
		Code cdaCode `xml:"code"`
		Low  cdaTS   `xml:"effectiveTime>low"`
		High cdaTS   `xml:"effectiveTime>high"`
	} `xml:"documentationOf>serviceEvent"`
	Facility cdaCode `xml:"componentOf>encompassingEncounter>location>healthCareFacility>code"`
}

func parseCDA(t *testing.T, content []byte) *cdaDoc {
	t.Helper()
	var d cdaDoc
	if err := xml.Unmarshal(content, &d); err != nil {
		t.Fatalf("unmarshal CDA: %v", err)
	}
	return &d
}

func parseTS(t *testing.T, s string) time.Time {
	t.Helper()
	if s == "" {
		return time.Time{}
	}
	v, err := time.Parse("20060102150405-0700", s)
	if err != nil {
		t.Fatalf("parse TS %q: %v", s, err)
	}
	return v.UTC()
}

// wellFormed decodes every token up to EOF.
func wellFormed(content []byte) error {
	d := xml.NewDecoder(bytes.NewReader(content))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// observations returns the lab observations of a CDA, in document order,
// skipping the PDF copy's document-type observation.
func observations(t *testing.T, content []byte) []cdaObservation {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(content))
	var out []cdaObservation
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "observation" {
			var o cdaObservation
			if err := d.DecodeElement(&o, &se); err != nil {
				t.Fatal(err)
			}
			for _, tid := range o.TemplateIDs {
				if tid.Root == "1.2.250.1.213.1.1.3.80" {
					out = append(out, o)
				}
			}
		}
	}
}

// testData generates once the datasets several tests share.
var testData = sync.OnceValues(func() (Dataset, Dataset) {
	return Generate(Options{Seed: 7, Patients: 120, DocsPerPatient: 10}),
		Generate(Options{Seed: 8, Patients: 40, DocsPerPatient: 8, LargeDocs: true})
})

func allDocs() []Document {
	small, large := testData()
	return append(append([]Document(nil), small.Documents...), large.Documents...)
}
