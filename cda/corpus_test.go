package cda

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/carnet-sante/carnet/internal/ci"
)

// corpusDir is the ANS CDA examples, outside the repository.
var corpusDir = envOr("CDA_CORPUS", filepath.Join("..", "..", "shared", "corpus", "ans-cda"))

// corpusFiles returns the corpus files, skipping (or failing under CI)
// when the corpus is absent.
func corpusFiles(tb testing.TB) []string {
	tb.Helper()
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*.xml"))
	if len(files) == 0 {
		if ci.Enforced() {
			tb.Fatalf("ANS CDA corpus missing at %s", corpusDir)
		}
		tb.Skipf("ANS CDA corpus missing at %s", corpusDir)
	}
	sort.Strings(files)
	return files
}

func readCorpus(tb testing.TB, name string) []byte {
	tb.Helper()
	corpusFiles(tb)
	b, err := os.ReadFile(filepath.Join(corpusDir, name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func parseCorpus(tb testing.TB, name string) *Document {
	tb.Helper()
	d, err := Parse(readCorpus(tb, name), Limits{})
	if err != nil {
		tb.Fatalf("Parse(%s): %v", name, err)
	}
	return d
}

// TestCorpusParses: every ANS example is read, has a uniqueId, a type, a
// patient INS and a level, and N1 documents carry their PDF.
func TestCorpusParses(t *testing.T) {
	files := corpusFiles(t)
	if len(files) != 55 {
		t.Errorf("corpus has %d files, want 55", len(files))
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			d := parseCorpus(t, name)
			if d.UniqueID == "" || d.Type.Code == "" || d.Title == "" || d.Effective.IsZero() {
				t.Errorf("header incomplete: id %q type %q title %q effective %v", d.UniqueID, d.Type.Code, d.Title, d.Effective)
			}
			if _, ok := d.PatientINS(); !ok {
				t.Errorf("no INS among patient ids %v", d.Patient.IDs)
			}
			if len(d.Authors) == 0 {
				t.Error("no author")
			}
			if d.Level == LevelN1 && (d.Attachment == nil || len(d.Attachment.Data) == 0) {
				t.Error("N1 document without its attachment")
			}
		})
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
