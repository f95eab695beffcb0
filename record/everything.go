package record

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// EverythingQuery asks for one page of Patient/$everything (docs/IPS.md).
type EverythingQuery struct {
	// The record: by key or INS; neither is the patient's own.
	PatientKey carnet.PatientKey
	PatientID  carnet.Identifier
	// Count bounds the resources of a page (default and maximum as
	// searches); Page is the cursor of a next link.
	Count int
	Page  string
	// Types keeps only these resource types (Patient, DocumentReference,
	// Binary, the item kinds, Provenance, Consent, AuditEvent); empty:
	// all.
	Types []string
}

// EverythingEntry is one unit of a page: exactly one of its pointers is
// set. A document comes with its content when Binary is wanted; an item
// stands for itself and its Provenance.
type EverythingEntry struct {
	Patient  *carnet.Patient
	Document *carnet.Document
	Content  []byte // the document's bytes, nil when Binary is not wanted
	Item     *carnet.Item
	Consent  *carnet.Consent
	Audit    *carnet.AuditEntry
}

// EverythingPage is one page of Patient/$everything.
type EverythingPage struct {
	Patient carnet.Patient // the record's, whatever the page holds
	Entries []EverythingEntry
	Next    string // cursor of the next page, "" on the last
}

// itemKinds are the kinds of extracted items (docs/QEDM.md).
var itemKinds = carnet.ItemKinds

// EverythingBytes bounds the document bytes of one page: a page stops
// before the Binary that would pass it (it holds at least one document).
const EverythingBytes = 8 << 20

// The phases of $everything, in the order they are served.
const (
	phasePatient byte = iota
	phaseDocuments
	phaseItems
	phaseConsents
	phaseAudit
	phaseEnd
)

// everything is one page being built.
type everything struct {
	s     *Service
	a     *access
	types map[string]bool
	max   int   // resources a page may hold
	used  int   // resources on the page
	bytes int64 // document bytes on the page
	page  EverythingPage
	docs  []string // documents served, by logicalId, for the audit
}

func (e *everything) wants(t string) bool { return len(e.types) == 0 || e.types[t] }

// room reports whether a unit of cost resources and size bytes fits on
// the page; the first unit always does.
func (e *everything) room(cost int, size int64) bool {
	if len(e.page.Entries) == 0 {
		return true
	}
	return e.used+cost <= e.max && e.bytes+size <= EverythingBytes
}

func (e *everything) add(x EverythingEntry, cost int, size int64) {
	e.page.Entries = append(e.page.Entries, x)
	e.used += cost
	e.bytes += size
}

func (e *everything) served(logicalID string) {
	if !slices.Contains(e.docs, logicalID) {
		e.docs = append(e.docs, logicalID)
	}
}

// Everything returns one page of everything the patient side may see of a
// record (Patient/$everything): the patient, the documents with their
// bytes, the items with their Provenance, the consents and the access
// history, each filtered as its own endpoint filters it. Only the patient
// and their legal representatives may ask; anyone else is told not found.
// Each page is recorded as a read of the documents it serves.
func (s *Service) Everything(ctx context.Context, r carnet.Request, q EverythingQuery) (EverythingPage, error) {
	var a *access
	var err error
	if q.PatientKey != "" {
		row, err := s.Store.Patient(ctx, q.PatientKey)
		if err != nil {
			return EverythingPage{}, s.recordAbsent(ctx, r, carnet.ActionRead, err)
		}
		a, err = s.access(ctx, r, &row)
		if err != nil {
			return EverythingPage{}, err
		}
	} else if a, err = s.ownRecord(ctx, r, q.PatientID); err != nil {
		return EverythingPage{}, s.recordAbsent(ctx, r, carnet.ActionRead, err)
	}
	if err := a.patientSide(ctx, carnet.ActionRead); err != nil {
		return EverythingPage{}, err
	}
	types := map[string]bool{}
	for _, t := range q.Types {
		types[t] = true
	}
	sorted := slices.Sorted(func(yield func(string) bool) {
		for t := range types {
			if !yield(t) {
				return
			}
		}
	})
	tag := searchTag("everything", a.row.Key, sorted)
	phase, bound, pos := phasePatient, uint64(0), []byte(nil)
	if q.Page != "" {
		if phase, bound, pos, err = readEverythingCursor(tag, q.Page); err != nil {
			return EverythingPage{}, err
		}
	} else {
		// The history is served as it stood at the first page: the paging
		// adds events of its own as it goes.
		last, err := s.Store.FindAudit(ctx, a.row.Key, carnet.AuditFilter{Limit: 1})
		if err != nil {
			return EverythingPage{}, err
		}
		if len(last) > 0 {
			bound = last[0].Seq + 1
		}
	}
	e := &everything{s: s, a: a, types: types, max: s.count(q.Count), page: EverythingPage{Patient: a.patient}}
	for ; phase < phaseEnd; phase, pos = phase+1, nil {
		var last []byte
		var done bool
		switch phase {
		case phasePatient:
			last, done = nil, true
			if e.wants("Patient") {
				p := a.patient
				e.add(EverythingEntry{Patient: &p}, 1, 0)
			}
		case phaseDocuments:
			last, done, err = e.documents(ctx, pos)
		case phaseItems:
			last, done, err = e.items(ctx, pos)
		case phaseConsents:
			last, done, err = e.consents(ctx, pos)
		case phaseAudit:
			last, done, err = e.audit(ctx, pos, bound)
		}
		if err != nil {
			return EverythingPage{}, err
		}
		if !done {
			e.page.Next = everythingCursor(tag, phase, bound, last)
			break
		}
	}
	return e.page, a.served(ctx, carnet.ActionRead, e.docs)
}

// everythingCursor is the cursor of the page after position pos of
// phase; bound keeps the history to events before the first page.
func everythingCursor(tag []byte, phase byte, bound uint64, pos []byte) string {
	c := append([]byte{phase}, binary.BigEndian.AppendUint64(nil, bound)...)
	return makeCursor(tag, append(c, pos...))
}

// readEverythingCursor reads a cursor everythingCursor made for the search
// tag names; the position is checked by the phase that reads it.
func readEverythingCursor(tag []byte, c string) (phase byte, bound uint64, pos []byte, err error) {
	raw, err := readCursor(tag, c)
	if err != nil {
		return 0, 0, nil, err
	}
	if len(raw) < 9 || raw[0] >= phaseEnd || raw[0] == phasePatient {
		return 0, 0, nil, badCursor("the _page cursor is not one this server made")
	}
	return raw[0], binary.BigEndian.Uint64(raw[1:9]), raw[9:], nil
}

// timeID is a position in a list ordered newest first, then by id: the
// time (Unix nanoseconds, MinInt64 for an unknown time, which sorts last)
// and the id of the last unit served.
func timeID(t time.Time, id string) []byte {
	ns := int64(math.MinInt64)
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	return append(binary.BigEndian.AppendUint64(nil, uint64(ns)), id...)
}

// after reports whether (t, id) comes after position pos in that order;
// every unit comes after an empty position.
func after(pos []byte, t time.Time, id string) (bool, error) {
	if len(pos) == 0 {
		return true, nil
	}
	if len(pos) < 8 || len(pos) > 8+64 {
		return false, badCursor("the _page cursor is not one this server made")
	}
	at, atID := int64(binary.BigEndian.Uint64(pos[:8])), string(pos[8:])
	ns := int64(math.MinInt64)
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	return ns < at || (ns == at && id > atID), nil
}

func (e *everything) documents(ctx context.Context, pos []byte) ([]byte, bool, error) {
	wantRef, wantBin := e.wants("DocumentReference"), e.wants("Binary")
	if !wantRef && !wantBin {
		return nil, true, nil
	}
	key := e.a.row.Key
	rows, err := e.s.Store.FindDocuments(ctx, key, carnet.DocumentFilter{WithoutSealed: true,
		Statuses: []carnet.DocumentStatus{carnet.StatusCurrent, carnet.StatusSuperseded, carnet.StatusArchived}})
	if err != nil {
		return nil, false, err
	}
	cost := 0
	if wantRef {
		cost++
	}
	if wantBin {
		cost++
	}
	for i := range rows {
		row := &rows[i]
		ok, err := after(pos, row.Date, row.ID)
		if err != nil {
			return nil, false, err
		}
		if !ok || !e.a.permits(carnet.ActionRead, row) {
			continue
		}
		full, err := e.s.Store.Document(ctx, key, row.ID)
		if err != nil {
			return nil, false, err
		}
		d, err := e.s.openShown(ctx, e.a, full)
		if err != nil {
			return nil, false, err
		}
		size := int64(0)
		if wantBin {
			size = d.Meta.Size
		}
		if !e.room(cost, size) {
			return pos, false, nil
		}
		x := EverythingEntry{Document: &d}
		if wantBin {
			if x.Content, err = e.s.documentContent(ctx, d); err != nil {
				return nil, false, err
			}
			size = int64(len(x.Content))
		}
		e.add(x, cost, size)
		e.served(row.LogicalID)
		pos = timeID(row.Date, row.ID)
	}
	return pos, true, nil
}

// documentContent is d's bytes, checked against the hash recorded when it
// was filed (as ITI-68 checks them).
func (s *Service) documentContent(ctx context.Context, d carnet.Document) ([]byte, error) {
	sealed, err := s.Store.Content(ctx, d.Patient, d.ContentID)
	if err != nil {
		return nil, err
	}
	b, err := s.Sealer.Open(ctx, d.Patient, carnet.Binding{Kind: "content", ID: d.ContentID, Version: 1}, sealed)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	if subtle.ConstantTimeCompare(sum[:], d.Meta.SHA256) != 1 || int64(len(b)) != d.Meta.Size {
		return nil, carnet.WrapError(carnet.KindInternal, "content", fmt.Errorf("content %s does not match its recorded hash", d.ContentID))
	}
	return b, nil
}

func (e *everything) items(ctx context.Context, pos []byte) ([]byte, bool, error) {
	wantProv := e.wants("Provenance")
	var kinds []carnet.ItemKind
	if len(e.types) == 0 || wantProv {
		kinds = nil // every kind: the Provenance of each is wanted
	} else {
		for t := range e.types {
			if slices.Contains(itemKinds, carnet.ItemKind(t)) {
				kinds = append(kinds, carnet.ItemKind(t))
			}
		}
		if len(kinds) == 0 {
			return nil, true, nil
		}
	}
	sources, err := e.s.visibleSources(ctx, e.a)
	if err != nil {
		return nil, false, err
	}
	rows, err := e.s.Store.FindItems(ctx, e.a.row.Key, carnet.ItemFilter{Kinds: kinds})
	if err != nil {
		return nil, false, err
	}
	for _, row := range rows {
		if _, ok := sources[row.SourceLogicalID]; !ok {
			continue
		}
		ok, err := after(pos, row.Effective, row.ID)
		if err != nil {
			return nil, false, err
		}
		if !ok {
			continue
		}
		cost := 0
		if e.wants(string(row.Kind)) {
			cost++
		}
		if wantProv {
			cost++
		}
		if cost == 0 {
			continue
		}
		if !e.room(cost, 0) {
			return pos, false, nil
		}
		it, err := e.s.openItem(ctx, row)
		if err != nil {
			return nil, false, err
		}
		e.add(EverythingEntry{Item: &it}, cost, 0)
		e.served(row.SourceLogicalID)
		pos = timeID(row.Effective, row.ID)
	}
	return pos, true, nil
}

func (e *everything) consents(ctx context.Context, pos []byte) ([]byte, bool, error) {
	if !e.wants("Consent") {
		return nil, true, nil
	}
	cs, err := e.s.shownConsents(ctx, e.a)
	if err != nil {
		return nil, false, err
	}
	// By id: a position that stays whatever is revoked meanwhile.
	cs = slices.Clone(cs)
	slices.SortFunc(cs, func(x, y carnet.Consent) int { return strings.Compare(x.ID, y.ID) })
	for i := range cs {
		if len(pos) > 0 && cs[i].ID <= string(pos) {
			continue
		}
		if !e.room(1, 0) {
			return pos, false, nil
		}
		c := cs[i]
		e.add(EverythingEntry{Consent: &c}, 1, 0)
		pos = []byte(c.ID)
	}
	return pos, true, nil
}

func (e *everything) audit(ctx context.Context, pos []byte, bound uint64) ([]byte, bool, error) {
	if !e.wants("AuditEvent") || bound == 0 {
		return nil, true, nil
	}
	before := bound
	if len(pos) == 8 {
		before = min(before, binary.BigEndian.Uint64(pos))
	} else if len(pos) != 0 {
		return nil, false, badCursor("the _page cursor is not one this server made")
	}
	latest, err := e.s.latestRows(ctx, e.a.row.Key)
	if err != nil {
		return nil, false, err
	}
	for before > 0 {
		rows, err := e.s.Store.FindAudit(ctx, e.a.row.Key, carnet.AuditFilter{Before: before, Limit: 100})
		if err != nil {
			return nil, false, err
		}
		if len(rows) == 0 {
			break
		}
		for _, row := range rows {
			before = row.Seq
			x := carnet.AuditEntry{Seq: row.Seq, Digest: row.Digest, Event: carnet.AuditEvent{ID: row.ID, Time: row.Time, Patient: row.Patient}}
			if row.Sealed == nil {
				x.Pruned = true
			} else if x.Event, err = carnet.OpenAuditEvent(ctx, e.s.Sealer, row); err != nil {
				return nil, false, err
			}
			if !shownInHistory(&x.Event, latest, e.a) {
				continue
			}
			if !e.room(1, 0) {
				return pos, false, nil
			}
			e.add(EverythingEntry{Audit: &x}, 1, 0)
			pos = binary.BigEndian.AppendUint64(nil, row.Seq)
		}
	}
	return pos, true, nil
}
