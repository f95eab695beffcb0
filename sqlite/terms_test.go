package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/carnet-sante/carnet/storetest"
)

// BenchmarkPutTerms indexes documents of 2,000 distinct terms:
// go test -run '^$' -bench PutTerms ./sqlite/
func BenchmarkPutTerms(b *testing.B) {
	storetest.BenchPutTerms(b, openTest(b, filepath.Join(b.TempDir(), "carnet.db")), 2000)
}
