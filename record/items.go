package record

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// itemField is the blind-index field of an item token kind: clinical codes
// (analytes, drugs, vaccines, abnormal flags) never stand in clear in the
// Store (docs/ENCRYPTION.md).
func itemField(kind string) string { return "item." + kind }

// itemToken is the blind token under which an item is found by kind and
// value, in record p.
func (s *Service) itemToken(ctx context.Context, p carnet.PatientKey, kind, value string) (string, error) {
	return s.Sealer.Token(ctx, p, itemField(kind), value)
}

// blindItemTokens turns the tokens an Extractor gives an item (or a search
// names) into the blind tokens the Store keeps.
func (s *Service) blindItemTokens(ctx context.Context, p carnet.PatientKey, ts []carnet.Token) ([]carnet.Token, error) {
	out := make([]carnet.Token, len(ts))
	for i, t := range ts {
		v, err := s.itemToken(ctx, p, t.Kind, t.Value)
		if err != nil {
			return nil, err
		}
		out[i] = carnet.Token{Kind: t.Kind, Value: v}
	}
	return out, nil
}

func (s *Service) sealItem(ctx context.Context, it carnet.Item) (carnet.ItemRow, error) {
	toks, err := s.blindItemTokens(ctx, it.Patient, it.Tokens)
	if err != nil {
		return carnet.ItemRow{}, err
	}
	row := carnet.ItemRow{Patient: it.Patient, ID: it.ID, Kind: it.Kind, SourceLogicalID: it.SourceLogicalID, Effective: it.Effective, Tokens: toks}
	pt, err := json.Marshal(it)
	if err != nil {
		return row, carnet.WrapError(carnet.KindInternal, "seal item", err)
	}
	row.Sealed, err = s.Sealer.Seal(ctx, it.Patient, carnet.Binding{Kind: "item", ID: it.ID, Version: 1}, pt)
	return row, err
}

func (s *Service) openItem(ctx context.Context, row carnet.ItemRow) (carnet.Item, error) {
	pt, err := s.Sealer.Open(ctx, row.Patient, carnet.Binding{Kind: "item", ID: row.ID, Version: 1}, row.Sealed)
	if err != nil {
		return carnet.Item{}, err
	}
	var it carnet.Item
	if err := json.Unmarshal(pt, &it); err != nil {
		return carnet.Item{}, carnet.WrapError(carnet.KindInternal, "open item", err)
	}
	it.Patient, it.ID, it.Kind = row.Patient, row.ID, row.Kind
	return it, nil
}

// visibleSources returns, for a patient, the latest row of each document
// the caller may read, by logicalId: an item is visible exactly when its
// source document is.
func (s *Service) visibleSources(ctx context.Context, a *access) (map[string]carnet.DocumentRow, error) {
	// The record's latest rows, kept under its stamp (latestRows: a change
	// from any node is seen at once), rather than read again from the
	// store on every search; each is still decided in full.
	latest, err := s.latestRows(ctx, a.row.Key)
	if err != nil {
		return nil, err
	}
	out := make(map[string]carnet.DocumentRow, len(latest))
	for id, row := range latest {
		if id != row.ID || row.Status != carnet.StatusCurrent && row.Status != carnet.StatusArchived {
			continue // an older version's entry, or not a source of items
		}
		if a.permits(carnet.ActionRead, &row) {
			out[row.LogicalID] = row
		}
	}
	return out, nil
}

// storedItemFilter is f as the Store reads it: token values blind-indexed
// per patient where the Store keeps them so.
func (s *Service) storedItemFilter(ctx context.Context, p carnet.PatientKey, f carnet.ItemFilter) (carnet.ItemFilter, error) {
	f.Tokens = slices.Clone(f.Tokens)
	for i, tf := range f.Tokens {
		vals := make([]string, len(tf.Values))
		for j, v := range tf.Values {
			var err error
			if vals[j], err = s.itemToken(ctx, p, tf.Kind, v); err != nil {
				return f, err
			}
		}
		f.Tokens[i] = carnet.TokenFilter{Kind: tf.Kind, Values: vals}
	}
	return f, nil
}

// FindItems answers a QEDm search: the patient's items whose source
// document the caller may read. The policy's condition for the caller
// goes into the store's query (an item is visible exactly when its source
// document is), with keyset paging: a page reads the items it returns and
// their documents, whatever the record holds.
func (s *Service) FindItems(ctx context.Context, r carnet.Request, q carnet.ItemQuery) (carnet.Page[carnet.Item], error) {
	// An unknown patient has nothing: zero hits, not an error.
	a, err := s.searchable(ctx, r, q.PatientKey, q.PatientID)
	if a == nil || err != nil {
		return carnet.Page[carnet.Item]{}, err
	}
	prow := a.row
	f, err := s.storedItemFilter(ctx, prow.Key, q.Filter)
	if err != nil {
		return carnet.Page[carnet.Item]{}, err
	}
	vis, ok := a.visibility()
	if !ok {
		return s.findItemsDecidingAll(ctx, a, f, q)
	}
	kind := "items"
	if q.Chronological {
		kind = "items-chronological"
	}
	tag := searchTag(kind, prow.Key, q.Filter)
	n := s.count(q.Count)
	f.Visible, f.Chronological, f.WithoutSealed = &vis, q.Chronological, false
	f.Limit = n + 1 // one more, to know whether a next page exists
	if q.Page != "" {
		at, err := decodeItemCursor(tag, q.Page)
		if err != nil {
			return carnet.Page[carnet.Item]{}, err
		}
		f.After = &at
	}
	rows, err := s.Store.FindItems(ctx, prow.Key, f)
	if err != nil {
		return carnet.Page[carnet.Item]{}, err
	}
	out := carnet.Page[carnet.Item]{Total: carnet.TotalUnknown}
	if len(rows) > n {
		rows = rows[:n]
		last := rows[n-1]
		out.Next = encodeItemCursor(tag, carnet.ItemPosition{Effective: last.Effective, ID: last.ID})
	}
	ids := make([]string, 0, len(rows))
	for i := range rows {
		// Every item served is decided in full, by its source document's
		// row, as every read is.
		if !s.sourceServed(ctx, a, rows[i], vis) {
			continue
		}
		it, err := s.openItem(ctx, rows[i])
		if err != nil {
			return carnet.Page[carnet.Item]{}, err
		}
		out.Items = append(out.Items, it)
		ids = append(ids, it.SourceLogicalID)
	}
	switch {
	case q.Total:
		if out.Total, err = s.countVisibleItems(ctx, a, f, vis); err != nil {
			return carnet.Page[carnet.Item]{}, err
		}
	case q.Page == "" && out.Next == "":
		out.Total = len(out.Items) // one page holds every match: its size is the total
	}
	return out, a.served(ctx, carnet.ActionSearch, ids)
}

// sourceServed decides in full the source document of an item the store
// found under the compiled condition vis (decideServed).
func (s *Service) sourceServed(ctx context.Context, a *access, row carnet.ItemRow, vis carnet.Cond) bool {
	if row.Source == nil || row.Source.LogicalID != row.SourceLogicalID {
		s.log().ErrorContext(ctx, "store: an item found under a visibility condition came without its source document; not served", "item", row.ID)
		return false
	}
	_, ok := a.decideServed(ctx, row.Source, vis)
	return ok
}

// countVisibleItems counts the items of f the caller may see
// (_total=accurate): the store's items under the compiled condition, each
// source document decided in full, so that a count never tells of an item
// the policy hides. Its cost grows with the matches; only a caller who
// asks pays it.
func (s *Service) countVisibleItems(ctx context.Context, a *access, f carnet.ItemFilter, vis carnet.Cond) (int, error) {
	f.After, f.Limit, f.WithoutSealed = nil, 0, true
	rows, err := s.Store.FindItems(ctx, a.row.Key, f)
	if err != nil {
		return 0, err
	}
	decided := map[string]bool{}
	n := 0
	for _, row := range rows {
		ok, seen := decided[row.SourceLogicalID]
		if !seen {
			ok = s.sourceServed(ctx, a, row, vis)
			decided[row.SourceLogicalID] = ok
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// An items cursor's position is the last item served: whether it has a
// time, its effective time (Unix microseconds, the stores' precision, big
// endian: any year fits) and its id.
func encodeItemCursor(tag []byte, at carnet.ItemPosition) string {
	pos := []byte{0}
	if !at.Effective.IsZero() {
		pos = binary.BigEndian.AppendUint64([]byte{1}, uint64(at.Effective.UnixMicro()))
	}
	return makeCursor(tag, append(pos, at.ID...))
}

func decodeItemCursor(tag []byte, c string) (carnet.ItemPosition, error) {
	pos, err := readCursor(tag, c)
	if err != nil {
		return carnet.ItemPosition{}, err
	}
	bad := badCursor("the _page cursor is not one this server made")
	switch {
	case len(pos) > 0 && pos[0] == 0 && len(pos) > 1 && len(pos) <= 1+64:
		return carnet.ItemPosition{ID: string(pos[1:])}, nil
	case len(pos) > 9 && pos[0] == 1 && len(pos) <= 9+64:
		us := int64(binary.BigEndian.Uint64(pos[1:9]))
		return carnet.ItemPosition{Effective: time.UnixMicro(us).UTC(), ID: string(pos[9:])}, nil
	}
	return carnet.ItemPosition{}, bad
}

// findItemsDecidingAll answers a QEDm search for a policy that does not
// compile its decisions: every document of the record is decided to find
// the visible sources, every match is read (clear fields), and the page is
// cut by offset.
func (s *Service) findItemsDecidingAll(ctx context.Context, a *access, f carnet.ItemFilter, q carnet.ItemQuery) (carnet.Page[carnet.Item], error) {
	prow := a.row
	sources, err := s.visibleSources(ctx, a)
	if err != nil {
		return carnet.Page[carnet.Item]{}, err
	}
	// The clear fields of every match decide and page; only the page's
	// items are read sealed (below).
	clear := f
	clear.WithoutSealed = true
	rows, err := s.Store.FindItems(ctx, prow.Key, clear)
	if err != nil {
		return carnet.Page[carnet.Item]{}, err
	}
	visible := rows[:0]
	for _, row := range rows {
		if _, ok := sources[row.SourceLogicalID]; ok {
			visible = append(visible, row)
		}
	}
	if q.Chronological {
		// The Store gives newest first, unknown times last; a chart wants
		// the dated points oldest first.
		dated := slices.IndexFunc(visible, func(r carnet.ItemRow) bool { return r.Effective.IsZero() })
		if dated < 0 {
			dated = len(visible)
		}
		slices.Reverse(visible[:dated])
	}
	tag := searchTag("items-offset", prow.Key, q.Filter)
	start := 0
	if q.Page != "" {
		pos, err := readCursor(tag, q.Page)
		if err != nil {
			return carnet.Page[carnet.Item]{}, err
		}
		n, err := strconv.Atoi(string(pos))
		if err != nil || n < 0 {
			return carnet.Page[carnet.Item]{}, badCursor("the _page cursor is not one this server made")
		}
		start = min(n, len(visible))
	}
	end := min(start+s.count(q.Count), len(visible))
	// Every match was decided: the total costs nothing more.
	out := carnet.Page[carnet.Item]{Total: len(visible)}
	if end < len(visible) {
		out.Next = makeCursor(tag, []byte(strconv.Itoa(end)))
	}
	sealed, err := s.sealedItems(ctx, prow.Key, f, visible[start:end])
	if err != nil {
		return carnet.Page[carnet.Item]{}, err
	}
	ids := make([]string, 0, end-start)
	for _, row := range visible[start:end] {
		row, ok := sealed[row.ID]
		if !ok {
			continue // gone since the first read (its document replaced)
		}
		it, err := s.openItem(ctx, row)
		if err != nil {
			return carnet.Page[carnet.Item]{}, err
		}
		out.Items = append(out.Items, it)
		ids = append(ids, it.SourceLogicalID)
	}
	return out, a.served(ctx, carnet.ActionSearch, ids)
}

// sealedItems reads, with their sealed part, the items of page (rows read
// without it by filter f): the items of the page's source documents that
// match f, by id.
func (s *Service) sealedItems(ctx context.Context, p carnet.PatientKey, f carnet.ItemFilter, page []carnet.ItemRow) (map[string]carnet.ItemRow, error) {
	if len(page) == 0 {
		return nil, nil
	}
	f.WithoutSealed, f.Limit, f.Sources = false, 0, nil
	for _, row := range page {
		if !slices.Contains(f.Sources, row.SourceLogicalID) {
			f.Sources = append(f.Sources, row.SourceLogicalID)
		}
	}
	rows, err := s.Store.FindItems(ctx, p, f)
	if err != nil {
		return nil, err
	}
	out := make(map[string]carnet.ItemRow, len(page))
	for _, row := range rows {
		out[row.ID] = row
	}
	return out, nil
}

// Item returns one item by id, if its source document is visible.
func (s *Service) Item(ctx context.Context, r carnet.Request, kind carnet.ItemKind, id string) (carnet.Item, error) {
	p, err := s.route(ctx, id)
	if err != nil {
		return carnet.Item{}, s.recordAbsent(ctx, r, carnet.ActionRead, err)
	}
	prow, err := s.Store.Patient(ctx, p)
	if err != nil {
		return carnet.Item{}, err
	}
	a, err := s.access(ctx, r, &prow)
	if err != nil {
		return carnet.Item{}, err
	}
	rows, err := s.Store.FindItems(ctx, p, carnet.ItemFilter{Kinds: []carnet.ItemKind{kind}})
	if err != nil {
		return carnet.Item{}, err
	}
	for _, row := range rows {
		if row.ID != id {
			continue
		}
		sources, err := s.visibleSources(ctx, a)
		if err != nil {
			return carnet.Item{}, err
		}
		src, ok := sources[row.SourceLogicalID]
		if !ok {
			// Denied: recorded with the source's latest row, told not found.
			_, err := a.check(ctx, carnet.ActionRead, nil)
			if err == nil {
				err = s.recordDenial(ctx, a.refusal(carnet.ActionRead, nil, "source document not visible", nil))
			}
			return carnet.Item{}, err
		}
		it, err := s.openItem(ctx, row)
		if err != nil {
			return carnet.Item{}, err
		}
		return it, a.served(ctx, carnet.ActionRead, []string{src.LogicalID})
	}
	return carnet.Item{}, s.recordAbsent(ctx, r, carnet.ActionRead, errNotFound())
}

// deriveMissing fills what a producer left out with what the document's
// header states (ITI-105 with a CDA, ITI-106). Declared values are kept:
// contradictions are the consistency check's.
func deriveMissing(d *carnet.SubmittedDocument, x carnet.Extraction) {
	m, h := &d.Meta, x.Derived
	if d.UniqueID == "" {
		d.UniqueID = x.UniqueID
	}
	if m.Type.Code == "" {
		m.Type = h.Type
	}
	if m.Class.Code == "" {
		m.Class = h.Class
	}
	if m.Format.Code == "" {
		m.Format = h.Format
	}
	if len(m.Confidentiality) == 0 {
		m.Confidentiality = h.Confidentiality
	}
	if m.Created.IsZero() {
		m.Created = h.Created
	}
	if len(m.Authors) == 0 {
		m.Authors = h.Authors
	}
	if m.Title == "" {
		m.Title = h.Title
	}
	if m.Language == "" {
		m.Language = h.Language
	}
	if m.ServicePeriod.Start.IsZero() && m.ServicePeriod.End.IsZero() {
		m.ServicePeriod = h.ServicePeriod
	}
	if len(m.Events) == 0 {
		m.Events = h.Events
	}
	if m.Facility.Code == "" {
		m.Facility = h.Facility
	}
	if m.PracticeSetting.Code == "" {
		m.PracticeSetting = h.PracticeSetting
	}
	if m.LegalAuthenticator == nil {
		m.LegalAuthenticator = h.LegalAuthenticator
	}
	if len(m.References) == 0 {
		m.References = h.References
	}
}

// PublishContent is ITI-106 Generate Metadata: the producer sends only the
// document; its metadata is read from its own header (CDA R2), and it is
// filed as ITI-105 would file it. A retry of the same document is the same
// submission. It returns the filing and the new document.
func (s *Service) PublishContent(ctx context.Context, r carnet.Request, contentType string, content []byte) (carnet.SubmissionResult, carnet.Document, error) {
	const path = "Parameters.parameter[0].resource"
	if s.Extractor == nil {
		return carnet.SubmissionResult{}, carnet.Document{}, &carnet.Error{Kind: carnet.KindUnsupported, Msg: "this server reads no document content"}
	}
	x, ok, err := s.Extractor.Extract(contentType, content)
	if err != nil {
		return carnet.SubmissionResult{}, carnet.Document{}, carnet.Invalid(carnet.Issue{Severity: "error", Code: "invalid", Diagnostics: "the document cannot be read: " + carnet.ErrorMessage(err), Expression: path})
	}
	if !ok {
		return carnet.SubmissionResult{}, carnet.Document{}, &carnet.Error{Kind: carnet.KindUnsupported, Msg: "metadata can be generated from CDA R2 documents only",
			Issues: []carnet.Issue{{Severity: "error", Code: "not-supported", Diagnostics: "metadata can be generated from CDA R2 documents only (text/xml)", Expression: path + ".contentType"}}}
	}
	if x.UniqueID == "" || x.Patient.Value == "" {
		return carnet.SubmissionResult{}, carnet.Document{}, carnet.Invalid(carnet.Issue{Severity: "error", Code: "required", Diagnostics: "the document's header names no id or no patient INS: its metadata cannot be generated", Expression: path})
	}
	if contentType == "" {
		contentType = "text/xml"
	}
	// Only the patient comes from here: Provide reads the rest of the
	// metadata from the header, as for an ITI-105 that left it out.
	sub := carnet.Submission{
		Patient: x.Patient, PatientPath: path,
		Set:       carnet.SubmissionSet{SourceID: "urn:carnet:generate-metadata", Title: x.Derived.Title, Authors: x.Derived.Authors},
		SetPath:   path,
		Documents: []carnet.SubmittedDocument{{Path: path, Meta: carnet.DocumentMeta{ContentType: contentType}, Content: content}},
	}
	res, err := s.Provide(ctx, r, sub)
	if err != nil {
		return carnet.SubmissionResult{}, carnet.Document{}, err
	}
	return res, res.Documents[0], nil
}
