package mhd

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/fhir"
)

// The statement advertises exactly the parameters the parsers understand.
func TestCapabilityStatementIsTruthful(t *testing.T) {
	cs := CapabilityStatement("https://carnet.example/fhir", "0.1.0", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var buf strings.Builder
	if err := fhir.Encode(&buf, cs); err != nil || !strings.Contains(buf.String(), `"resourceType":"CapabilityStatement"`) {
		t.Fatalf("encode: %v %s", err, buf.String())
	}
	sample := map[string]string{"reference": "Patient/p1", "token": "a|b", "string": "Durand", "date": "2024"}
	check := func(resource string, params []fhir.CapabilitySearchParam, parse func(url.Values) ([]string, error)) {
		for _, p := range params {
			q := url.Values{"patient": {"p1"}}
			if p.Name == "patient.identifier" {
				q = url.Values{}
			}
			v := sample[p.Type]
			if strings.HasPrefix(p.Name, "patient") || p.Name == "related" {
				v = map[string]string{"patient": "Patient/p1", "patient.identifier": "urn:oid:1.2.250.1.213.1.4.8|1", "related": "DocumentReference/d1"}[p.Name]
			}
			if p.Name == "status" {
				v = "current"
			}
			q.Set(p.Name, v)
			warns, err := parse(q)
			if err != nil || len(warns) > 0 {
				t.Errorf("%s?%s: advertised but %v %q", resource, q.Encode(), err, warns)
			}
		}
	}
	check("DocumentReference", DocumentSearchParams, func(q url.Values) ([]string, error) {
		_, w, err := ParseDocumentSearch(q)
		return w, err
	})
	check("List", ListSearchParams, func(q url.Values) ([]string, error) {
		_, w, err := ParseListSearch(q)
		return w, err
	})
	if n := len(cs.Rest[0].Resource[0].SearchParam); n != len(DocumentSearchParams) {
		t.Errorf("DocumentReference advertises %d parameters", n)
	}
}
