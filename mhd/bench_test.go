package mhd

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// bigBundle has n documents of size bytes each, built from validBundle's
// first document.
func bigBundle(b *testing.B, n, size int) []byte {
	b.Helper()
	base := validBundle()
	es := base["entry"].(arr)
	content := strings.Repeat("x", size)
	var entries arr
	var items arr
	for i := range n {
		raw, _ := json.Marshal(es[1])
		var e obj
		_ = json.Unmarshal(raw, &e)
		full := fmt.Sprintf("urn:uuid:d0000000-0000-4000-8000-%012d", i)
		bin := fmt.Sprintf("urn:uuid:b0000000-0000-4000-8000-%012d", i)
		e["fullUrl"] = full
		r := e["resource"].(obj)
		r["masterIdentifier"] = obj{"value": fmt.Sprintf("urn:oid:1.2.250.1.999.2.1.%d", i)}
		a := r["content"].(arr)[0].(obj)["attachment"].(obj)
		a["url"], a["size"], a["hash"], a["contentType"] = bin, size, sha1b64(content), "text/plain"
		entries = append(entries, e, obj{"fullUrl": bin, "resource": obj{"resourceType": "Binary", "contentType": "text/plain", "data": b64(content)}, "request": obj{"method": "POST", "url": "Binary"}})
		items = append(items, obj{"item": obj{"reference": full}})
	}
	list := es[0].(obj)
	list["resource"].(obj)["entry"] = items
	base["entry"] = append(arr{list}, entries...)
	body, _ := json.Marshal(base)
	return body
}

func BenchmarkParseProvide(b *testing.B) {
	for _, c := range []struct{ docs, size int }{{1, 4 << 10}, {10, 64 << 10}, {50, 256 << 10}} {
		body := bigBundle(b, c.docs, c.size)
		b.Run(fmt.Sprintf("%ddocs_%dKiB", c.docs, c.size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, _, err := ParseProvide(body, testOpts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseDocumentSearch(b *testing.B) {
	q, _ := url.ParseQuery("patient=Patient/p1&status=current,superseded&type=http://loinc.org|11488-4,11502-2&date=ge2024-01&author.family=Durand&_count=50")
	for b.Loop() {
		if _, _, err := ParseDocumentSearch(q); err != nil {
			b.Fatal(err)
		}
	}
}
