package auditlog

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/sqlite"
	"golang.org/x/mod/sumdb/note"
)

// BenchmarkProofs measures a checkpoint's root and an inclusion proof as
// served: over a real SQLite store whose tree nodes are stored, at two log
// sizes; the cost does not grow with the log. The MemStorage case is what
// recomputing from every leaf costs (the server before session 3).
//
//	go test ./auditlog -run '^$' -bench Proofs -benchtime 2000x
func BenchmarkProofs(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{4_096, 65_536} {
		b.Run(fmt.Sprintf("stored/events=%d", n), func(b *testing.B) {
			l := storedLog(b, n)
			if _, _, err := l.Checkpoint(ctx); err != nil { // the nodes, once
				b.Fatal(err)
			}
			b.Run("Checkpoint", func(b *testing.B) {
				for b.Loop() {
					if _, _, err := l.Checkpoint(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("InclusionProof", func(b *testing.B) {
				i := uint64(0)
				for b.Loop() {
					i = (i + 7919) % uint64(n)
					if _, err := l.InclusionProof(ctx, i, uint64(n)); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
	b.Run("leaves-only/events=65536", func(b *testing.B) {
		l, _, _, _ := newTestLog(b, 65_536)
		for b.Loop() {
			if _, err := l.InclusionProof(ctx, 12_345, 65_536); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// storedLog is a Log over a fresh SQLite store holding n events (rows
// appended directly, in batches).
func storedLog(b *testing.B, n int) *Log {
	b.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "carnet.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for from := 0; from < n; from += 1000 {
		rows := make([]carnet.AuditRow, 0, 1000)
		for i := from; i < min(n, from+1000); i++ {
			var k [8]byte
			binary.BigEndian.PutUint64(k[:], uint64(i))
			digest := sha256.Sum256(k[:])
			rows = append(rows, carnet.AuditRow{ID: fmt.Sprintf("ev-%d", i), Time: t0.Add(time.Duration(i) * time.Second),
				Actor: "a", Digest: digest[:], Sealed: k[:], LeafHash: HashLeaf(digest[:])})
		}
		if _, err := st.AppendAudit(ctx, rows); err != nil {
			b.Fatal(err)
		}
	}
	skey, _, err := GenerateKey(testOrigin)
	if err != nil {
		b.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	l, err := New(testOrigin, StoreStorage{Store: st}, s)
	if err != nil {
		b.Fatal(err)
	}
	return l
}
