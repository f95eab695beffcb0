package fhirxml

import (
	"strings"
	"testing"

	carnet "github.com/carnet-sante/carnet"
)

// Finding 3 of the third review (docs/SECURITY-REVIEW-3.md): an element
// with the same attribute twice is not well-formed XML (XML 1.0, "Unique
// Att Spec"), but encoding/xml reads it and the conversion kept the last
// value: a gateway or validator in front of Carnet that reads the first
// (or refuses the body, as libxml2 does) saw another resource than the one
// Carnet stored — a status, a security label, an identifier smuggled past
// it.
func TestReview3DuplicateAttributeRefused(t *testing.T) {
	for _, body := range []string{
		`<Patient xmlns="http://hl7.org/fhir"><gender value="male" value="female"/></Patient>`,
		`<Consent xmlns="http://hl7.org/fhir"><status value="active"/><scope><coding><system value="a" value="b"/></coding></scope></Consent>`,
		`<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml"><p title="a" title="b">x</p></div></text></Patient>`,
		`<Patient xmlns="http://hl7.org/fhir" xmlns:a="urn:x" xmlns:b="urn:x"><gender a:v="1" b:v="2" value="male"/></Patient>`,
	} {
		j, err := ToJSON([]byte(body))
		if err == nil {
			t.Errorf("a duplicate attribute is accepted: %s → %s", body, j)
			continue
		}
		if carnet.ErrorKind(err) != carnet.KindInvalid || !strings.Contains(detail(err), "twice") {
			t.Errorf("%s: %v", body, detail(err))
		}
	}
}
