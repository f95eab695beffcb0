package auditlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/carnet-sante/carnet"
)

// LeafPrefix opens every version-1 leaf. A new leaf format gets a new
// prefix, so that old and new leaves can never be confused.
const LeafPrefix = "carnet-audit-v1\n"

// leafTimeLayout is fixed-width UTC with nanoseconds, so that one instant has
// exactly one encoding.
const leafTimeLayout = "2006-01-02T15:04:05.000000000Z"

// maxEventIDLen bounds the event id; ids are random tokens, not data.
const maxEventIDLen = 64

// Entry is what the log knows of one audit event: its id, its time and the
// SHA-256 of the sealed event row held by the Store. Nothing clinical: the
// digest commits to the row without revealing it.
type Entry struct {
	EventID   string    // 1..64 characters of [A-Za-z0-9._-]
	Time      time.Time // encoded in UTC, nanosecond precision
	RowDigest [sha256.Size]byte
}

// NewEntry builds the entry of an event from its sealed row bytes.
func NewEntry(eventID string, t time.Time, sealedRow []byte) Entry {
	return Entry{EventID: eventID, Time: t, RowDigest: sha256.Sum256(sealedRow)}
}

// MarshalLeaf returns the canonical version-1 leaf bytes:
//
//	"carnet-audit-v1\n" eventID "\n" time "\n" hex(rowDigest) "\n"
//
// time is fixed-width RFC 3339 in UTC with nine fractional digits.
func (e Entry) MarshalLeaf() ([]byte, error) {
	if !validEventID(e.EventID) {
		return nil, carnet.Errorf(carnet.KindInvalid, "audit event id must be 1 to %d characters of [A-Za-z0-9._-]", maxEventIDLen)
	}
	if y := e.Time.UTC().Year(); y < 1 || y > 9999 {
		return nil, carnet.Errorf(carnet.KindInvalid, "audit event time out of range")
	}
	b := make([]byte, 0, len(LeafPrefix)+len(e.EventID)+len(leafTimeLayout)+2*sha256.Size+3)
	b = append(b, LeafPrefix...)
	b = append(b, e.EventID...)
	b = append(b, '\n')
	b = e.Time.UTC().AppendFormat(b, leafTimeLayout)
	b = append(b, '\n')
	b = hex.AppendEncode(b, e.RowDigest[:])
	b = append(b, '\n')
	return b, nil
}

// ParseLeaf parses version-1 leaf bytes. It accepts only the canonical
// encoding: ParseLeaf(b).MarshalLeaf() == b.
func ParseLeaf(b []byte) (Entry, error) {
	bad := carnet.Errorf(carnet.KindInvalid, "malformed audit leaf")
	rest, ok := bytes.CutPrefix(b, []byte(LeafPrefix))
	if !ok {
		return Entry{}, bad
	}
	parts := bytes.Split(rest, []byte("\n"))
	if len(parts) != 4 || len(parts[3]) != 0 {
		return Entry{}, bad
	}
	var e Entry
	e.EventID = string(parts[0])
	t, err := time.Parse(leafTimeLayout, string(parts[1]))
	if err != nil {
		return Entry{}, bad
	}
	e.Time = t
	if len(parts[2]) != 2*sha256.Size {
		return Entry{}, bad
	}
	if _, err := hex.Decode(e.RowDigest[:], parts[2]); err != nil {
		return Entry{}, bad
	}
	again, err := e.MarshalLeaf()
	if err != nil || !bytes.Equal(again, b) {
		return Entry{}, bad
	}
	return e, nil
}

func validEventID(id string) bool {
	if len(id) == 0 || len(id) > maxEventIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
