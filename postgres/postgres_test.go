package postgres_test

import (
	"testing"

	"github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/postgres/pgtest"
	"github.com/carnet-sante/carnet/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) carnet.Store { return pgtest.Open(t) })
}
