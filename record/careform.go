package record

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"sync"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// The point-of-care form of a record is its care entry (what the card and
// $relevant read of it) kept in the Store, sealed, in one row
// (carnet.CareFormStore): a server that has not read the record since it
// started reads that row instead of every document. It is a cache of what
// the documents say, never a decision: the access policy decides on its
// rows afresh on every request, as on rows read from the documents, and
// it is used only when its stamp is the record's current one
// (Store.RecordStamp), so that a change made by any server (a filing, a
// mask, a deletion) is seen at once. A form at another stamp still gives
// its opened results (items never change), so that rebuilding it opens
// only the new ones.

// careFormBinding is what a record's form is sealed under.
func careFormBinding(key carnet.PatientKey) carnet.Binding {
	return carnet.Binding{Kind: "careform", ID: string(key), Version: 1}
}

// storedCare returns the record's stored form, or nil when there is none
// or it cannot be read (then the documents are read, as without one). A
// form at another stamp than want is opened only with reuse (to reuse its
// results).
func (s *Service) storedCare(ctx context.Context, key carnet.PatientKey, want string, reuse bool) *careEntry {
	fs, ok := s.Store.(carnet.CareFormStore)
	if !ok {
		return nil
	}
	stamp, sealed, err := fs.CareForm(ctx, key)
	if err != nil {
		if !carnet.IsKind(err, carnet.KindNotFound) {
			s.log().Warn("reading a record's point-of-care form", "err", err)
		}
		return nil
	}
	if stamp != want && !reuse {
		return nil
	}
	plain, err := s.Sealer.Open(ctx, key, careFormBinding(key), sealed)
	if err != nil {
		s.log().Warn("opening a record's point-of-care form", "err", err)
		return nil
	}
	e, err := decodeCareForm(plain)
	if err != nil {
		s.log().Warn("a record's point-of-care form does not decode", "err", err)
		return nil
	}
	if e.stamp != stamp {
		// The stamp is sealed with the form: a form put under another
		// stamp is not used.
		s.log().Warn("a record's point-of-care form is stored under another stamp than its own", "stored", stamp, "sealed", e.stamp)
		return nil
	}
	for i := range e.docs {
		e.docs[i].Patient = key
	}
	return e
}

// saveCare writes the record's form in the background, off the request's
// path: one writer, each record queued once with its newest entry.
func (s *Service) saveCare(key carnet.PatientKey, e *careEntry) {
	if _, ok := s.Store.(carnet.CareFormStore); !ok {
		return
	}
	q := &s.forms
	q.mu.Lock()
	if q.pending == nil {
		q.pending = map[carnet.PatientKey]*careEntry{}
	}
	if _, queued := q.pending[key]; !queued && len(q.pending) >= maxWarmPending {
		q.mu.Unlock()
		return // left to the next reading of the record
	}
	q.pending[key] = e
	start := !q.running
	q.running = true
	if q.idle == nil {
		q.idle = sync.NewCond(&q.mu)
	}
	q.mu.Unlock()
	if start {
		go s.savePending()
	}
}

type formQueue struct {
	mu      sync.Mutex
	pending map[carnet.PatientKey]*careEntry
	running bool
	idle    *sync.Cond // broadcast when the queue is empty
}

func (s *Service) savePending() {
	q := &s.forms
	for {
		q.mu.Lock()
		var key carnet.PatientKey
		var e *careEntry
		for key, e = range q.pending {
			break
		}
		if e == nil {
			q.running = false
			q.idle.Broadcast()
			q.mu.Unlock()
			return
		}
		delete(q.pending, key)
		q.mu.Unlock()
		if err := s.writeCare(context.Background(), key, e); err != nil {
			s.log().Debug("writing a record's point-of-care form", "err", err)
		}
	}
}

// writeCare seals and stores a record's form, unless the record changed
// since it was read (a newer reading will write its own).
func (s *Service) writeCare(ctx context.Context, key carnet.PatientKey, e *careEntry) error {
	if now, err := s.Store.RecordStamp(ctx, key); err != nil || now != e.stamp {
		return err
	}
	sealed, err := s.Sealer.Seal(ctx, key, careFormBinding(key), encodeCareForm(e))
	if err != nil {
		return err
	}
	return s.Store.(carnet.CareFormStore).PutCareForm(ctx, key, e.stamp, sealed)
}

// FlushCareForms waits until the point-of-care forms queued so far are
// written (tests, and a server stopping).
func (s *Service) FlushCareForms() {
	q := &s.forms
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.running {
		q.idle.Wait()
	}
}

// careFormVersion is the first byte of an encoded form; another version is
// not read (the documents are, and a new form is written).
const careFormVersion = 4 // 2: each row's title words; 3: its authors' specialties; 4: ids packed (formstrings.go)

// The encoding: the version, the stamp, a table of the distinct strings
// (ids in the bytes they stand for, formstrings.go), then every field as
// varints (strings by their index in the table). A
// record's rows repeat the same kinds, codes, labels and authors: the table
// keeps each once, and decoding allocates one string for all of them.
type formWriter struct {
	body    []byte
	index   map[string]uint64
	strings []string
}

func (w *formWriter) uint(v uint64) { w.body = binary.AppendUvarint(w.body, v) }

func (w *formWriter) str(v string) {
	i, ok := w.index[v]
	if !ok {
		i = uint64(len(w.strings))
		w.index[v] = i
		w.strings = append(w.strings, v)
	}
	w.uint(i)
}

// strs writes a list of strings: its length, then each.
func (w *formWriter) strs(vs []string) {
	w.uint(uint64(len(vs)))
	for _, v := range vs {
		w.str(v)
	}
}

func (w *formWriter) time(t time.Time) {
	if t.IsZero() {
		w.uint(0)
		return
	}
	w.uint(1)
	w.body = binary.AppendVarint(w.body, t.Unix())
	w.uint(uint64(t.Nanosecond()))
}

func (w *formWriter) bool(b bool) {
	if b {
		w.uint(1)
	} else {
		w.uint(0)
	}
}

func encodeCareForm(e *careEntry) []byte {
	w := &formWriter{index: map[string]uint64{}}
	w.uint(uint64(len(e.docs)))
	tokens, concepts := 0, 0
	for i, d := range e.docs {
		tokens += len(d.Tokens)
		if i < len(e.concepts) {
			concepts += len(e.concepts[i])
		}
		if i < len(e.titleWords) {
			concepts += len(e.titleWords[i])
		}
		if i < len(e.authorSpecialties) {
			concepts += len(e.authorSpecialties[i])
		}
	}
	w.uint(uint64(tokens))
	w.uint(uint64(concepts))
	for i, d := range e.docs {
		for _, v := range []string{d.ID, d.LogicalID, d.UniqueID, string(d.Status), d.SubmissionSet, d.ContentID, d.Filer} {
			w.str(v)
		}
		w.uint(uint64(max(d.Version, 0)))
		w.bool(d.Latest)
		for _, t := range []time.Time{d.Date, d.Created, d.PeriodStart, d.PeriodEnd} {
			w.time(t)
		}
		w.uint(uint64(len(d.Tokens)))
		for _, t := range d.Tokens {
			w.str(t.Kind)
			w.str(t.Value)
		}
		var concepts, words, specialties []string
		var titleKey string
		if i < len(e.concepts) {
			concepts = e.concepts[i]
		}
		if i < len(e.titleKeys) {
			titleKey = e.titleKeys[i]
		}
		if i < len(e.titleWords) {
			words = e.titleWords[i]
		}
		if i < len(e.authorSpecialties) {
			specialties = e.authorSpecialties[i]
		}
		w.strs(concepts)
		w.str(titleKey)
		w.strs(words)
		w.strs(specialties)
	}
	w.uint(uint64(len(e.findings)))
	for _, f := range e.findings {
		for _, v := range []string{f.ItemID, f.Code.System, f.Code.Code, f.Code.Display, f.Interpretation, f.source} {
			w.str(v)
		}
	}
	w.bool(e.filed != nil)
	w.uint(uint64(len(e.filed)))
	for id, t := range e.filed {
		w.str(id)
		w.time(t)
	}
	out := []byte{careFormVersion}
	out = binary.AppendUvarint(out, uint64(len(e.stamp)))
	out = append(out, e.stamp...)
	out = binary.AppendUvarint(out, uint64(len(w.strings)))
	var body []byte
	for _, v := range w.strings {
		out, body = packString(out, body, v)
	}
	out = append(out, body...)
	return append(out, w.body...)
}

var errCareForm = errors.New("malformed point-of-care form")

type formReader struct {
	b       []byte
	strings []string
	err     error
}

func (r *formReader) uint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCareForm
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a number of elements, each at least one byte long.
func (r *formReader) count() int {
	v := r.uint()
	if v > uint64(len(r.b)) {
		r.err = errCareForm
		return 0
	}
	return int(v)
}

func (r *formReader) str() string {
	// Most indexes take one or two bytes: read them without Uvarint.
	if len(r.b) >= 2 && r.b[0] < 0x80 {
		i := int(r.b[0])
		if i < len(r.strings) {
			r.b = r.b[1:]
			return r.strings[i]
		}
	} else if len(r.b) >= 2 && r.b[1] < 0x80 {
		i := int(r.b[0]&0x7f) | int(r.b[1])<<7
		if i < len(r.strings) && r.b[1] != 0 {
			r.b = r.b[2:]
			return r.strings[i]
		}
	}
	i := r.uint()
	if i >= uint64(len(r.strings)) {
		r.err = errCareForm
		return ""
	}
	return r.strings[i]
}

func (r *formReader) time() time.Time {
	switch r.uint() {
	case 0:
		return time.Time{}
	case 1:
	default:
		r.err = errCareForm
		return time.Time{}
	}
	if r.err != nil {
		return time.Time{}
	}
	sec, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errCareForm
		return time.Time{}
	}
	r.b = r.b[n:]
	nsec := r.uint()
	if nsec >= 1e9 {
		r.err = errCareForm
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (r *formReader) bool() bool {
	switch r.uint() {
	case 0:
		return false
	case 1:
		return true
	}
	r.err = errCareForm
	return false
}

// decodeCareForm reads an encoded form; the rows' Patient is left empty.
// Bounded by its input: every count is at most the bytes left.
func decodeCareForm(b []byte) (*careEntry, error) {
	if len(b) == 0 || b[0] != careFormVersion {
		return nil, errCareForm
	}
	r := &formReader{b: b[1:]}
	n := r.count()
	if r.err != nil {
		return nil, r.err
	}
	e := &careEntry{stamp: string(r.b[:n])}
	r.b = r.b[n:]
	ns := r.count()
	if r.err != nil {
		return nil, r.err
	}
	var ok bool
	if r.strings, r.b, ok = unpackStrings(r.b, ns); !ok { // one allocation for every string
		return nil, errCareForm
	}
	nd := r.count()
	e.docs = make([]carnet.DocumentRow, nd)
	e.concepts = make([][]string, nd)
	e.titleKeys = make([]string, nd)
	e.titleWords = make([][]string, nd)
	e.authorSpecialties = make([][]string, nd)
	// Every row's tokens in one array, and every concept, title word and
	// author specialty list in another.
	tokens := make([]carnet.Token, r.count())
	concepts := make([]string, r.count())
	list := func() []string {
		n := r.count()
		if n == 0 || n > len(concepts) {
			if n > 0 {
				r.err = errCareForm
			}
			return nil
		}
		var out []string
		out, concepts = concepts[:n:n], concepts[n:]
		for j := range out {
			out[j] = r.str()
		}
		return out
	}
	for i := range e.docs {
		d := &e.docs[i]
		d.ID, d.LogicalID, d.UniqueID, d.Status = r.str(), r.str(), r.str(), carnet.DocumentStatus(r.str())
		d.SubmissionSet, d.ContentID, d.Filer = r.str(), r.str(), r.str()
		if v := r.uint(); v <= math.MaxInt32 {
			d.Version = int(v)
		} else {
			r.err = errCareForm
		}
		d.Latest = r.bool()
		d.Date, d.Created, d.PeriodStart, d.PeriodEnd = r.time(), r.time(), r.time(), r.time()
		if nt := r.count(); nt > 0 {
			if nt > len(tokens) {
				return nil, errCareForm
			}
			d.Tokens, tokens = tokens[:nt:nt], tokens[nt:]
			for j := range d.Tokens {
				d.Tokens[j] = carnet.Token{Kind: r.str(), Value: r.str()}
			}
		}
		e.concepts[i] = list()
		e.titleKeys[i] = r.str()
		e.titleWords[i] = list()
		e.authorSpecialties[i] = list()
		if r.err != nil {
			return nil, r.err
		}
	}
	if nf := r.count(); nf > 0 {
		e.findings = make([]careFinding, nf)
		for i := range e.findings {
			f := &e.findings[i]
			f.ItemID, f.Code.System, f.Code.Code, f.Code.Display, f.Interpretation, f.source = r.str(), r.str(), r.str(), r.str(), r.str(), r.str()
		}
	}
	if r.bool() {
		nf := r.count()
		e.filed = make(map[string]time.Time, nf)
		for range nf {
			id := r.str()
			e.filed[id] = r.time()
		}
	} else if r.count() != 0 {
		r.err = errCareForm
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, errCareForm
	}
	return e, nil
}
