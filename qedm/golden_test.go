package qedm

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/corpus from the extraction (review the diff)")

// goldenLines is what a golden file pins of an extraction: one line per
// item, in order, with its kind, category, code, effective time, the
// abnormal flag and the interpretation; then the derived class and format.
func goldenLines(x carnet.Extraction) string {
	var b strings.Builder
	fmt.Fprintf(&b, "class %s|%s\n", x.Derived.Class.System, x.Derived.Class.Code)
	fmt.Fprintf(&b, "format %s|%s\n", x.Derived.Format.System, x.Derived.Format.Code)
	fmt.Fprintf(&b, "items %d\n", len(x.Items))
	for _, it := range x.Items {
		eff := "-"
		if !it.Effective.IsZero() {
			eff = it.Effective.UTC().Format(time.RFC3339)
		}
		cat := it.Category
		if cat == "" {
			cat = "-"
		}
		line := fmt.Sprintf("%s %s %s|%s %s", it.Kind, cat, it.Code.System, it.Code.Code, eff)
		if it.Abnormal {
			line += " abnormal"
		}
		if it.Interpretation != "" {
			line += " interpretation=" + it.Interpretation
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// TestCorpusGolden pins, for every ANS example, the number of items the
// extraction gives and their codes: an extraction that loses entries
// (keeps one prescribed medication of several, drops a result) fails
// here. Regenerate with `go test ./qedm -run TestCorpusGolden -update` and
// review the diff against the documents.
func TestCorpusGolden(t *testing.T) {
	dir := corpusDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	if len(files) != 55 {
		t.Fatalf("%d ANS examples, want 55", len(files))
	}
	ex := extractor(t)
	seen := map[string]bool{}
	for _, f := range files {
		name := filepath.Base(f)
		golden := filepath.Join("testdata", "corpus", strings.TrimSuffix(name, ".xml")+".txt")
		seen[filepath.Base(golden)] = true
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		x, ok, err := ex.Extract("text/xml", b)
		if err != nil || !ok {
			t.Errorf("%s: ok=%v err=%v", name, ok, err)
			continue
		}
		got := goldenLines(x)
		if *update {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Errorf("%s: no golden file (%v): run with -update and review it", name, err)
			continue
		}
		if got != string(want) {
			t.Errorf("%s: extraction differs from %s\n--- got\n%s--- want\n%s", name, golden, got, want)
		}
	}
	// A golden file whose example is gone pins nothing.
	others, _ := filepath.Glob(filepath.Join("testdata", "corpus", "*.txt"))
	for _, g := range others {
		if !seen[filepath.Base(g)] && !*update {
			t.Errorf("%s has no ANS example", g)
		}
	}
}

// A prescribed product's generic class (pharm:generalizedMedicineClass,
// ATC in the ANS volets) is one more code the MedicationRequest is found
// by: what the point-of-care ranking reads the drug class from.
func TestMedicationClassFoundByATC(t *testing.T) {
	x := corpusFile(t, "eP-MED-DM_2024.01_PosoStruct.xml")
	found := false
	for _, it := range itemsOf(x, carnet.ItemMedicationRequest) {
		for _, tok := range it.Tokens {
			if tok.Kind == TokCode && tok.Value == "urn:oid:2.16.840.1.113883.6.73|N02BE01" {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("no MedicationRequest found by the ATC class N02BE01 (paracetamol) the document states")
	}
}
