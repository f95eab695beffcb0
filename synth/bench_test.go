package synth

import (
	"testing"
	"time"
)

// BenchmarkEachDocument measures streaming generation. With -benchtime=100000x
// it generates the 100,000 documents of the scale benchmark.
func BenchmarkEachDocument(b *testing.B) {
	for _, bc := range []struct {
		name  string
		large bool
	}{{"natural", false}, {"large", true}} {
		b.Run(bc.name, func(b *testing.B) {
			o := Options{Seed: 1, Patients: max(1, b.N/10), DocsPerPatient: 10, LargeDocs: bc.large}
			var docs, bytes int
			start := time.Now()
			b.ResetTimer()
			err := o.EachDocument(func(d Document) error {
				docs++
				bytes += len(d.Content)
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			s := time.Since(start).Seconds()
			b.ReportMetric(float64(docs)/s, "docs/s")
			b.ReportMetric(float64(bytes)/s/1e6, "MB/s")
			b.ReportMetric(float64(bytes)/float64(docs), "B/doc")
		})
	}
}
