package cda

import (
	"bytes"
	"encoding/base64"
	"runtime"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

const cdaOpen = `<ClinicalDocument xmlns="urn:hl7-org:v3">`

func repeat(s string, n int) string { return strings.Repeat(s, n) }

// TestHostileInputs: malformed and hostile XML is refused with the right
// kind, quickly and without holding much memory.
func TestHostileInputs(t *testing.T) {
	laughs := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">` +
		`<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>` + cdaOpen + `<title>&lol3;</title></ClinicalDocument>`
	tests := []struct {
		name string
		in   []byte
		kind carnet.Kind
	}{
		{"XXE", []byte(`<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>` + cdaOpen + `<title>&x;</title></ClinicalDocument>`), carnet.KindInvalid},
		{"billion laughs", []byte(laughs), carnet.KindInvalid},
		{"undeclared entity", []byte(cdaOpen + `<title>&x;</title></ClinicalDocument>`), carnet.KindInvalid},
		{"1M siblings", []byte(cdaOpen + repeat("<a/>", 1_000_000) + `</ClinicalDocument>`), carnet.KindTooLarge},
		{"1M siblings outside the document", []byte(`<r>` + repeat("<a/>", 1_000_000) + `</r>`), carnet.KindTooLarge},
		{"depth 100k", []byte(cdaOpen + repeat("<a>", 100_000) + repeat("</a>", 100_000) + `</ClinicalDocument>`), carnet.KindTooLarge},
		{"50 MB", append([]byte(cdaOpen+"<title>"), bytes.Repeat([]byte("x"), 50<<20)...), carnet.KindTooLarge},
		{"many attributes", []byte(cdaOpen + `<a` + attrs(1000) + `/></ClinicalDocument>`), carnet.KindTooLarge},
		{"huge attribute", []byte(cdaOpen + `<a b="` + repeat("x", 1<<20) + `"/></ClinicalDocument>`), carnet.KindTooLarge},
		{"truncated", []byte(cdaOpen + `<title>x</title>`), carnet.KindInvalid},
		{"mismatched tags", []byte(cdaOpen + `<title>x</code></ClinicalDocument>`), carnet.KindInvalid},
		{"empty", nil, carnet.KindInvalid},
		{"not XML", []byte("%PDF-1.4 binary"), carnet.KindInvalid},
		{"FHIR resource", []byte(`<Bundle xmlns="http://hl7.org/fhir"><id value="x"/></Bundle>`), carnet.KindUnsupported},
		{"ClinicalDocument without namespace", []byte(`<ClinicalDocument><id root="1.2"/></ClinicalDocument>`), carnet.KindUnsupported},
		{"latin-1", []byte(`<?xml version="1.0" encoding="ISO-8859-1"?>` + cdaOpen + `</ClinicalDocument>`), carnet.KindUnsupported},
		{"no id", []byte(cdaOpen + `<title>x</title><component><structuredBody/></component></ClinicalDocument>`), carnet.KindInvalid},
		{"no body", []byte(cdaOpen + `<id root="1.2.3"/></ClinicalDocument>`), carnet.KindInvalid},
		{"bad base64", []byte(cdaOpen + `<id root="1.2.3"/><component><nonXMLBody><text mediaType="application/pdf" representation="B64">!!!</text></nonXMLBody></component></ClinicalDocument>`), carnet.KindInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			d, err := Parse(tt.in, Limits{})
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", d)
			}
			if got := carnet.ErrorKind(err); got != tt.kind {
				t.Errorf("kind = %s, want %s (%v)", got, tt.kind, err)
			}
			if carnet.ErrorMessage(err) == "internal error" {
				t.Errorf("no message for the caller: %v", err)
			}
			if elapsed > 2*time.Second {
				t.Errorf("took %v", elapsed)
			}
			// Allocation beyond the input itself: the element limit keeps
			// the kept tree small; 1M siblings allocate ~100 MB in
			// encoding/xml tokens over time, but not held at once.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 400<<20 {
				t.Errorf("allocated %d MB", alloc>>20)
			}
			if held := int64(after.HeapInuse) - int64(before.HeapInuse); held > 64<<20 {
				t.Errorf("heap grew by %d MB", held>>20)
			}
		})
	}
}

func attrs(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(" a")
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString(strings.Repeat("y", i/26))
		b.WriteString(`="1"`)
	}
	return b.String()
}

// TestUSCCDA: a US C-CDA (other templates, no INS, NPI author) gives its
// header, no French format, and no INS.
func TestUSCCDA(t *testing.T) {
	doc := `<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:sdtc="urn:hl7-org:sdtc" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <realmCode code="US"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <templateId root="2.16.840.1.113883.10.20.22.1.1" extension="2015-08-01"/>
  <templateId root="2.16.840.1.113883.10.20.22.1.2" extension="2015-08-01"/>
  <id root="2.16.840.1.113883.19.5.99999.1" extension="TT988"/>
  <code code="34133-9" codeSystem="2.16.840.1.113883.6.1" displayName="Summarization of Episode Note"/>
  <title>Continuity of Care Document</title>
  <effectiveTime value="20240301103000-0500"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <languageCode code="en-US"/>
  <recordTarget><patientRole>
    <id root="2.16.840.1.113883.4.1" extension="111-00-2330"/>
    <patient><name><given>Eve</given><family>Everywoman</family></name>
      <administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/><birthTime value="19750501"/></patient>
  </patientRole></recordTarget>
  <author><time value="20240301"/><assignedAuthor>
    <id root="2.16.840.1.113883.4.6" extension="1234567890"/>
    <code code="207Q00000X" codeSystem="2.16.840.1.113883.6.101" displayName="Family Medicine"/>
    <assignedPerson><name><given>Henry</given><family>Seven</family></name></assignedPerson>
  </assignedAuthor></author>
  <custodian><assignedCustodian><representedCustodianOrganization>
    <id root="2.16.840.1.113883.4.6" extension="99999999"/><name>Community Health</name>
  </representedCustodianOrganization></assignedCustodian></custodian>
  <component><structuredBody><component><section>
    <templateId root="2.16.840.1.113883.10.20.22.2.3.1" extension="2015-08-01"/>
    <code code="30954-2" codeSystem="2.16.840.1.113883.6.1"/>
    <title>Results</title>
    <text><table><tr><td>Potassium</td><td>4.1 mmol/L</td></tr></table></text>
    <entry><organizer classCode="BATTERY" moodCode="EVN">
      <component><observation classCode="OBS" moodCode="EVN">
        <templateId root="2.16.840.1.113883.10.20.22.4.2" extension="2015-08-01"/>
        <code code="2823-3" codeSystem="2.16.840.1.113883.6.1"/>
        <value xsi:type="PQ" value="4.1" unit="mmol/L"/>
      </observation></component>
    </organizer></entry>
  </section></component></structuredBody></component>
</ClinicalDocument>`
	d, err := Parse([]byte(doc), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	m := d.Metadata()
	if m.Type.Code != "34133-9" || m.Title != "Continuity of Care Document" || m.Language != "en-US" {
		t.Errorf("header = %+v", m)
	}
	if want := time.Date(2024, 3, 1, 15, 30, 0, 0, time.UTC); !m.Created.Equal(want) {
		t.Errorf("created %v, want %v", m.Created, want)
	}
	if _, ok := d.PatientINS(); ok {
		t.Error("a US SSN was taken for an INS")
	}
	if m.Format.Code != "" {
		t.Errorf("format %v derived from US templates", m.Format)
	}
	if len(m.Authors) != 1 || m.Authors[0].ID.System != "urn:oid:2.16.840.1.113883.4.6" || m.Authors[0].Family != "Seven" {
		t.Errorf("authors = %+v", m.Authors)
	}
	if d.Custodian.Name != "Community Health" {
		t.Errorf("custodian = %+v", d.Custodian)
	}
	// C-CDA Result Observations are read as lab results, with their LOINC
	// code and value.
	if len(d.LabResults) != 1 || d.LabResults[0].Code.Code != "2823-3" || d.LabResults[0].Quantity == nil {
		t.Errorf("lab results from a C-CDA: %+v", d.LabResults)
	}
}

// TestLimitsAtTheirBounds: each limit holds exactly at its bound, and only
// that limit refuses one step beyond it (the trust review found the depth
// limit stopped by the element count first, and no test at the attachment
// limit).
func TestLimitsAtTheirBounds(t *testing.T) {
	body := func(inner string) []byte {
		return []byte(cdaOpen + `<id root="1.2.3"/><component><structuredBody>` + inner + `</structuredBody></component></ClinicalDocument>`)
	}
	pdf := func(n int) []byte {
		data := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'%'}, n))
		return []byte(cdaOpen + `<id root="1.2.3"/><component><nonXMLBody><text mediaType="application/pdf" representation="B64">` +
			data + `</text></nonXMLBody></component></ClinicalDocument>`)
	}
	tests := []struct {
		name     string
		lim      Limits
		at, over []byte
		message  string // what the refusal beyond the bound names
	}{
		// ClinicalDocument, component, structuredBody: depth 3, then k levels.
		{"depth", Limits{MaxDepth: 40, MaxElements: 1 << 20}, body(repeat("<a>", 37) + repeat("</a>", 37)), body(repeat("<a>", 38) + repeat("</a>", 38)), "nesting deeper than 40"},
		{"elements", Limits{MaxElements: 104, MaxDepth: 1 << 10}, body(repeat("<a/>", 100)), body(repeat("<a/>", 101)), "more than 104 XML elements"},
		{"attributes", Limits{MaxAttrs: 8}, body(`<a` + attrs(8) + `/>`), body(`<a` + attrs(9) + `/>`), "more than 8 attributes"},
		{"attribute length", Limits{MaxAttrBytes: 100}, body(`<a b="` + repeat("x", 100) + `"/>`), body(`<a b="` + repeat("x", 101) + `"/>`), "longer than 100 bytes"},
		{"attachment", Limits{MaxAttachment: 1000}, pdf(1000), pdf(1001), "embedded document exceeds 1000 bytes"},
		{"attachment, padding", Limits{MaxAttachment: 1000}, pdf(998), pdf(1002), "embedded document exceeds 1000 bytes"},
		{"size", Limits{MaxBytes: len(body(""))}, body(""), body(" "), "exceeds the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse(tt.at, tt.lim); err != nil {
				t.Errorf("at the bound: %v", err)
			}
			_, err := Parse(tt.over, tt.lim)
			if carnet.ErrorKind(err) != carnet.KindTooLarge || !strings.Contains(carnet.ErrorMessage(err), tt.message) {
				t.Errorf("one beyond the bound: %v, want too large naming %q", err, tt.message)
			}
		})
	}
}
