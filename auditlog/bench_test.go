package auditlog

import (
	"context"
	"testing"
)

// BenchmarkProofs measures what recomputing from leaf hashes costs per
// request on a 100,000-event log (see the cost note on Log).
func BenchmarkProofs(b *testing.B) {
	ctx := context.Background()
	l, _, _, _ := newTestLog(b, 100_000)
	b.Run("Checkpoint", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := l.Checkpoint(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("InclusionProof", func(b *testing.B) {
		for b.Loop() {
			if _, err := l.InclusionProof(ctx, 12_345, 100_000); err != nil {
				b.Fatal(err)
			}
		}
	})
}
