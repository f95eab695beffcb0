package fhir

import (
	"encoding/json"
	"testing"
)

// Bundle.MarshalJSON splices entries' resources in as they are; the result
// must read back as the same Bundle, for every shape of entry.
func TestBundleMarshalRoundTrip(t *testing.T) {
	total := 2
	in := Bundle{Type: "searchset", Total: &total, Link: []BundleLink{{Relation: "self", URL: "http://x/DocumentReference?a=b"}},
		Entry: []BundleEntry{
			{FullURL: "http://x/DocumentReference/1", Resource: json.RawMessage(`{"resourceType":"DocumentReference","id":"1","description":"<é>"}`), Search: &BundleSearch{Mode: "match"}},
			{Resource: json.RawMessage(`{"resourceType":"OperationOutcome","issue":[]}`)},
			{Response: &BundleResponse{Status: "201 Created", Location: "List/2"}},
			{},
		}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(b) {
		t.Fatalf("invalid JSON: %s", b)
	}
	var out Bundle
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	// Compare through encoding/json's own path (no custom marshaller).
	type plain Bundle
	in.ResourceType = "Bundle"
	want, _ := json.Marshal(plain(in))
	got, _ := json.Marshal(plain(out))
	if string(got) != string(want) {
		t.Errorf("round trip:\n got %s\nwant %s", got, want)
	}
	if _, err := json.Marshal(Bundle{Entry: []BundleEntry{{Resource: json.RawMessage(`{"a":`)}}}); err == nil {
		t.Error("an entry with invalid JSON was written")
	}
}
