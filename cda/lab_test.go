package cda

import (
	"testing"
)

// labWant is one expected result, read by hand from the ANS file.
type labWant struct {
	code, value, unit, text, interp, low, high string
}

func (w labWant) check(t *testing.T, i int, r LabResult) {
	t.Helper()
	got := labWant{code: r.Code.Code, text: r.Text, interp: r.Interpretation}
	if r.Quantity != nil {
		got.value, got.unit = r.Quantity.Value, r.Quantity.Unit
	}
	if r.Coded != nil {
		got.text = r.Coded.Code
	}
	if r.RangeLow != nil {
		got.low = r.RangeLow.Value
	}
	if r.RangeHigh != nil {
		got.high = r.RangeHigh.Value
	}
	if got != w {
		t.Errorf("result %d = %+v, want %+v", i, got, w)
	}
	if r.Code.Code != "" && r.Code.System != SystemLOINC {
		t.Errorf("result %d code system %q, want LOINC", i, r.Code.System)
	}
}

func TestCorpusLabResults(t *testing.T) {
	tests := []struct {
		file  string
		count int
		want  map[int]labWant // by index in document order
	}{
		{"BIO-CR-BIO_2024.01_TSH_1.xml", 2, map[int]labWant{
			0: {code: "3016-3", value: "1.950", unit: "m[IU]/L", interp: "N", low: "0.270", high: "4.200"},
			1: {code: "3024-7", value: "7.67", unit: "pg/mL", interp: "L", low: "9.30", high: "17.00"},
		}},
		{"BIO-CR-BIO_2024.01_Electrophorese.xml", 44, map[int]labWant{
			0:  {code: "2885-2", value: "75.0", unit: "g/L", low: "63.000000", high: "83.000000"},
			4:  {code: "2865-4", value: "3.8", unit: "g/L", interp: "H", low: "0.800000", high: "3.200000"},
			11: {code: "44429-9", value: "1.50", unit: "{ratio}"},
			12: {code: "22664-7", value: "10.02", unit: "mmol/L", interp: "H", low: "3.50", high: "8"},
			13: {code: "40193-5", value: "7.2", unit: "mmol/L", interp: "H", low: "3.9", high: "6.1"},
			16: {code: "718-7", value: "13.4", unit: "g/dL", interp: "N", low: "11.5", high: "14.5"},
		}},
		{"BIO-CR-BIO_2024.01_Microbiologie_V1.xml", 14, map[int]labWant{
			// A CD value with only a reference to the narrative gives its text.
			0: {code: "5778-6", text: "paille"},
			2: {code: "30405-5", value: "500", unit: "/mL"},
			6: {code: "51480-2", value: "100000", unit: "/mL"},
			// Antibiogram: an MIC as an interval, S/I/R interpretation.
			7: {code: "20-8", text: ">=0.512 ug/mL", interp: "R"},
			8: {code: "28-1", text: "<=0.128 ug/mL", interp: "I"},
			9: {code: "18928-2", text: "<=0.032 ug/mL", interp: "S"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			d := parseCorpus(t, tt.file)
			if len(d.LabResults) != tt.count {
				t.Fatalf("%d lab results, want %d", len(d.LabResults), tt.count)
			}
			for i, w := range tt.want {
				w.check(t, i, d.LabResults[i])
			}
		})
	}
}

// TestLabContext: the isolate an antibiogram belongs to and the sampling
// time are inherited from the containers; TSH's time honours +0200.
func TestLabContext(t *testing.T) {
	d := parseCorpus(t, "BIO-CR-BIO_2024.01_Microbiologie_V1.xml")
	if got := d.LabResults[7].Specimen.Code; got != "112283007" { // Escherichia coli
		t.Errorf("specimen of the first antibiogram = %q, want 112283007", got)
	}
	if got := d.LabResults[11].Specimen.Code; got != "58800005" { // Streptococcus
		t.Errorf("specimen of the second isolate = %q, want 58800005", got)
	}
	tsh := parseCorpus(t, "BIO-CR-BIO_2024.01_TSH_1.xml").LabResults[0]
	if got := tsh.Effective.Time.Format("2006-01-02T15:04:05Z07:00"); got != "2014-04-02T12:55:21Z" {
		t.Errorf("TSH effective = %s, want 2014-04-02T12:55:21Z (20140402145521+0200)", got)
	}
	if len(tsh.Source.TemplateIDs) == 0 || tsh.Source.TemplateIDs[0] != tmplLabObservation {
		t.Errorf("source templates = %v", tsh.Source.TemplateIDs)
	}
}
