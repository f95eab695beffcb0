package sqlite

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The SQLite write-ahead log, as https://www.sqlite.org/fileformat2.html#walformat
// describes it: a 32-byte header, then frames of a 24-byte header and one
// page. Checksums are cumulative: each frame's covers its first 8 header
// bytes and its page, starting from the previous frame's (or the WAL
// header's). A frame is valid only if its salts are the header's and its
// checksum follows the chain; a frame whose "database size" field is not
// zero ends a transaction (a commit frame).

const (
	walHeaderSize  = 32
	walFrameHeader = 24
	walMagicLE     = 0x377f0682
	walMagicBE     = 0x377f0683
)

var errWALHeader = errors.New("not a valid WAL header")

// walHeader is a parsed WAL header.
type walHeader struct {
	raw      [walHeaderSize]byte
	bigEnd   bool // checksums over big-endian words
	pageSize int
	salt1    uint32
	salt2    uint32
	sum      [2]uint32 // the header's checksum: where the frames' chain starts
}

func parseWALHeader(b []byte) (walHeader, error) {
	var h walHeader
	if len(b) < walHeaderSize {
		return h, errWALHeader
	}
	copy(h.raw[:], b)
	switch binary.BigEndian.Uint32(b[0:]) {
	case walMagicLE:
	case walMagicBE:
		h.bigEnd = true
	default:
		return h, errWALHeader
	}
	ps := int(binary.BigEndian.Uint32(b[8:]))
	if ps == 1 {
		ps = 65536
	}
	if ps < 512 || ps > 65536 || ps&(ps-1) != 0 {
		return h, fmt.Errorf("%w: page size %d", errWALHeader, ps)
	}
	h.pageSize = ps
	h.salt1 = binary.BigEndian.Uint32(b[16:])
	h.salt2 = binary.BigEndian.Uint32(b[20:])
	s := walChecksum(h.bigEnd, [2]uint32{}, b[:24])
	if s[0] != binary.BigEndian.Uint32(b[24:]) || s[1] != binary.BigEndian.Uint32(b[28:]) {
		return h, fmt.Errorf("%w: checksum", errWALHeader)
	}
	h.sum = s
	return h, nil
}

func (h walHeader) frameSize() int { return walFrameHeader + h.pageSize }

// walChecksum continues SQLite's WAL checksum over b (a multiple of 8 bytes).
func walChecksum(bigEnd bool, s [2]uint32, b []byte) [2]uint32 {
	s0, s1 := s[0], s[1]
	for i := 0; i+8 <= len(b); i += 8 {
		var x0, x1 uint32
		if bigEnd {
			x0, x1 = binary.BigEndian.Uint32(b[i:]), binary.BigEndian.Uint32(b[i+4:])
		} else {
			x0, x1 = binary.LittleEndian.Uint32(b[i:]), binary.LittleEndian.Uint32(b[i+4:])
		}
		s0 += x0 + s1
		s1 += x1 + s0
	}
	return [2]uint32{s0, s1}
}

// walFrame is one checked frame.
type walFrame struct {
	pgno   uint32
	commit uint32 // database size in pages after the transaction; 0 unless a commit frame
	data   []byte // the whole frame, header included
}

// checkFrame checks frame f (a whole frame) against the header's salts and
// the chain so far; it returns the chain's new value.
func (h walHeader) checkFrame(sum [2]uint32, f []byte) (walFrame, [2]uint32, bool) {
	if len(f) != h.frameSize() {
		return walFrame{}, sum, false
	}
	if binary.BigEndian.Uint32(f[8:]) != h.salt1 || binary.BigEndian.Uint32(f[12:]) != h.salt2 {
		return walFrame{}, sum, false
	}
	s := walChecksum(h.bigEnd, sum, f[:8])
	s = walChecksum(h.bigEnd, s, f[walFrameHeader:])
	if s[0] != binary.BigEndian.Uint32(f[16:]) || s[1] != binary.BigEndian.Uint32(f[20:]) {
		return walFrame{}, sum, false
	}
	pgno := binary.BigEndian.Uint32(f[0:])
	if pgno == 0 {
		return walFrame{}, sum, false
	}
	return walFrame{pgno: pgno, commit: binary.BigEndian.Uint32(f[4:]), data: f}, s, true
}
