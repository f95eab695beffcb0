package record

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

func (s *Service) openDocument(ctx context.Context, row carnet.DocumentRow) (carnet.Document, error) {
	pt, err := s.Sealer.Open(ctx, row.Patient, carnet.Binding{Kind: "document", ID: row.ID, Version: row.Version}, row.Sealed)
	if err != nil {
		return carnet.Document{}, err
	}
	var d carnet.Document
	if err := json.Unmarshal(pt, &d); err != nil {
		return carnet.Document{}, carnet.WrapError(carnet.KindInternal, "open document", err)
	}
	// The row is authoritative for what changes in place.
	d.Patient, d.ID, d.LogicalID, d.UniqueID = row.Patient, row.ID, row.LogicalID, row.UniqueID
	d.Version, d.Latest, d.Status, d.SubmissionSet, d.ContentID, d.Date = row.Version, row.Latest, row.Status, row.SubmissionSet, row.ContentID, row.Date
	return d, nil
}

// sealDocument builds the stored row of d: clear tokens and dates, the rest sealed.
func (s *Service) sealDocument(ctx context.Context, d carnet.Document) (carnet.DocumentRow, error) {
	row := carnet.DocumentRow{
		Patient: d.Patient, ID: d.ID, LogicalID: d.LogicalID, UniqueID: d.UniqueID, Version: d.Version,
		Latest: d.Latest, Status: d.Status, SubmissionSet: d.SubmissionSet, ContentID: d.ContentID,
		Date: d.Date, Created: d.Meta.Created, PeriodStart: d.Meta.ServicePeriod.Start, PeriodEnd: d.Meta.ServicePeriod.End,
		Tokens: carnet.DocumentTokens(d), Filer: d.Filer,
	}
	// Event codes (conditions, acts) are clinical: blind-indexed per
	// patient, like author names; nothing the policy reads.
	for i, t := range row.Tokens {
		if t.Kind == carnet.TokEvent {
			tok, err := s.Sealer.Token(ctx, d.Patient, carnet.TokEvent, t.Value)
			if err != nil {
				return row, err
			}
			row.Tokens[i].Value = tok
		}
	}
	for _, a := range d.Meta.Authors {
		for kind, names := range map[string][]string{carnet.TokAuthorFamily: {a.Family}, carnet.TokAuthorGiven: a.Given} {
			for _, n := range names {
				if n = carnet.FoldName(n); n == "" {
					continue
				}
				tok, err := s.Sealer.Token(ctx, d.Patient, kind, n)
				if err != nil {
					return row, err
				}
				row.Tokens = append(row.Tokens, carnet.Token{Kind: kind, Value: tok})
			}
		}
	}
	// What the point-of-care ranking reads without opening the document:
	// its concepts, for series a key of its title, the title's words and
	// the authors' specialties the ranking weighs; blind per patient.
	blind := func(kind string, values ...string) error {
		for _, v := range values {
			tok, err := s.Sealer.Token(ctx, d.Patient, kind, v)
			if err != nil {
				return err
			}
			row.Tokens = append(row.Tokens, carnet.Token{Kind: kind, Value: tok})
		}
		return nil
	}
	if err := blind(carnet.TokConcept, d.Concepts...); err != nil {
		return row, err
	}
	if title := carnet.TitleKey(d.Meta.Title, d.Meta.Type.Display); title != "" {
		if err := blind(carnet.TokTitleKey, title); err != nil {
			return row, err
		}
	}
	if tw, ok := s.Concepts.(carnet.TitleWordReader); ok {
		if err := blind(carnet.TokTitleWord, tw.TitleWords(d.Meta.Title)...); err != nil {
			return row, err
		}
	}
	if as, ok := s.Concepts.(carnet.AuthorSpecialtyReader); ok {
		if err := blind(carnet.TokAuthorSpecialty, as.AuthorSpecialties(d.Meta.Authors)...); err != nil {
			return row, err
		}
	}
	if len(d.Meta.SHA256) > 0 {
		// Duplicates (the same content filed twice) are found without
		// unsealing: by a blind token of the content's hash.
		tok, err := s.Sealer.Token(ctx, d.Patient, carnet.TokContentHash, hex.EncodeToString(d.Meta.SHA256))
		if err != nil {
			return row, err
		}
		row.Tokens = append(row.Tokens, carnet.Token{Kind: carnet.TokContentHash, Value: tok})
	}
	slices.SortFunc(row.Tokens, func(a, b carnet.Token) int { return strings.Compare(a.Kind+"\x00"+a.Value, b.Kind+"\x00"+b.Value) })
	row.Tokens = slices.Compact(row.Tokens)
	pt, err := json.Marshal(d)
	if err != nil {
		return row, carnet.WrapError(carnet.KindInternal, "seal document", err)
	}
	row.Sealed, err = s.Sealer.Seal(ctx, d.Patient, carnet.Binding{Kind: "document", ID: d.ID, Version: d.Version}, pt)
	return row, err
}

// openShown is openDocument for a reader: the relations (relatesTo) whose
// target the caller may not read — a document masked to them, hidden,
// restricted, or unknown — are removed, so that a replacement or an addendum
// never tells of a document the reader cannot see (security review 3, N1).
// One decision per target and request, on the target as it is now.
func (s *Service) openShown(ctx context.Context, a *access, row carnet.DocumentRow) (carnet.Document, error) {
	d, err := s.openDocument(ctx, row)
	if err != nil {
		return d, err
	}
	return d, s.showRelations(ctx, a, &d)
}

// showRelations removes from d's relatesTo what the caller may not read.
func (s *Service) showRelations(ctx context.Context, a *access, d *carnet.Document) error {
	if len(d.Meta.RelatesTo) == 0 {
		return nil
	}
	kept := make([]carnet.Relation, 0, len(d.Meta.RelatesTo))
	for _, rel := range d.Meta.RelatesTo {
		ok, known := a.shown[rel.Target]
		if !known {
			var err error
			if ok, err = s.relationShown(ctx, a, rel.Target); err != nil {
				return err
			}
			if a.shown == nil {
				a.shown = map[string]bool{}
			}
			a.shown[rel.Target] = ok
		}
		if ok {
			kept = append(kept, rel)
		}
	}
	if len(kept) == 0 {
		kept = nil
	}
	d.Meta.RelatesTo = kept
	return nil
}

// relationShown says whether the caller may read the document target names.
func (s *Service) relationShown(ctx context.Context, a *access, target string) (bool, error) {
	row, err := s.Store.Document(ctx, a.row.Key, target)
	if carnet.IsKind(err, carnet.KindNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	latest, err := s.latestOf(ctx, s.Store, row)
	if err != nil {
		return false, err
	}
	return a.permits(carnet.ActionRead, &latest), nil
}

// Document returns one metadata version of a document (GET
// DocumentReference/{id}).
func (s *Service) Document(ctx context.Context, r carnet.Request, id string) (carnet.Document, []string, error) {
	return s.DocumentVersion(ctx, r, id, 0)
}

// DocumentVersion returns version vid of a document (vread: GET
// DocumentReference/{id}/_history/{vid}); vid 0 is the document as it is now
// (its latest version: an older one is never served as current). id is the
// document's FHIR id (its logicalId) or the entryUUID of any of its
// versions. Every version is decided as the document is now.
func (s *Service) DocumentVersion(ctx context.Context, r carnet.Request, id string, vid int) (carnet.Document, []string, error) {
	p, err := s.route(ctx, id)
	if err != nil {
		return carnet.Document{}, nil, s.recordAbsent(ctx, r, carnet.ActionRead, err)
	}
	row, err := s.Store.Document(ctx, p, id)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	prow, err := s.Store.Patient(ctx, p)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	a, err := s.access(ctx, r, &prow)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	versions, err := s.Store.FindDocuments(ctx, p, carnet.DocumentFilter{LogicalID: row.LogicalID, AllVersions: true})
	if err != nil {
		return carnet.Document{}, nil, err
	}
	current := row
	for _, v := range versions {
		if v.Latest {
			current = v
		}
	}
	dec, err := a.check(ctx, carnet.ActionRead, &current)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	served := current
	if vid != 0 {
		i := slices.IndexFunc(versions, func(v carnet.DocumentRow) bool { return v.Version == vid })
		if i < 0 {
			return carnet.Document{}, nil, s.recordDenial(ctx, a.refusal(carnet.ActionRead, &current, "no such version", nil))
		}
		served = versions[i]
	}
	d, err := s.openShown(ctx, a, served)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	return d, dec.Warnings, a.served(ctx, carnet.ActionRead, []string{served.LogicalID}, dec)
}

// DocumentHistory returns every metadata version of a document, newest
// first (GET DocumentReference/{id}/_history), decided as the document is
// now.
func (s *Service) DocumentHistory(ctx context.Context, r carnet.Request, id string) ([]carnet.Document, error) {
	p, err := s.route(ctx, id)
	if err != nil {
		return nil, s.recordAbsent(ctx, r, carnet.ActionRead, err)
	}
	row, err := s.Store.Document(ctx, p, id)
	if err != nil {
		return nil, err
	}
	prow, err := s.Store.Patient(ctx, p)
	if err != nil {
		return nil, err
	}
	a, err := s.access(ctx, r, &prow)
	if err != nil {
		return nil, err
	}
	versions, err := s.Store.FindDocuments(ctx, p, carnet.DocumentFilter{LogicalID: row.LogicalID, AllVersions: true})
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(versions, func(v carnet.DocumentRow) bool { return v.Latest })
	if i < 0 {
		return nil, errNotFound()
	}
	dec, err := a.check(ctx, carnet.ActionRead, &versions[i])
	if err != nil {
		return nil, err
	}
	slices.SortFunc(versions, func(x, y carnet.DocumentRow) int { return y.Version - x.Version })
	out := make([]carnet.Document, 0, len(versions))
	for _, v := range versions {
		d, err := s.openShown(ctx, a, v)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, a.served(ctx, carnet.ActionRead, []string{row.LogicalID}, dec)
}

// Content returns a document's bytes by content id (ITI-68), checked
// against the hash recorded when it was filed.
func (s *Service) Content(ctx context.Context, r carnet.Request, contentID string) (carnet.Document, []byte, error) {
	p, err := s.route(ctx, contentID)
	if err != nil {
		return carnet.Document{}, nil, s.recordAbsent(ctx, r, carnet.ActionRead, err)
	}
	rows, err := s.Store.FindDocuments(ctx, p, carnet.DocumentFilter{Tokens: []carnet.TokenFilter{{Kind: carnet.TokContent, Values: []string{contentID}}}})
	if err != nil {
		return carnet.Document{}, nil, err
	}
	if len(rows) == 0 {
		return carnet.Document{}, nil, s.recordAbsent(ctx, r, carnet.ActionRead, errNotFound())
	}
	row := rows[0]
	prow, err := s.Store.Patient(ctx, p)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	a, err := s.access(ctx, r, &prow)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	if row.Status == carnet.StatusDeleted && a.couldRead(row) {
		return carnet.Document{}, nil, carnet.Errorf(carnet.KindGone, "this document was deleted by its author")
	}
	dec, err := a.check(ctx, carnet.ActionRead, &row)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	d, err := s.openShown(ctx, a, row)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	sealed, err := s.Store.Content(ctx, p, contentID)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	b, err := s.Sealer.Open(ctx, p, carnet.Binding{Kind: "content", ID: contentID, Version: 1}, sealed)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	sum := sha256.Sum256(b)
	if subtle.ConstantTimeCompare(sum[:], d.Meta.SHA256) != 1 || int64(len(b)) != d.Meta.Size {
		return carnet.Document{}, nil, carnet.WrapError(carnet.KindInternal, "content", fmt.Errorf("content %s does not match its recorded hash", contentID))
	}
	return d, b, a.served(ctx, carnet.ActionRead, []string{row.LogicalID}, dec)
}

// searchable resolves the record a search names and asks the policy. It
// returns nil (and no error) when there is nothing to search: an unknown
// patient (zero hits, audited) or a denied search (looks the same).
func (s *Service) searchable(ctx context.Context, r carnet.Request, key carnet.PatientKey, id carnet.Identifier) (*access, error) {
	if key == "" && id.Value == "" && r.Actor.Kind == carnet.ActorPatient {
		id = r.Actor.ID // a patient searches their own record
	}
	if id.Value != "" {
		// A malformed INS, or an identifier that is not an INS, is said:
		// it says nothing of any record.
		if issues := s.checkINS(id, "patient.identifier"); len(issues) > 0 {
			return nil, carnet.Invalid(issues...)
		}
	}
	prow, err := s.resolvePatient(ctx, key, id)
	if carnet.IsKind(err, carnet.KindNotFound) {
		return nil, s.audit(ctx, r, carnet.ActionSearch, "", nil)
	}
	if err != nil {
		return nil, err
	}
	a, err := s.access(ctx, r, &prow)
	if err != nil {
		return nil, err
	}
	if _, err := a.check(ctx, carnet.ActionSearch, nil); err != nil {
		if carnet.IsKind(err, carnet.KindNotFound) {
			return nil, nil
		}
		return nil, err
	}
	return a, nil
}

// FindDocuments answers ITI-67. Policy filtering happens before paging and
// totals; only the page is unsealed.
func (s *Service) FindDocuments(ctx context.Context, r carnet.Request, q carnet.DocumentSearch) (carnet.Page[carnet.Document], error) {
	// An unknown patient has nothing: zero hits, not an error.
	a, err := s.searchable(ctx, r, q.PatientKey, q.PatientID)
	if a == nil || err != nil {
		return carnet.Page[carnet.Document]{}, err
	}
	prow := a.row
	f := q.Filter
	f.Tokens = slices.Clone(f.Tokens)
	for i, tf := range f.Tokens {
		if tf.Kind != carnet.TokAuthorFamily && tf.Kind != carnet.TokAuthorGiven && tf.Kind != carnet.TokEvent {
			continue
		}
		vals := make([]string, 0, len(tf.Values))
		for _, v := range tf.Values {
			if tf.Kind != carnet.TokEvent {
				v = carnet.FoldName(v)
			}
			tok, err := s.Sealer.Token(ctx, prow.Key, tf.Kind, v)
			if err != nil {
				return carnet.Page[carnet.Document]{}, err
			}
			vals = append(vals, tok)
		}
		f.Tokens[i] = carnet.TokenFilter{Kind: tf.Kind, Values: vals}
	}
	if len(f.Statuses) == 0 {
		f.Statuses = []carnet.DocumentStatus{carnet.StatusCurrent, carnet.StatusSuperseded, carnet.StatusArchived}
	}
	tag := searchTag("DocumentReference", prow.Key, q.Filter)
	vis, ok := a.visibility()
	if !ok {
		return s.findDocumentsDecidingAll(ctx, a, f, q, tag)
	}
	// The policy's condition for this caller goes into the query: the store
	// returns the page the caller may see, and nothing else is read.
	n := s.count(q.Count)
	f.Visible = &vis
	f.Limit = n + 1 // one more, to know whether a next page exists
	if q.Page != "" {
		at, id, err := decodeCursor(tag, q.Page)
		if err != nil {
			return carnet.Page[carnet.Document]{}, err
		}
		f.After = &carnet.Position{Date: at, ID: id}
	}
	rows, err := s.Store.FindDocuments(ctx, prow.Key, f)
	if err != nil {
		return carnet.Page[carnet.Document]{}, err
	}
	out := carnet.Page[carnet.Document]{Total: carnet.TotalUnknown}
	if len(rows) > n {
		rows = rows[:n]
		last := rows[n-1]
		out.Next = encodeCursor(tag, last.Date, last.ID)
	}
	var warnings []string
	ids := make([]string, 0, len(rows))
	for i := range rows {
		// Every document served is decided in full, as every read is.
		dec, ok := a.decideServed(ctx, &rows[i], vis)
		if !ok {
			continue
		}
		warnings = append(warnings, dec.Warnings...)
		// Shared with other pages' decodings: showRelations assigns a new
		// relatesTo, it never writes into the shared one.
		d, err := s.openDocumentShared(ctx, rows[i])
		if err == nil {
			err = s.showRelations(ctx, a, &d)
		}
		if err != nil {
			return carnet.Page[carnet.Document]{}, err
		}
		out.Items = append(out.Items, d)
		ids = append(ids, d.LogicalID)
	}
	out.Warnings = compactWarnings(warnings)
	switch {
	case q.Total:
		if out.Total, err = s.countVisible(ctx, a, f, vis); err != nil {
			return carnet.Page[carnet.Document]{}, err
		}
	case q.Page == "" && out.Next == "":
		out.Total = len(out.Items) // one page holds every match: its size is the total
	}
	return out, a.served(ctx, carnet.ActionSearch, ids)
}

// visibility compiles the policy's decision on reading this record's
// documents into a condition the store evaluates (carnet.VisibilityCompiler).
func (a *access) visibility() (carnet.Cond, bool) {
	vc, ok := a.s.Policy.(carnet.VisibilityCompiler)
	if !ok {
		return carnet.Cond{}, false
	}
	return vc.Visibility(a.request(carnet.ActionRead, nil))
}

// decideServed decides in full a row the store found under the compiled
// condition vis. The two agree (policy.TestVisibilityAgrees); should they
// not, the full decision wins, the row is not served and the disagreement
// is logged as the fault it is.
func (a *access) decideServed(ctx context.Context, row *carnet.DocumentRow, vis carnet.Cond) (carnet.Decision, bool) {
	dec := a.decide(carnet.ActionRead, row)
	if !dec.Permit {
		a.s.log().ErrorContext(ctx, "policy: the compiled visibility condition let through a document the policy denies; not served",
			"document", row.ID, "actor_kind", a.r.Actor.Kind, "condition", vis.String(), "reasons", dec.Reasons)
		return dec, false
	}
	return dec, true
}

// countVisible counts the documents of f the caller may see
// (_total=accurate): the store's rows under the compiled condition, each
// decided in full, so that a count never tells of a document the policy
// hides. Its cost grows with the matches; only a caller who asks pays it.
func (s *Service) countVisible(ctx context.Context, a *access, f carnet.DocumentFilter, vis carnet.Cond) (int, error) {
	f.After, f.Limit, f.WithoutSealed = nil, 0, true
	rows, err := s.Store.FindDocuments(ctx, a.row.Key, f)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range rows {
		if _, ok := a.decideServed(ctx, &rows[i], vis); ok {
			n++
		}
	}
	return n, nil
}

// compactWarnings keeps each warning once, in first-seen order.
func compactWarnings(ws []string) []string {
	var out []string
	for _, w := range ws {
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

// findDocumentsDecidingAll answers ITI-67 for a policy that does not
// compile its decisions: every match is decided before paging.
func (s *Service) findDocumentsDecidingAll(ctx context.Context, a *access, f carnet.DocumentFilter, q carnet.DocumentSearch, tag []byte) (carnet.Page[carnet.Document], error) {
	f.WithoutSealed = true // decide on clear fields; unseal the page only
	rows, err := s.Store.FindDocuments(ctx, a.row.Key, f)
	if err != nil {
		return carnet.Page[carnet.Document]{}, err
	}
	var warnings []string
	visible := rows[:0]
	for i := range rows {
		if dec := a.decide(carnet.ActionRead, &rows[i]); dec.Permit {
			visible = append(visible, rows[i])
			warnings = append(warnings, dec.Warnings...)
		}
	}
	page, next, err := s.pageOf(visible, q.Count, q.Page, tag)
	if err != nil {
		return carnet.Page[carnet.Document]{}, err
	}
	// Every match was decided: the total costs nothing more.
	out := carnet.Page[carnet.Document]{Total: len(visible), Next: next, Warnings: compactWarnings(warnings)}
	ids := make([]string, 0, len(page))
	for _, row := range page {
		if row, err = s.Store.Document(ctx, a.row.Key, row.ID); err != nil {
			return carnet.Page[carnet.Document]{}, err
		}
		d, err := s.openShown(ctx, a, row)
		if err != nil {
			return carnet.Page[carnet.Document]{}, err
		}
		out.Items = append(out.Items, d)
		ids = append(ids, d.LogicalID)
	}
	return out, a.served(ctx, carnet.ActionSearch, ids)
}

func (s *Service) count(n int) int {
	def, max := s.DefaultCount, s.MaxCount
	if def <= 0 {
		def = 20
	}
	if max <= 0 {
		max = 200
	}
	switch {
	case n <= 0:
		return def
	case n > max:
		return max
	}
	return n
}

// pageOf cuts rows (sorted by date desc, id asc) after the cursor. The
// cursor names the last row served, so pages stay stable when documents
// are added meanwhile.
func (s *Service) pageOf(rows []carnet.DocumentRow, count int, cursor string, tag []byte) ([]carnet.DocumentRow, string, error) {
	n := s.count(count)
	start := 0
	if cursor != "" {
		at, id, err := decodeCursor(tag, cursor)
		if err != nil {
			return nil, "", err
		}
		start = len(rows)
		for i, r := range rows {
			if r.Date.Before(at) || (r.Date.Equal(at) && r.ID > id) {
				start = i
				break
			}
		}
	}
	end := min(start+n, len(rows))
	next := ""
	if end < len(rows) && end > start {
		last := rows[end-1]
		next = encodeCursor(tag, last.Date, last.ID)
	}
	return rows[start:end], next, nil
}

// A documents cursor's position is the last row served: its date (Unix
// nanoseconds, big endian) and id.
func encodeCursor(tag []byte, at time.Time, id string) string {
	pos := binary.BigEndian.AppendUint64(nil, uint64(at.UnixNano()))
	return makeCursor(tag, append(pos, id...))
}

func decodeCursor(tag []byte, c string) (time.Time, string, error) {
	pos, err := readCursor(tag, c)
	if err != nil {
		return time.Time{}, "", err
	}
	if len(pos) < 8 || len(pos) > 8+64 {
		return time.Time{}, "", badCursor("the _page cursor is not one this server made")
	}
	ns := int64(binary.BigEndian.Uint64(pos[:8]))
	return time.Unix(0, ns).UTC(), string(pos[8:]), nil
}

// ---- submission sets ----

func (s *Service) openSet(ctx context.Context, row carnet.SubmissionSetRow) (carnet.SubmissionSet, error) {
	pt, err := s.Sealer.Open(ctx, row.Patient, carnet.Binding{Kind: "submissionset", ID: row.ID, Version: 1}, row.Sealed)
	if err != nil {
		return carnet.SubmissionSet{}, err
	}
	var set carnet.SubmissionSet
	if err := json.Unmarshal(pt, &set); err != nil {
		return carnet.SubmissionSet{}, carnet.WrapError(carnet.KindInternal, "open submission set", err)
	}
	return set, nil
}

// latestOf returns the latest metadata version of row's document: the one
// whose labels and status decide access to every version.
func (s *Service) latestOf(ctx context.Context, r carnet.Reader, row carnet.DocumentRow) (carnet.DocumentRow, error) {
	if row.Latest {
		return row, nil
	}
	rows, err := r.FindDocuments(ctx, row.Patient, carnet.DocumentFilter{LogicalID: row.LogicalID, WithoutSealed: true})
	if err != nil {
		return carnet.DocumentRow{}, err
	}
	if len(rows) == 0 {
		return row, nil
	}
	return rows[0], nil
}

// visibleSet keeps of a submission set the documents the caller may see;
// a set of which the caller sees nothing is not shown at all (false), so
// that a restricted or masked document does not show through its set, and
// a set of which they see only some documents is shown without its title.
func (s *Service) visibleSet(ctx context.Context, a *access, set carnet.SubmissionSet) (carnet.SubmissionSet, bool, error) {
	rows, err := s.Store.FindDocuments(ctx, a.row.Key, carnet.DocumentFilter{SubmissionSet: set.ID, AllVersions: true, WithoutSealed: true})
	if err != nil {
		return set, false, err
	}
	// Every version is decided as its document is now (its latest row).
	latest := make(map[string]bool, len(rows))
	for i := range rows {
		if rows[i].Latest {
			latest[rows[i].LogicalID] = a.permits(carnet.ActionRead, &rows[i])
		}
	}
	ok := make(map[string]bool, len(rows))
	for i := range rows {
		ok[rows[i].ID] = latest[rows[i].LogicalID]
	}
	kept := set.Documents[:0:0]
	for _, id := range set.Documents {
		if ok[id] {
			kept = append(kept, id)
		}
	}
	if len(kept) < len(set.Documents) {
		// The set's title is free text written for all its documents
		// ("Bilan psychiatrique et compte rendu"): served only to a
		// caller who sees them all (security review 3, N7).
		set.Title = ""
	}
	set.Documents = kept
	return set, len(kept) > 0, nil
}

// FindLists answers ITI-66 (submission sets; folders are not supported).
func (s *Service) FindLists(ctx context.Context, r carnet.Request, q carnet.ListSearch) (carnet.Page[carnet.SubmissionSet], error) {
	// An unknown patient has nothing: zero hits, not an error.
	a, err := s.searchable(ctx, r, q.PatientKey, q.PatientID)
	if a == nil || err != nil {
		return carnet.Page[carnet.SubmissionSet]{}, err
	}
	rows, err := s.Store.FindSubmissionSets(ctx, a.row.Key, q.Filter)
	if err != nil {
		return carnet.Page[carnet.SubmissionSet]{}, err
	}
	// A set shows only the documents the caller may see; sets are few per
	// patient, so they are opened and filtered before paging.
	var sets []carnet.SubmissionSet
	for _, row := range rows {
		set, err := s.openSet(ctx, row)
		if err != nil {
			return carnet.Page[carnet.SubmissionSet]{}, err
		}
		set, ok, err := s.visibleSet(ctx, a, set)
		if err != nil {
			return carnet.Page[carnet.SubmissionSet]{}, err
		}
		if ok {
			sets = append(sets, set)
		}
	}
	n := s.count(q.Count)
	tag := searchTag("List", a.row.Key, q.Filter)
	start := 0
	if q.Page != "" {
		pos, err := readCursor(tag, q.Page)
		if err != nil {
			return carnet.Page[carnet.SubmissionSet]{}, err
		}
		// After the last set served (gone since: from the start of what
		// came after it in the order, i.e. the end).
		start = len(sets)
		for i, set := range sets {
			if set.ID == string(pos) {
				start = i + 1
				break
			}
		}
	}
	end := min(start+n, len(sets))
	out := carnet.Page[carnet.SubmissionSet]{Total: len(sets)}
	if end < len(sets) && end > start {
		out.Next = makeCursor(tag, []byte(sets[end-1].ID))
	}
	out.Items = append(out.Items, sets[start:end]...)
	return out, a.served(ctx, carnet.ActionSearch, nil)
}

// List returns one submission set by id.
func (s *Service) List(ctx context.Context, r carnet.Request, id string) (carnet.SubmissionSet, error) {
	p, err := s.route(ctx, id)
	if err != nil {
		return carnet.SubmissionSet{}, s.recordAbsent(ctx, r, carnet.ActionRead, err)
	}
	row, err := s.Store.SubmissionSet(ctx, p, id)
	if err != nil {
		return carnet.SubmissionSet{}, err
	}
	prow, err := s.Store.Patient(ctx, p)
	if err != nil {
		return carnet.SubmissionSet{}, err
	}
	a, err := s.access(ctx, r, &prow)
	if err != nil {
		return carnet.SubmissionSet{}, err
	}
	if _, err := a.check(ctx, carnet.ActionRead, nil); err != nil {
		return carnet.SubmissionSet{}, err
	}
	set, err := s.openSet(ctx, row)
	if err != nil {
		return carnet.SubmissionSet{}, err
	}
	set, ok, err := s.visibleSet(ctx, a, set)
	if err != nil {
		return carnet.SubmissionSet{}, err
	}
	if !ok {
		return carnet.SubmissionSet{}, s.recordDenial(ctx, a.refusal(carnet.ActionRead, nil, "no document of the submission set is visible", nil))
	}
	return set, a.served(ctx, carnet.ActionRead, set.Documents)
}

// UniqueIDRecords returns the records (at most limit) holding a current
// document version with this uniqueId, for transactions that name a
// document by uniqueId and no patient (XDS.b ITI-43). It reveals only
// record keys: each record is then searched through the policy and the
// audit (FindDocuments, Content), where a caller who may not read it finds
// nothing.
func (s *Service) UniqueIDRecords(ctx context.Context, uniqueID string, limit int) ([]carnet.PatientKey, error) {
	uniqueID = carnet.NormalizeIdentifier(uniqueID)
	if uniqueID == "" || limit <= 0 {
		return nil, nil
	}
	return s.Store.UniqueIDRecords(ctx, uniqueID, limit)
}

// SetUniqueIDRecords returns the records (at most limit) holding a
// submission set with this uniqueId, for XDS.b's GetSubmissionSetAndContents,
// which may name a set by uniqueId and no patient. Like UniqueIDRecords it
// reveals only record keys: each record is then searched through the policy
// and the audit (FindLists).
func (s *Service) SetUniqueIDRecords(ctx context.Context, uniqueID string, limit int) ([]carnet.PatientKey, error) {
	uniqueID = carnet.NormalizeIdentifier(uniqueID)
	if uniqueID == "" || limit <= 0 {
		return nil, nil
	}
	return s.Store.SetUniqueIDRecords(ctx, uniqueID, limit)
}
