package carnet

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"math/big"
	"slices"
	"strconv"
)

// ItemQuery is a QEDm search in domain terms. Exactly one of PatientKey and
// PatientID is set.
type ItemQuery struct {
	PatientKey PatientKey
	PatientID  Identifier
	Filter     ItemFilter
	Count      int
	Page       string // opaque cursor from a previous page
	// Chronological orders the oldest first (_sort=date): a series of one
	// analyte, ready to chart. Otherwise the newest come first.
	Chronological bool
}

func (s *Service) sealItem(ctx context.Context, it Item) (ItemRow, error) {
	row := ItemRow{Patient: it.Patient, ID: it.ID, Kind: it.Kind, SourceLogicalID: it.SourceLogicalID, Effective: it.Effective, Tokens: it.Tokens}
	pt, err := json.Marshal(it)
	if err != nil {
		return row, WrapError(KindInternal, "seal item", err)
	}
	row.Sealed, err = s.Sealer.Seal(ctx, it.Patient, Binding{Kind: "item", ID: it.ID, Version: 1}, pt)
	return row, err
}

func (s *Service) openItem(ctx context.Context, row ItemRow) (Item, error) {
	pt, err := s.Sealer.Open(ctx, row.Patient, Binding{Kind: "item", ID: row.ID, Version: 1}, row.Sealed)
	if err != nil {
		return Item{}, err
	}
	var it Item
	if err := json.Unmarshal(pt, &it); err != nil {
		return Item{}, WrapError(KindInternal, "open item", err)
	}
	it.Patient, it.ID, it.Kind = row.Patient, row.ID, row.Kind
	return it, nil
}

// visibleSources returns, for a patient, the latest row of each document
// the caller may read, by logicalId: an item is visible exactly when its
// source document is.
func (s *Service) visibleSources(ctx context.Context, a *access) (map[string]DocumentRow, error) {
	rows, err := s.Store.FindDocuments(ctx, a.row.Key, DocumentFilter{WithoutSealed: true, Statuses: []DocumentStatus{StatusCurrent, StatusArchived}})
	if err != nil {
		return nil, err
	}
	out := make(map[string]DocumentRow, len(rows))
	for i := range rows {
		if a.permits(ActionRead, &rows[i]) {
			out[rows[i].LogicalID] = rows[i]
		}
	}
	return out, nil
}

// FindItems answers a QEDm search: the patient's items whose source
// document the caller may read, filtered before paging and totals.
func (s *Service) FindItems(ctx context.Context, r Request, q ItemQuery) (Page[Item], error) {
	// An unknown patient has nothing: zero hits, not an error.
	a, err := s.searchable(ctx, r, q.PatientKey, q.PatientID)
	if a == nil || err != nil {
		return Page[Item]{}, err
	}
	prow := a.row
	sources, err := s.visibleSources(ctx, a)
	if err != nil {
		return Page[Item]{}, err
	}
	rows, err := s.Store.FindItems(ctx, prow.Key, q.Filter)
	if err != nil {
		return Page[Item]{}, err
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
		dated := slices.IndexFunc(visible, func(r ItemRow) bool { return r.Effective.IsZero() })
		if dated < 0 {
			dated = len(visible)
		}
		slices.Reverse(visible[:dated])
	}
	// Items are few per patient next to documents; page by offset.
	start := 0
	if q.Page != "" {
		n, err := strconv.Atoi(q.Page)
		if err != nil || n < 0 {
			return Page[Item]{}, Invalid(Issue{"error", "value", "the _page cursor is not one this server made", "_page"})
		}
		start = min(n, len(visible))
	}
	end := min(start+s.count(q.Count), len(visible))
	out := Page[Item]{Total: len(visible)}
	if end < len(visible) {
		out.Next = strconv.Itoa(end)
	}
	ids := make([]string, 0, end-start)
	for _, row := range visible[start:end] {
		it, err := s.openItem(ctx, row)
		if err != nil {
			return Page[Item]{}, err
		}
		out.Items = append(out.Items, it)
		ids = append(ids, it.SourceID)
	}
	return out, a.served(ctx, ActionSearch, ids)
}

// Item returns one item by id, if its source document is visible.
func (s *Service) Item(ctx context.Context, r Request, kind ItemKind, id string) (Item, error) {
	p, err := s.route(ctx, id)
	if err != nil {
		return Item{}, err
	}
	prow, err := s.Store.Patient(ctx, p)
	if err != nil {
		return Item{}, err
	}
	a, err := s.access(ctx, r, &prow)
	if err != nil {
		return Item{}, err
	}
	rows, err := s.Store.FindItems(ctx, p, ItemFilter{Kinds: []ItemKind{kind}})
	if err != nil {
		return Item{}, err
	}
	for _, row := range rows {
		if row.ID != id {
			continue
		}
		sources, err := s.visibleSources(ctx, a)
		if err != nil {
			return Item{}, err
		}
		src, ok := sources[row.SourceLogicalID]
		if !ok {
			// Denied: recorded with the source's latest row, told not found.
			_, err := a.check(ctx, ActionRead, nil)
			if err == nil {
				err = s.recordDenial(ctx, a.refusal(ActionRead, nil, "source document not visible", nil))
			}
			return Item{}, err
		}
		it, err := s.openItem(ctx, row)
		if err != nil {
			return Item{}, err
		}
		return it, a.served(ctx, ActionRead, []string{src.ID})
	}
	return Item{}, errNotFound()
}

// DerivedSetUniqueID is the uniqueId of the submission set Carnet makes for
// a document filed alone (ITI-105, ITI-106): an OID under 2.25 derived from
// the document's uniqueId, so that a retried publication is recognised as
// the same submission.
func DerivedSetUniqueID(docUniqueID string) string {
	h := sha256.Sum256([]byte("carnet iti-105 submission set\x00" + docUniqueID))
	return "2.25." + new(big.Int).SetBytes(h[:16]).String()
}

// deriveMissing fills what a producer left out with what the document's
// header states (ITI-105 with a CDA, ITI-106). Declared values are kept:
// contradictions are the consistency check's.
func deriveMissing(d *SubmittedDocument, x Extraction) {
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
}

// PublishContent is ITI-106 Generate Metadata: the producer sends only the
// document; its metadata is read from its own header (CDA R2), and it is
// filed as ITI-105 would file it. A retry of the same document is the same
// submission. It returns the filing and the new document.
func (s *Service) PublishContent(ctx context.Context, r Request, contentType string, content []byte) (SubmissionResult, Document, error) {
	const path = "Parameters.parameter[0].resource"
	if s.Extractor == nil {
		return SubmissionResult{}, Document{}, &Error{Kind: KindUnsupported, Msg: "this server reads no document content"}
	}
	x, ok, err := s.Extractor.Extract(contentType, content)
	if err != nil {
		return SubmissionResult{}, Document{}, Invalid(Issue{"error", "invalid", "the document cannot be read: " + ErrorMessage(err), path})
	}
	if !ok {
		return SubmissionResult{}, Document{}, &Error{Kind: KindUnsupported, Msg: "metadata can be generated from CDA R2 documents only",
			Issues: []Issue{{"error", "not-supported", "metadata can be generated from CDA R2 documents only (text/xml)", path + ".contentType"}}}
	}
	if x.UniqueID == "" || x.Patient.Value == "" {
		return SubmissionResult{}, Document{}, Invalid(Issue{"error", "required", "the document's header names no id or no patient INS: its metadata cannot be generated", path})
	}
	if contentType == "" {
		contentType = "text/xml"
	}
	// Only the patient comes from here: Provide reads the rest of the
	// metadata from the header, as for an ITI-105 that left it out.
	sub := Submission{
		Patient: x.Patient, PatientPath: path,
		Set:       SubmissionSet{SourceID: "urn:carnet:generate-metadata", Title: x.Derived.Title, Authors: x.Derived.Authors},
		SetPath:   path,
		Documents: []SubmittedDocument{{Path: path, Meta: DocumentMeta{ContentType: contentType}, Content: content}},
	}
	res, err := s.Provide(ctx, r, sub)
	if err != nil {
		return SubmissionResult{}, Document{}, err
	}
	return res, res.Documents[0], nil
}
