package record

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// termField is the blind-index field of full-text terms.
const termField = "term"

// indexText prepares the index rows of one document: its terms as blind
// tokens of its record.
func (s *Service) indexText(ctx context.Context, p carnet.PatientKey, text string) (map[string]int, int, error) {
	tf, n := s.Index.TermCounts(text)
	out := make(map[string]int, len(tf))
	for term, c := range tf {
		tok, err := s.Sealer.Token(ctx, p, termField, term)
		if err != nil {
			return nil, 0, err
		}
		out[tok] += c
	}
	return out, n, nil
}

// documentText is what a document is found by: its title and description,
// and the text its content states (CDA narrative, N1 PDF text, or plain
// text).
func documentText(d carnet.SubmittedDocument, x carnet.Extraction) string {
	parts := []string{d.Meta.Title, d.Meta.Description, x.Text}
	if x.Text == "" && strings.HasPrefix(d.Meta.ContentType, "text/plain") {
		parts = append(parts, string(d.Content))
	}
	return strings.Join(parts, "\n")
}

// PointOfCare gathers the point-of-care view of a record for the caller
// (the CDS Hooks card and $relevant): every document the caller may see,
// decided on clear fields before anything is opened; pick chooses which
// documents are shown in full, and only those are unsealed and recorded
// as served. With mark, the caller's visit is remembered: the next view
// shows what is new since now. A record the caller may not search looks
// like an empty one.
func (s *Service) PointOfCare(ctx context.Context, r carnet.Request, key carnet.PatientKey, id carnet.Identifier, q string, mark bool, pick func(carnet.CareView) []string) (carnet.CareView, carnet.CareDetails, error) {
	now := s.now()
	view := carnet.CareView{Now: now, Query: q}
	a, err := s.searchable(ctx, r, key, id)
	if a == nil || err != nil {
		return view, carnet.CareDetails{}, err
	}
	view.Patient = a.row.Key
	if len(a.patient.Identifiers) > 0 {
		view.INS = a.patient.Identifiers[0]
	}
	who := visitKey(r.Actor)
	view.LastVisit = a.patient.Visits[who]

	e, err := s.careRows(ctx, a.row.Key)
	if err != nil {
		return view, carnet.CareDetails{}, err
	}
	rows, stamp := e.docs, e.stamp
	ix := e.index()
	// pos is each row's place in view.Docs, -1 when the caller may not see it.
	pos := make([]int32, len(rows))
	view.Docs = make([]carnet.CareDoc, 0, len(rows))
	for i := range rows {
		pos[i] = -1
		if !a.permits(carnet.ActionRead, &rows[i]) {
			continue
		}
		pos[i] = int32(len(view.Docs))
		filed := rows[i].Date
		if !ix.filed[i].IsZero() {
			filed = ix.filed[i]
		}
		view.Docs = append(view.Docs, carnet.CareDoc{Row: &rows[i], Pos: i, Filed: filed, Findings: ix.findings[i],
			Concepts: e.concepts[i], TitleKey: e.titleKeys[i], TitleWords: e.titleWords[i],
			AuthorSpecialties: e.authorSpecialties[i]})
	}
	byLogical := func(logical string) (int, bool) {
		if i, ok := ix.byLogical[logical]; ok && pos[i] >= 0 {
			return int(pos[i]), true
		}
		return 0, false
	}
	view.Stamp, view.Rows = stamp, len(rows)
	if err := s.careLabels(ctx, a.row.Key, &view); err != nil {
		return view, carnet.CareDetails{}, err
	}
	if q != "" && s.Index != nil {
		if err := s.careText(ctx, a.row.Key, &view, byLogical); err != nil {
			return view, carnet.CareDetails{}, err
		}
	}

	det := carnet.CareDetails{Documents: map[string]carnet.Document{}, Items: map[string]carnet.Item{}}
	var shown []string
	if pick != nil {
		if err := s.openPicked(ctx, a.row.Key, pick(view), &view, ix, pos, &det, &shown); err != nil {
			return view, carnet.CareDetails{}, err
		}
	}
	// The visit and the access are both written before the card is
	// served; side by side, so that they can share a commit.
	var visitErr error
	var wg sync.WaitGroup
	if mark && who != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			visitErr = s.markVisit(ctx, a.row.Key, who, now)
		}()
	}
	err = a.served(ctx, carnet.ActionSearch, shown)
	wg.Wait()
	if err != nil && mark && who != "" && visitErr == nil {
		// Not served: the visit did not happen. Put the marker back, so
		// that the next card still shows what this one would have.
		if e := s.restoreVisit(ctx, a.row.Key, who, view.LastVisit, now); e != nil {
			s.log().Error("restoring a visit marker after a failed card", "err", e)
		}
	}
	if err == nil {
		err = visitErr
	}
	return view, det, err
}

// openPicked opens the documents pick chose (those the caller may read,
// each once) and the abnormal results among their items: one query for
// the documents and one for the items, however many lines are shown.
func (s *Service) openPicked(ctx context.Context, key carnet.PatientKey, picked []string, view *carnet.CareView, ix *careIndex, pos []int32, det *carnet.CareDetails, shown *[]string) error {
	var ids, sources []string
	for _, docID := range picked {
		i, ok := ix.byID[docID]
		if !ok || pos[i] < 0 || slices.Contains(ids, docID) {
			continue
		}
		ids = append(ids, docID)
		if cd := &view.Docs[pos[i]]; len(cd.Findings) > 0 {
			sources = append(sources, cd.Row.LogicalID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	// Found by their entryUUID's identifier token, then kept only where the
	// row's own id is the one asked for: another document may name the same
	// identifier.
	values := make([]string, len(ids))
	for i, id := range ids {
		values[i] = "urn:uuid:" + id
	}
	rows, err := s.Store.FindDocuments(ctx, key, carnet.DocumentFilter{Tokens: []carnet.TokenFilter{{Kind: carnet.TokIdentifier, Values: values}}})
	if err != nil {
		return err
	}
	byID := make(map[string]*carnet.DocumentRow, len(rows))
	for i := range rows {
		byID[rows[i].ID] = &rows[i]
	}
	for _, docID := range ids {
		row := byID[docID]
		if row == nil { // not filed under that identifier: read it alone
			r, err := s.Store.Document(ctx, key, docID)
			if err != nil {
				return err
			}
			row = &r
		}
		d, err := s.openDocument(ctx, *row)
		if err != nil {
			return err
		}
		det.Documents[docID] = d
		*shown = append(*shown, d.LogicalID)
	}
	if len(sources) == 0 {
		return nil
	}
	items, err := s.Store.FindItems(ctx, key, carnet.ItemFilter{Kinds: []carnet.ItemKind{carnet.ItemObservation}, Sources: sources})
	if err != nil {
		return err
	}
	for _, ir := range items {
		i, ok := ix.byLogical[ir.SourceLogicalID]
		if !ok || pos[i] < 0 {
			continue
		}
		if !slices.ContainsFunc(view.Docs[pos[i]].Findings, func(f carnet.CareFinding) bool { return f.ItemID == ir.ID }) {
			continue
		}
		it, err := s.openItem(ctx, ir)
		if err != nil {
			return err
		}
		det.Items[it.ID] = it
	}
	return nil
}

// careEntry is what the point-of-care view reads of a record, current as
// of stamp: the documents' clear fields, and the abnormal results (opened:
// their codes are blind-indexed in the Store).
type careEntry struct {
	stamp    string
	docs     []carnet.DocumentRow
	findings []careFinding
	// filed is the first filing date of the documents that have several
	// metadata versions, by logicalId.
	filed map[string]time.Time
	// concepts and titleKeys are each row's concepts (read from their
	// blind tokens) and title key, by the rows' order.
	concepts  [][]string
	titleKeys []string
	// titleWords are each row's title words (TitleWordReader), by the
	// rows' order.
	titleWords [][]string
	// authorSpecialties are each row's authors' specialties
	// (AuthorSpecialtyReader), by the rows' order.
	authorSpecialties [][]string

	ixOnce sync.Once
	ix     careIndex
}

// careIndex finds an entry's rows by id and by logicalId, and holds each
// row's first filing date (zero: its own date); made once per entry, the
// same for every caller.
type careIndex struct {
	byID, byLogical map[string]int32
	filed           []time.Time
	// findings are each row's abnormal results, none for a replaced
	// report (its results are history); shared by every view: read only.
	findings [][]carnet.CareFinding
}

func (e *careEntry) index() *careIndex {
	e.ixOnce.Do(func() {
		ix := &e.ix
		ix.byID = make(map[string]int32, len(e.docs))
		ix.byLogical = make(map[string]int32, len(e.docs))
		ix.filed = make([]time.Time, len(e.docs))
		for i := range e.docs {
			d := &e.docs[i]
			ix.byID[d.ID] = int32(i)
			ix.byLogical[d.LogicalID] = int32(i)
			if f, ok := e.filed[d.LogicalID]; ok {
				ix.filed[i] = f
			}
		}
		ix.findings = make([][]carnet.CareFinding, len(e.docs))
		for _, f := range e.findings {
			i, ok := ix.byLogical[f.source]
			if !ok || e.docs[i].Status == carnet.StatusSuperseded {
				continue
			}
			ix.findings[i] = append(ix.findings[i], f.CareFinding)
		}
		for i, fs := range ix.findings {
			ix.findings[i] = fs[:len(fs):len(fs)] // an append by a reader copies
		}
	})
	return &e.ix
}

// careFinding is an abnormal result and the document it came from.
type careFinding struct {
	carnet.CareFinding
	source string // the source document's logicalId
}

// careCache keeps the care entries of recently opened records, bounded by
// the rows it holds. It holds the clear fields the Store keeps and the
// codes of abnormal results, in this process's memory only. Each use checks the record's stamp (Store.RecordStamp), so
// an entry is never used after its record changed, whichever server
// changed it; the access decisions are made afresh on every request.
type careCache struct {
	mu      sync.Mutex
	entries map[carnet.PatientKey]*careEntry
	rows    int
	// loading are the records whose entry is being read: a request that
	// comes meanwhile waits for it rather than reading the same rows.
	loading map[carnet.PatientKey]*careLoad
}

type careLoad struct {
	done chan struct{}
	e    *careEntry
	err  error
}

// warmCare reads the record's entry again in the background after a
// change (WarmOnChange): the next opening finds it current. Errors are
// left to that opening, which reads again.
//
// One reader at a time, off the filing's path: a burst of filings queues
// each record once (a queued record is read at its newest stamp), so that
// bulk ingest does not start a read of the whole record per filing.
func (s *Service) warmCare(key carnet.PatientKey) {
	if !s.WarmOnChange || key == "" {
		return
	}
	w := &s.warming
	w.mu.Lock()
	if w.pending[key] || len(w.pending) >= maxWarmPending {
		w.mu.Unlock()
		return
	}
	if w.pending == nil {
		w.pending = map[carnet.PatientKey]bool{}
	}
	w.pending[key] = true
	start := !w.running
	w.running = true
	w.mu.Unlock()
	if start {
		go s.warmPending()
	}
}

// maxWarmPending bounds the records waiting to be warmed; past it a
// record is left to its next opening.
const maxWarmPending = 10_000

type warmQueue struct {
	mu      sync.Mutex
	pending map[carnet.PatientKey]bool
	running bool
}

// warmPending reads the queued records one by one until none is left.
func (s *Service) warmPending() {
	w := &s.warming
	for {
		w.mu.Lock()
		var key carnet.PatientKey
		for k := range w.pending {
			key = k
			break
		}
		if key == "" {
			w.running = false
			w.mu.Unlock()
			return
		}
		delete(w.pending, key)
		w.mu.Unlock()
		if _, err := s.careRows(context.Background(), key); err != nil {
			s.log().Debug("warming the point-of-care view", "err", err)
		}
	}
}

const careCacheRows = 200_000

// blindNames maps the record's blind token of each name of kind back to
// the name: how the view reads tokens made at filing from a known list.
func (s *Service) blindNames(ctx context.Context, key carnet.PatientKey, kind string, all []string) (map[string]string, error) {
	out := make(map[string]string, len(all))
	for _, n := range all {
		tok, err := s.Sealer.Token(ctx, key, kind, n)
		if err != nil {
			return nil, err
		}
		out[tok] = n
	}
	return out, nil
}

// careConcepts reads each row's concepts, title words and authors'
// specialties from their blind tokens (the names' tokens of this record,
// made once) and its title key.
func (s *Service) careConcepts(ctx context.Context, key carnet.PatientKey, e *careEntry) error {
	var names, words, specialties map[string]string
	if s.Concepts != nil {
		var err error
		if names, err = s.blindNames(ctx, key, carnet.TokConcept, s.Concepts.ConceptNames()); err != nil {
			return err
		}
	}
	if tw, ok := s.Concepts.(carnet.TitleWordReader); ok {
		var err error
		if words, err = s.blindNames(ctx, key, carnet.TokTitleWord, tw.TitleWordNames()); err != nil {
			return err
		}
	}
	if as, ok := s.Concepts.(carnet.AuthorSpecialtyReader); ok {
		var err error
		if specialties, err = s.blindNames(ctx, key, carnet.TokAuthorSpecialty, as.AuthorSpecialtyNames()); err != nil {
			return err
		}
	}
	e.concepts = make([][]string, len(e.docs))
	e.titleKeys = make([]string, len(e.docs))
	e.titleWords = make([][]string, len(e.docs))
	e.authorSpecialties = make([][]string, len(e.docs))
	for i, d := range e.docs {
		for _, t := range d.Tokens {
			switch t.Kind {
			case carnet.TokConcept:
				if n, ok := names[t.Value]; ok {
					e.concepts[i] = append(e.concepts[i], n)
				}
			case carnet.TokTitleKey:
				e.titleKeys[i] = t.Value
			case carnet.TokTitleWord:
				if w, ok := words[t.Value]; ok {
					e.titleWords[i] = append(e.titleWords[i], w)
				}
			case carnet.TokAuthorSpecialty:
				if c, ok := specialties[t.Value]; ok {
					e.authorSpecialties[i] = append(e.authorSpecialties[i], c)
				}
			}
		}
		slices.Sort(e.concepts[i])
		slices.Sort(e.titleWords[i])
		slices.Sort(e.authorSpecialties[i])
	}
	return nil
}

// careRows returns the record's latest document rows (current, superseded,
// archived) and abnormal results, without their sealed parts.
func (s *Service) careRows(ctx context.Context, key carnet.PatientKey) (*careEntry, error) {
	stamp, err := s.Store.RecordStamp(ctx, key)
	if err != nil {
		return nil, err
	}
	c := &s.care
	c.mu.Lock()
	if e := c.entries[key]; e != nil && e.stamp == stamp {
		c.mu.Unlock()
		return e, nil
	}
	if l := c.loading[key]; l != nil {
		c.mu.Unlock()
		select {
		case <-l.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if l.err == nil && l.e.stamp == stamp {
			return l.e, nil
		}
		return s.careRows(ctx, key) // another stamp by now: read again
	}
	l := &careLoad{done: make(chan struct{})}
	if c.loading == nil {
		c.loading = map[carnet.PatientKey]*careLoad{}
	}
	c.loading[key] = l
	prev := c.entries[key]
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.loading, key)
		c.mu.Unlock()
		close(l.done)
	}()
	l.e, l.err = s.loadCare(ctx, key, stamp, prev)
	return l.e, l.err
}

// loadCare reads a record's entry at stamp; the results of prev, the
// record's previous entry, are reused (items never change: a replaced
// document's items go with it), so that a filing costs its own results.
// The record's stored form is read first: at the current stamp (written
// by this server or another after its last change) it is the entry, one
// row instead of every document; at another, its results are reused when
// there is no previous entry in memory. An entry read from the documents
// is stored as the record's new form, in the background.
func (s *Service) loadCare(ctx context.Context, key carnet.PatientKey, stamp string, prev *careEntry) (*careEntry, error) {
	if f := s.storedCare(ctx, key, stamp, prev == nil); f != nil {
		if f.stamp == stamp {
			s.keepCare(key, f)
			return f, nil
		}
		prev = f
	}
	docs, err := s.Store.FindDocuments(ctx, key, carnet.DocumentFilter{WithoutSealed: true,
		Statuses: []carnet.DocumentStatus{carnet.StatusCurrent, carnet.StatusSuperseded, carnet.StatusArchived}})
	if err != nil {
		return nil, err
	}
	abnormal, err := s.itemToken(ctx, key, carnet.TokAbnormal, "true")
	if err != nil {
		return nil, err
	}
	items, err := s.Store.FindItems(ctx, key, carnet.ItemFilter{Kinds: []carnet.ItemKind{carnet.ItemObservation},
		Tokens: []carnet.TokenFilter{{Kind: carnet.TokAbnormal, Values: []string{abnormal}}}})
	if err != nil {
		return nil, err
	}
	e := &careEntry{stamp: stamp, docs: docs}
	if err := s.careConcepts(ctx, key, e); err != nil {
		return nil, err
	}
	for i := range e.docs {
		e.docs[i].Tokens = slices.DeleteFunc(e.docs[i].Tokens, func(t carnet.Token) bool { return notForCare[t.Kind] })
	}
	opened := map[string]careFinding{}
	if prev != nil {
		for _, f := range prev.findings {
			opened[f.ItemID] = f
		}
	}
	for _, ir := range items {
		if f, ok := opened[ir.ID]; ok && f.source == ir.SourceLogicalID {
			e.findings = append(e.findings, f)
			continue
		}
		it, err := s.openItem(ctx, ir)
		if err != nil {
			return nil, err
		}
		interp := it.Interpretation
		if interp == "" {
			interp = "A"
		}
		e.findings = append(e.findings, careFinding{source: it.SourceLogicalID,
			CareFinding: carnet.CareFinding{ItemID: it.ID, Code: it.Code, Interpretation: interp}})
	}
	if slices.ContainsFunc(docs, func(d carnet.DocumentRow) bool { return d.Version > 1 }) {
		all, err := s.Store.FindDocuments(ctx, key, carnet.DocumentFilter{WithoutSealed: true, AllVersions: true})
		if err != nil {
			return nil, err
		}
		e.filed = map[string]time.Time{}
		for _, d := range all {
			if d.Version == 1 {
				e.filed[d.LogicalID] = d.Date
			}
		}
	}
	s.keepCare(key, e)
	s.saveCare(key, e)
	return e, nil
}

// notForCare are the token kinds a care entry's rows drop once read: no
// access rule decides on them and the view does not show them. A document's
// identifiers (its ids are the row's fields), its content id and the blind
// tokens of its authors' names are each the document's own, most of what
// its row holds, and would be most of the entry kept in memory and of the
// stored form; the concepts, title words and authors' specialties are kept
// as the entry's own fields (careConcepts). The other kinds stay, whatever a future rule reads.
var notForCare = map[string]bool{
	carnet.TokIdentifier: true, carnet.TokContent: true,
	carnet.TokAuthorFamily: true, carnet.TokAuthorGiven: true,
	carnet.TokConcept: true, carnet.TokTitleKey: true, carnet.TokTitleWord: true, carnet.TokAuthorSpecialty: true,
}

// keepCare puts a record's entry in the cache, making room if needed.
func (s *Service) keepCare(key carnet.PatientKey, e *careEntry) {
	c := &s.care
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[carnet.PatientKey]*careEntry{}
	}
	if old := c.entries[key]; old != nil {
		c.rows -= len(old.docs) + len(old.findings)
		delete(c.entries, key)
	}
	n := len(e.docs) + len(e.findings)
	for k, old := range c.entries { // make room: any entries will do
		if c.rows+n <= careCacheRows {
			break
		}
		c.rows -= len(old.docs) + len(old.findings)
		delete(c.entries, k)
	}
	if n <= careCacheRows {
		c.entries[key] = e
		c.rows += n
	}
}

// visitKey names whose last visit a marker records: a professional's RPPS.
func visitKey(a carnet.Actor) string {
	if a.Kind != carnet.ActorProfessional {
		return ""
	}
	return a.ID.Value
}

func (s *Service) markVisit(ctx context.Context, key carnet.PatientKey, who string, at time.Time) error {
	return s.Store.Update(ctx, func(tx carnet.Tx) error {
		return s.rewritePatient(ctx, tx, key, func(p *carnet.Patient) (bool, error) {
			if p.Visits == nil {
				p.Visits = map[string]time.Time{}
			}
			p.Visits[who] = at
			return true, nil
		})
	})
}

// restoreVisit puts back the marker a failed card moved, unless another
// visit moved it since.
func (s *Service) restoreVisit(ctx context.Context, key carnet.PatientKey, who string, before, moved time.Time) error {
	return s.Store.Update(ctx, func(tx carnet.Tx) error {
		return s.rewritePatient(ctx, tx, key, func(p *carnet.Patient) (bool, error) {
			if !p.Visits[who].Equal(moved) {
				return false, nil
			}
			if before.IsZero() {
				delete(p.Visits, who)
			} else {
				p.Visits[who] = before
			}
			return true, nil
		})
	})
}

// careLabels flags documents whose confidentiality changed since the last
// visit: a newer metadata version with other labels than the one current
// then.
func (s *Service) careLabels(ctx context.Context, key carnet.PatientKey, view *carnet.CareView) error {
	if view.LastVisit.IsZero() {
		return nil
	}
	for i := range view.Docs {
		row := view.Docs[i].Row
		if row.Version < 2 || !row.Date.After(view.LastVisit) {
			continue
		}
		versions, err := s.Store.FindDocuments(ctx, key, carnet.DocumentFilter{LogicalID: row.LogicalID, AllVersions: true, WithoutSealed: true})
		if err != nil {
			return err
		}
		var then *carnet.DocumentRow
		for j := range versions {
			if !versions[j].Date.After(view.LastVisit) && (then == nil || versions[j].Version > then.Version) {
				then = &versions[j]
			}
		}
		if then != nil && !slices.Equal(labelTokens(*then), labelTokens(*row)) {
			view.Docs[i].LabelsChanged = true
		}
	}
	return nil
}

func labelTokens(r carnet.DocumentRow) []string {
	var out []string
	for _, t := range r.Tokens {
		if t.Kind == carnet.TokLabel {
			out = append(out, t.Value)
		}
	}
	slices.Sort(out)
	return out
}

// careText scores the visible documents for the query (BM25).
func (s *Service) careText(ctx context.Context, key carnet.PatientKey, view *carnet.CareView, byLogical func(string) (int, bool)) error {
	terms := s.Index.QueryTerms(view.Query)
	if len(terms) == 0 {
		return nil
	}
	toks := make([]string, 0, len(terms))
	for _, term := range terms {
		tok, err := s.Sealer.Token(ctx, key, termField, term)
		if err != nil {
			return err
		}
		toks = append(toks, tok)
	}
	postings, err := s.Store.TermPostings(ctx, key, toks)
	if err != nil {
		return err
	}
	docs, total, err := s.Store.TermStats(ctx, key)
	if err != nil {
		return err
	}
	for logical, score := range s.Index.Score(toks, postings, docs, total) {
		// A replaced document is kept in the index (a status is not a
		// reason to destroy what was derived) but found through its
		// replacement only.
		if i, ok := byLogical(logical); ok && view.Docs[i].Row.Status != carnet.StatusSuperseded {
			view.Docs[i].TextScore = score
		}
	}
	return nil
}
