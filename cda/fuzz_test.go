package cda

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// FuzzParse: whatever the bytes, Parse returns a document or a
// *carnet.Error of a caller-facing kind, never panics, and what it
// returns can be rendered and turned into metadata.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*.xml"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err == nil && len(b) < 40<<10 { // large seeds stall the mutator on this 2-CPU machine
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
		_ = d.Metadata()
		_ = RenderHTML(d)
		if d.Attachment != nil {
			_ = PDFText(d.Attachment.Data)
		}
	})
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
