package record

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"sync"

	carnet "github.com/carnet-sante/carnet"
)

// Decoding a document's metadata (encoding/json over a few kilobytes) was a
// quarter of an ITI-67 page's cost (issue 15). json.Unmarshal of the same
// plaintext always gives the same Document, so the search keeps the last
// decodings by version and plaintext: a hit is the same bytes, compared in
// full, and gives the same value without the decode. The sealed metadata is
// still opened on every read (Sealer.Open: the record's key, its shredding
// and the seal's integrity are checked as before); only the JSON decode of
// what it returned is skipped. The memory holds what the search's pages
// hold anyway for the time of a request: clear metadata, bounded in count.

const docMemoMax = 8192

type docMemo struct {
	mu sync.Mutex
	m  map[string]*docMemoEntry
}

type docMemoEntry struct {
	pt []byte
	d  carnet.Document
}

// openDocumentShared is openDocument for a search page: its Document may
// share slices with other calls' (the decoded value is reused), so its
// caller only reads it.
func (s *Service) openDocumentShared(ctx context.Context, row carnet.DocumentRow) (carnet.Document, error) {
	pt, err := s.Sealer.Open(ctx, row.Patient, carnet.Binding{Kind: "document", ID: row.ID, Version: row.Version}, row.Sealed)
	if err != nil {
		return carnet.Document{}, err
	}
	key := row.ID + "\x00" + strconv.Itoa(row.Version)
	m := &s.decoded
	m.mu.Lock()
	e := m.m[key]
	m.mu.Unlock()
	var d carnet.Document
	if e != nil && bytes.Equal(e.pt, pt) {
		d = e.d
	} else {
		if err := json.Unmarshal(pt, &d); err != nil {
			return carnet.Document{}, carnet.WrapError(carnet.KindInternal, "open document", err)
		}
		m.mu.Lock()
		if m.m == nil {
			m.m = map[string]*docMemoEntry{}
		}
		if len(m.m) >= docMemoMax {
			n := 0
			for k := range m.m { // random order: drop an eighth
				delete(m.m, k)
				if n++; n >= docMemoMax/8 {
					break
				}
			}
		}
		m.m[key] = &docMemoEntry{pt: pt, d: d}
		m.mu.Unlock()
	}
	// The row is authoritative for what changes in place.
	d.Patient, d.ID, d.LogicalID, d.UniqueID = row.Patient, row.ID, row.LogicalID, row.UniqueID
	d.Version, d.Latest, d.Status, d.SubmissionSet, d.ContentID, d.Date = row.Version, row.Latest, row.Status, row.SubmissionSet, row.ContentID, row.Date
	return d, nil
}
