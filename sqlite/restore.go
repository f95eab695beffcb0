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
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet"
)

// ReplicaPosition says what a replica restore brought back.
type ReplicaPosition struct {
	Generation   string
	Cycles       int       // WAL cycles applied
	Transactions int       // committed transactions applied on top of the snapshot
	Frames       int64     // frames applied
	Last         time.Time // when the last applied segment was shipped
	// Stopped says why applying stopped before the replica's last segment
	// (a gap, a damaged frame); "" when every segment was applied.
	Stopped string
}

// LatestReplica returns the newest generation of the replica at dir that
// can be restored (its snapshot is complete), and when its last segment
// was shipped (the snapshot's time when none was).
func LatestReplica(dir string) (gen string, last time.Time, err error) {
	gens, err := listGenerations(dir)
	if err != nil {
		return "", time.Time{}, err
	}
	for i := len(gens) - 1; i >= 0; i-- {
		g := filepath.Join(dir, "generations", gens[i])
		fi, err := os.Stat(filepath.Join(g, "snapshot.db"))
		if err != nil {
			continue
		}
		last = fi.ModTime()
		segs, _ := os.ReadDir(filepath.Join(g, "wal"))
		for _, s := range segs {
			if strings.HasSuffix(s.Name(), ".seg") && !strings.HasPrefix(s.Name(), ".") {
				if info, err := s.Info(); err == nil && info.ModTime().After(last) {
					last = info.ModTime()
				}
			}
		}
		return gens[i], last, nil
	}
	return "", time.Time{}, &carnet.Error{Kind: carnet.KindNotFound, Op: "sqlite.LatestReplica", Msg: "no complete replica generation in " + dir}
}

type segmentName struct {
	name         string
	cycle, first uint64
}

// RestoreReplica rebuilds the database of the replica at dir into dst (a
// path where nothing exists yet): the newest complete generation's snapshot,
// then every shipped transaction in order, each frame checked against its
// cycle's salts and checksum chain. It stops at the first gap or damaged
// frame (saying so in Stopped) and ends with an integrity check.
func RestoreReplica(ctx context.Context, dir, dst string) (ReplicaPosition, error) {
	const op = "sqlite.RestoreReplica"
	var pos ReplicaPosition
	gen, _, err := LatestReplica(dir)
	if err != nil {
		return pos, err
	}
	pos.Generation = gen
	gdir := filepath.Join(dir, "generations", gen)
	if _, err := os.Stat(dst); !errors.Is(err, fs.ErrNotExist) {
		return pos, carnet.Errorf(carnet.KindConflict, "restore target %s already exists", dst)
	}
	if err := CopyDatabase(filepath.Join(gdir, "snapshot.db"), dst); err != nil {
		return pos, carnet.WrapError(carnet.KindUnavailable, op, err)
	}
	ents, err := os.ReadDir(filepath.Join(gdir, "wal"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return pos, carnet.WrapError(carnet.KindUnavailable, op, err)
	}
	var segs []segmentName
	for _, e := range ents {
		n := e.Name()
		c, f, ok := strings.Cut(strings.TrimSuffix(n, ".seg"), "-")
		if !strings.HasSuffix(n, ".seg") || !ok || len(c) != 8 || len(f) != 8 {
			continue
		}
		cy, err1 := strconv.ParseUint(c, 16, 32)
		fi, err2 := strconv.ParseUint(f, 16, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		segs = append(segs, segmentName{n, cy, fi})
	}
	sort.Slice(segs, func(i, j int) bool {
		if segs[i].cycle != segs[j].cycle {
			return segs[i].cycle < segs[j].cycle
		}
		return segs[i].first < segs[j].first
	})
	db, err := os.OpenFile(dst, os.O_RDWR, 0)
	if err != nil {
		return pos, carnet.WrapError(carnet.KindUnavailable, op, err)
	}
	defer db.Close()

	var (
		cycle  uint64
		frame  uint64
		hdr    *walHeader
		sum    [2]uint32
		inTx   = map[uint32][]byte{}
		cycles = map[uint64]bool{}
	)
	apply := func(pageSize int, commit uint32) error {
		for pgno, page := range inTx {
			if _, err := db.WriteAt(page, int64(pgno-1)*int64(pageSize)); err != nil {
				return err
			}
		}
		clear(inTx)
		return db.Truncate(int64(commit) * int64(pageSize))
	}
segments:
	for _, sg := range segs {
		if err := ctx.Err(); err != nil {
			return pos, err
		}
		switch {
		case hdr == nil && sg.cycle == 0 && sg.first == 0:
		case sg.cycle == cycle && sg.first == frame:
		case sg.cycle == cycle+1 && sg.first == 0 && len(inTx) == 0:
			hdr = nil // a new cycle: a new WAL header, a new chain
		default:
			pos.Stopped = fmt.Sprintf("segment %s does not follow cycle %d frame %d", sg.name, cycle, frame)
			break segments
		}
		data, err := os.ReadFile(filepath.Join(gdir, "wal", sg.name))
		if err != nil {
			return pos, carnet.WrapError(carnet.KindUnavailable, op, err)
		}
		if len(data) < len(segmentMagic)+walHeaderSize || string(data[:len(segmentMagic)]) != segmentMagic {
			pos.Stopped = "segment " + sg.name + " is not a replica segment"
			break
		}
		h, err := parseWALHeader(data[len(segmentMagic):])
		if err != nil {
			pos.Stopped = fmt.Sprintf("segment %s: %v", sg.name, err)
			break
		}
		if hdr == nil {
			hdr, sum, cycle, frame = &h, h.sum, sg.cycle, 0
		} else if !bytes.Equal(hdr.raw[:], h.raw[:]) {
			pos.Stopped = "segment " + sg.name + " has another WAL header than its cycle"
			break
		}
		frames := data[len(segmentMagic)+walHeaderSize:]
		fsz := h.frameSize()
		for len(frames) >= fsz {
			fr, next, ok := h.checkFrame(sum, frames[:fsz])
			if !ok {
				pos.Stopped = fmt.Sprintf("segment %s: frame %d does not verify", sg.name, frame)
				break segments
			}
			sum = next
			inTx[fr.pgno] = bytes.Clone(fr.data[walFrameHeader:])
			frames = frames[fsz:]
			frame++
			pos.Frames++
			if fr.commit != 0 {
				if err := apply(fsz-walFrameHeader, fr.commit); err != nil {
					return pos, carnet.WrapError(carnet.KindUnavailable, op, err)
				}
				pos.Transactions++
			}
		}
		cycles[sg.cycle] = true
		if info, err := os.Stat(filepath.Join(gdir, "wal", sg.name)); err == nil && info.ModTime().After(pos.Last) {
			pos.Last = info.ModTime()
		}
	}
	pos.Cycles = len(cycles)
	if err := db.Sync(); err != nil {
		return pos, carnet.WrapError(carnet.KindUnavailable, op, err)
	}
	if err := db.Close(); err != nil {
		return pos, carnet.WrapError(carnet.KindUnavailable, op, err)
	}
	if err := IntegrityCheck(ctx, dst); err != nil {
		return pos, err
	}
	return pos, nil
}

// IntegrityCheck runs SQLite's integrity_check on the database file at
// path (not open elsewhere).
func IntegrityCheck(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return carnet.WrapError(carnet.KindUnavailable, "sqlite.IntegrityCheck", err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil {
		return carnet.WrapError(carnet.KindInternal, "sqlite.IntegrityCheck", err)
	}
	if res != "ok" {
		return &carnet.Error{Kind: carnet.KindInternal, Op: "sqlite.IntegrityCheck", Msg: "integrity check failed: " + res}
	}
	return nil
}

// CopyDatabase copies the database file src to dst, a new file (0600; an
// existing dst is never overwritten), synced before it returns: how a
// restore brings a backup's or a replica's snapshot into place.
func CopyDatabase(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
