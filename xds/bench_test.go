package xds

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"strings"
	"testing"
)

// benchProvide is an MTOM ITI-41 of n documents of size bytes each.
func benchProvide(n, size int) ([]byte, string) {
	var body strings.Builder
	body.WriteString(`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header><a:Action>urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b</a:Action></s:Header><s:Body>`)
	body.WriteString(`<xdsb:ProvideAndRegisterDocumentSetRequest xmlns:xdsb="urn:ihe:iti:xds-b:2007" xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"><lcm:SubmitObjectsRequest><rim:RegistryObjectList>`)
	pid := "279035121518989^^^&amp;1.2.250.1.213.1.4.10&amp;ISO^NH"
	content := bytes.Repeat([]byte("x"), size)
	sum := sha1.Sum(content)
	for i := range n {
		id := fmt.Sprintf("D%d", i)
		fmt.Fprintf(&body, `<rim:ExtrinsicObject id="%s" mimeType="text/plain" objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"><rim:Slot name="creationTime"><rim:ValueList><rim:Value>20240305101500</rim:Value></rim:ValueList></rim:Slot><rim:Slot name="hash"><rim:ValueList><rim:Value>%s</rim:Value></rim:ValueList></rim:Slot>`, id, hex.EncodeToString(sum[:]))
		for _, c := range [][2]string{{schemeClass, "10"}, {schemeType, "11488-4"}, {schemeFormat, "urn:ihe:iti:xds-sd:text:2008"}, {schemeConfidentiality, "N"}} {
			fmt.Fprintf(&body, `<rim:Classification classificationScheme="%s" classifiedObject="%s" nodeRepresentation="%s"><rim:Slot name="codingScheme"><rim:ValueList><rim:Value>1.2.3</rim:Value></rim:ValueList></rim:Slot></rim:Classification>`, c[0], id, c[1])
		}
		fmt.Fprintf(&body, `<rim:Classification classificationScheme="%s" classifiedObject="%s" nodeRepresentation=""><rim:Slot name="authorPerson"><rim:ValueList><rim:Value>810002345678^MARTIN^Jeanne^^^^^^&amp;1.2.250.1.71.4.2.1&amp;ISO^D^^^IDNPS</rim:Value></rim:ValueList></rim:Slot></rim:Classification>`, schemeDocAuthor, id)
		fmt.Fprintf(&body, `<rim:ExternalIdentifier identificationScheme="%s" value="%s"/><rim:ExternalIdentifier identificationScheme="%s" value="1.2.3.%d"/></rim:ExtrinsicObject>`, idDocPatientID, pid, idDocUniqueID, i)
		fmt.Fprintf(&body, `<rim:Association associationType="%s" sourceObject="SS" targetObject="%s"/>`, assocHasMember, id)
	}
	fmt.Fprintf(&body, `<rim:RegistryPackage id="SS"><rim:Slot name="submissionTime"><rim:ValueList><rim:Value>20240305</rim:Value></rim:ValueList></rim:Slot><rim:ExternalIdentifier identificationScheme="%s" value="1.2.9"/><rim:ExternalIdentifier identificationScheme="%s" value="1.2.8"/><rim:ExternalIdentifier identificationScheme="%s" value="%s"/></rim:RegistryPackage>`, idSetUniqueID, idSetSourceID, idSetPatientID, pid)
	fmt.Fprintf(&body, `<rim:Classification classifiedObject="SS" classificationNode="%s"/></rim:RegistryObjectList></lcm:SubmitObjectsRequest>`, nodeSubmissionSet)
	for i := range n {
		fmt.Fprintf(&body, `<xdsb:Document id="D%d"><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:d%d@x"/></xdsb:Document>`, i, i)
	}
	body.WriteString(`</xdsb:ProvideAndRegisterDocumentSetRequest></s:Body></s:Envelope>`)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{"Content-Type": {`application/xop+xml; type="application/soap+xml"`}, "Content-Id": {"<root>"}}
	pw, _ := mw.CreatePart(h)
	pw.Write([]byte(body.String()))
	for i := range n {
		pw, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Id": {fmt.Sprintf("<d%d@x>", i)}, "Content-Type": {"text/plain"}})
		pw.Write(content)
	}
	mw.Close()
	return buf.Bytes(), `multipart/related; type="application/xop+xml"; boundary="` + mw.Boundary() + `"; start="<root>"`
}

// BenchmarkParseProvide reads an MTOM ITI-41 of 10 documents of 100 KiB
// into a submission (what the transport costs before the Service).
func BenchmarkParseProvide(b *testing.B) {
	body, ct := benchProvide(10, 100<<10)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		m, err := ReadMessage(body, ct, Limits{})
		if err != nil {
			b.Fatal(err)
		}
		sub, err := ParseProvide(m, ParseOptions{})
		if err != nil || len(sub.Documents) != 10 {
			b.Fatal(err)
		}
	}
}
