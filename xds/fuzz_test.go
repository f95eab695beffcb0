package xds

import (
	"errors"
	"strings"
	"testing"
)

const seedProvide = `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header><a:Action>urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b</a:Action></s:Header><s:Body>` +
	`<xdsb:ProvideAndRegisterDocumentSetRequest xmlns:xdsb="urn:ihe:iti:xds-b:2007" xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"><lcm:SubmitObjectsRequest><rim:RegistryObjectList>` +
	`<rim:ExtrinsicObject id="D1" mimeType="text/plain" objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"><rim:Slot name="creationTime"><rim:ValueList><rim:Value>20240305</rim:Value></rim:ValueList></rim:Slot>` +
	`<rim:Classification classificationScheme="urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a" classifiedObject="D1" nodeRepresentation="10"><rim:Slot name="codingScheme"><rim:ValueList><rim:Value>1.2.250.1.213.1.1.4.1</rim:Value></rim:ValueList></rim:Slot></rim:Classification>` +
	`<rim:ExternalIdentifier identificationScheme="urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427" value="279035121518989^^^&amp;1.2.250.1.213.1.4.10&amp;ISO^NH"/>` +
	`<rim:ExternalIdentifier identificationScheme="urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab" value="1.2.3"/></rim:ExtrinsicObject>` +
	`<rim:RegistryPackage id="SS"><rim:ExternalIdentifier identificationScheme="urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446" value="279035121518989^^^&amp;1.2.250.1.213.1.4.10&amp;ISO^NH"/></rim:RegistryPackage>` +
	`<rim:Classification classifiedObject="SS" classificationNode="urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"/>` +
	`<rim:Association associationType="urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember" sourceObject="SS" targetObject="D1"/>` +
	`<rim:Association associationType="urn:ihe:iti:2007:AssociationType:RPLC" sourceObject="D1" targetObject="urn:uuid:0f0e0d0c-0000-4000-8000-000000000000"/>` +
	`</rim:RegistryObjectList></lcm:SubmitObjectsRequest><xdsb:Document id="D1">Ym9uam91cg==</xdsb:Document></xdsb:ProvideAndRegisterDocumentSetRequest></s:Body></s:Envelope>`

const seedQuery = `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header><a:Action>urn:ihe:iti:2007:RegistryStoredQuery</a:Action></s:Header><s:Body>` +
	`<query:AdhocQueryRequest xmlns:query="urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"><query:ResponseOption returnType="LeafClass"/>` +
	`<rim:AdhocQuery id="urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d"><rim:Slot name="$XDSDocumentEntryPatientId"><rim:ValueList><rim:Value>'279035121518989^^^&amp;1.2.250.1.213.1.4.10&amp;ISO^NH'</rim:Value></rim:ValueList></rim:Slot>` +
	`<rim:Slot name="$XDSDocumentEntryStatus"><rim:ValueList><rim:Value>('urn:oasis:names:tc:ebxml-regrep:StatusType:Approved')</rim:Value></rim:ValueList></rim:Slot>` +
	`<rim:Slot name="$XDSDocumentEntryClassCode"><rim:ValueList><rim:Value>('10^^1.2.250.1.213.1.1.4.1','11^^x')</rim:Value></rim:ValueList></rim:Slot></rim:AdhocQuery></query:AdhocQueryRequest></s:Body></s:Envelope>`

const seedMTOM = "--b\r\nContent-Type: application/xop+xml; type=\"application/soap+xml\"\r\nContent-ID: <root>\r\n\r\n" +
	`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><xdsb:RetrieveDocumentSetRequest xmlns:xdsb="urn:ihe:iti:xds-b:2007"><xdsb:DocumentRequest><xdsb:RepositoryUniqueId>1.2</xdsb:RepositoryUniqueId><xdsb:DocumentUniqueId>1.3</xdsb:DocumentUniqueId></xdsb:DocumentRequest></xdsb:RetrieveDocumentSetRequest></s:Body></s:Envelope>` +
	"\r\n--b\r\nContent-ID: <d1@x>\r\nContent-Transfer-Encoding: base64\r\n\r\nYm9uam91cg==\r\n--b--\r\n"

const mtomType = `multipart/related; type="application/xop+xml"; boundary="b"; start="<root>"; start-info="application/soap+xml"; action="urn:ihe:iti:2007:RetrieveDocumentSet"`

// Any body is a message, a fault or registry errors: never a panic, and
// a reader error is always a *Fault.
func FuzzReadMessage(f *testing.F) {
	f.Add([]byte(seedProvide), "application/soap+xml")
	f.Add([]byte(seedQuery), "application/soap+xml")
	f.Add([]byte(seedMTOM), mtomType)
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>`), "application/soap+xml")
	f.Add([]byte(strings.Repeat("<a>", 100)), "application/soap+xml")
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		lim := Limits{MaxBytes: 1 << 20, MaxTokens: 5000}
		m, err := ReadMessage(body, ct, lim)
		if err != nil {
			var fa *Fault
			if !errors.As(err, &fa) {
				t.Fatalf("reader error is not a fault: %v", err)
			}
			return
		}
		switch m.Action {
		case ActionProvide:
			_, _ = ParseProvide(m, ParseOptions{Limits: lim})
		case ActionQuery:
			if q, err := ParseQuery(m, lim.withDefaults()); err == nil {
				_, _ = FindDocumentsSearch(q)
				_, _ = FindSubmissionSetsSearch(q)
			}
		}
	})
}

// The ebRIM reader on well-formed envelopes with arbitrary content.
func FuzzParseProvide(f *testing.F) {
	f.Add(seedProvide)
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ReadMessage([]byte(s), "application/soap+xml", Limits{})
		if err != nil || m.Action != ActionProvide {
			return
		}
		sub, err := ParseProvide(m, ParseOptions{})
		if err == nil && len(sub.Documents) == 0 {
			t.Fatalf("a submission without documents was accepted")
		}
	})
}

func FuzzQueryValues(f *testing.F) {
	for _, s := range []string{"'a'", "('a','b')", "('it''s')", "(1,2)", "('a',", "'", "()"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		vs, ok := queryValues(s)
		if ok && len(vs) == 0 && strings.TrimSpace(s) != "" && strings.TrimSpace(s) != "()" {
			t.Fatalf("%q read as no value", s)
		}
	})
}

func TestReadMessageBounds(t *testing.T) {
	deep := `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>` + strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100) + `</s:Body></s:Envelope>`
	if _, err := ReadMessage([]byte(deep), `application/soap+xml; action="urn:ihe:iti:2007:RegistryStoredQuery"`, Limits{}); err == nil || !strings.Contains(err.Error(), "deeper") {
		t.Errorf("depth: %v", err)
	}
	bomb := `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><x>&b;</x></s:Body></s:Envelope>`
	if _, err := ReadMessage([]byte(bomb), "application/soap+xml", Limits{}); err == nil || !strings.Contains(err.Error(), "DTD") {
		t.Errorf("entity expansion: %v", err)
	}
	var parts strings.Builder
	for i := range 70 {
		parts.WriteString("--b\r\nContent-ID: <p" + string(rune('a'+i%26)) + strings.Repeat("x", i) + ">\r\n\r\nx\r\n")
	}
	parts.WriteString("--b--\r\n")
	if _, err := ReadMessage([]byte(parts.String()), `multipart/related; boundary="b"; type="application/xop+xml"; start="<nope>"`, Limits{}); err == nil || !strings.Contains(err.Error(), "MIME parts") {
		t.Errorf("parts: %v", err)
	}
	if _, err := ReadMessage([]byte(seedMTOM), mtomType, Limits{}); err != nil {
		t.Errorf("MTOM seed: %v", err)
	}
}

// Software pretty-prints its envelopes: text between elements at every
// level (a copied strings.Builder once made this panic).
func TestReadMessageIndented(t *testing.T) {
	indented := strings.NewReplacer("><", ">\n    <").Replace(seedQuery)
	m, err := ReadMessage([]byte(indented), "application/soap+xml", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	q, err := ParseQuery(m, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FindDocumentsSearch(q); err != nil {
		t.Fatalf("indented FindDocuments: %v", err)
	}
}
