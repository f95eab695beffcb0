package mhd

import (
	"bytes"
	"crypto/sha1"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"testing"
)

func FuzzParseProvide(f *testing.F) {
	for _, name := range []string{"Bundle-xds.json", "Bundle-bundle-transaction.json", "Bundle-bundle-response.json"} {
		if b, err := os.ReadFile(filepath.Join("..", "..", "shared", "corpus", "fhir-r4", name)); err == nil {
			f.Add(b)
		}
	}
	valid, _ := json.Marshal(validBundle())
	f.Add(valid)
	f.Add([]byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"PATCH","url":"DocumentReference/x"},"resource":{"resourceType":"Binary","contentType":"application/json-patch+json","data":"W10="}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		s, m, err := ParseProvide(body, ParseOptions{AcceptTestINS: true, MaxBytes: 1 << 20, MaxDocuments: 10})
		if err != nil {
			return
		}
		var b struct {
			Entry []json.RawMessage `json:"entry"`
		}
		if json.Unmarshal(body, &b) != nil || len(m.Entries) != len(b.Entry) {
			t.Fatalf("entry map has %d entries for %d request entries", len(m.Entries), len(b.Entry))
		}
		for _, d := range s.Documents {
			h := sha1.Sum(d.Content)
			if !bytes.Equal(h[:], d.Meta.SHA1) || d.Meta.Size != int64(len(d.Content)) {
				t.Fatalf("document %s: size/hash not those of its content", d.Path)
			}
			if d.UniqueID == "" || d.Meta.ContentType == "" {
				t.Fatalf("document %s accepted without uniqueId or contentType", d.Path)
			}
		}
		if s.Patient.Value == "" {
			t.Fatalf("submission accepted without a patient")
		}
		if r := BuildProvideResponse(exampleResult(s), m, ""); len(r.Entry) != len(b.Entry) {
			t.Fatalf("response has %d entries for %d request entries", len(r.Entry), len(b.Entry))
		}
	})
}

func FuzzParseDocumentSearch(f *testing.F) {
	for _, q := range []string{
		"patient=Patient/p1&status=current,superseded&type=http://loinc.org|11488-4&date=ge2024-01&_count=10",
		"patient.identifier=urn:oid:1.2.250.1.213.1.4.8|1&author.family=Durand&period=ap2024&identifier=urn:oid:1.2.3",
		"patient=p1&type:not=x&_page=abc&related=DocumentReference/d1&creation=ne2024",
		`patient=p1&event=a\,b,,c&security-label=|MASQUE_PS`,
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		s, _, err := ParseDocumentSearch(q)
		if err == nil {
			if s.Count < 1 || s.Count > MaxCount {
				t.Fatalf("count %d out of bounds", s.Count)
			}
			if (s.PatientKey == "") == (s.PatientID.Value == "") {
				t.Fatalf("search without exactly one patient: %+v", s)
			}
			for _, tf := range s.Filter.Tokens {
				if len(tf.Values) == 0 {
					t.Fatalf("empty token filter %+v", tf)
				}
			}
		}
		_, _, _ = ParseListSearch(q)
	})
}

func FuzzParsePatch(f *testing.F) {
	f.Add([]byte(fpPatch(fpOp("replace", "DocumentReference.status", `{"name":"value","valueCode":"superseded"}`))), false)
	f.Add([]byte(fpPatch(fpOp("delete", "DocumentReference.securityLabel.where(coding.code='MASQUE_PS')"))), false)
	f.Add([]byte(fpPatch(fpOp("add", "DocumentReference", `{"name":"name","valueString":"extension"}`, fpArchive))), false)
	f.Add([]byte(`[{"op":"test","path":"/securityLabel/1/coding/0/code","value":"MASQUE_PS"},{"op":"remove","path":"/securityLabel/1"}]`), true)
	f.Add([]byte(`[{"op":"add","path":"/extension/-","value":{"url":"https://carnet-sante.fr/fhir/StructureDefinition/availability-status","valueCode":"archived"}}]`), true)
	f.Fuzz(func(t *testing.T, body []byte, jsonPatch bool) {
		ct := MediaFHIRJSON
		if jsonPatch {
			ct = MediaJSONPatch
		}
		ch, err := ParsePatch(body, ct)
		if err != nil {
			return
		}
		if ch.Status == "" && len(ch.AddLabels) == 0 && len(ch.RemoveLabels) == 0 {
			t.Fatalf("accepted a patch that changes nothing")
		}
		if ch.Status != "" && !ch.Status.Valid() {
			t.Fatalf("invalid status %q", ch.Status)
		}
		for _, l := range ch.AddLabels {
			if !changeableLabels[l.Code] || l.System != SystemVisibility {
				t.Fatalf("label %+v may not be added", l)
			}
		}
		for _, c := range ch.RemoveLabels {
			if !changeableLabels[c] {
				t.Fatalf("label %s may not be removed", c)
			}
		}
	})
}
