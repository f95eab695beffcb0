package qedm

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/carnet-sante/carnet/internal/ci"

	"github.com/carnet-sante/carnet/cda"
)

func cdaLimits(maxBytes int) cda.Limits { return cda.Limits{MaxBytes: maxBytes} }

var (
	formatsOnce  sync.Once
	formatsTable *cda.FormatTable
	formatsErr   error
)

// formatTable is the ANS CI-SIS volet table from ../shared (skipped where
// absent, failed under CI).
func formatTable(tb testing.TB) *cda.FormatTable {
	tb.Helper()
	p := filepath.Join("..", "..", "shared", "reference", "ci-sis-formats.csv")
	if _, err := os.Stat(p); err != nil {
		if ci.Enforced() {
			tb.Fatalf("CI-SIS format table missing at %s", p)
		}
		tb.Skipf("CI-SIS format table missing at %s", p)
	}
	formatsOnce.Do(func() { formatsTable, formatsErr = cda.LoadFormatsFile(p) })
	if formatsErr != nil {
		tb.Fatal(formatsErr)
	}
	return formatsTable
}

// extractor is the Extractor as the server wires it, with the ANS table.
func extractor(tb testing.TB) Extractor { return Extractor{Formats: formatTable(tb)} }
