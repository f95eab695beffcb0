package auditlog

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/note"
)

// countingNodes is a NodeStorage in memory that counts what it is asked:
// how many leaf hashes and stored nodes a root or a proof reads.
type countingNodes struct {
	MemStorage
	mu           sync.Mutex
	nodes        map[compact.NodeID][]byte
	cover        uint64
	leafReads    int
	nodeReads    int
	extendWrites int
}

func (c *countingNodes) LeafHashes(ctx context.Context, from, to uint64) ([][]byte, error) {
	c.mu.Lock()
	c.leafReads += int(to - from)
	c.mu.Unlock()
	return c.MemStorage.LeafHashes(ctx, from, to)
}

func (c *countingNodes) NodesCover(context.Context) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cover, nil
}

func (c *countingNodes) Nodes(_ context.Context, ids []compact.NodeID) ([][]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nodeReads += len(ids)
	out := make([][]byte, len(ids))
	for i, id := range ids {
		out[i] = c.nodes[id]
	}
	return out, nil
}

func (c *countingNodes) PutNodes(_ context.Context, nodes []Node, cover uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.extendWrites += len(nodes)
	for _, n := range nodes {
		if _, ok := c.nodes[n.ID]; !ok {
			c.nodes[n.ID] = n.Hash
		}
	}
	c.cover = max(c.cover, cover)
	return nil
}

func (c *countingNodes) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.leafReads, c.nodeReads, c.extendWrites = 0, 0, 0
}

func newCountingLog(t testing.TB, n int) (*Log, *countingNodes, note.Verifier) {
	t.Helper()
	skey, vkey, err := GenerateKey(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	v, _ := NewVerifier(vkey)
	st := &countingNodes{nodes: map[compact.NodeID][]byte{}}
	l, err := New(testOrigin, st, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(context.Background(), makeLeaves(t, 0, n)...); err != nil {
		t.Fatal(err)
	}
	return l, st, v
}

// TestProofsReadLogarithmically: once the tree's nodes are stored, a root
// or a proof reads O(log n) nodes and leaves, whatever the
// log's size; a grown log hashes only its new leaves. The proofs are the
// same as those recomputed from every leaf (MemStorage).
func TestProofsReadLogarithmically(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{1 << 12, 1<<16 + 12345} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			l, st, _ := newCountingLog(t, n)
			ref, _, _, _ := newTestLog(t, n) // the same leaves, recomputed each time
			size := uint64(n)
			if _, _, err := l.Checkpoint(ctx); err != nil { // stores the nodes once
				t.Fatal(err)
			}
			if st.leafReads < n {
				t.Fatalf("the first checkpoint read %d leaves, want all %d hashed once", st.leafReads, n)
			}
			logn := 0
			for s := size; s > 0; s >>= 1 {
				logn++
			}
			for _, idx := range []uint64{0, size / 3, size - 1} {
				st.reset()
				got, err := l.InclusionProof(ctx, idx, size)
				if err != nil {
					t.Fatal(err)
				}
				if st.leafReads+st.nodeReads > 2*logn {
					t.Errorf("inclusion proof of %d in %d read %d leaves and %d nodes, want at most %d in all", idx, size, st.leafReads, st.nodeReads, 2*logn)
				}
				want, err := ref.InclusionProof(ctx, idx, size)
				if err != nil || !equalHashes(got, want) {
					t.Errorf("inclusion proof of %d differs from the one recomputed from the leaves", idx)
				}
			}
			st.reset()
			got, err := l.ConsistencyProof(ctx, size/2+1, size)
			if err != nil {
				t.Fatal(err)
			}
			if st.leafReads+st.nodeReads > 2*logn {
				t.Errorf("consistency proof read %d leaves and %d nodes, want at most %d in all", st.leafReads, st.nodeReads, 2*logn)
			}
			if want, _ := ref.ConsistencyProof(ctx, size/2+1, size); !equalHashes(got, want) {
				t.Error("consistency proof differs from the one recomputed from the leaves")
			}
			// Grown by 10: only those are hashed, and the root is right.
			more := makeLeaves(t, n, 10)
			l.Append(ctx, more...)
			ref.Append(ctx, more...)
			st.reset()
			cp, _, err := l.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.leafReads > 10+2*logn {
				t.Errorf("a checkpoint after 10 new events read %d leaves", st.leafReads)
			}
			if want, _, _ := ref.Checkpoint(ctx); !bytes.Equal(cp.Root, want.Root) {
				t.Error("the root from stored nodes is not the root of the leaves")
			}
			p, _ := l.InclusionProof(ctx, size+3, size+10)
			if err := proof.VerifyInclusion(hasher, size+3, size+10, HashLeaf(more[3]), p, cp.Root); err != nil {
				t.Errorf("a new leaf's proof does not verify: %v", err)
			}
		})
	}
}

func equalHashes(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
