package fhirxml

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"testing"
)

// benchBundle is an ITI-65-like transaction: n DocumentReferences, each
// with a Binary of size bytes.
func benchBundle(n, size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"resourceType":"Bundle","type":"transaction","entry":[`)
	data := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("compte rendu "), size/13+1)[:size])
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"fullUrl":"urn:uuid:00000000-0000-0000-0000-%012d","resource":{"resourceType":"DocumentReference","masterIdentifier":{"system":"urn:ietf:rfc:3986","value":"urn:oid:1.2.3.%d"},"status":"current","type":{"coding":[{"system":"http://loinc.org","code":"11488-4","display":"Compte rendu de consultation"}]},"subject":{"reference":"Patient/p"},"securityLabel":[{"coding":[{"system":"urn:oid:2.16.840.1.113883.5.25","code":"N"}]}],"content":[{"attachment":{"contentType":"text/plain","url":"urn:uuid:b%d","size":%d,"hash":"2jmj7l5rSw0yVb/vlWAYkK/YBwk="},"format":{"system":"urn:oid:1.3.6.1.4.1.19376.1.2.3","code":"urn:ihe:iti:xds-sd:text:2008"}}]},"request":{"method":"POST","url":"DocumentReference"}},`, i, i, i, size)
		fmt.Fprintf(&b, `{"fullUrl":"urn:uuid:b%d","resource":{"resourceType":"Binary","contentType":"text/plain","data":"%s"},"request":{"method":"POST","url":"Binary"}}`, i, data)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// go test ./fhirxml -run '^$' -bench . : an ITI-65 of 10 documents of
// 1 MiB, and one of 1,000 documents of 1 KiB.
func BenchmarkToJSON(b *testing.B) {
	for _, c := range []struct{ n, size int }{{10, 1 << 20}, {1000, 1 << 10}} {
		x, err := ToXML(benchBundle(c.n, c.size))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%dx%dB", c.n, c.size), func(b *testing.B) {
			b.SetBytes(int64(len(x)))
			for i := 0; i < b.N; i++ {
				if _, err := ToJSON(x); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkToXML(b *testing.B) {
	for _, c := range []struct{ n, size int }{{10, 1 << 20}, {1000, 1 << 10}} {
		j := benchBundle(c.n, c.size)
		b.Run(fmt.Sprintf("%dx%dB", c.n, c.size), func(b *testing.B) {
			b.SetBytes(int64(len(j)))
			for i := 0; i < b.N; i++ {
				if _, err := ToXML(j); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
