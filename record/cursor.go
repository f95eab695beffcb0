package record

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"

	carnet "github.com/carnet-sante/carnet"
)

// A page cursor is opaque to clients and names its search: the position
// after which the next page starts, and a tag of the search it belongs to
// (what is searched, in which record, with which filter). A cursor that is
// garbage or comes from another search is refused (400) rather than
// answered with a silent first page. The tag is a digest, not a secret: a
// forged cursor can only position a search the caller may already run.

const cursorTagLen = 8

// searchTag identifies a search: its kind, the record and its filter (as
// JSON: times by their instant, not by a Location's address).
func searchTag(kind string, p carnet.PatientKey, filter any) []byte {
	f, _ := json.Marshal(filter)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", kind, p)
	h.Write(f)
	return h.Sum(nil)[:cursorTagLen]
}

func makeCursor(tag, pos []byte) string {
	return base64.RawURLEncoding.EncodeToString(append(append([]byte{}, tag...), pos...))
}

// readCursor returns the position a cursor names, if it was made for the
// search tag names.
func readCursor(tag []byte, c string) ([]byte, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	switch {
	case err != nil || len(raw) < cursorTagLen || len(raw) > cursorTagLen+128:
		return nil, badCursor("the _page cursor is not one this server made")
	case !bytes.Equal(raw[:cursorTagLen], tag):
		return nil, badCursor("the _page cursor belongs to another search: follow the next link of this search's pages")
	}
	return raw[cursorTagLen:], nil
}

func badCursor(msg string) error {
	return carnet.Invalid(carnet.Issue{Severity: "error", Code: "value", Diagnostics: msg, Expression: "_page"})
}
