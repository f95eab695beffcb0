package fhirxml

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzToJSON: any body is either refused with an error or converted to
// valid JSON whose XML converts back to the same JSON; never a panic.
func FuzzToJSON(f *testing.F) {
	x, err := ToXML([]byte(parametersJSON))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		string(x),
		`<Patient xmlns="http://hl7.org/fhir"><id value="a"/><name><given value="b"/></name></Patient>`,
		`<Bundle xmlns="http://hl7.org/fhir"><type value="transaction"/><entry><resource><Binary><contentType value="text/plain"/><data value="aGk="/></Binary></resource></entry></Bundle>`,
		`<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml" xml:lang="fr">a<br/>b</div></text></Patient>`,
		`<!DOCTYPE x><Patient xmlns="http://hl7.org/fhir"/>`,
		`<Observation xmlns="http://hl7.org/fhir"><valueQuantity><value value="1e3"/></valueQuantity></Observation>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := ToJSON(data)
		if err != nil {
			return
		}
		if !json.Valid(j) {
			t.Fatalf("invalid JSON %s", j)
		}
		x, err := ToXML(j)
		if err != nil {
			t.Fatalf("JSON from XML does not convert back: %v\n%s", detail(err), j)
		}
		j2, err := ToJSON(x)
		if err != nil || !bytes.Equal(j, j2) {
			t.Fatalf("not stable: %v\n%s\n%s", err, j, j2)
		}
	})
}

// FuzzToXML: any JSON is refused or converted to XML that reads back.
func FuzzToXML(f *testing.F) {
	f.Add([]byte(parametersJSON))
	f.Add([]byte(`{"resourceType":"Patient","name":[{"given":["a",null],"_given":[null,{"id":"x"}]}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Binary","data":"aGk="}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := ToXML(data)
		if err != nil {
			return
		}
		if _, err := ToJSON(x); err != nil {
			t.Fatalf("XML from JSON does not read back: %v\n%s", detail(err), x)
		}
	})
}
