package mhd

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
)

func wantValidSubmission(t *testing.T, b obj) carnet.Submission {
	t.Helper()
	s1, s2 := sha1.Sum([]byte(cdaText)), sha1.Sum([]byte(pdfText))
	h1, h2 := sha256.Sum256([]byte(cdaText)), sha256.Sum256([]byte(pdfText))
	rpps := func(v string) carnet.Identifier {
		return carnet.Identifier{System: "urn:oid:" + carnet.OIDRPPS, Value: v}
	}
	doc1 := at(t, b, "entry.1.resource")
	return carnet.Submission{
		Patient:     carnet.Identifier{System: testINSSystem, Value: testINSValue},
		PatientPath: "Bundle.entry[0].resource.subject",
		Set: carnet.SubmissionSet{
			UniqueID:    "1.2.250.1.999.4.1",
			SourceID:    "1.2.250.1.999.3",
			Date:        time.Date(2024, 3, 15, 9, 0, 0, 0, time.UTC),
			Title:       "Envoi du 15 mars",
			ContentType: carnet.Coding{System: "http://loinc.org", Code: "11488-4"},
			Authors:     []carnet.Author{{ID: rpps("810002345678")}},
			Original:    mustJSON(t, at(t, b, "entry.0.resource")),
		},
		SetPath: "Bundle.entry[0].resource",
		Documents: []carnet.SubmittedDocument{
			{
				Path:     "Bundle.entry[1].resource",
				FullURL:  "urn:uuid:d0000000-0000-4000-8000-000000000001",
				UniqueID: "1.2.250.1.999.2.1.1",
				Content:  []byte(cdaText),
				Meta: carnet.DocumentMeta{
					Title:       "CR de consultation",
					Description: "Consultation de suivi",
					Class:       carnet.Coding{System: "urn:oid:1.2.250.1.213.1.1.4.1", Code: "10", Display: "Compte rendu"},
					Type:        carnet.Coding{System: "http://loinc.org", Code: "11488-4", Display: "Note de consultation"},
					Format:      carnet.Coding{System: "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode", Code: "urn:ihe:iti:xds-sd:text:2008"},
					Confidentiality: []carnet.Coding{
						{System: "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", Code: "N"},
						{System: SystemVisibility, Code: "MASQUE_PS"},
					},
					Facility:        carnet.Coding{System: "urn:oid:1.2.250.1.71.4.2.4", Code: "SA07", Display: "Cabinet individuel"},
					PracticeSetting: carnet.Coding{System: "urn:oid:1.2.250.1.213.1.1.4.9", Code: "ORG01", Display: "Médecine générale"},
					Events:          []carnet.Coding{{System: "urn:oid:2.16.840.1.113883.6.96", Code: "185349003"}},
					Authors: []carnet.Author{{
						ID: rpps("810002345678"), Family: "Lœuvre", Given: []string{"Éloïse"},
						Profession: carnet.Coding{System: "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante", Code: "10", Display: "Médecin"},
						Specialty:  carnet.Coding{System: "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale", Code: "SM54", Display: "Médecine générale"},
						Org:        "Cabinet du Parc",
						OrgID:      carnet.Identifier{System: "urn:oid:1.2.250.1.71.4.2.2", Value: "1750000001"},
					}},
					ServicePeriod:    carnet.Period{Start: time.Date(2024, 3, 15, 8, 0, 0, 0, time.UTC), End: time.Date(2024, 3, 15, 8, 45, 0, 0, time.UTC)},
					Created:          time.Date(2024, 3, 15, 8, 30, 0, 0, time.UTC),
					Language:         "fr-FR",
					ContentType:      "text/xml",
					Size:             int64(len(cdaText)),
					SHA1:             s1[:],
					SHA256:           h1[:],
					Identifiers:      []carnet.Identifier{{System: SystemURI, Value: "urn:uuid:0c287d32-01a3-4a0e-8c7a-3b1d0e2a9f01"}},
					SourcePatientID:  carnet.Identifier{System: "urn:oid:1.2.250.1.999.1", Value: "IPP-42"},
					SourcePatientRaw: mustJSON(t, doc1["contained"].(arr)[3]),
					Original:         mustJSON(t, doc1),
				},
			},
			{
				Path:     "Bundle.entry[3].resource",
				FullURL:  "urn:uuid:d0000000-0000-4000-8000-000000000002",
				UniqueID: "1.2.250.1.999.2.1.2",
				Content:  []byte(pdfText),
				Meta: carnet.DocumentMeta{
					Class:           carnet.Coding{System: "urn:oid:1.2.250.1.213.1.1.4.1", Code: "10"},
					Type:            carnet.Coding{System: "http://loinc.org", Code: "11502-2"},
					Format:          carnet.Coding{System: "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode", Code: "urn:ihe:iti:xds-sd:pdf:2008"},
					Confidentiality: []carnet.Coding{{System: "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", Code: "N"}},
					Authors:         []carnet.Author{{ID: rpps("810009999999"), Family: "Durand", Given: []string{"Paul", "Henri"}}},
					Created:         time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC),
					ContentType:     "application/pdf",
					Size:            int64(len(pdfText)),
					SHA1:            s2[:],
					SHA256:          h2[:],
					RelatesTo:       []carnet.Relation{{Code: "replaces", Target: "old-123"}},
					Original:        mustJSON(t, at(t, b, "entry.3.resource")),
				},
			},
		},
		Changes: []carnet.DocumentChange{{Path: "Bundle.entry[5]", DocumentID: "old-123", Status: carnet.StatusSuperseded}},
	}
}

func TestParseProvideValid(t *testing.T) {
	b := validBundle()
	got, m, err := ParseProvide(mustJSON(t, b), testOpts)
	if err != nil {
		t.Fatalf("ParseProvide: %v%s", err, formatIssues(carnet.ErrorIssues(err)))
	}
	want := wantValidSubmission(t, b)
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.MarshalIndent(got, "", " ")
		wj, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("submission differs:\ngot  %s\nwant %s", gj, wj)
	}
	wantMap := []Entry{
		{EntrySubmissionSet, 0, "urn:uuid:a0000000-0000-4000-8000-000000000000"},
		{EntryDocument, 0, "urn:uuid:d0000000-0000-4000-8000-000000000001"},
		{EntryBinary, 0, "urn:uuid:b0000000-0000-4000-8000-000000000001"},
		{EntryDocument, 1, "urn:uuid:d0000000-0000-4000-8000-000000000002"},
		{EntryBinary, 1, "urn:uuid:b0000000-0000-4000-8000-000000000002"},
		{EntryPatch, 0, ""},
	}
	if !reflect.DeepEqual(m.Entries, wantMap) {
		t.Errorf("entry map = %+v\nwant %+v", m.Entries, wantMap)
	}
}

func TestParseProvideAcceptsVariants(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(t *testing.T, b obj)
		check  func(t *testing.T, s carnet.Submission)
	}{
		{"binary before its DocumentReference", func(t *testing.T, b obj) {
			e := b["entry"].(arr)
			e[1], e[2] = e[2], e[1]
		}, func(t *testing.T, s carnet.Submission) {
			if s.Documents[0].Path != "Bundle.entry[2].resource" {
				t.Errorf("path = %s", s.Documents[0].Path)
			}
		}},
		{"content type with charset", func(t *testing.T, b obj) {
			at(t, b, "entry.1.resource.content.0.attachment")["contentType"] = "text/xml; charset=UTF-8"
		}, func(t *testing.T, s carnet.Submission) {
			if s.Documents[0].Meta.ContentType != "text/xml; charset=UTF-8" {
				t.Errorf("contentType = %s", s.Documents[0].Meta.ContentType)
			}
		}},
		{"no size and no hash: computed", func(t *testing.T, b obj) {
			a := at(t, b, "entry.1.resource.content.0.attachment")
			delete(a, "size")
			delete(a, "hash")
		}, func(t *testing.T, s carnet.Submission) {
			if s.Documents[0].Meta.Size != int64(len(cdaText)) || len(s.Documents[0].Meta.SHA1) != 20 {
				t.Errorf("size %d sha1 %x", s.Documents[0].Meta.Size, s.Documents[0].Meta.SHA1)
			}
		}},
		{"subject system as a bare OID", func(t *testing.T, b obj) {
			at(t, b, "entry.0.resource.subject.identifier")["system"] = carnet.OIDInsTestNIR
		}, func(t *testing.T, s carnet.Submission) {
			if s.Patient.System != testINSSystem {
				t.Errorf("patient system = %s", s.Patient.System)
			}
		}},
		{"only metadata changes", func(t *testing.T, b obj) {
			e := b["entry"].(arr)
			b["entry"] = arr{e[0], e[5]}
			delete(at(t, b, "entry.0.resource"), "entry")
		}, func(t *testing.T, s carnet.Submission) {
			if len(s.Documents) != 0 || len(s.Changes) != 1 {
				t.Errorf("%d documents, %d changes", len(s.Documents), len(s.Changes))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := validBundle()
			tt.mutate(t, b)
			s, _, err := ParseProvide(mustJSON(t, b), testOpts)
			if err != nil {
				t.Fatalf("ParseProvide: %v%s", err, formatIssues(carnet.ErrorIssues(err)))
			}
			tt.check(t, s)
		})
	}
}

func TestParseProvideInvalid(t *testing.T) {
	entries := func(b obj) arr { return b["entry"].(arr) }
	tests := []struct {
		name     string
		mutate   func(t *testing.T, b obj)
		opts     *ParseOptions
		code     string
		expr     string
		wantKind carnet.Kind
	}{
		{"missing masterIdentifier", func(t *testing.T, b obj) { delete(at(t, b, "entry.1.resource"), "masterIdentifier") },
			nil, "required", "Bundle.entry[1].resource.masterIdentifier", carnet.KindInvalid},
		{"hash mismatch", func(t *testing.T, b obj) {
			at(t, b, "entry.1.resource.content.0.attachment")["hash"] = sha1b64("another document")
		}, nil, "value", "Bundle.entry[1].resource.content[0].attachment.hash", carnet.KindInvalid},
		{"hash not a SHA-1", func(t *testing.T, b obj) {
			at(t, b, "entry.1.resource.content.0.attachment")["hash"] = b64("short")
		}, nil, "value", "Bundle.entry[1].resource.content[0].attachment.hash", carnet.KindInvalid},
		{"size mismatch", func(t *testing.T, b obj) {
			at(t, b, "entry.1.resource.content.0.attachment")["size"] = len(cdaText) + 1
		}, nil, "value", "Bundle.entry[1].resource.content[0].attachment.size", carnet.KindInvalid},
		{"size not an integer", func(t *testing.T, b obj) {
			at(t, b, "entry.1.resource.content.0.attachment")["size"] = "12"
		}, nil, "value", "Bundle.entry[1].resource.content[0].attachment.size", carnet.KindInvalid},
		{"Binary missing", func(t *testing.T, b obj) {
			e := entries(b)
			b["entry"] = append(arr{e[0], e[1]}, e[3:]...)
		}, nil, "not-found", "Bundle.entry[1].resource.content[0].attachment.url", carnet.KindUnprocessable},
		{"Binary without data", func(t *testing.T, b obj) { delete(at(t, b, "entry.2.resource"), "data") },
			nil, "required", "Bundle.entry[2].resource.data", carnet.KindInvalid},
		{"Binary data not base64", func(t *testing.T, b obj) { at(t, b, "entry.2.resource")["data"] = "@@@" },
			nil, "value", "Bundle.entry[2].resource.data", carnet.KindInvalid},
		{"Binary of no document", func(t *testing.T, b obj) {
			b["entry"] = append(entries(b), obj{"fullUrl": "urn:uuid:b0000000-0000-4000-8000-000000000009", "resource": obj{"resourceType": "Binary", "contentType": "text/plain", "data": b64("x")}, "request": obj{"method": "POST", "url": "Binary"}})
		}, nil, "invalid", "Bundle.entry[6]", carnet.KindInvalid},
		{"two subjects", func(t *testing.T, b obj) {
			at(t, b, "entry.3.resource")["subject"] = obj{"identifier": obj{"system": testINSSystem, "value": "180017512345678"}}
		}, nil, "invalid", "Bundle.entry[3].resource.subject", carnet.KindInvalid},
		{"duplicate uniqueId in the bundle", func(t *testing.T, b obj) {
			at(t, b, "entry.3.resource.masterIdentifier")["value"] = "urn:oid:1.2.250.1.999.2.1.1"
		}, nil, "duplicate", "Bundle.entry[3].resource.masterIdentifier", carnet.KindUnprocessable},
		{"bad bundle type", func(t *testing.T, b obj) { b["type"] = "batch" },
			nil, "value", "Bundle.type", carnet.KindInvalid},
		{"not a bundle", func(t *testing.T, b obj) { b["resourceType"] = "Parameters" },
			nil, "invalid", "Bundle.resourceType", carnet.KindInvalid},
		{"unsupported contentType", func(t *testing.T, b obj) {
			at(t, b, "entry.3.resource.content.0.attachment")["contentType"] = "application/msword"
			at(t, b, "entry.4.resource")["contentType"] = "application/msword"
		}, nil, "code-invalid", "Bundle.entry[3].resource.content[0].attachment.contentType", carnet.KindUnprocessable},
		{"contentType accepted by configuration only", func(t *testing.T, b obj) {}, &ParseOptions{AcceptTestINS: true, ContentTypes: []string{"text/xml"}},
			"code-invalid", "Bundle.entry[3].resource.content[0].attachment.contentType", carnet.KindUnprocessable},
		{"Binary contentType differs", func(t *testing.T, b obj) { at(t, b, "entry.2.resource")["contentType"] = "text/plain" },
			nil, "value", "Bundle.entry[2].resource.contentType", carnet.KindInvalid},
		{"List not referencing a document", func(t *testing.T, b obj) {
			l := at(t, b, "entry.0.resource")
			l["entry"] = l["entry"].(arr)[:1]
		}, nil, "invalid", "Bundle.entry[3].resource", carnet.KindInvalid},
		{"List entry referencing nothing", func(t *testing.T, b obj) {
			at(t, b, "entry.0.resource.entry.1.item")["reference"] = "urn:uuid:d0000000-0000-4000-8000-00000000dead"
		}, nil, "not-found", "Bundle.entry[0].resource.entry[1].item", carnet.KindUnprocessable},
		{"no SubmissionSet", func(t *testing.T, b obj) { b["entry"] = entries(b)[1:] },
			nil, "required", "Bundle.entry", carnet.KindInvalid},
		{"two SubmissionSets", func(t *testing.T, b obj) {
			second := mustJSON(t, at(t, b, "entry.0"))
			var e obj
			_ = json.Unmarshal(second, &e)
			e["fullUrl"] = "urn:uuid:a0000000-0000-4000-8000-000000000002"
			b["entry"] = append(entries(b), e)
		}, nil, "invalid", "Bundle.entry[6].resource", carnet.KindInvalid},
		{"folder", func(t *testing.T, b obj) {
			b["entry"] = append(entries(b), obj{"fullUrl": "urn:uuid:f", "resource": obj{"resourceType": "List", "code": obj{"coding": arr{obj{"system": SystemListTypes, "code": "folder"}}}}, "request": obj{"method": "POST", "url": "List"}})
		}, nil, "not-supported", "Bundle.entry[6].resource", carnet.KindInvalid},
		{"Patient entry", func(t *testing.T, b obj) {
			b["entry"] = append(entries(b), obj{"fullUrl": "urn:uuid:p", "resource": obj{"resourceType": "Patient"}, "request": obj{"method": "POST", "url": "Patient"}})
		}, nil, "not-supported", "Bundle.entry[6].resource", carnet.KindInvalid},
		{"duplicate fullUrl", func(t *testing.T, b obj) {
			at(t, b, "entry.3")["fullUrl"] = "urn:uuid:d0000000-0000-4000-8000-000000000001"
		}, nil, "duplicate", "Bundle.entry[3].fullUrl", carnet.KindUnprocessable},
		{"PUT instead of POST", func(t *testing.T, b obj) { at(t, b, "entry.1.request")["method"] = "PUT" },
			nil, "not-supported", "Bundle.entry[1].request.method", carnet.KindInvalid},
		{"request url of another type", func(t *testing.T, b obj) { at(t, b, "entry.1.request")["url"] = "Binary" },
			nil, "value", "Bundle.entry[1].request.url", carnet.KindInvalid},
		{"status not current", func(t *testing.T, b obj) { at(t, b, "entry.1.resource")["status"] = "superseded" },
			nil, "value", "Bundle.entry[1].resource.status", carnet.KindInvalid},
		{"missing type", func(t *testing.T, b obj) { delete(at(t, b, "entry.1.resource"), "type") },
			nil, "required", "Bundle.entry[1].resource.type", carnet.KindInvalid},
		{"missing category", func(t *testing.T, b obj) { delete(at(t, b, "entry.1.resource"), "category") },
			nil, "required", "Bundle.entry[1].resource.category", carnet.KindInvalid},
		{"missing format", func(t *testing.T, b obj) { delete(at(t, b, "entry.1.resource.content.0"), "format") },
			nil, "required", "Bundle.entry[1].resource.content[0].format", carnet.KindInvalid},
		{"missing securityLabel", func(t *testing.T, b obj) { delete(at(t, b, "entry.1.resource"), "securityLabel") },
			nil, "required", "Bundle.entry[1].resource.securityLabel", carnet.KindInvalid},
		{"missing creation", func(t *testing.T, b obj) { delete(at(t, b, "entry.1.resource.content.0.attachment"), "creation") },
			nil, "required", "Bundle.entry[1].resource.content[0].attachment.creation", carnet.KindInvalid},
		{"creation not a dateTime", func(t *testing.T, b obj) {
			at(t, b, "entry.1.resource.content.0.attachment")["creation"] = "15/03/2024"
		},
			nil, "value", "Bundle.entry[1].resource.content[0].attachment.creation", carnet.KindInvalid},
		{"missing contentType", func(t *testing.T, b obj) { delete(at(t, b, "entry.1.resource.content.0.attachment"), "contentType") },
			nil, "required", "Bundle.entry[1].resource.content[0].attachment.contentType", carnet.KindInvalid},
		{"missing subject", func(t *testing.T, b obj) { delete(at(t, b, "entry.1.resource"), "subject") },
			nil, "required", "Bundle.entry[1].resource.subject", carnet.KindInvalid},
		{"subject without INS", func(t *testing.T, b obj) { at(t, b, "entry.1.resource")["subject"] = obj{"reference": "Patient/12"} },
			nil, "required", "Bundle.entry[1].resource.subject.identifier", carnet.KindInvalid},
		{"subject not an INS", func(t *testing.T, b obj) {
			at(t, b, "entry.0.resource.subject.identifier")["system"] = "urn:oid:1.2.250.1.999.1"
		}, nil, "value", "Bundle.entry[0].resource.subject.identifier.system", carnet.KindInvalid},
		{"test INS outside test mode", func(t *testing.T, b obj) {}, &ParseOptions{},
			"value", "Bundle.entry[0].resource.subject.identifier.system", carnet.KindInvalid},
		{"author not contained", func(t *testing.T, b obj) {
			at(t, b, "entry.3.resource")["author"] = arr{obj{"reference": "Practitioner/123"}}
		},
			nil, "not-supported", "Bundle.entry[3].resource.author[0]", carnet.KindInvalid},
		{"author contained nowhere", func(t *testing.T, b obj) { at(t, b, "entry.3.resource")["author"] = arr{obj{"reference": "#nobody"}} },
			nil, "not-found", "Bundle.entry[3].resource.author[0]", carnet.KindUnprocessable},
		{"relatesTo code unknown", func(t *testing.T, b obj) { at(t, b, "entry.3.resource.relatesTo.0")["code"] = "updates" },
			nil, "code-invalid", "Bundle.entry[3].resource.relatesTo[0].code", carnet.KindUnprocessable},
		{"relatesTo target not a DocumentReference", func(t *testing.T, b obj) {
			at(t, b, "entry.3.resource.relatesTo.0.target")["reference"] = "Binary/old-123"
		}, nil, "not-supported", "Bundle.entry[3].resource.relatesTo[0].target", carnet.KindInvalid},
		{"sourcePatientInfo not contained", func(t *testing.T, b obj) {
			at(t, b, "entry.1.resource.context")["sourcePatientInfo"] = obj{"reference": "Patient/9"}
		}, nil, "not-supported", "Bundle.entry[1].resource.context.sourcePatientInfo", carnet.KindInvalid},
		{"two contents", func(t *testing.T, b obj) {
			c := at(t, b, "entry.1.resource")
			c["content"] = append(c["content"].(arr), c["content"].(arr)[0])
		}, nil, "not-supported", "Bundle.entry[1].resource.content[1]", carnet.KindInvalid},
		{"SubmissionSet without sourceId", func(t *testing.T, b obj) {
			l := at(t, b, "entry.0.resource")
			l["extension"] = l["extension"].(arr)[1:]
		}, nil, "required", "Bundle.entry[0].resource.extension", carnet.KindInvalid},
		{"SubmissionSet without uniqueId", func(t *testing.T, b obj) {
			l := at(t, b, "entry.0.resource")
			l["identifier"] = l["identifier"].(arr)[1:]
		}, nil, "required", "Bundle.entry[0].resource.identifier", carnet.KindInvalid},
		{"PATCH of something PDSm forbids", func(t *testing.T, b obj) {
			at(t, b, "entry.5.resource.parameter.0.part.1")["valueString"] = "DocumentReference.type"
		}, nil, "not-supported", "Bundle.entry[5].resource.parameter[0]", carnet.KindInvalid},
		{"PATCH of another resource type", func(t *testing.T, b obj) { at(t, b, "entry.5.request")["url"] = "List/x" },
			nil, "not-supported", "Bundle.entry[5].request.url", carnet.KindInvalid},
		{"entry without request", func(t *testing.T, b obj) { delete(at(t, b, "entry.1"), "request") },
			nil, "required", "Bundle.entry[1].request", carnet.KindInvalid},
		{"malformed JSON deep inside", func(t *testing.T, b obj) { at(t, b, "entry.1.resource.content.0.attachment")["language"] = 7 },
			nil, "value", "Bundle.entry[1].resource.content[0].attachment.language", carnet.KindInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := validBundle()
			tt.mutate(t, b)
			opts := testOpts
			if tt.opts != nil {
				opts = *tt.opts
			}
			_, m, err := ParseProvide(mustJSON(t, b), opts)
			if err == nil {
				t.Fatalf("ParseProvide accepted the bundle, want %s at %s", tt.code, tt.expr)
			}
			if m != nil {
				t.Errorf("an entry map came with an error")
			}
			issues := issuesOf(t, err)
			if !hasIssue(issues, tt.code, tt.expr) {
				t.Errorf("issues lack %s @ %s; got:%s", tt.code, tt.expr, formatIssues(issues))
			}
			if k := carnet.ErrorKind(err); k != tt.wantKind {
				t.Errorf("kind = %v, want %v", k, tt.wantKind)
			}
			for _, is := range issues {
				if is.Severity != "error" || is.Diagnostics == "" || strings.Contains(is.Diagnostics, testINSValue) {
					t.Errorf("issue %+v: want severity error, a diagnostic, and no patient data", is)
				}
			}
		})
	}
}

func TestParseProvideReportsAllIssues(t *testing.T) {
	b := validBundle()
	delete(at(t, b, "entry.1.resource"), "masterIdentifier")
	at(t, b, "entry.3.resource.content.0.attachment")["size"] = 1
	b["type"] = "batch"
	_, _, err := ParseProvide(mustJSON(t, b), testOpts)
	issues := issuesOf(t, err)
	for _, want := range [][2]string{
		{"value", "Bundle.type"},
		{"required", "Bundle.entry[1].resource.masterIdentifier"},
		{"value", "Bundle.entry[3].resource.content[0].attachment.size"},
	} {
		if !hasIssue(issues, want[0], want[1]) {
			t.Errorf("issues lack %s @ %s; got:%s", want[0], want[1], formatIssues(issues))
		}
	}
	if len(issues) != 3 {
		t.Errorf("got %d issues, want exactly 3:%s", len(issues), formatIssues(issues))
	}
}

func TestParseProvideBounds(t *testing.T) {
	body := mustJSON(t, validBundle())
	_, _, err := ParseProvide(body, ParseOptions{AcceptTestINS: true, MaxDocuments: 1})
	if !carnet.IsKind(err, carnet.KindTooLarge) {
		t.Errorf("two documents over a limit of one: %v, want too large", err)
	}
	_, _, err = ParseProvide(body, ParseOptions{AcceptTestINS: true, MaxBytes: int64(len(body) - 1)})
	if !carnet.IsKind(err, carnet.KindTooLarge) {
		t.Errorf("body over MaxBytes: %v, want too large", err)
	}
	deep := []byte(`{"resourceType":"Bundle","entry":[` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `]}`)
	_, _, err = ParseProvide(deep, testOpts)
	if !carnet.IsKind(err, carnet.KindInvalid) {
		t.Errorf("deep nesting: %v, want invalid", err)
	}
	// Many entries are refused before any of them is read.
	many := obj{"resourceType": "Bundle", "type": "transaction"}
	var es arr
	for range 3*DefaultMaxDocuments + 2 {
		es = append(es, obj{"resource": obj{"resourceType": "Binary"}})
	}
	many["entry"] = es
	_, _, err = ParseProvide(mustJSON(t, many), testOpts)
	if !carnet.IsKind(err, carnet.KindTooLarge) {
		t.Errorf("too many entries: %v, want too large", err)
	}
}

func TestParseProvideJSONPatchEntry(t *testing.T) {
	b := validBundle()
	jp := `[{"op":"add","path":"/securityLabel/-","value":{"coding":[{"system":"` + SystemVisibility + `","code":"INVISIBLE_PATIENT"}]}}]`
	at(t, b, "entry.5")["resource"] = obj{"resourceType": "Binary", "contentType": MediaJSONPatch, "data": b64(jp)}
	s, _, err := ParseProvide(mustJSON(t, b), testOpts)
	if err != nil {
		t.Fatalf("ParseProvide: %v%s", err, formatIssues(carnet.ErrorIssues(err)))
	}
	want := carnet.DocumentChange{Path: "Bundle.entry[5]", DocumentID: "old-123", AddLabels: []carnet.Coding{{System: SystemVisibility, Code: "INVISIBLE_PATIENT"}}}
	if !reflect.DeepEqual(s.Changes, []carnet.DocumentChange{want}) {
		t.Errorf("changes = %+v, want %+v", s.Changes, want)
	}
}

// Bundle-xds.json is the R4 example of an XDS-style transaction, written
// before MHD: a Patient reference without INS, authors and the patient as
// separate entries, no SubmissionSet. Carnet refuses it, saying exactly why.
func TestParseProvideCorpusBundleXDS(t *testing.T) {
	data := corpusFile(t, "Bundle-xds.json")
	_, _, err := ParseProvide(data, testOpts)
	issues := issuesOf(t, err)
	want := [][2]string{
		{"required", "Bundle.entry[0].resource.subject.identifier"},
		{"not-supported", "Bundle.entry[0].resource.author[0]"},
		{"not-supported", "Bundle.entry[0].resource.author[1]"},
		{"not-supported", "Bundle.entry[1].resource"},
		{"not-supported", "Bundle.entry[2].resource"},
		{"not-supported", "Bundle.entry[3].resource"},
		{"required", "Bundle.entry"},
	}
	var got [][2]string
	for _, is := range issues {
		got = append(got, [2]string{is.Code, is.Expression})
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("issues = %v\nwant %v%s", got, want, formatIssues(issues))
	}
	if k := carnet.ErrorKind(err); k != carnet.KindInvalid {
		t.Errorf("kind = %v, want invalid", k)
	}
}

func TestParseProvideCorpusOtherBundles(t *testing.T) {
	// A generic transaction of Patients is not an ITI-65 request.
	data := corpusFile(t, "Bundle-bundle-transaction.json")
	_, _, err := ParseProvide(data, testOpts)
	issues := issuesOf(t, err)
	if !hasIssue(issues, "required", "Bundle.entry") || !hasIssue(issues, "not-supported", "Bundle.entry[0].resource") {
		t.Errorf("issues:%s", formatIssues(issues))
	}
}

func TestBuildProvideResponse(t *testing.T) {
	_, m, err := ParseProvide(mustJSON(t, validBundle()), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	res := carnet.SubmissionResult{
		SetID:       "set1",
		DocumentIDs: []string{"doc1", "doc2"},
		ContentIDs:  []string{"bin1", "bin2"},
		ChangedIDs:  []string{"old-124"},
	}
	got := BuildProvideResponse(res, m, "https://carnet.example/fhir/")
	if got.Type != "transaction-response" {
		t.Errorf("type = %s", got.Type)
	}
	want := [][2]string{
		{"201 Created", "https://carnet.example/fhir/List/set1"},
		{"201 Created", "https://carnet.example/fhir/DocumentReference/doc1"},
		{"201 Created", "https://carnet.example/fhir/Binary/bin1"},
		{"201 Created", "https://carnet.example/fhir/DocumentReference/doc2"},
		{"201 Created", "https://carnet.example/fhir/Binary/bin2"},
		{"200 OK", "https://carnet.example/fhir/DocumentReference/old-124"},
	}
	if len(got.Entry) != len(want) {
		t.Fatalf("%d response entries for %d request entries", len(got.Entry), len(want))
	}
	for i, w := range want {
		r := got.Entry[i].Response
		if r == nil || r.Status != w[0] || r.Location != w[1] {
			t.Errorf("entry %d: %+v, want %s %s", i, r, w[0], w[1])
		}
	}
	// Binary-first bundles answer in their own order.
	b := validBundle()
	e := b["entry"].(arr)
	e[1], e[2] = e[2], e[1]
	_, m, err = ParseProvide(mustJSON(t, b), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	got = BuildProvideResponse(res, m, "")
	if got.Entry[1].Response.Location != "Binary/bin1" || got.Entry[2].Response.Location != "DocumentReference/doc1" {
		t.Errorf("swapped entries answered %s, %s", got.Entry[1].Response.Location, got.Entry[2].Response.Location)
	}
	res.Replayed = true
	got = BuildProvideResponse(res, m, "")
	if got.Entry[0].Response.Status != "200 OK" {
		t.Errorf("replayed submission answers %s, want 200 OK", got.Entry[0].Response.Status)
	}
	var buf strings.Builder
	if err := fhir.Encode(&buf, got); err != nil || !strings.Contains(buf.String(), `"resourceType":"Bundle"`) {
		t.Errorf("encoded response: %v %s", err, buf.String())
	}
}

func ExampleBuildProvideResponse() {
	m := &EntryMap{Entries: []Entry{{Kind: EntrySubmissionSet}, {Kind: EntryDocument}, {Kind: EntryBinary}}}
	r := BuildProvideResponse(carnet.SubmissionResult{SetID: "s1", DocumentIDs: []string{"d1"}, ContentIDs: []string{"c1"}}, m, "")
	for _, e := range r.Entry {
		fmt.Println(e.Response.Status, e.Response.Location)
	}
	// Output:
	// 201 Created List/s1
	// 201 Created DocumentReference/d1
	// 201 Created Binary/c1
}

func TestParseProvideSubjectIssuesAreNotRepeated(t *testing.T) {
	b := validBundle()
	delete(at(t, b, "entry.0.resource"), "subject")
	at(t, b, "entry.3.resource")["subject"] = obj{"identifier": obj{"system": testINSSystem, "value": "180017512345678"}}
	_, _, err := ParseProvide(mustJSON(t, b), testOpts)
	issues := issuesOf(t, err)
	want := [][2]string{{"required", "Bundle.entry[0].resource.subject"}, {"invalid", "Bundle.entry[3].resource.subject"}}
	if len(issues) != len(want) {
		t.Fatalf("got:%s", formatIssues(issues))
	}
	for _, w := range want {
		if !hasIssue(issues, w[0], w[1]) {
			t.Errorf("issues lack %s @ %s:%s", w[0], w[1], formatIssues(issues))
		}
	}
}

func TestParseProvideBoundsContained(t *testing.T) {
	b := validBundle()
	r := at(t, b, "entry.1.resource")
	var authors arr
	for range maxAuthors + 1 {
		authors = append(authors, obj{"reference": "#r1"})
	}
	r["author"] = authors
	_, _, err := ParseProvide(mustJSON(t, b), testOpts)
	if issues := issuesOf(t, err); !hasIssue(issues, "too-costly", "Bundle.entry[1].resource.author") {
		t.Errorf("issues:%s", formatIssues(issues))
	}
}

func TestParseProvideBoundsIssues(t *testing.T) {
	b := validBundle()
	var labels arr
	for range 10 * maxCodes {
		labels = append(labels, obj{})
	}
	at(t, b, "entry.1.resource")["securityLabel"] = labels
	var items arr
	for i := range 3*DefaultMaxDocuments + 1 {
		items = append(items, obj{"item": obj{"reference": fmt.Sprintf("urn:uuid:%d", i)}})
	}
	at(t, b, "entry.0.resource")["entry"] = items
	_, _, err := ParseProvide(mustJSON(t, b), testOpts)
	issues := issuesOf(t, err)
	if len(issues) > maxIssues+1 {
		t.Errorf("%d issues, want at most %d", len(issues), maxIssues+1)
	}
	if !hasIssue(issues, "too-costly", "Bundle.entry[1].resource") || !hasIssue(issues, "too-costly", "Bundle.entry[0].resource.entry") {
		t.Errorf("issues:%s", formatIssues(issues))
	}
}
