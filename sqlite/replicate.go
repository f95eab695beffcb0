package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Continuous replication (docs/BACKUP.md, "Replica directory"): committed
// WAL frames are copied to a replica directory as they are written, and the
// store checkpoints only once every committed frame has been shipped, on
// the writer goroutine, between two group commits. Between those moments a
// read transaction (the pin) keeps any other process from checkpointing
// frames away from under the shipper.

const (
	segmentMagic = "CRPLSEG1"
	// abandonWAL is how big the WAL may grow while the replica cannot be
	// written before the generation is given up (a new one starts, with a
	// fresh snapshot, once the replica is writable again): the primary's
	// WAL must stay bounded even when its replica is gone.
	abandonWAL = 256 << 20
	// keepGenerations is how many complete generations a replica keeps.
	keepGenerations = 3
)

// ReplicaStatus is where continuous replication stands.
type ReplicaStatus struct {
	Dir        string
	Generation string    // "" until the first generation began
	Cycle      uint32    // the WAL cycle being shipped
	Frames     int64     // frames of that cycle shipped
	Segments   int64     // segments written since the store opened
	Shipped    time.Time // start of the last ship that left nothing committed behind
	Snapshot   bool      // the generation's snapshot is complete
	Err        string    // the last failure, "" after a success
}

// Lag is how far behind the replica may be: everything committed before
// Shipped is in it.
func (r ReplicaStatus) Lag(now time.Time) time.Duration {
	if r.Shipped.IsZero() {
		return now.Sub(time.Time{})
	}
	return now.Sub(r.Shipped)
}

type replicator struct {
	s        *Store
	dir      string
	interval time.Duration

	mu        sync.Mutex // one ship or maintenance at a time
	pinDB     *sql.DB
	pin       *sql.Tx
	gen       string
	genDir    string
	hdr       *walHeader // the cycle being shipped; nil until a header is seen
	cycle     uint32
	numbered  bool // cycle is hdr's number (it has a segment)
	nextCycle uint32
	shipped   int64     // frames of the cycle shipped
	sum       [2]uint32 // checksum chain after the last shipped frame

	snapshotting atomic.Bool
	snapWG       sync.WaitGroup
	done         chan struct{}

	status atomic.Pointer[ReplicaStatus]
}

func newReplicator(s *Store, dir string, interval time.Duration) (*replicator, error) {
	if interval <= 0 {
		interval = time.Second
	}
	if err := os.MkdirAll(filepath.Join(dir, "generations"), 0o700); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", s.dsn())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	r := &replicator{s: s, dir: dir, interval: interval, pinDB: db, done: make(chan struct{})}
	r.status.Store(&ReplicaStatus{Dir: dir})
	return r, nil
}

// ReplicaStatus says where replication stands (zero Dir when the store
// does not replicate).
func (s *Store) ReplicaStatus() ReplicaStatus {
	if s.repl == nil {
		return ReplicaStatus{}
	}
	return *s.repl.status.Load()
}

func (r *replicator) setStatus(f func(*ReplicaStatus)) {
	st := *r.status.Load()
	f(&st)
	r.status.Store(&st)
}

// loop ships frames every interval until the store closes.
func (r *replicator) loop() {
	defer close(r.done)
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-r.s.closing:
			return
		case <-t.C:
			r.mu.Lock()
			if r.gen != "" {
				r.shipLocked()
			}
			r.mu.Unlock()
		}
	}
}

func (r *replicator) acquirePin() error {
	if r.pin != nil {
		return nil
	}
	tx, err := r.pinDB.BeginTx(context.Background(), &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	var n int
	if err := tx.QueryRow("SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
		tx.Rollback()
		return err
	}
	r.pin = tx
	return nil
}

func (r *replicator) releasePin() {
	if r.pin != nil {
		r.pin.Rollback()
		r.pin = nil
	}
}

// shipLocked copies the committed frames not yet shipped into a new
// segment. It returns whether every committed frame is now shipped.
func (r *replicator) shipLocked() (complete bool, err error) {
	start := time.Now()
	defer func() {
		if err != nil {
			r.s.opts.logger.Warn("sqlite: replica shipping failed", "err", err.Error())
			r.setStatus(func(st *ReplicaStatus) { st.Err = err.Error() })
			return
		}
		if complete {
			r.setStatus(func(st *ReplicaStatus) {
				st.Shipped, st.Err, st.Generation, st.Cycle, st.Frames = start, "", r.gen, r.cycle, r.shipped
			})
		}
	}()
	f, err := os.Open(r.s.path + "-wal")
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	var hb [walHeaderSize]byte
	if _, err := io.ReadFull(f, hb[:]); err != nil {
		return true, nil // empty (just truncated) or a header being written: nothing committed
	}
	h, err := parseWALHeader(hb[:])
	if err != nil {
		return true, nil // a header being written
	}
	if r.hdr == nil || !bytes.Equal(r.hdr.raw[:], h.raw[:]) {
		// A new cycle; it gets its number with its first segment, so that
		// a cycle with nothing committed (a rolled-back write) leaves no
		// hole in the numbering.
		r.hdr, r.shipped, r.sum, r.numbered = &h, 0, h.sum, false
	}
	fsz := int64(h.frameSize())
	off := walHeaderSize + r.shipped*fsz
	// Read what is there now; frames being appended meanwhile stop the
	// chain (their checksum does not verify yet) and wait for next time.
	const maxRead = 64 << 20
	buf := make([]byte, 0, 1<<20)
	chunk := make([]byte, fsz)
	sum := r.sum
	lastCommitEnd, lastCommitSum := 0, sum
	frames := int64(0)
	for len(buf) < maxRead {
		if _, err := f.ReadAt(chunk, off+int64(len(buf))); err != nil {
			break
		}
		fr, next, ok := h.checkFrame(sum, chunk)
		if !ok {
			break
		}
		sum = next
		buf = append(buf, chunk...)
		if fr.commit != 0 {
			lastCommitEnd, lastCommitSum = len(buf), sum
			frames = int64(lastCommitEnd) / fsz
		}
	}
	if lastCommitEnd == 0 {
		return len(buf) < maxRead, nil
	}
	if !r.numbered {
		r.cycle, r.numbered = r.nextCycle, true
		r.nextCycle++
	}
	name := fmt.Sprintf("%08x-%08x.seg", r.cycle, r.shipped)
	seg := make([]byte, 0, len(segmentMagic)+walHeaderSize+lastCommitEnd)
	seg = append(seg, segmentMagic...)
	seg = append(seg, h.raw[:]...)
	seg = append(seg, buf[:lastCommitEnd]...)
	if err := writeFileSynced(filepath.Join(r.genDir, "wal"), name, seg); err != nil {
		return false, err
	}
	r.shipped += frames
	r.sum = lastCommitSum
	r.setStatus(func(st *ReplicaStatus) { st.Segments++ })
	return lastCommitEnd == len(buf) && len(buf) < maxRead, nil
}

// maintain runs on the writer goroutine, between two group commits: no
// write can happen meanwhile. It ships everything committed, then
// checkpoints and empties the WAL; when no generation is running it
// starts one.
func (s *Store) maintain() {
	r := s.repl
	if r == nil {
		s.truncateWAL()
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gen != "" {
		complete, err := r.shipLocked()
		if err != nil || !complete {
			if walSize(s.path) < abandonWAL {
				return // keep the frames until they are shipped
			}
			s.opts.logger.Error("sqlite: the replica has not been writable for too long; giving up this generation (a new one starts with a fresh snapshot)", "dir", r.dir)
			r.gen = ""
		}
	}
	if r.snapshotting.Load() {
		return // the pin holds the database file still while it is copied
	}
	r.releasePin()
	emptied := s.truncateWAL()
	if emptied {
		r.hdr = nil
	}
	if r.gen == "" && emptied {
		if err := r.startGeneration(); err != nil {
			s.opts.logger.Warn("sqlite: cannot start a replica generation", "dir", r.dir, "err", err.Error())
			r.setStatus(func(st *ReplicaStatus) { st.Err = err.Error() })
		}
	}
	if err := r.acquirePin(); err != nil {
		s.opts.logger.Warn("sqlite: replica pin failed", "err", err.Error())
	}
}

// truncateWAL checkpoints the whole WAL into the database and empties it,
// waiting a little for readers still in it; it reports whether the WAL is
// now empty.
func (s *Store) truncateWAL() bool {
	bg := context.Background()
	if _, err := s.wconn.ExecContext(bg, "PRAGMA busy_timeout = 250"); err != nil {
		return false
	}
	defer s.wconn.ExecContext(bg, fmt.Sprintf("PRAGMA busy_timeout = %d", s.opts.busyTimeout.Milliseconds()))
	var busy, logFrames, done int
	if err := s.wconn.QueryRowContext(bg, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &done); err != nil {
		s.opts.logger.Warn("sqlite: WAL checkpoint (TRUNCATE) failed", "err", err.Error())
		return false
	}
	if busy == 0 {
		s.truncations.Add(1)
	}
	return busy == 0
}

// startGeneration begins a generation: the WAL is empty (the database file
// is the whole state), so a copy of the file plus every frame from now on
// restores the database. The pin, taken now, keeps the file still (no
// checkpoint can write into it) while it is copied in the background.
func (r *replicator) startGeneration() error {
	gen := fmt.Sprintf("%016x", time.Now().UnixNano())
	dir := filepath.Join(r.dir, "generations", gen)
	if err := os.MkdirAll(filepath.Join(dir, "wal"), 0o700); err != nil {
		return err
	}
	if err := syncDir(filepath.Join(r.dir, "generations")); err != nil {
		return err
	}
	if err := r.acquirePin(); err != nil {
		return err
	}
	r.gen, r.genDir, r.hdr, r.cycle, r.nextCycle, r.shipped, r.numbered = gen, dir, nil, 0, 0, 0, false
	r.setStatus(func(st *ReplicaStatus) { st.Generation, st.Snapshot, st.Cycle, st.Frames = gen, false, 0, 0 })
	r.snapshotting.Store(true)
	r.snapWG.Add(1)
	go func() {
		defer r.snapWG.Done()
		defer r.snapshotting.Store(false)
		if err := copySnapshot(r.s.path, dir); err != nil {
			r.s.opts.logger.Error("sqlite: replica snapshot failed", "dir", dir, "err", err.Error())
			r.setStatus(func(st *ReplicaStatus) { st.Err = err.Error() })
			return
		}
		r.setStatus(func(st *ReplicaStatus) {
			if st.Generation == gen {
				st.Snapshot = true
			}
		})
		pruneGenerations(r.dir, gen)
	}()
	return nil
}

func copySnapshot(db, dir string) error {
	src, err := os.Open(db)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp := filepath.Join(dir, "snapshot.db.tmp")
	dst, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, "snapshot.db")); err != nil {
		return err
	}
	return syncDir(dir)
}

// pruneGenerations keeps the newest complete generations (and the current
// one).
func pruneGenerations(root, current string) {
	gens, err := listGenerations(root)
	if err != nil {
		return
	}
	complete := 0
	for i := len(gens) - 1; i >= 0; i-- {
		g := gens[i]
		if g == current {
			complete++
			continue
		}
		if _, err := os.Stat(filepath.Join(root, "generations", g, "snapshot.db")); err == nil {
			complete++
			if complete <= keepGenerations {
				continue
			}
		} else if complete == 0 {
			continue // newer than every complete one: leave it
		}
		os.RemoveAll(filepath.Join(root, "generations", g))
	}
}

func listGenerations(root string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(root, "generations"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && len(e.Name()) == 16 && strings.Trim(e.Name(), "0123456789abcdef") == "" {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// closeReplica ships what the last group commits wrote, once the writer
// has stopped: closing the last connection then checkpoints and removes
// the WAL, and nothing committed may be lost to the replica by it.
func (r *replicator) close() {
	<-r.done
	r.snapWG.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gen != "" {
		r.shipLocked()
	}
	r.releasePin()
	r.pinDB.Close()
}

func walSize(db string) int64 {
	fi, err := os.Stat(db + "-wal")
	if err != nil {
		return 0
	}
	return fi.Size()
}

// writeFileSynced writes dir/name whole or not at all: a temporary file,
// fsynced, renamed, and the directory fsynced.
func writeFileSynced(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
