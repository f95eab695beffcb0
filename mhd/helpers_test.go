package mhd

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/ci"

	carnet "github.com/carnet-sante/carnet"
)

type obj = map[string]any
type arr = []any

const (
	testINSSystem = "urn:oid:" + carnet.OIDInsTestNIR
	testINSValue  = "279035121518989"
	cdaText       = `<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3"><title>Compte rendu de consultation</title></ClinicalDocument>`
	pdfText       = "%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
)

var testOpts = ParseOptions{AcceptTestINS: true}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func sha1b64(s string) string {
	h := sha1.Sum([]byte(s))
	return base64.StdEncoding.EncodeToString(h[:])
}

func subject() obj {
	return obj{"identifier": obj{"system": testINSSystem, "value": testINSValue}}
}

// validBundle is a complete ITI-65 request: a SubmissionSet, a CDA
// consultation report by a contained PractitionerRole, a PDF replacing an
// existing document, their Binaries, and a PATCH marking the replaced
// document superseded.
func validBundle() obj {
	doc1 := obj{
		"resourceType": "DocumentReference",
		"meta":         obj{"profile": arr{ProfileDocumentReference}},
		"contained": arr{
			obj{"resourceType": "Practitioner", "id": "p1",
				"identifier": arr{obj{"system": "urn:oid:1.2.250.1.71.4.2.1", "value": "810002345678"}},
				"name":       arr{obj{"family": "Lœuvre", "given": arr{"Éloïse"}}}},
			obj{"resourceType": "Organization", "id": "o1",
				"identifier": arr{obj{"system": "urn:oid:1.2.250.1.71.4.2.2", "value": "1750000001"}},
				"name":       "Cabinet du Parc"},
			obj{"resourceType": "PractitionerRole", "id": "r1",
				"practitioner": obj{"reference": "#p1"}, "organization": obj{"reference": "#o1"},
				"code":      arr{obj{"coding": arr{obj{"system": "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante", "code": "10", "display": "Médecin"}}}},
				"specialty": arr{obj{"coding": arr{obj{"system": "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale", "code": "SM54", "display": "Médecine générale"}}}}},
			obj{"resourceType": "Patient", "id": "sp",
				"identifier": arr{obj{"system": "urn:oid:1.2.250.1.999.1", "value": "IPP-42"}},
				"name":       arr{obj{"family": "Martin", "given": arr{"Claire"}}}},
		},
		"masterIdentifier": obj{"system": SystemURI, "value": "urn:oid:1.2.250.1.999.2.1.1"},
		"identifier":       arr{obj{"use": "official", "system": SystemURI, "value": "urn:uuid:0c287d32-01a3-4a0e-8c7a-3b1d0e2a9f01"}},
		"status":           "current",
		"type":             obj{"coding": arr{obj{"system": "http://loinc.org", "code": "11488-4", "display": "Note de consultation"}}},
		"category":         arr{obj{"coding": arr{obj{"system": "urn:oid:1.2.250.1.213.1.1.4.1", "code": "10", "display": "Compte rendu"}}}},
		"subject":          subject(),
		"date":             "2024-03-15T10:00:00+01:00",
		"author":           arr{obj{"reference": "#r1"}},
		"description":      "Consultation de suivi",
		"securityLabel": arr{
			obj{"coding": arr{obj{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "N"}}},
			obj{"coding": arr{obj{"system": SystemVisibility, "code": "MASQUE_PS"}}},
		},
		"content": arr{obj{
			"attachment": obj{"contentType": "text/xml", "language": "fr-FR", "url": "urn:uuid:b0000000-0000-4000-8000-000000000001",
				"size": len(cdaText), "hash": sha1b64(cdaText), "title": "CR de consultation", "creation": "2024-03-15T09:30:00+01:00"},
			"format": obj{"system": "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode", "code": "urn:ihe:iti:xds-sd:text:2008"},
		}},
		"context": obj{
			"event":             arr{obj{"coding": arr{obj{"system": "urn:oid:2.16.840.1.113883.6.96", "code": "185349003"}}}},
			"period":            obj{"start": "2024-03-15T09:00:00+01:00", "end": "2024-03-15T09:45:00+01:00"},
			"facilityType":      obj{"coding": arr{obj{"system": "urn:oid:1.2.250.1.71.4.2.4", "code": "SA07", "display": "Cabinet individuel"}}},
			"practiceSetting":   obj{"coding": arr{obj{"system": "urn:oid:1.2.250.1.213.1.1.4.9", "code": "ORG01", "display": "Médecine générale"}}},
			"sourcePatientInfo": obj{"reference": "#sp"},
		},
	}
	doc2 := obj{
		"resourceType":     "DocumentReference",
		"contained":        arr{obj{"resourceType": "Practitioner", "id": "a", "identifier": arr{obj{"system": "urn:oid:1.2.250.1.71.4.2.1", "value": "810009999999"}}, "name": arr{obj{"family": "Durand", "given": arr{"Paul", "Henri"}}}}},
		"masterIdentifier": obj{"system": SystemURI, "value": "urn:oid:1.2.250.1.999.2.1.2"},
		"status":           "current",
		"type":             obj{"coding": arr{obj{"system": "http://loinc.org", "code": "11502-2"}}},
		"category":         arr{obj{"coding": arr{obj{"system": "urn:oid:1.2.250.1.213.1.1.4.1", "code": "10"}}}},
		"subject":          obj{"reference": "Patient?identifier=" + testINSSystem + "|" + testINSValue},
		"author":           arr{obj{"reference": "#a"}},
		"relatesTo":        arr{obj{"code": "replaces", "target": obj{"reference": "DocumentReference/old-123"}}},
		"securityLabel":    arr{obj{"coding": arr{obj{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "N"}}}},
		"content": arr{obj{
			"attachment": obj{"contentType": "application/pdf", "url": "urn:uuid:b0000000-0000-4000-8000-000000000002", "creation": "2024-03"},
			"format":     obj{"system": "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode", "code": "urn:ihe:iti:xds-sd:pdf:2008"},
		}},
	}
	list := obj{
		"resourceType": "List",
		"meta":         obj{"profile": arr{ProfileSubmissionSet}},
		"extension": arr{
			obj{"url": ExtSourceID, "valueIdentifier": obj{"value": "urn:oid:1.2.250.1.999.3"}},
			obj{"url": ExtDesignationType, "valueCodeableConcept": obj{"coding": arr{obj{"system": "http://loinc.org", "code": "11488-4"}}}},
		},
		"contained":  arr{obj{"resourceType": "Practitioner", "id": "s", "identifier": arr{obj{"system": "urn:oid:1.2.250.1.71.4.2.1", "value": "810002345678"}}}},
		"identifier": arr{obj{"use": "usual", "system": SystemURI, "value": "urn:oid:1.2.250.1.999.4.1"}, obj{"use": "official", "system": SystemURI, "value": "urn:uuid:a0000000-0000-4000-8000-000000000000"}},
		"status":     "current",
		"mode":       "working",
		"title":      "Envoi du 15 mars",
		"code":       obj{"coding": arr{obj{"system": SystemListTypes, "code": "submissionset"}}},
		"subject":    subject(),
		"date":       "2024-03-15T10:00:00+01:00",
		"source":     obj{"reference": "#s"},
		"entry": arr{
			obj{"item": obj{"reference": "urn:uuid:d0000000-0000-4000-8000-000000000001"}},
			obj{"item": obj{"reference": "urn:uuid:d0000000-0000-4000-8000-000000000002"}},
		},
	}
	patch := obj{"resourceType": "Parameters", "parameter": arr{obj{"name": "operation", "part": arr{
		obj{"name": "type", "valueCode": "replace"},
		obj{"name": "path", "valueString": "DocumentReference.status"},
		obj{"name": "value", "valueCode": "superseded"},
	}}}}
	return obj{
		"resourceType": "Bundle",
		"meta":         obj{"profile": arr{ProfileProvideBundle}},
		"type":         "transaction",
		"entry": arr{
			obj{"fullUrl": "urn:uuid:a0000000-0000-4000-8000-000000000000", "resource": list, "request": obj{"method": "POST", "url": "List"}},
			obj{"fullUrl": "urn:uuid:d0000000-0000-4000-8000-000000000001", "resource": doc1, "request": obj{"method": "POST", "url": "DocumentReference"}},
			obj{"fullUrl": "urn:uuid:b0000000-0000-4000-8000-000000000001", "resource": obj{"resourceType": "Binary", "contentType": "text/xml", "data": b64(cdaText)}, "request": obj{"method": "POST", "url": "Binary"}},
			obj{"fullUrl": "urn:uuid:d0000000-0000-4000-8000-000000000002", "resource": doc2, "request": obj{"method": "POST", "url": "DocumentReference"}},
			obj{"fullUrl": "urn:uuid:b0000000-0000-4000-8000-000000000002", "resource": obj{"resourceType": "Binary", "contentType": "application/pdf", "data": b64(pdfText)}, "request": obj{"method": "POST", "url": "Binary"}},
			obj{"resource": patch, "request": obj{"method": "PATCH", "url": "DocumentReference/old-123"}},
		},
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// at walks a path like "entry.1.resource.content.0.attachment" in a
// decoded JSON tree and returns the object there.
func at(t testing.TB, root obj, path string) obj {
	t.Helper()
	var cur any = root
	for _, p := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case obj:
			cur = c[p]
		case arr:
			i, err := strconv.Atoi(p)
			if err != nil || i >= len(c) {
				t.Fatalf("bad path %s at %s", path, p)
			}
			cur = c[i]
		}
	}
	o, ok := cur.(obj)
	if !ok {
		t.Fatalf("%s is %T, not an object", path, cur)
	}
	return o
}

// issuesOf returns the issues of err, failing when err is not a *carnet.Error.
func issuesOf(t testing.TB, err error) []carnet.Issue {
	t.Helper()
	var e *carnet.Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v, want a *carnet.Error", err)
	}
	return e.Issues
}

func hasIssue(issues []carnet.Issue, code, expr string) bool {
	return slices.ContainsFunc(issues, func(is carnet.Issue) bool { return is.Code == code && is.Expression == expr })
}

func formatIssues(issues []carnet.Issue) string {
	var b strings.Builder
	for _, is := range issues {
		b.WriteString("\n\t" + is.Code + " @ " + is.Expression + ": " + is.Diagnostics)
	}
	return b.String()
}

// corpusFile reads an official FHIR R4 example; absent corpus skips, unless CI.
func corpusFile(t testing.TB, name string) []byte {
	t.Helper()
	p := filepath.Join("..", "..", "shared", "corpus", "fhir-r4", name)
	b, err := os.ReadFile(p)
	if err != nil {
		if ci.Enforced() {
			t.Fatalf("corpus file %s missing in CI: %v", p, err)
		}
		t.Skipf("corpus file %s absent (shared corpus not laid out here): %v", p, err)
	}
	return b
}

// exampleResult is what a Service could answer for s.
func exampleResult(s carnet.Submission) carnet.SubmissionResult {
	r := carnet.SubmissionResult{SetID: "set"}
	for i := range s.Documents {
		r.DocumentIDs = append(r.DocumentIDs, "d"+strconv.Itoa(i))
		r.ContentIDs = append(r.ContentIDs, "c"+strconv.Itoa(i))
	}
	for i := range s.Changes {
		r.ChangedIDs = append(r.ChangedIDs, "x"+strconv.Itoa(i))
	}
	return r
}
