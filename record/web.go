package record

import (
	"context"
	"slices"
	"strings"

	carnet "github.com/carnet-sante/carnet"
)

// RecordProfessional is a professional who appears in a record: named in
// its consents (care team, consent, block, designation) or author of a
// document the caller may see. It lets a patient pick a professional by
// name (to block them, say) instead of typing an RPPS.
type RecordProfessional struct {
	ID         carnet.Identifier // RPPS
	Name       string
	Profession string // TRE_G15 code, when an authored document says it
	Specialty  string
	Authored   int                  // documents of theirs the caller may see
	Consents   []carnet.ConsentKind // the consents naming them
}

// Professionals returns the professionals who appear in a record, by name,
// for the patient or a legal representative. The names come from the
// consents and, for authors named nowhere else, from one of their documents
// (the only ones opened, and recorded as read).
func (s *Service) Professionals(ctx context.Context, r carnet.Request, id carnet.Identifier) ([]RecordProfessional, error) {
	a, err := s.ownRecord(ctx, r, id)
	if err != nil {
		return nil, err
	}
	if err := a.patientSide(ctx, carnet.ActionRead); err != nil {
		return nil, err
	}
	byID := map[string]*RecordProfessional{}
	var order []string
	get := func(rpps string) *RecordProfessional {
		p := byID[rpps]
		if p == nil {
			p = &RecordProfessional{ID: carnet.Identifier{System: "urn:oid:" + carnet.OIDRPPS, Value: rpps}}
			byID[rpps] = p
			order = append(order, rpps)
		}
		return p
	}
	for _, c := range a.patient.Consents {
		if !c.Kind.NamesProfessional() || c.Professional.Value == "" {
			continue
		}
		p := get(c.Professional.Value)
		p.Consents = append(p.Consents, c.Kind)
		if p.Name == "" {
			p.Name = c.ProfessionalName
		}
	}
	e, err := s.careRows(ctx, a.row.Key)
	if err != nil {
		return nil, err
	}
	example := map[string]string{} // an RPPS → a document of theirs
	for i := range e.docs {
		if !a.permits(carnet.ActionRead, &e.docs[i]) {
			continue
		}
		for _, t := range e.docs[i].Tokens {
			if t.Kind != carnet.TokAuthor {
				continue
			}
			get(t.Value).Authored++
			if _, ok := example[t.Value]; !ok {
				example[t.Value] = e.docs[i].ID
			}
		}
	}
	var opened []string
	for _, rpps := range order {
		p := byID[rpps]
		docID, ok := example[rpps]
		if !ok || (p.Name != "" && p.Profession != "") {
			continue
		}
		row, err := s.Store.Document(ctx, a.row.Key, docID)
		if err != nil {
			return nil, err
		}
		d, err := s.openDocument(ctx, row)
		if err != nil {
			return nil, err
		}
		opened = append(opened, docID)
		for _, au := range d.Meta.Authors {
			if au.ID.Value != rpps {
				continue
			}
			if n := au.DisplayName(); n != "" {
				p.Name = n
			}
			p.Profession, p.Specialty = au.Profession.Code, au.Specialty.Code
		}
	}
	out := make([]RecordProfessional, 0, len(order))
	for _, rpps := range order {
		out = append(out, *byID[rpps])
	}
	slices.SortStableFunc(out, func(x, y RecordProfessional) int {
		return strings.Compare(carnet.FoldName(sortName(x.Name)), carnet.FoldName(sortName(y.Name)))
	})
	return out, s.audit(ctx, r, carnet.ActionRead, a.row.Key, opened)
}

// sortName orders "Dr Jeanne Martin" under Jeanne Martin.
func sortName(n string) string { return strings.TrimPrefix(n, "Dr ") }

// InRecord reports whether id (a document's) belongs to record key,
// deciding nothing and revealing nothing: the web space checks a document
// named under one record before asking for it in that record's emergency
// mode, so that an emergency access to one record never opens another's.
func (s *Service) InRecord(ctx context.Context, id string, key carnet.PatientKey) bool {
	p, err := s.Store.Route(ctx, id)
	return err == nil && p == key
}

// LabResults returns the record's items matching f whose source document
// the caller may read, newest first, at most limit of them opened, and how
// many match, counted up to limit+1 (limit+1 means "more than limit"):
// the web space's lab trends. It answers what FindItems answers, deciding
// on the record's cached clear rows (as PointOfCare does), reading the
// clear rows in order only until limit+1 visible ones are found, and the
// sealed part of the items shown only, so that its cost does not grow with
// the record's results.
func (s *Service) LabResults(ctx context.Context, r carnet.Request, key carnet.PatientKey, f carnet.ItemFilter, limit int) ([]carnet.Item, int, error) {
	a, err := s.searchable(ctx, r, key, carnet.Identifier{})
	if err != nil {
		return nil, 0, err
	}
	if a == nil {
		// A page of a record: absent or not to be opened look the same,
		// as the record's own page (404).
		return nil, 0, errNotFound()
	}
	e, err := s.careRows(ctx, a.row.Key)
	if err != nil {
		return nil, 0, err
	}
	visible := make(map[string]bool, len(e.docs))
	for i := range e.docs {
		// As FindItems: items follow their document's latest row; a
		// superseded document's items went with it.
		if e.docs[i].Status != carnet.StatusSuperseded && a.permits(carnet.ActionRead, &e.docs[i]) {
			visible[e.docs[i].LogicalID] = true
		}
	}
	f, err = s.storedItemFilter(ctx, a.row.Key, f)
	if err != nil {
		return nil, 0, err
	}
	// The newest clear rows, as many as may hold limit+1 visible ones;
	// read again, further, when hidden documents' items took their place.
	clear := f
	clear.WithoutSealed = true
	clear.Limit = max(2*(limit+1), 64)
	var rows []carnet.ItemRow
	for {
		read, err := s.Store.FindItems(ctx, a.row.Key, clear)
		if err != nil {
			return nil, 0, err
		}
		rows = slices.DeleteFunc(read, func(row carnet.ItemRow) bool { return !visible[row.SourceLogicalID] })
		if len(rows) > limit || len(read) < clear.Limit {
			break
		}
		clear.Limit *= 4
	}
	total := min(len(rows), limit+1)
	if len(rows) > limit {
		rows = rows[:limit]
	}
	want := make(map[string]bool, len(rows))
	var sources []string
	for _, row := range rows {
		want[row.ID] = true
		if !slices.Contains(sources, row.SourceLogicalID) {
			sources = append(sources, row.SourceLogicalID)
		}
	}
	var out []carnet.Item
	var served []string
	if len(sources) > 0 {
		sealed := f
		sealed.WithoutSealed, sealed.Sources = false, sources
		full, err := s.Store.FindItems(ctx, a.row.Key, sealed)
		if err != nil {
			return nil, 0, err
		}
		for _, row := range full {
			if !want[row.ID] {
				continue
			}
			it, err := s.openItem(ctx, row)
			if err != nil {
				return nil, 0, err
			}
			out = append(out, it)
			if !slices.Contains(served, it.SourceID) {
				served = append(served, it.SourceID)
			}
		}
	}
	return out, total, a.served(ctx, carnet.ActionSearch, served)
}
