package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/carnet-sante/carnet"
)

// BenchmarkReplicaRecoveryPoint measures, with the default shipping
// interval (1s), how long after its acknowledgement a transaction is in the
// replica (the recovery point: rpo-ms, mean and max), then how long a
// restore of the replica takes for the database it built (rto-ms, with
// the database's size).
//
//	go test ./sqlite -run '^$' -bench ReplicaRecoveryPoint -benchtime 20x
func BenchmarkReplicaRecoveryPoint(b *testing.B) {
	dir := b.TempDir()
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(dir, "carnet.db"), WithReplica(filepath.Join(dir, "replica"), 0))
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	content := make([]byte, 1<<20)
	// A store of some size first: 64 MB of content.
	for i := range 64 {
		for j := range content {
			content[j] = byte(r.Uint32())
		}
		if err := s.Update(ctx, func(tx carnet.Tx) error { return tx.PutContent(ctx, "p", fmt.Sprintf("base%d", i), content) }); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(2 * time.Second)
	var total, worst time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Update(ctx, func(tx carnet.Tx) error { return tx.PutContent(ctx, "p", fmt.Sprintf("c%d", i), content[:32<<10]) }); err != nil {
			b.Fatal(err)
		}
		acked := time.Now()
		for s.ReplicaStatus().Shipped.Before(acked) {
			time.Sleep(time.Millisecond)
		}
		d := time.Since(acked)
		total += d
		worst = max(worst, d)
		time.Sleep(time.Duration(r.Int64N(int64(300 * time.Millisecond)))) // arrive at random moments
	}
	b.StopTimer()
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "rpo-ms")
	b.ReportMetric(float64(worst.Milliseconds()), "rpo-max-ms")
	t0 := time.Now()
	dst := filepath.Join(dir, "restored.db")
	pos, err := RestoreReplica(ctx, filepath.Join(dir, "replica"), dst)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(time.Since(t0).Milliseconds()), "rto-ms")
	fi, _ := os.Stat(dst)
	b.ReportMetric(float64(fi.Size())/(1<<20), "db-MB")
	b.ReportMetric(float64(pos.Transactions), "txs-replayed")
	s.Close()
}

// BenchmarkBackup measures an online backup (VACUUM INTO, fsynced) of a
// 64 MB store.
//
//	go test ./sqlite -run '^$' -bench Backup -benchtime 3x
func BenchmarkBackup(b *testing.B) {
	dir := b.TempDir()
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(dir, "carnet.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := rand.New(rand.NewPCG(2, 2))
	content := make([]byte, 1<<20)
	for i := range 64 {
		for j := range content {
			content[j] = byte(r.Uint32())
		}
		if err := s.Update(ctx, func(tx carnet.Tx) error { return tx.PutContent(ctx, "p", fmt.Sprintf("base%d", i), content) }); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := Backup(ctx, filepath.Join(dir, "carnet.db"), filepath.Join(dir, fmt.Sprintf("backup%d.db", i))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(64, "store-MB")
}
