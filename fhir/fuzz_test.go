package fhir

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func FuzzDecodeBundle(f *testing.F) {
	for _, name := range []string{"Bundle-xds.json", "Bundle-bundle-transaction.json", "Bundle-bundle-response.json"} {
		if b, err := os.ReadFile(filepath.Join("..", "..", "shared", "corpus", "fhir-r4", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Binary","data":"aGk="}}]}`))
	f.Add([]byte(`[[[[[[[[[[{"a":"\"[["}]]]]]]]]]]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b Bundle
		err := Decode(bytes.NewReader(data), 1<<20, &b)
		if err != nil {
			return
		}
		for i, e := range b.Entry {
			// The fast peek and the decoder read the same resourceType.
			if rt := PeekResourceType(e.Resource); rt != "" {
				var h struct {
					ResourceType string `json:"resourceType"`
				}
				if json.Unmarshal(e.Resource, &h) != nil || h.ResourceType != rt {
					t.Fatalf("PeekResourceType says %q, the decoder %q", rt, h.ResourceType)
				}
			}
			var d DocumentReference
			_ = Unmarshal(e.Resource, &d, "Bundle.entry["+string(rune('0'+i%10))+"].resource")
			for _, a := range d.Author {
				d.ResolveContained(a.Reference)
			}
		}
		var out bytes.Buffer
		if err := Encode(&out, b); err != nil {
			t.Fatalf("a decoded bundle does not encode: %v", err)
		}
	})
}

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2024", "2024-03", "2024-02-29", "2024-03-15T10:30+01:00", "2024-03-15T10:30:05.123456789Z", "ge2024-03", "ap2024", "ne2024", "9999-12-31T23:59:60-14:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		dt, err := ParseDateTime(s)
		if err == nil && !dt.End.After(dt.Start) {
			t.Fatalf("ParseDateTime(%q): empty range [%v, %v)", s, dt.Start, dt.End)
		}
		r, err := ParseDateParam(s)
		if err == nil && !r.From.IsZero() && !r.To.IsZero() && !r.To.After(r.From) {
			t.Fatalf("ParseDateParam(%q): empty range %v", s, r)
		}
	})
}
