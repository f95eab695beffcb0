package secondary

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/cda"
	"github.com/carnet-sante/carnet/policy"
)

// ExportRequest is one Bulk Data export under a permit.
type ExportRequest struct {
	Request carnet.Request
	Permit  carnet.Permit
	// Group: the permit's cohort only (Group/<permit id>/$export).
	Group bool
	// Types are the resource types asked (_type); empty: every type the
	// permit covers.
	Types []string
	// Since: only resources registered since (_since); zero: all.
	Since time.Time
	// Filters are, per resource type, the codes asked (_typeFilter); a
	// type absent is not filtered.
	Filters map[string][]string
}

// Sink receives the export's NDJSON lines, one resource each.
type Sink interface {
	Write(resourceType string, line []byte) error
}

// Progress is told how far an export is: records done of total in the
// pass (pass 1 counts the groups, pass 2 writes).
type Progress func(pass, done, total int)

// ExportTypes are the resource types an export may hold, in the order of
// the manifest.
var ExportTypes = []string{"Patient", "DocumentReference", "Observation", "Condition", "MedicationRequest", "Immunization", "AllergyIntolerance", "MedicationStatement", "Procedure"}

// CheckExport refuses what lies outside the permit: a type it does not
// cover, a type filter naming a code it does not grant, an unknown type or
// filter. The recipient is told, not silently given less.
func CheckExport(p carnet.Permit, types []string, filters map[string][]string) error {
	for _, t := range types {
		if !slices.Contains(ExportTypes, t) {
			return carnet.Errorf(carnet.KindInvalid, "_type %s is not exported by this server", t)
		}
		if !p.CoversType(t) {
			return carnet.Errorf(carnet.KindForbidden, "_type %s is outside the data permit", t)
		}
	}
	for t, codes := range filters {
		if !p.CoversType(t) || t == "Patient" {
			return carnet.Errorf(carnet.KindForbidden, "_typeFilter on %s is outside the data permit", t)
		}
		if len(types) > 0 && !slices.Contains(types, t) {
			return carnet.Errorf(carnet.KindInvalid, "_typeFilter on %s, a type not in _type", t)
		}
		for _, c := range codes {
			sys, code, _ := strings.Cut(c, "|")
			cd := carnet.Coding{System: sys, Code: code}
			if t == "DocumentReference" && !p.CoversDocumentType(cd) || t != "DocumentReference" && !p.CoversCode(cd) {
				return carnet.Errorf(carnet.KindForbidden, "_typeFilter code %s is outside the data permit", c)
			}
		}
	}
	return nil
}

// ParseTypeFilter reads one _typeFilter value: "DocumentReference?type=s|c,…"
// or "<item type>?code=s|c,…" (several parameters: all must hold; here each
// names codes, so the intersection is what the last one leaves). Codes are
// written system|code.
func ParseTypeFilter(v string) (typ string, codes []string, err error) {
	if len(v) > 4096 {
		return "", nil, carnet.Errorf(carnet.KindInvalid, "_typeFilter too long")
	}
	typ, q, ok := strings.Cut(v, "?")
	if !ok || q == "" || !slices.Contains(ExportTypes, typ) {
		return "", nil, carnet.Errorf(carnet.KindInvalid, "_typeFilter %q: write Type?param=value", v)
	}
	want := "code"
	if typ == "DocumentReference" {
		want = "type"
	}
	for _, part := range strings.Split(q, "&") {
		name, val, _ := strings.Cut(part, "=")
		if name != want || val == "" {
			return "", nil, carnet.Errorf(carnet.KindInvalid, "_typeFilter %q: only %s?%s=system|code is supported", v, typ, want)
		}
		var these []string
		for _, c := range strings.Split(val, ",") {
			sys, code, ok := strings.Cut(c, "|")
			if !ok || sys == "" || code == "" || strings.ContainsAny(c, "?=&") {
				return "", nil, carnet.Errorf(carnet.KindInvalid, "_typeFilter code %q: write system|code (repeat _typeFilter for another type)", c)
			}
			these = append(these, c)
		}
		if codes == nil {
			codes = these
		} else {
			codes = slices.DeleteFunc(codes, func(c string) bool { return !slices.Contains(these, c) })
		}
		if len(codes) == 0 {
			return "", nil, carnet.Errorf(carnet.KindInvalid, "_typeFilter %q matches nothing", v)
		}
	}
	return typ, codes, nil
}

// selection is what one record offers the permit: the clear rows that may
// leave, decided on tokens and dates only.
type selection struct {
	patient carnet.Patient
	docs    []carnet.DocumentRow
	items   []carnet.ItemRow
	any     bool // the record has data in the permit (before _type, _since, _typeFilter)
	newest  *carnet.DocumentRow
}

func tokenValues(ts []carnet.Token, kind string) []string {
	var out []string
	for _, t := range ts {
		if t.Kind == kind {
			out = append(out, t.Value)
		}
	}
	return out
}

// systemCode returns the "system|code" token of a kind, "" when none.
func systemCode(ts []carnet.Token, kind string) carnet.Coding {
	for _, v := range tokenValues(ts, kind) {
		if sys, code, ok := strings.Cut(v, "|"); ok && sys != "" {
			return carnet.Coding{System: sys, Code: code}
		}
	}
	return carnet.Coding{}
}

func inRange(r carnet.TimeRange, t time.Time) bool {
	if t.IsZero() {
		return r.IsZero()
	}
	return (r.From.IsZero() || !t.Before(r.From)) && (r.To.IsZero() || t.Before(r.To))
}

func (s *Service) openPatient(ctx context.Context, row carnet.PatientRow) (carnet.Patient, error) {
	pt, err := s.Sealer.Open(ctx, row.Key, carnet.Binding{Kind: "patient", ID: string(row.Key), Version: row.Version}, row.Sealed)
	if err != nil {
		return carnet.Patient{}, err
	}
	var p carnet.Patient
	if err := json.Unmarshal(pt, &p); err != nil {
		return carnet.Patient{}, carnet.WrapError(carnet.KindInternal, "open patient", err)
	}
	p.Key, p.State, p.Version = row.Key, row.State, row.Version
	return p, nil
}

// selectRecord reads one record's clear rows and keeps what the permit
// may use: nil for a record that gives nothing (opted out, closed, no data
// in the permit, outside the cohort).
func (s *Service) selectRecord(ctx context.Context, key carnet.PatientKey, req ExportRequest) (*selection, error) {
	row, err := s.Store.Patient(ctx, key)
	if carnet.IsKind(err, carnet.KindNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	pat, err := s.openPatient(ctx, row)
	if err != nil {
		return nil, err
	}
	set := pat.Settings()
	if ok, _ := policy.SecondaryRecord(row.State, set); !ok {
		return nil, nil
	}
	p := req.Permit
	docs, err := s.Store.FindDocuments(ctx, key, carnet.DocumentFilter{Statuses: []carnet.DocumentStatus{carnet.StatusCurrent}, WithoutSealed: true})
	if err != nil {
		return nil, err
	}
	sel := &selection{patient: pat}
	releasable := map[string]carnet.DocumentRow{}
	for i := range docs {
		d := docs[i]
		if ok, _ := policy.SecondaryDocument(set, &d); !ok {
			continue
		}
		releasable[d.LogicalID] = d
		if sel.newest == nil {
			sel.newest = &docs[i]
		}
		when := d.Created
		if when.IsZero() {
			when = d.Date
		}
		if !inRange(p.Period, when) || !p.CoversDocumentType(systemCode(d.Tokens, carnet.TokType)) {
			continue
		}
		sel.any = true
		if !wants(req, "DocumentReference") || d.Date.Before(req.Since) {
			continue
		}
		if f, ok := req.Filters["DocumentReference"]; ok && !slices.Contains(f, systemCode(d.Tokens, carnet.TokType).Token()) {
			continue
		}
		sel.docs = append(sel.docs, d)
	}
	if len(releasable) == 0 {
		return nil, nil
	}
	items, err := s.Store.FindItems(ctx, key, carnet.ItemFilter{WithoutSealed: true})
	if err != nil {
		return nil, err
	}
	inCohort := len(p.Cohort) == 0
	for _, it := range items {
		src, ok := releasable[it.SourceLogicalID]
		if !ok {
			continue // the item follows its document: masked, restricted, invisible or gone
		}
		code := systemCode(it.Tokens, carnet.TokCode)
		if !inRange(p.Period, it.Effective) {
			continue
		}
		if slices.Contains(p.Cohort, code.Token()) {
			inCohort = true
		}
		if !slices.Contains(p.ItemTypes, it.Kind) || !p.CoversCode(code) {
			continue
		}
		sel.any = true
		if !wants(req, string(it.Kind)) || src.Date.Before(req.Since) {
			continue
		}
		if f, ok := req.Filters[string(it.Kind)]; ok && !slices.Contains(f, code.Token()) {
			continue
		}
		sel.items = append(sel.items, it)
	}
	if !sel.any || req.Group && !inCohort {
		return nil, nil
	}
	return sel, nil
}

func wants(req ExportRequest, t string) bool {
	return len(req.Types) == 0 || slices.Contains(req.Types, t)
}

// qi reads a record's quasi-identifiers: birth year and sex from its
// identity (else the CDA header's), the département from the newest
// releasable CDA header's postcode.
func (s *Service) qi(ctx context.Context, sel *selection) (QI, *cda.Document, error) {
	id := sel.patient.Identity
	q := QI{Sex: id.Gender}
	if len(id.BirthDate) >= 4 {
		q.BirthYear = id.BirthDate[:4]
	}
	if sel.newest == nil {
		return q, nil, nil
	}
	d, content, err := s.document(ctx, *sel.newest)
	if err != nil || content == nil {
		return q, nil, err
	}
	doc, err := cda.Parse(content, cda.Limits{})
	if err != nil {
		s.log().Warn("secondary: a document's CDA cannot be read", "document", d.LogicalID, "err", err)
		return q, nil, nil
	}
	q.Departement = Departement(doc.Patient.PostalCode)
	// Without an identity feed the record knows its patient from the
	// documents' headers only.
	if q.BirthYear == "" && !doc.Patient.BirthDate.Time.IsZero() {
		q.BirthYear = doc.Patient.BirthDate.Time.Format("2006")
	}
	if q.Sex == "" {
		q.Sex = map[string]string{"F": "female", "M": "male", "U": "unknown"}[doc.Patient.Gender]
	}
	return q, doc, nil
}

// document opens a document's metadata and, for XML content, its bytes.
func (s *Service) document(ctx context.Context, row carnet.DocumentRow) (carnet.Document, []byte, error) {
	full, err := s.Store.Document(ctx, row.Patient, row.ID)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	pt, err := s.Sealer.Open(ctx, full.Patient, carnet.Binding{Kind: "document", ID: full.ID, Version: full.Version}, full.Sealed)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	var d carnet.Document
	if err := json.Unmarshal(pt, &d); err != nil {
		return carnet.Document{}, nil, carnet.WrapError(carnet.KindInternal, "open document", err)
	}
	d.Patient, d.ID, d.LogicalID, d.ContentID, d.Date, d.Status = full.Patient, full.ID, full.LogicalID, full.ContentID, full.Date, full.Status
	if !strings.Contains(d.Meta.ContentType, "xml") {
		return d, nil, nil
	}
	sealed, err := s.Store.Content(ctx, row.Patient, d.ContentID)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	b, err := s.Sealer.Open(ctx, row.Patient, carnet.Binding{Kind: "content", ID: d.ContentID, Version: 1}, sealed)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	return d, b, nil
}

// eachRecord visits every record key, a page at a time.
func (s *Service) eachRecord(ctx context.Context, fn func(carnet.PatientKey) error) error {
	var after carnet.PatientKey
	for {
		keys, err := s.Store.PatientKeys(ctx, after, 100)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := ctx.Err(); err != nil {
				return carnet.WrapError(carnet.KindUnavailable, "export", err)
			}
			if err := fn(k); err != nil {
				return err
			}
		}
		if len(keys) < 100 {
			return nil
		}
		after = keys[len(keys)-1]
	}
}

// permitActor is the permit as it appears in a patient's history: its id
// and purpose, not its recipient.
func permitActor(p carnet.Permit) carnet.Actor {
	return carnet.Actor{Kind: carnet.ActorSystem, ID: carnet.Identifier{System: carnet.PermitSystem, Value: p.ID},
		Name: "Permis de données " + p.ID + " : " + p.Purpose}
}

// Export runs an export: pass 1 counts the quasi-identifier groups of the
// records the permit may use, pass 2 writes each record of a group of at
// least k, after recording the use in the record's history. Memory holds
// one record and the group counts. It stops when the permit stops being
// valid or ctx ends.
func (s *Service) Export(ctx context.Context, req ExportRequest, sink Sink, progress Progress) (KReport, error) {
	if progress == nil {
		progress = func(int, int, int) {}
	}
	p := req.Permit
	// The groups are those of every record with data in the permit, whatever
	// _type, _since and _typeFilter narrow: every export of a permit then
	// releases the same records, and a narrow one cannot isolate a group.
	base := ExportRequest{Permit: p, Group: req.Group}
	groups := Groups{}
	total := 0
	if err := s.eachRecord(ctx, func(k carnet.PatientKey) error {
		sel, err := s.selectRecord(ctx, k, base)
		if err != nil || sel == nil {
			return err
		}
		q, _, err := s.qi(ctx, sel)
		if err != nil {
			return err
		}
		groups.Add(q)
		total++
		progress(1, total, 0)
		return nil
	}); err != nil {
		return KReport{}, err
	}
	report := groups.Report(p.MinK)
	pseudos := NewPseudonyms(p.Secret)
	done := 0
	err := s.eachRecord(ctx, func(k carnet.PatientKey) error {
		if err := s.Still(ctx, p.ID); err != nil {
			return err
		}
		base, err := s.selectRecord(ctx, k, base)
		if err != nil || base == nil {
			return err
		}
		done++
		progress(2, done, total)
		q, doc, err := s.qi(ctx, base)
		if err != nil {
			return err
		}
		if !groups.Released(q, p.MinK) {
			return nil
		}
		sel, err := s.selectRecord(ctx, k, req)
		if err != nil || sel == nil {
			return err
		}
		return s.writeRecord(ctx, req, sel, q, doc, pseudos, sink)
	})
	return report, err
}

// writeRecord audits the use of one record, then writes its resources.
func (s *Service) writeRecord(ctx context.Context, req ExportRequest, sel *selection, q QI, newest *cda.Document, pseudos Pseudonyms, sink Sink) error {
	p := req.Permit
	key := sel.patient.Key
	v := subjectView{pseudo: pseudos.Of("patient", string(key)), pseudos: pseudos,
		dates: dater{month: p.Dates == carnet.DatesMonth, shift: pseudos.Shift(key, p.ShiftDays)}}
	v.names.knownPatient(sel.patient)
	if newest != nil {
		v.names.knownIdentities(newest)
	}
	var used []string
	for _, d := range sel.docs {
		used = append(used, d.LogicalID)
	}
	for _, it := range sel.items {
		if !slices.Contains(used, it.SourceLogicalID) {
			used = append(used, it.SourceLogicalID)
		}
	}
	ev := carnet.AuditEvent{Time: s.now(), RequestID: req.Request.RequestID, Actor: permitActor(p), Action: carnet.ActionSecondaryUse,
		Mode: carnet.ModeNormal, Patient: key, Documents: used, Outcome: carnet.OutcomeSuccess}
	if err := s.Audit.Record(ctx, ev); err != nil {
		return carnet.WrapError(carnet.KindUnavailable, "audit", err)
	}
	if wants(req, "Patient") {
		if err := sink.Write("Patient", patientResource(q, v.pseudo)); err != nil {
			return err
		}
	}
	for _, row := range sel.docs {
		d, content, err := s.document(ctx, row)
		if err != nil {
			return err
		}
		text := ""
		if p.Narrative == carnet.NarrativeDeidentify && content != nil {
			if doc, err := cda.Parse(content, cda.Limits{}); err == nil {
				names := v.names
				names.knownIdentities(doc)
				names.knownAuthors(d.Meta)
				text = narrativeText(doc, &names)
			}
		}
		if err := sink.Write("DocumentReference", documentResource(d, v, text)); err != nil {
			return err
		}
	}
	if len(sel.items) == 0 {
		return nil
	}
	full, err := s.Store.FindItems(ctx, key, carnet.ItemFilter{Sources: used})
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, it := range sel.items {
		want[it.ID] = true
	}
	for _, row := range full {
		if !want[row.ID] {
			continue
		}
		pt, err := s.Sealer.Open(ctx, key, carnet.Binding{Kind: "item", ID: row.ID, Version: 1}, row.Sealed)
		if err != nil {
			return err
		}
		var it carnet.Item
		if err := json.Unmarshal(pt, &it); err != nil {
			return carnet.WrapError(carnet.KindInternal, "open item", err)
		}
		it.ID, it.Kind = row.ID, row.Kind
		line, err := itemResource(it, v)
		if err != nil {
			s.log().Warn("secondary: an item cannot be read", "item", row.ID, "err", err)
			continue
		}
		if err := sink.Write(string(it.Kind), line); err != nil {
			return err
		}
	}
	return nil
}
