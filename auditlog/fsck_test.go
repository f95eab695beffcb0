package auditlog

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/carnet-sante/carnet"
	"golang.org/x/mod/sumdb/note"
)

const auditColumns = "seq, id, patient_key, time, actor, digest, sealed, leaf_hash"

// Column positions in a raw row.
const (
	colSeq = iota
	colID
	colPatient
	colTime
	colActor
	colDigest
	colSealed
	colLeaf
)

// rawRows reads the audit rows as the database holds them, to restore them
// after a trial.
func (d *testDB) rawRows(t testing.TB) [][]any {
	t.Helper()
	rows, err := d.db.Query("SELECT " + auditColumns + " FROM audit_events ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		vals := make([]any, 8)
		ptrs := make([]any, 8)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// putRows replaces the rows at the given seqs (deleting them first) with
// rows, in one transaction.
func (d *testDB) putRows(t testing.TB, deleteAll bool, deleteSeqs []int64, rows ...[]any) {
	t.Helper()
	tx, err := d.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if deleteAll {
		if _, err := tx.Exec("DELETE FROM audit_events"); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range deleteSeqs {
		if _, err := tx.Exec(d.q("DELETE FROM audit_events WHERE seq = ?"), s); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range rows {
		if _, err := tx.Exec(d.q("INSERT INTO audit_events ("+auditColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"), r...); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// tamperLog is the log the tamper trials start from: 60 events, the first
// 10 a year old and pruned by retention, checkpoints at 10, 25, 41 and 60.
type tamperLog struct {
	d        *testDB
	raw      [][]any           // the rows as stored
	rows     []carnet.AuditRow // the same, as the Store reads them
	cpSizes  []uint64
	pruned   int
	size     int
	forgedID int
}

func newTamperLog(t *testing.T, d *testDB) *tamperLog {
	t.Helper()
	ctx := context.Background()
	r := d.recorder(t, RecorderOptions{})
	c := d.checkpointer(CheckpointerOptions{})
	old := testTime.AddDate(-1, 0, 0)
	tl := &tamperLog{d: d, cpSizes: []uint64{10, 25, 41, 60}, pruned: 10, size: 60}
	i := 0
	for _, cut := range tl.cpSizes {
		for ; i < int(cut); i++ {
			at := testTime.Add(time.Duration(i) * time.Minute)
			if i < tl.pruned {
				at = old.Add(time.Duration(i) * time.Minute)
			}
			if err := r.Record(ctx, testEvent(i, at)); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := c.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := d.store.PruneAudit(ctx, old.AddDate(0, 1, 0)); err != nil || n != tl.pruned {
		t.Fatalf("PruneAudit = %d, %v; want %d", n, err, tl.pruned)
	}
	rep, err := d.fsck(t, true)
	// 56 tree nodes: the perfect subtrees of levels 1 to 5 within 60 leaves (30+15+7+3+1).
	want := FsckReport{Events: 60, Pruned: 10, Opened: 50, Checkpoints: 4, Unsigned: 0, Nodes: 56}
	if err != nil || rep != want {
		t.Fatalf("Fsck of the untouched log = %+v, %v; want %+v", rep, err, want)
	}
	tl.raw = d.rawRows(t)
	tl.rows, err = d.store.AuditEvents(ctx, 0, 60)
	if err != nil || len(tl.raw) != 60 || len(tl.rows) != 60 {
		t.Fatalf("read back %d raw rows, %d rows, %v", len(tl.raw), len(tl.rows), err)
	}
	return tl
}

func (tl *tamperLog) restore(t testing.TB) {
	t.Helper()
	tl.d.putRows(t, true, nil, tl.raw...)
}

// cpStart is the index Fsck names when only a checkpoint tells: the size of
// the last checkpoint not covering i.
func (tl *tamperLog) cpStart(i int) uint64 {
	var s uint64
	for _, c := range tl.cpSizes {
		if c > uint64(i) {
			break
		}
		s = c
	}
	return s
}

// forged returns a well-formed row made by someone with SQL access but
// without the keys: copied from row src, with a new id, the given sealed
// bytes (nil: claiming to be pruned), and its digest and leaf computed the
// way Carnet computes them.
func (tl *tamperLog) forged(t testing.TB, src, seq int, sealed []byte) []any {
	t.Helper()
	tl.forgedID++
	id := fmt.Sprintf("forged-%d", tl.forgedID)
	var digest [32]byte
	if sealed != nil {
		digest = sha256.Sum256(sealed)
	} else {
		rand.Read(digest[:])
	}
	leaf, err := Entry{EventID: id, Time: tl.rows[src].Time, RowDigest: digest}.MarshalLeaf()
	if err != nil {
		t.Fatal(err)
	}
	row := slices.Clone(tl.raw[src])
	row[colSeq], row[colID], row[colDigest], row[colLeaf] = int64(seq), id, digest[:], HashLeaf(leaf)
	if sealed == nil {
		row[colSealed] = nil
	} else {
		row[colSealed] = sealed
	}
	return row
}

// forgedSealed is what a forger without the keys can put in a sealed
// column: random bytes, or another event's sealed bytes.
func (tl *tamperLog) forgedSealed(rng *mrand.Rand) []byte {
	if rng.IntN(2) == 0 {
		b := make([]byte, 150+rng.IntN(200))
		rand.Read(b)
		return b
	}
	return slices.Clone(tl.rows[tl.pruned+rng.IntN(tl.size-tl.pruned)].Sealed)
}

// want is where Fsck must name the first bad entry, without and with the
// keys; a nil structural means that without the keys nothing can tell.
type want struct {
	structural *uint64
	keyed      uint64
}

func at(i uint64) *uint64 { return &i }

type tamper struct {
	name  string
	apply func(t testing.TB, tl *tamperLog, rng *mrand.Rand) want
}

var tampers = []tamper{
	{"sealed bytes edited", func(t testing.TB, tl *tamperLog, rng *mrand.Rand) want {
		i := tl.pruned + rng.IntN(tl.size-tl.pruned)
		sealed := slices.Clone(tl.rows[i].Sealed)
		sealed[rng.IntN(len(sealed))] ^= byte(1 + rng.IntN(255))
		tl.d.exec(t, "UPDATE audit_events SET sealed = ? WHERE seq = ?", sealed, i)
		return want{at(uint64(i)), uint64(i)}
	}},
	{"time edited", func(t testing.TB, tl *tamperLog, rng *mrand.Rand) want {
		i := rng.IntN(tl.size)
		if tl.d.backend == "postgres" {
			tl.d.exec(t, "UPDATE audit_events SET time = time + interval '1 second' WHERE seq = ?", i)
		} else {
			tl.d.exec(t, "UPDATE audit_events SET time = time + 1000000 WHERE seq = ?", i) // microseconds
		}
		return want{at(uint64(i)), uint64(i)}
	}},
	{"row deleted", func(t testing.TB, tl *tamperLog, rng *mrand.Rand) want {
		i := rng.IntN(tl.size)
		tl.d.exec(t, "DELETE FROM audit_events WHERE seq = ?", i)
		return want{at(uint64(i)), uint64(i)}
	}},
	{"two rows swapped", func(t testing.TB, tl *tamperLog, rng *mrand.Rand) want {
		i := rng.IntN(tl.size - 1)
		j := i + 1 + rng.IntN(tl.size-i-1)
		ri, rj := slices.Clone(tl.raw[i]), slices.Clone(tl.raw[j])
		ri[colSeq], rj[colSeq] = int64(j), int64(i)
		tl.d.putRows(t, false, []int64{int64(i), int64(j)}, ri, rj)
		// Each row is intact and opens: only the checkpoint covering i tells.
		s := tl.cpStart(i)
		return want{at(s), s}
	}},
	{"forged event appended", func(t testing.TB, tl *tamperLog, rng *mrand.Rand) want {
		tl.d.putRows(t, false, nil, tl.forged(t, tl.size-1, tl.size, tl.forgedSealed(rng)))
		// After the last checkpoint and self-consistent: only opening it
		// tells.
		return want{nil, uint64(tl.size)}
	}},
	{"forged pruned event appended", func(t testing.TB, tl *tamperLog, rng *mrand.Rand) want {
		tl.d.putRows(t, false, nil, tl.forged(t, tl.size-1, tl.size, nil))
		// Empty although older events are not: not retention's doing.
		return want{at(uint64(tl.size)), uint64(tl.size)}
	}},
	{"forged event in a gap", func(t testing.TB, tl *tamperLog, rng *mrand.Rand) want {
		i := rng.IntN(tl.size)
		if i < tl.pruned {
			// Among pruned events the forger forges a pruned one.
			tl.d.putRows(t, false, []int64{int64(i)}, tl.forged(t, i, i, nil))
			s := tl.cpStart(i)
			return want{at(s), s}
		}
		tl.d.putRows(t, false, []int64{int64(i)}, tl.forged(t, i, i, tl.forgedSealed(rng)))
		return want{at(tl.cpStart(i)), uint64(i)}
	}},
}

// TestFsckTamper tampers with the stored log the way someone with SQL
// access to the database (and not the keys) could, 16 trials of each kind
// per backend from a fixed seed, restoring the rows after each: fsck must
// name the expected first bad entry every time, and pass once restored.
func TestFsckTamper(t *testing.T) {
	eachBackend(t, func(t *testing.T, d *testDB) {
		tl := newTamperLog(t, d)
		rng := mrand.New(mrand.NewPCG(2026, 5))
		const perKind = 16
		type tally struct{ trials, structural, keyed, undetectable int }
		tallies := make([]tally, len(tampers))
		for trial := range perKind * len(tampers) {
			k := trial % len(tampers)
			tm := tampers[k]
			w := tm.apply(t, tl, rng)
			tallies[k].trials++

			_, err := d.fsck(t, false)
			var te *TamperError
			switch {
			case w.structural == nil:
				if err != nil {
					t.Errorf("trial %d (%s): Fsck without the keys = %v, want nothing found", trial, tm.name, err)
				}
				tallies[k].undetectable++
			case !errors.As(err, &te):
				t.Errorf("trial %d (%s): Fsck without the keys = %v, want a TamperError", trial, tm.name, err)
			case te.Index != *w.structural:
				t.Errorf("trial %d (%s): Fsck without the keys named %d (%s), want %d", trial, tm.name, te.Index, te.Reason, *w.structural)
			default:
				tallies[k].structural++
			}

			_, err = d.fsck(t, true)
			switch {
			case !errors.As(err, &te):
				t.Errorf("trial %d (%s): Fsck with the keys = %v, want a TamperError", trial, tm.name, err)
			case te.Index != w.keyed:
				t.Errorf("trial %d (%s): Fsck with the keys named %d (%s), want %d", trial, tm.name, te.Index, te.Reason, w.keyed)
			default:
				tallies[k].keyed++
			}

			tl.restore(t)
			if _, err := d.fsck(t, true); err != nil {
				t.Fatalf("trial %d (%s): Fsck after restoring = %v", trial, tm.name, err)
			}
		}
		var total, keyed int
		for k, c := range tallies {
			t.Logf("%-30s %3d trials: named right without the keys %3d (%d undetectable there by design), with the keys %3d",
				tampers[k].name, c.trials, c.structural, c.undetectable, c.keyed)
			total += c.trials
			keyed += c.keyed
		}
		t.Logf("%s: %d trials, %d detected at the right index with the keys", d.backend, total, keyed)
	})
}

// TestFsckCheckpointTampering: a stored checkpoint not signed by the log's
// key, or whose size column was edited, is named.
func TestFsckCheckpointTampering(t *testing.T) {
	eachBackend(t, func(t *testing.T, d *testDB) {
		ctx := context.Background()
		recordN(t, d.recorder(t, RecorderOptions{}), 0, 12)
		if _, _, err := d.checkpointer(CheckpointerOptions{}).Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		// A checkpoint signed with another key, for the right tree.
		skey, _, _ := GenerateKey(testOrigin)
		s, _ := note.NewSigner(skey)
		cp, _, _ := d.log.Checkpoint(ctx)
		forged, _ := SignCheckpoint(Checkpoint{Origin: testOrigin, Size: 11, Root: cp.Root}, s)
		if err := d.store.PutCheckpoint(ctx, carnet.StoredCheckpoint{Size: 11, Note: forged, Time: testTime}); err != nil {
			t.Fatal(err)
		}
		var te *TamperError
		if _, err := d.fsck(t, false); !errors.As(err, &te) || te.Index != 11 || !errors.Is(err, ErrBadCheckpoint) {
			t.Fatalf("Fsck with a forged checkpoint = %v, want checkpoint 11 named, ErrBadCheckpoint", err)
		}
		d.exec(t, "DELETE FROM audit_checkpoints WHERE size = 11")
		d.exec(t, "UPDATE audit_checkpoints SET size = 13 WHERE size = 12")
		if _, err := d.fsck(t, false); !errors.As(err, &te) || te.Index != 12 || !errors.Is(err, ErrBadCheckpoint) {
			t.Fatalf("Fsck with a checkpoint's size edited = %v, want 12 named, ErrBadCheckpoint", err)
		}
		d.exec(t, "UPDATE audit_checkpoints SET size = 12 WHERE size = 13")
		if rep, err := d.fsck(t, false); err != nil || rep.Checkpoints != 1 {
			t.Fatalf("Fsck restored = %+v, %v", rep, err)
		}
	})
}

// TestFsckEmptyAndPrunedAll: an empty log passes; a log whose every event
// was pruned still verifies from digests and leaves.
func TestFsckEmptyAndPrunedAll(t *testing.T) {
	d := newTestDB(t, backends[0])
	ctx := context.Background()
	if rep, err := d.fsck(t, true); err != nil || rep != (FsckReport{}) {
		t.Fatalf("Fsck of an empty log = %+v, %v", rep, err)
	}
	recordN(t, d.recorder(t, RecorderOptions{}), 0, 7)
	if _, _, err := d.checkpointer(CheckpointerOptions{}).Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := d.store.PruneAudit(ctx, testTime.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	rep, err := d.fsck(t, true)
	if want := (FsckReport{Events: 7, Pruned: 7, Checkpoints: 1, Nodes: 4}); err != nil || rep != want {
		t.Fatalf("Fsck of a pruned log = %+v, %v; want %+v", rep, err, want)
	}
}

// TestFsckTreeNodes: a stored tree node (roots and proofs are read from
// them) rewritten is named by the first entry it covers, on each backend.
func TestFsckTreeNodes(t *testing.T) {
	eachBackend(t, func(t *testing.T, d *testDB) {
		newTamperLog(t, d) // 60 events, 4 checkpoints, their nodes stored
		for _, n := range []struct{ level, idx, first uint64 }{{1, 7, 14}, {3, 2, 16}, {5, 0, 0}} {
			old, err := d.store.AuditNodes(context.Background(), []carnet.AuditNode{{Level: uint8(n.level), Index: n.idx}})
			if err != nil || old[0] == nil {
				t.Fatalf("node (%d, %d): %x, %v", n.level, n.idx, old, err)
			}
			d.exec(t, "UPDATE audit_nodes SET hash = ? WHERE level = ? AND idx = ?", bytes.Repeat([]byte{9}, 32), int64(n.level), int64(n.idx))
			var te *TamperError
			if _, err := d.fsck(t, false); !errors.As(err, &te) || te.Index != n.first {
				t.Errorf("node (%d, %d) rewritten: Fsck = %v, want entry %d named", n.level, n.idx, err, n.first)
			}
			d.exec(t, "UPDATE audit_nodes SET hash = ? WHERE level = ? AND idx = ?", old[0], int64(n.level), int64(n.idx))
		}
		if rep, err := d.fsck(t, true); err != nil || rep.Nodes != 56 {
			t.Fatalf("restored: Fsck = %+v, %v", rep, err)
		}
	})
}
