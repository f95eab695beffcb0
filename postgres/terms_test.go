package postgres_test

import (
	"testing"

	"github.com/carnet-sante/carnet/postgres/pgtest"
	"github.com/carnet-sante/carnet/storetest"
)

// BenchmarkPutTerms indexes documents of 2,000 distinct terms:
// go test -run '^$' -bench PutTerms ./postgres/ (with CARNET_TEST_POSTGRES)
func BenchmarkPutTerms(b *testing.B) {
	storetest.BenchPutTerms(b, pgtest.Open(b), 2000)
}
