package qedm

import (
	"net/url"
	"os"
	"path/filepath"
	"testing"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/synth"
)

func FuzzParseItemSearch(f *testing.F) {
	for _, s := range []string{
		"patient=Patient/p1&category=laboratory&code=http://loinc.org|718-7,2345-7&_revinclude=Provenance:target",
		"patient.identifier=urn:oid:1.2.250.1.213.1.4.8|1234567890123&date=ge2024-01&date=lt2025&_count=10",
		"patient=p&code=\\,a,,b|c|d&_page=%00",
		"patient=p&date=ap2024-02-30T10:00:00+02:00",
	} {
		f.Add(s)
	}
	f.Add("patient=p&effective=ge2019-03&date=lt2019-04&code=urn:oid:1.2.250.1.215.200.3.4|BJQP002")
	kinds := carnet.ItemKinds
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		for _, k := range kinds {
			s, _, err := ParseItemSearch(k, q)
			if err != nil {
				if !carnet.IsKind(err, carnet.KindInvalid) {
					t.Fatalf("error of kind %v: %v", carnet.ErrorKind(err), err)
				}
				continue
			}
			// No patient is a patient's search of their own record (the
			// Service decides); two are refused.
			if s.PatientKey != "" && s.PatientID.Value != "" {
				t.Fatalf("accepted with two patients: %+v", s)
			}
			if s.Count < 1 || s.Count > MaxCount {
				t.Fatalf("count %d", s.Count)
			}
			for _, tf := range s.Filter.Tokens {
				if len(tf.Values) == 0 {
					t.Fatalf("empty token filter %+v", tf)
				}
				for _, v := range tf.Values {
					if v == "" || len(v) > 2*fhir.MaxParamValueLen {
						t.Fatalf("token value %q", v)
					}
				}
			}
		}
	})
}

// FuzzExtract is seeded with every ANS example (../shared/corpus/ans-cda)
// and a synthetic document, and runs with the ANS volet table so that
// format matching is fuzzed too.
func FuzzExtract(f *testing.F) {
	ds := synth.Generate(synth.Options{Seed: 1, Patients: 1})
	for _, d := range ds.Documents[:1] {
		f.Add(d.Content)
	}
	f.Add([]byte(`<ClinicalDocument xmlns="urn:hl7-org:v3"><id root="1"/><component><structuredBody/></component></ClinicalDocument>`))
	files, _ := filepath.Glob(filepath.Join(corpusDir(f), "*.xml"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	ex := extractor(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		x, ok, err := ex.Extract("text/xml", b)
		if err != nil {
			if k := carnet.ErrorKind(err); k != carnet.KindInvalid && k != carnet.KindTooLarge {
				t.Fatalf("error of kind %v: %v", k, err)
			}
			return
		}
		if !ok {
			return
		}
		for _, it := range x.Items {
			it.ID, it.Patient = "i", "p"
			if _, err := Serve(it, ""); err != nil {
				t.Fatalf("Serve of an extracted item: %v", err)
			}
		}
	})
}
