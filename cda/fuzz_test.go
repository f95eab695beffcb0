package cda

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	carnet "github.com/carnet-sante/carnet"
)

// FuzzParse: whatever the bytes, Parse returns a document or a
// *carnet.Error of a caller-facing kind, never panics, and what it
// returns holds to the limits, is valid UTF-8 throughout, and can be
// rendered and turned into metadata. Every document of the ANS corpus is a
// seed (go test runs each once; a fuzzing run on this 2-CPU machine is
// slower with the large ones, which is the price of starting from real
// documents).
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*.xml"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(cdaOpen + `<id root="1.2"/><component><nonXMLBody><text mediaType="text/plain" representation="B64">aGVsbG8=</text></nonXMLBody></component></ClinicalDocument>`))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`))
	lim := Limits{MaxBytes: 1 << 20, MaxElements: 20_000, MaxDepth: 64}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(b, lim)
		if err != nil {
			switch carnet.ErrorKind(err) {
			case carnet.KindInvalid, carnet.KindTooLarge, carnet.KindUnsupported:
			default:
				t.Fatalf("error of kind %s: %v", carnet.ErrorKind(err), err)
			}
			return
		}
		if len(b) > lim.MaxBytes {
			t.Fatalf("accepted %d bytes over a limit of %d", len(b), lim.MaxBytes)
		}
		if d.Attachment != nil && len(d.Attachment.Data) > DefaultLimits.MaxAttachment {
			t.Fatalf("accepted an attachment of %d bytes", len(d.Attachment.Data))
		}
		if path, ok := validUTF8(reflect.ValueOf(d), "Document"); !ok {
			t.Fatalf("accepted a document whose %s is not valid UTF-8", path)
		}
		if !utf8.Valid(RenderHTML(d)) {
			t.Fatal("rendered HTML is not valid UTF-8")
		}
		if m := d.Metadata(); !utf8.ValidString(m.Title) {
			t.Fatal("metadata title is not valid UTF-8")
		}
		if d.Attachment != nil {
			_ = PDFText(d.Attachment.Data)
		}
	})
}

// validUTF8 walks every string reachable from v (but byte slices: an
// attachment is binary) and returns the path of the first that is not
// valid UTF-8.
func validUTF8(v reflect.Value, path string) (string, bool) {
	switch v.Kind() {
	case reflect.String:
		return path, utf8.ValidString(v.String())
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return "", true
		}
		return validUTF8(v.Elem(), path)
	case reflect.Struct:
		for i := range v.NumField() {
			if !v.Type().Field(i).IsExported() {
				continue
			}
			if p, ok := validUTF8(v.Field(i), path+"."+v.Type().Field(i).Name); !ok {
				return p, false
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return "", true
		}
		for i := range v.Len() {
			if p, ok := validUTF8(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); !ok {
				return p, false
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if p, ok := validUTF8(it.Value(), path+"[…]"); !ok {
				return p, false
			}
		}
	}
	return "", true
}

// FuzzPDFText: the PDF text extractor never panics nor loops.
func FuzzPDFText(f *testing.F) {
	f.Add([]byte("%PDF-1.4\n1 0 obj << /Length 44 >> stream\nBT /F1 12 Tf 72 712 Td (Kali\\351mie 4.1) Tj ET\nendstream\nendobj"))
	f.Add([]byte("stream\nBT ((nested) \\) \\053) ' [(a) -10 (b)] TJ ET endstream"))
	f.Fuzz(func(t *testing.T, b []byte) {
		start := time.Now()
		_ = PDFText(b)
		if time.Since(start) > time.Second {
			t.Fatalf("PDFText took %v on %d bytes", time.Since(start), len(b))
		}
	})
}

// BenchmarkParse parses the whole ANS corpus per iteration and reports
// MB/s (b.SetBytes) and documents/s.
func BenchmarkParse(b *testing.B) {
	files := corpusFiles(b)
	var docs [][]byte
	total := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		docs = append(docs, data)
		total += len(data)
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, data := range docs {
			d, err := Parse(data, Limits{})
			if err != nil {
				b.Fatal(err)
			}
			_ = d.Metadata()
		}
	}
	b.ReportMetric(float64(len(docs)*b.N)/b.Elapsed().Seconds(), "docs/s")
}
