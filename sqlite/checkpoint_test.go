package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/storetest"
)

// The writer never checkpoints in its COMMIT (wal_autocheckpoint is off):
// the background loop must copy the WAL into the database file, or the
// WAL would grow without bound.
func TestWALIsCheckpointedInTheBackground(t *testing.T) {
	path := filepath.Join(t.TempDir(), "carnet.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before, _ := os.Stat(path)
	for i := range 64 {
		storetest.MustUpdate(t, s, func(tx carnet.Tx) error {
			return tx.PutContent(context.Background(), "p1", fmt.Sprintf("c%d", i), storetest.NewContent(32<<10))
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		after, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if after.Size() > before.Size()+1<<20 {
			return // 2 MB of content reached the database file
		}
		if time.Now().After(deadline) {
			t.Fatalf("database file still %d bytes (was %d) after 64 × 32 KB committed: the WAL is not checkpointed", after.Size(), before.Size())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
