package carnet

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"time"
)

// NewID returns a 128-bit id in UUID version 7 form (RFC 9562), valid as a
// FHIR id: the time in milliseconds, then 74 random bits. Ids made one after
// the other sort together, so that the rows a group commit writes under
// them (routes, audit events) share b-tree pages instead of each dirtying a
// page of its own (docs/PERFORMANCE.md); the random part keeps them
// unguessable. An id tells when it was made, to the millisecond, as the
// row it names does.
func NewID() string { return newID(time.Now()) }

func newID(now time.Time) string {
	var b [16]byte
	if _, err := rand.Read(b[6:]); err != nil {
		panic("carnet: crypto/rand failed: " + err.Error())
	}
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(now.UnixMilli()))
	copy(b[:6], ms[2:])
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
