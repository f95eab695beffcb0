package fhirxml

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	carnet "github.com/carnet-sante/carnet"
)

// A FHIRPath Patch (PDSm) and an ITI-106-like Parameters: parts, choice
// values of several types, a resource inside, a primitive with an id and
// an extension but no value.
const parametersJSON = `{"resourceType":"Parameters","id":"p1","parameter":[` +
	`{"name":"operation","part":[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"DocumentReference.securityLabel"},` +
	`{"name":"value","valueCodeableConcept":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}]}}]},` +
	`{"name":"count","valueInteger":-3},{"name":"score","valueDecimal":1.50},{"name":"flag","valueBoolean":false},` +
	`{"name":"given","valueString":"Zoé \"&\" <b>","_valueString":{"id":"v1","extension":[{"url":"http://example.org/x","valuePositiveInt":2}]}},` +
	`{"name":"note","_valueString":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"unknown"}]}},` +
	`{"name":"patient","resource":{"resourceType":"Patient","id":"x","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Zoé &amp; <b>Martin</b></p></div>"},` +
	`"name":[{"family":"Martin","given":["Zoé",null,"Anne"],"_given":[null,{"extension":[{"url":"http://example.org/y","valueBoolean":true}]},null]}]}}]}`

func TestParametersRoundTrip(t *testing.T) {
	x, err := ToXML([]byte(parametersJSON))
	if err != nil {
		t.Fatal(detail(err))
	}
	for _, want := range []string{
		`<Parameters xmlns="http://hl7.org/fhir"><id value="p1"/>`,
		`<valueDecimal value="1.50"/>`,
		`<valueString id="v1" value="Zoé &#34;&amp;&#34; &lt;b&gt;">`,
		`<valueString><extension url="http://hl7.org/fhir/StructureDefinition/data-absent-reason"><valueCode value="unknown"/></extension></valueString>`,
		`<resource><Patient><id value="x"/><text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml"><p>Zoé &amp; <b>Martin</b></p></div></text>`,
		`<given value="Zoé"/><given><extension url="http://example.org/y"><valueBoolean value="true"/></extension></given><given value="Anne"/>`,
	} {
		want = strings.ReplaceAll(want, "&#34;", "&quot;")
		if !bytes.Contains(x, []byte(want)) {
			t.Errorf("the XML lacks %s:\n%s", want, x)
		}
	}
	j, err := ToJSON(x)
	if err != nil {
		t.Fatal(detail(err))
	}
	if d := jsonDiff(t, []byte(parametersJSON), j); d != "" {
		t.Errorf("JSON → XML → JSON differs: %s\n%s", d, j)
	}
	if !strings.HasPrefix(string(j), `{"resourceType":"Parameters","id":"p1","parameter":[`) {
		t.Errorf("members not in the definition's order: %.80s", j)
	}
}

// XML written by hand as a client would: comments, whitespace, prefixes,
// an xsi:schemaLocation; elements it may not hold are refused by name.
func TestToJSONReadsClientXML(t *testing.T) {
	in := `<?xml version="1.0" encoding="UTF-8"?>
<!-- a client's comment -->
<f:Patient xmlns:f="http://hl7.org/fhir" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://hl7.org/fhir patient.xsd">
  <f:id value="p"/>
  <f:active value="true"/>
  <f:name>
    <f:family value="Durand"/>
    <f:given value="Ana"/>
    <f:given value="Lou"/>
  </f:name>
  <f:birthDate value="1970-03-01"><f:extension url="http://example.org/t"><f:valueTime value="10:00:00"/></f:extension></f:birthDate>
  <f:multipleBirthInteger value="2"/>
</f:Patient>`
	j, err := ToJSON([]byte(in))
	if err != nil {
		t.Fatal(detail(err))
	}
	want := `{"resourceType":"Patient","id":"p","active":true,"name":[{"family":"Durand","given":["Ana","Lou"]}],"birthDate":"1970-03-01","_birthDate":{"extension":[{"url":"http://example.org/t","valueTime":"10:00:00"}]},"multipleBirthInteger":2}`
	if string(j) != want {
		t.Errorf("got  %s\nwant %s", j, want)
	}
}

func TestToJSONRefuses(t *testing.T) {
	deep := strings.Repeat("<extension url=\"u\">", MaxDepth) + strings.Repeat("</extension>", MaxDepth)
	for name, tc := range map[string]struct {
		in, expr, diag string
		kind           carnet.Kind
	}{
		"dtd":           {`<!DOCTYPE Patient [<!ENTITY x "y">]><Patient xmlns="http://hl7.org/fhir"/>`, "", "DTD", carnet.KindInvalid},
		"entity":        {`<Patient xmlns="http://hl7.org/fhir"><id value="&x;"/></Patient>`, "", "malformed XML", carnet.KindInvalid},
		"not fhir":      {`<Patient><id value="a"/></Patient>`, "Patient", "not a FHIR R4 resource", carnet.KindInvalid},
		"unknown":       {`<Patient xmlns="http://hl7.org/fhir"><name><nickname value="a"/></name></Patient>`, "Patient.name[0]", "unknown element <nickname>", carnet.KindInvalid},
		"repeats":       {`<Patient xmlns="http://hl7.org/fhir"><gender value="male"/><gender value="female"/></Patient>`, "Patient.gender", "repeats", carnet.KindInvalid},
		"bad boolean":   {`<Patient xmlns="http://hl7.org/fhir"><active value="yes"/></Patient>`, "Patient.active", "not a boolean", carnet.KindInvalid},
		"bad integer":   {`<Patient xmlns="http://hl7.org/fhir"><multipleBirthInteger value="1.5"/></Patient>`, "Patient.multipleBirthInteger", "not a valid integer", carnet.KindInvalid},
		"text":          {`<Patient xmlns="http://hl7.org/fhir"><gender>male</gender></Patient>`, "Patient.gender", "value attribute", carnet.KindInvalid},
		"two choices":   {`<Patient xmlns="http://hl7.org/fhir"><deceasedBoolean value="true"/><deceasedDateTime value="2020"/></Patient>`, "Patient.deceasedDateTime", "two types", carnet.KindInvalid},
		"script":        {`<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml"><svg xmlns="http://www.w3.org/2000/svg"/></div></text></Patient>`, "Patient.text.div", "not in the XHTML namespace", carnet.KindInvalid},
		"pi":            {`<?php x ?><Patient xmlns="http://hl7.org/fhir"/>`, "", "processing instructions", carnet.KindInvalid},
		"latin1":        {`<?xml version="1.0" encoding="ISO-8859-1"?><Patient xmlns="http://hl7.org/fhir"/>`, "", "UTF-8", carnet.KindInvalid},
		"deep":          {`<Patient xmlns="http://hl7.org/fhir">` + deep + `</Patient>`, "", "deeper than 64", carnet.KindInvalid},
		"many attrs":    {`<Patient xmlns="http://hl7.org/fhir" ` + strings.Repeat(`a="1" `, 0) + manyAttrs() + `/>`, "", "attributes", carnet.KindInvalid},
		"empty":         {`   `, "", "no XML element", carnet.KindInvalid},
		"two roots":     {`<Patient xmlns="http://hl7.org/fhir"/><Patient xmlns="http://hl7.org/fhir"/>`, "", "more than one root", carnet.KindInvalid},
		"unclosed":      {`<Patient xmlns="http://hl7.org/fhir"><id value="a"/>`, "", "malformed XML", carnet.KindInvalid},
		"bad attribute": {`<Patient xmlns="http://hl7.org/fhir"><id value="a" extra="b"/></Patient>`, "Patient.id", "unknown attribute", carnet.KindInvalid},
	} {
		_, err := ToJSON([]byte(tc.in))
		var ce *carnet.Error
		if !errors.As(err, &ce) || ce.Kind != tc.kind || len(ce.Issues) != 1 ||
			!strings.Contains(ce.Issues[0].Diagnostics, tc.diag) || ce.Issues[0].Expression != tc.expr {
			t.Errorf("%s: got %v, want %v %q at %q", name, detailOf(err), tc.kind, tc.diag, tc.expr)
		}
	}
}

func manyAttrs() string {
	var b strings.Builder
	for i := 0; i <= MaxAttributes; i++ {
		b.WriteString(" a")
		b.WriteString(strings.Repeat("x", i))
		b.WriteString(`="1"`)
	}
	return b.String()
}

func detailOf(err error) string {
	if err == nil {
		return "no error"
	}
	return detail(err)
}

// A body of more than MaxElements elements is refused as too large before
// its tree grows further.
func TestToJSONElementBound(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`<Patient xmlns="http://hl7.org/fhir">`)
	for i := 0; i <= MaxElements; i++ {
		b.WriteString(`<x/>`)
	}
	b.WriteString(`</Patient>`)
	_, err := ToJSON(b.Bytes())
	if carnet.ErrorKind(err) != carnet.KindTooLarge {
		t.Fatalf("got %v, want too large", detailOf(err))
	}
}

func TestToXMLRefuses(t *testing.T) {
	for name, tc := range map[string]struct{ in, diag string }{
		"unknown member":  {`{"resourceType":"Patient","nickname":"a"}`, `unknown element "nickname"`},
		"wrong kind":      {`{"resourceType":"Patient","active":"true"}`, "must be a boolean"},
		"not a resource":  {`{"resourceType":"Nothing"}`, "not a FHIR R4 resource"},
		"array expected":  {`{"resourceType":"Patient","name":{"family":"a"}}`, "must be an array"},
		"bad narrative":   {`{"resourceType":"Patient","text":{"status":"generated","div":"<p>no</p>"}}`, "one XHTML <div>"},
		"_ of a complex":  {`{"resourceType":"Patient","_name":[{}]}`, `unknown element "_name"`},
		"integer decimal": {`{"resourceType":"Patient","multipleBirthInteger":1.5}`, "must be a number (integer)"},
	} {
		_, err := ToXML([]byte(tc.in))
		if err == nil || !strings.Contains(detail(err), tc.diag) {
			t.Errorf("%s: got %v, want %q", name, detailOf(err), tc.diag)
		}
	}
}
