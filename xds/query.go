package xds

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/mhd"
)

// Stored query ids (ITI TF-2a 3.18.4.1.2.3.7).
const (
	QueryFindDocuments               = "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d"
	QueryFindSubmissionSets          = "urn:uuid:f26abbcb-ac74-4422-8a30-edb644bbc1a9"
	QueryGetDocuments                = "urn:uuid:5c4f972b-d56b-40ac-a5fc-c8ca9b40b9d4"
	QueryGetAssociations             = "urn:uuid:a7ae438b-4bc2-4642-93e9-be891f7bb155"
	QueryGetSubmissionSets           = "urn:uuid:51224314-5390-4169-9b91-b1980040715a"
	QueryGetSubmissionSetAndContents = "urn:uuid:e8e3cb2c-e39c-46b9-99e4-c12f57260b83"
	QueryGetRelatedDocuments         = "urn:uuid:d90e5407-b356-4d91-a89f-873917b4b0e6"
)

// StoredQuery is an AdhocQueryRequest read.
type StoredQuery struct {
	ID        string
	LeafClass bool
	Params    map[string][][]string // each slot's values (a slot may repeat: AND)
}

// ParseQuery reads an ITI-18 AdhocQueryRequest.
func ParseQuery(m *Message, lim Limits) (StoredQuery, error) {
	q := StoredQuery{Params: map[string][][]string{}}
	ro := m.Body.child(nsQuery, "ResponseOption")
	aq := m.Body.child(nsRIM, "AdhocQuery")
	if ro == nil || aq == nil {
		return q, &Errors{List: []RegistryError{{Code: ErrRegistryMetadata, Context: "AdhocQueryRequest needs query:ResponseOption and rim:AdhocQuery", Location: "AdhocQueryRequest"}}}
	}
	switch rt := ro.attr("returnType"); rt {
	case "LeafClass":
		q.LeafClass = true
	case "ObjectRef", "":
	default:
		return q, &Errors{List: []RegistryError{{Code: ErrRegistryMetadata, Context: "returnType must be LeafClass or ObjectRef", Location: "ResponseOption/@returnType"}}}
	}
	q.ID = aq.attr("id")
	o, err := readObject(aq, lim)
	if err != nil {
		return q, &Errors{List: []RegistryError{{Code: ErrStoredQueryParam, Context: err.Error(), Location: "AdhocQuery"}}}
	}
	for _, s := range o.Slots {
		var vals []string
		for _, v := range s.Values {
			vs, ok := queryValues(v)
			if !ok {
				return q, &Errors{List: []RegistryError{{Code: ErrStoredQueryParam, Context: "malformed value of " + clip(s.Name) + ": strings are quoted ('…'), lists in parentheses", Location: s.Name}}}
			}
			vals = append(vals, vs...)
		}
		if len(vals) > lim.MaxValues {
			return q, &Errors{List: []RegistryError{{Code: ErrStoredQueryParam, Context: "too many values", Location: s.Name}}}
		}
		q.Params[s.Name] = append(q.Params[s.Name], vals)
	}
	return q, nil
}

// queryValues reads one Value of a stored query parameter: 'string',
// number, or a list ('a','b').
func queryValues(v string) ([]string, bool) {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "(") {
		if !strings.HasSuffix(v, ")") {
			return nil, false
		}
		v = v[1 : len(v)-1]
	}
	var out []string
	for v = strings.TrimSpace(v); v != ""; {
		if v[0] == '\'' {
			var b strings.Builder
			i := 1
			closed := false
			for i < len(v) {
				if v[i] == '\'' {
					if i+1 < len(v) && v[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					closed = true
					i++
					break
				}
				b.WriteByte(v[i])
				i++
			}
			if !closed {
				return nil, false
			}
			out = append(out, b.String())
			v = strings.TrimSpace(v[i:])
		} else {
			j := strings.IndexByte(v, ',')
			if j < 0 {
				j = len(v)
			}
			tok := strings.TrimSpace(v[:j])
			if tok == "" {
				return nil, false
			}
			out = append(out, tok)
			v = v[j:]
		}
		if v == "" {
			break
		}
		if v[0] != ',' {
			return nil, false
		}
		v = strings.TrimSpace(v[1:])
		if v == "" {
			return nil, false
		}
	}
	return out, true
}

func (q StoredQuery) one(name string) (string, bool) {
	vs := q.Params[name]
	if len(vs) != 1 || len(vs[0]) != 1 {
		return "", false
	}
	return vs[0][0], true
}

func (q StoredQuery) list(name string) []string {
	var out []string
	for _, vs := range q.Params[name] {
		out = append(out, vs...)
	}
	return out
}

func paramErr(name, msg string) error {
	return &Errors{List: []RegistryError{{Code: ErrStoredQueryParam, Context: msg, Location: name}}}
}

// patientParam reads a CX patient parameter.
func (q StoredQuery) patientParam(name string) (carnet.Identifier, error) {
	v, ok := q.one(name)
	if !ok {
		return carnet.Identifier{}, paramErr(name, name+" is required, once, with one value")
	}
	id, ok := cxIdentifier(v)
	if !ok {
		return carnet.Identifier{}, paramErr(name, name+" is not a CX value^^^&OID&ISO")
	}
	return id, nil
}

// documentCodeParams map FindDocuments code parameters to ITI-67's.
var documentCodeParams = map[string]string{
	"$XDSDocumentEntryClassCode":                  "category",
	"$XDSDocumentEntryTypeCode":                   "type",
	"$XDSDocumentEntryFormatCode":                 "format",
	"$XDSDocumentEntryConfidentialityCode":        "security-label",
	"$XDSDocumentEntryHealthcareFacilityTypeCode": "facility",
	"$XDSDocumentEntryPracticeSettingCode":        "setting",
	"$XDSDocumentEntryEventCodeList":              "event",
}

// codeToken writes an XDS query code (code^^scheme) as an ITI-67 token.
func codeToken(v string) string {
	code, scheme := v, ""
	if f := strings.Split(v, "^"); len(f) >= 3 {
		code, scheme = f[0], f[2]
	}
	code = strings.ReplaceAll(code, ",", `\,`)
	if scheme == "" {
		return code
	}
	return strings.ReplaceAll(codeSystem(scheme), ",", `\,`) + "|" + code
}

var statusParam = map[string]string{
	statusApproved: "current", statusDeprecated: "superseded", statusArchived: "archived", statusDeleted: "entered-in-error",
}

// dtmParam writes a DTM parameter as an ITI-67 date with prefix.
func dtmParam(v, prefix string) (string, bool) {
	t, ok := dtm(v)
	if !ok {
		return "", false
	}
	return prefix + t.Format(time.RFC3339), true
}

// FindDocumentsSearch turns FindDocuments parameters into the ITI-67
// search that has the same meaning, so that both transports find the
// same documents (docs/XDS.md).
func FindDocumentsSearch(q StoredQuery) (carnet.DocumentSearch, error) {
	v := url.Values{}
	id, err := q.patientParam("$XDSDocumentEntryPatientId")
	if err != nil {
		return carnet.DocumentSearch{}, err
	}
	v.Set("patient.identifier", id.System+"|"+id.Value)
	for name, values := range q.Params {
		if p, ok := documentCodeParams[name]; ok {
			for _, vs := range values {
				var toks []string
				for _, c := range vs {
					toks = append(toks, codeToken(c))
				}
				v.Add(p, strings.Join(toks, ","))
			}
			continue
		}
		switch name {
		case "$XDSDocumentEntryPatientId", "$XDSDocumentEntryType":
		case "$XDSDocumentEntryStatus":
			var st []string
			for _, s := range q.list(name) {
				c, ok := statusParam[s]
				if !ok {
					return carnet.DocumentSearch{}, paramErr(name, "unknown availability status "+clip(s))
				}
				st = append(st, c)
			}
			v.Add("status", strings.Join(st, ","))
		case "$XDSDocumentEntryCreationTimeFrom", "$XDSDocumentEntryCreationTimeTo",
			"$XDSDocumentEntryServiceStartTimeTo", "$XDSDocumentEntryServiceStopTimeFrom":
			val, ok := q.one(name)
			if !ok {
				return carnet.DocumentSearch{}, paramErr(name, name+" takes one value")
			}
			param, prefix := "creation", "ge"
			switch name {
			case "$XDSDocumentEntryCreationTimeTo":
				prefix = "lt"
			case "$XDSDocumentEntryServiceStartTimeTo":
				param, prefix = "period", "lt"
			case "$XDSDocumentEntryServiceStopTimeFrom":
				param, prefix = "period", "ge"
			}
			p, ok := dtmParam(val, prefix)
			if !ok {
				return carnet.DocumentSearch{}, paramErr(name, name+" is not an HL7 DTM")
			}
			v.Add(param, p)
		default:
			return carnet.DocumentSearch{}, paramErr(name, "parameter "+clip(name)+" is not supported by FindDocuments here (docs/XDS.md)")
		}
	}
	if len(q.Params["$XDSDocumentEntryStatus"]) == 0 {
		return carnet.DocumentSearch{}, paramErr("$XDSDocumentEntryStatus", "$XDSDocumentEntryStatus is required")
	}
	s, _, err := mhd.ParseDocumentSearch(v)
	if err != nil {
		return s, paramErr("AdhocQuery", carnet.ErrorMessage(err))
	}
	return s, nil
}

// FindSubmissionSetsSearch turns FindSubmissionSets parameters into the
// ITI-66 search of the same meaning.
func FindSubmissionSetsSearch(q StoredQuery) (carnet.ListSearch, error) {
	v := url.Values{}
	id, err := q.patientParam("$XDSSubmissionSetPatientId")
	if err != nil {
		return carnet.ListSearch{}, err
	}
	v.Set("patient.identifier", id.System+"|"+id.Value)
	for name := range q.Params {
		switch name {
		case "$XDSSubmissionSetPatientId", "$XDSSubmissionSetStatus":
		case "$XDSSubmissionSetSourceId":
			v.Add("source-id", strings.Join(q.list(name), ","))
		case "$XDSSubmissionSetContentType":
			var toks []string
			for _, c := range q.list(name) {
				toks = append(toks, codeToken(c))
			}
			v.Add("designationType", strings.Join(toks, ","))
		case "$XDSSubmissionSetSubmissionTimeFrom", "$XDSSubmissionSetSubmissionTimeTo":
			val, _ := q.one(name)
			prefix := "ge"
			if strings.HasSuffix(name, "To") {
				prefix = "lt"
			}
			p, ok := dtmParam(val, prefix)
			if !ok {
				return carnet.ListSearch{}, paramErr(name, name+" is not an HL7 DTM")
			}
			v.Add("date", p)
		default:
			return carnet.ListSearch{}, paramErr(name, "parameter "+clip(name)+" is not supported by FindSubmissionSets here")
		}
	}
	s, _, err := mhd.ParseListSearch(v)
	if err != nil {
		return s, paramErr("AdhocQuery", carnet.ErrorMessage(err))
	}
	return s, nil
}

// result gathers a query's answer.
type result struct {
	docs   []carnet.Document
	sets   []carnet.SubmissionSet
	assocs [][3]string // type, source, target
	ins    map[carnet.PatientKey]carnet.Identifier
	seen   map[string]bool
}

func newResult() *result {
	return &result{ins: map[carnet.PatientKey]carnet.Identifier{}, seen: map[string]bool{}}
}

func (r *result) addDoc(d carnet.Document) {
	if !r.seen[d.ID] {
		r.seen[d.ID] = true
		r.docs = append(r.docs, d)
	}
}

func (r *result) addSet(s carnet.SubmissionSet) {
	if !r.seen[s.ID] {
		r.seen[s.ID] = true
		r.sets = append(r.sets, s)
	}
}

func (r *result) addAssoc(typ, src, tgt string) {
	k := typ + "\x00" + src + "\x00" + tgt
	if !r.seen[k] {
		r.seen[k] = true
		r.assocs = append(r.assocs, [3]string{typ, src, tgt})
	}
}

func (r *result) count() int { return len(r.docs) + len(r.sets) + len(r.assocs) }

// query answers ITI-18.
func (s *Server) query(ctx context.Context, req carnet.Request, m *Message) answer {
	a := answer{action: ActionQuery + responseActionSuffix}
	fail := func(err error) answer {
		a.body = `<query:AdhocQueryResponse xmlns:query="` + nsQuery + `" xmlns:rs="` + nsRS + `" status="` + statusFailure + `">` + registryErrorList(s.failed(req, err)) + `</query:AdhocQueryResponse>`
		return a
	}
	if err := allowed(req.Actor, [2]string{"DocumentReference", "search"}, [2]string{"List", "search"}); err != nil {
		return fail(err)
	}
	q, err := ParseQuery(m, s.lim)
	if err != nil {
		return fail(err)
	}
	for _, name := range []string{"$XDSDocumentEntryPatientId", "$XDSSubmissionSetPatientId"} {
		if _, given := q.one(name); given && m.Patient.Value != "" {
			id, err := q.patientParam(name)
			if err == nil {
				err = m.samePatient(id, name)
			}
			if err != nil {
				return fail(err)
			}
		}
	}
	res := newResult()
	switch q.ID {
	case QueryFindDocuments:
		err = s.findDocuments(ctx, req, q, res)
	case QueryFindSubmissionSets:
		err = s.findSets(ctx, req, q, res)
	case QueryGetDocuments:
		err = s.getDocuments(ctx, req, q, res, "")
	case QueryGetRelatedDocuments:
		err = s.getDocuments(ctx, req, q, res, "related")
	case QueryGetAssociations:
		err = s.getAssociations(ctx, req, q, res, false)
	case QueryGetSubmissionSets:
		err = s.getAssociations(ctx, req, q, res, true)
	case QueryGetSubmissionSetAndContents:
		err = s.getSetAndContents(ctx, req, q, res)
	default:
		err = &Errors{List: []RegistryError{{Code: ErrUnknownStoredQuery, Context: "stored query " + clip(q.ID) + " is not supported (docs/XDS.md)", Location: "AdhocQuery/@id"}}}
	}
	if err != nil {
		return fail(err)
	}
	if res.count() > s.lim.MaxObjects {
		return fail(&Errors{List: []RegistryError{{Code: ErrTooManyResults, Context: fmt.Sprintf("more than %d objects: narrow the query", s.lim.MaxObjects), Location: "AdhocQuery"}}})
	}
	w := &rim{}
	for _, d := range res.docs {
		if q.LeafClass {
			extrinsicObject(w, d, res.ins[d.Patient], s.cfg.RepositoryUniqueID)
		} else {
			w.b.WriteString(`<rim:ObjectRef id="` + EntryUUID(d) + `"/>`)
		}
	}
	for _, st := range res.sets {
		if q.LeafClass {
			registryPackage(w, st, res.ins[st.Patient])
		} else {
			w.b.WriteString(`<rim:ObjectRef id="urn:uuid:` + esc(st.ID) + `"/>`)
		}
	}
	for _, as := range res.assocs {
		if q.LeafClass {
			var slots []slot
			if as[0] == assocHasMember {
				slots = append(slots, slot{"SubmissionSetStatus", []string{"Original"}})
			}
			association(w, as[0], as[1], as[2], slots...)
		} else {
			w.b.WriteString(`<rim:ObjectRef id="urn:uuid:` + derivedUUID(as[0]+"\x00"+as[1]+"\x00"+as[2]) + `"/>`)
		}
	}
	a.body = `<query:AdhocQueryResponse xmlns:query="` + nsQuery + `" xmlns:rim="` + nsRIM + `" xmlns:rs="` + nsRS + `" status="` + statusSuccess + `"><rim:RegistryObjectList>` + w.b.String() + `</rim:RegistryObjectList></query:AdhocQueryResponse>`
	return a
}

func (s *Server) findDocuments(ctx context.Context, req carnet.Request, q StoredQuery, res *result) error {
	ds, err := FindDocumentsSearch(q)
	if err != nil {
		return err
	}
	ds.Count = s.lim.MaxObjects
	page, err := s.svc.FindDocuments(ctx, req, ds)
	if err != nil {
		return err
	}
	if page.Next != "" {
		return &Errors{List: []RegistryError{{Code: ErrTooManyResults, Context: fmt.Sprintf("more than %d documents: narrow the query", s.lim.MaxObjects), Location: "AdhocQuery"}}}
	}
	for _, d := range page.Items {
		res.ins[d.Patient] = ds.PatientID
		s.recent.remember(req.Actor, d.Patient, ds.PatientID)
		res.addDoc(d)
	}
	return nil
}

func (s *Server) findSets(ctx context.Context, req carnet.Request, q StoredQuery, res *result) error {
	ls, err := FindSubmissionSetsSearch(q)
	if err != nil {
		return err
	}
	ls.Count = s.lim.MaxObjects
	page, err := s.svc.FindLists(ctx, req, ls)
	if err != nil {
		return err
	}
	if page.Next != "" {
		return &Errors{List: []RegistryError{{Code: ErrTooManyResults, Context: "too many submission sets: narrow the query", Location: "AdhocQuery"}}}
	}
	for _, st := range page.Items {
		res.ins[st.Patient] = ls.PatientID
		s.recent.remember(req.Actor, st.Patient, ls.PatientID)
		res.addSet(st)
	}
	return nil
}

// patientOf returns the INS of record k for the answer: as the caller
// named it, else as the record holds it (read through the policy).
func (s *Server) patientOf(ctx context.Context, req carnet.Request, k carnet.PatientKey, res *result) error {
	if _, ok := res.ins[k]; ok {
		return nil
	}
	if id, ok := s.recent.ins(req.Actor, k); ok {
		res.ins[k] = id
		return nil
	}
	p, err := s.svc.Patient(ctx, req, k)
	if err != nil {
		return err
	}
	if len(p.Identifiers) == 0 {
		return carnet.Errorf(carnet.KindNotFound, "not found")
	}
	res.ins[k] = p.Identifiers[0]
	return nil
}

// documentByUUID reads a document by entryUUID (any version) or logicalId:
// found nil when absent or not visible.
func (s *Server) documentByUUID(ctx context.Context, req carnet.Request, uuid string, res *result) (*carnet.Document, error) {
	id, ok := strings.CutPrefix(uuid, "urn:uuid:")
	if !ok || id == "" {
		return nil, paramErr("$XDSDocumentEntryEntryUUID", "an entryUUID is urn:uuid:…")
	}
	d, _, err := s.svc.Document(ctx, req, id)
	if carnet.IsKind(err, carnet.KindNotFound) || carnet.IsKind(err, carnet.KindGone) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := s.patientOf(ctx, req, d.Patient, res); err != nil {
		return nil, nil
	}
	return &d, nil
}

// documentsByUniqueID finds uniqueIds in the records that hold them (the
// store's uniqueId index, at most maxUniqueIDRecords records per uniqueId)
// and in the caller's recent records: one search per record, through the
// policy and the audit, for the uniqueIds it may hold.
func (s *Server) documentsByUniqueID(ctx context.Context, req carnet.Request, res *result, uids ...string) ([]carnet.Document, error) {
	if len(uids) == 0 {
		return nil, nil
	}
	recs := s.recent.records(req.Actor)
	byRecord := map[carnet.PatientKey][]string{}
	want := map[string]bool{}
	for _, u := range uids {
		n := carnet.NormalizeIdentifier(u)
		if want[n] {
			continue
		}
		want[n] = true
		keys, err := s.svc.UniqueIDRecords(ctx, n, maxUniqueIDRecords)
		if err != nil {
			return nil, err
		}
		for k := range recs {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			byRecord[k] = append(byRecord[k], strings.ReplaceAll(u, ",", `\,`))
		}
	}
	keys := make([]carnet.PatientKey, 0, len(byRecord))
	for k := range byRecord {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []carnet.Document
	for _, k := range keys {
		ds, _, err := mhd.ParseDocumentSearch(url.Values{"patient": {string(k)}, "identifier": {strings.Join(byRecord[k], ",")}})
		if err != nil {
			return nil, paramErr("$XDSDocumentEntryUniqueId", carnet.ErrorMessage(err))
		}
		ds.Count = s.lim.MaxObjects
		page, err := s.svc.FindDocuments(ctx, req, ds)
		if carnet.IsKind(err, carnet.KindForbidden) || carnet.IsKind(err, carnet.KindNotFound) {
			continue // a record the caller may not search: nothing found there
		}
		if err != nil {
			return nil, err
		}
		for _, d := range page.Items {
			if !want[d.UniqueID] {
				continue
			}
			if id, ok := recs[k]; ok {
				res.ins[k] = id
			} else if err := s.patientOf(ctx, req, k, res); err != nil {
				continue
			}
			out = append(out, d)
		}
	}
	return out, nil
}

// maxUniqueIDRecords bounds the records searched for one uniqueId (unique
// per record and filer only, it is in one record but for a filer reusing
// it elsewhere).
const maxUniqueIDRecords = 8

// targets reads the documents a Get query names (entryUUIDs or uniqueIds).
func (s *Server) targets(ctx context.Context, req carnet.Request, q StoredQuery, res *result) ([]carnet.Document, error) {
	uuids, uids := q.list("$XDSDocumentEntryEntryUUID"), q.list("$XDSDocumentEntryUniqueId")
	if (len(uuids) == 0) == (len(uids) == 0) {
		return nil, paramErr("$XDSDocumentEntryEntryUUID", "give either $XDSDocumentEntryEntryUUID or $XDSDocumentEntryUniqueId")
	}
	var out []carnet.Document
	for _, u := range uuids {
		d, err := s.documentByUUID(ctx, req, u, res)
		if err != nil {
			return nil, err
		}
		if d != nil {
			out = append(out, *d)
		}
	}
	ds, err := s.documentsByUniqueID(ctx, req, res, uids...)
	if err != nil {
		return nil, err
	}
	return append(out, ds...), nil
}

// getDocuments answers GetDocuments and (related) GetRelatedDocuments.
func (s *Server) getDocuments(ctx context.Context, req carnet.Request, q StoredQuery, res *result, mode string) error {
	docs, err := s.targets(ctx, req, q, res)
	if err != nil {
		return err
	}
	if mode == "" {
		for _, d := range docs {
			res.addDoc(d)
		}
		return nil
	}
	types := q.list("$AssociationTypes")
	if len(types) == 0 {
		return paramErr("$AssociationTypes", "$AssociationTypes is required")
	}
	for _, d := range docs {
		found := false
		// What d relates to.
		for _, rel := range d.Meta.RelatesTo {
			typ := associationTypeOf(rel.Code)
			if !slices.Contains(types, typ) {
				continue
			}
			t, err := s.documentByUUID(ctx, req, "urn:uuid:"+rel.Target, res)
			if err != nil {
				return err
			}
			if t != nil {
				res.addDoc(*t)
				res.addAssoc(typ, EntryUUID(d), "urn:uuid:"+rel.Target)
				found = true
			}
		}
		// What relates to d.
		rs, err := s.relatedTo(ctx, req, d)
		if err != nil {
			return err
		}
		for _, o := range rs {
			for _, rel := range o.Meta.RelatesTo {
				typ := associationTypeOf(rel.Code)
				if (rel.Target == d.LogicalID || rel.Target == d.ID) && slices.Contains(types, typ) {
					res.addDoc(o)
					res.addAssoc(typ, EntryUUID(o), "urn:uuid:"+rel.Target)
					found = true
				}
			}
		}
		if found {
			res.addDoc(d)
		}
	}
	return nil
}

// relatedTo returns the documents whose relatesTo targets d.
func (s *Server) relatedTo(ctx context.Context, req carnet.Request, d carnet.Document) ([]carnet.Document, error) {
	ds, _, err := mhd.ParseDocumentSearch(url.Values{"patient": {string(d.Patient)}, "related": {"DocumentReference/" + mhd.FHIRID(d)}})
	if err != nil {
		return nil, err
	}
	ds.Count = s.lim.MaxObjects
	page, err := s.svc.FindDocuments(ctx, req, ds)
	return page.Items, err
}

// getAssociations answers GetAssociations (and, sets, GetSubmissionSets).
func (s *Server) getAssociations(ctx context.Context, req carnet.Request, q StoredQuery, res *result, sets bool) error {
	uuids := q.list("$uuid")
	if len(uuids) == 0 {
		return paramErr("$uuid", "$uuid is required")
	}
	for _, u := range uuids {
		id := strings.TrimPrefix(u, "urn:uuid:")
		if st, err := s.svc.List(ctx, req, id); err == nil {
			if sets {
				continue
			}
			if err := s.patientOf(ctx, req, st.Patient, res); err != nil {
				continue
			}
			for _, did := range st.Documents {
				res.addAssoc(assocHasMember, "urn:uuid:"+st.ID, "urn:uuid:"+did)
			}
			continue
		}
		d, err := s.documentByUUID(ctx, req, u, res)
		if err != nil {
			return err
		}
		if d == nil {
			continue
		}
		if d.SubmissionSet != "" {
			if sets {
				st, err := s.svc.List(ctx, req, d.SubmissionSet)
				if err != nil {
					continue
				}
				res.addSet(st)
			}
			res.addAssoc(assocHasMember, "urn:uuid:"+d.SubmissionSet, "urn:uuid:"+mhd.FHIRID(*d))
		}
		if sets {
			continue
		}
		for _, rel := range d.Meta.RelatesTo {
			// Only towards a document the caller may see: the association
			// would otherwise tell that a masked or hidden one exists.
			t, err := s.documentByUUID(ctx, req, "urn:uuid:"+rel.Target, res)
			if err != nil {
				return err
			}
			if t != nil {
				res.addAssoc(associationTypeOf(rel.Code), EntryUUID(*d), "urn:uuid:"+rel.Target)
			}
		}
		rs, err := s.relatedTo(ctx, req, *d)
		if err != nil {
			return err
		}
		for _, o := range rs {
			for _, rel := range o.Meta.RelatesTo {
				if rel.Target == d.LogicalID || rel.Target == d.ID {
					res.addAssoc(associationTypeOf(rel.Code), EntryUUID(o), "urn:uuid:"+rel.Target)
				}
			}
		}
	}
	return nil
}

// getSetAndContents answers GetSubmissionSetAndContents.
func (s *Server) getSetAndContents(ctx context.Context, req carnet.Request, q StoredQuery, res *result) error {
	var st carnet.SubmissionSet
	switch uuid, uid := q.list("$XDSSubmissionSetEntryUUID"), q.list("$XDSSubmissionSetUniqueId"); {
	case len(uuid) == 1 && len(uid) == 0:
		got, err := s.svc.List(ctx, req, strings.TrimPrefix(uuid[0], "urn:uuid:"))
		if carnet.IsKind(err, carnet.KindNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		st = got
	case len(uid) == 1 && len(uuid) == 0:
		found := false
		// The records holding the set (the store's index), and the
		// caller's recent ones: each searched through the policy.
		keys, err := s.svc.SetUniqueIDRecords(ctx, uid[0], maxUniqueIDRecords)
		if err != nil {
			return err
		}
		for k := range s.recent.records(req.Actor) {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			ls, _, err := mhd.ParseListSearch(url.Values{"patient": {string(k)}, "identifier": {strings.ReplaceAll(uid[0], ",", `\,`)}})
			if err != nil {
				return paramErr("$XDSSubmissionSetUniqueId", carnet.ErrorMessage(err))
			}
			page, err := s.svc.FindLists(ctx, req, ls)
			if carnet.IsKind(err, carnet.KindForbidden) || carnet.IsKind(err, carnet.KindNotFound) {
				continue // a record the caller may not search: nothing found there
			}
			if err != nil {
				return err
			}
			for _, got := range page.Items {
				if !found && got.UniqueID == carnet.NormalizeIdentifier(uid[0]) {
					st, found = got, true
				}
			}
		}
		if !found {
			return nil
		}
	default:
		return paramErr("$XDSSubmissionSetEntryUUID", "give one $XDSSubmissionSetEntryUUID or one $XDSSubmissionSetUniqueId")
	}
	if err := s.patientOf(ctx, req, st.Patient, res); err != nil {
		return nil
	}
	res.addSet(st)
	for _, did := range st.Documents {
		d, err := s.documentByUUID(ctx, req, "urn:uuid:"+did, res)
		if err != nil {
			return err
		}
		if d == nil {
			continue
		}
		res.addDoc(*d)
		res.addAssoc(assocHasMember, "urn:uuid:"+st.ID, EntryUUID(*d))
	}
	return nil
}

// retrieve answers ITI-43 in MTOM.
func (s *Server) retrieve(ctx context.Context, req carnet.Request, m *Message) answer {
	var docs []retrieved
	var errs []RegistryError
	if err := allowed(req.Actor, [2]string{"Binary", "read"}, [2]string{"DocumentReference", "search"}); err != nil {
		errs = s.failed(req, err)
	} else {
		drs := m.Body.all(nsXDS, "DocumentRequest")
		if len(drs) == 0 || len(drs) > s.lim.MaxDocuments {
			errs = append(errs, RegistryError{Code: ErrRepositoryMetadata, Context: fmt.Sprintf("between 1 and %d DocumentRequest", s.lim.MaxDocuments), Location: "RetrieveDocumentSetRequest"})
		} else {
			var uids []string
			for _, dr := range drs {
				if uid := strings.TrimSpace(dr.child(nsXDS, "DocumentUniqueId").textOr()); uid != "" {
					uids = append(uids, uid)
				}
			}
			found, err := s.documentsByUniqueID(ctx, req, newResult(), uids...)
			if err != nil {
				errs = append(errs, s.failed(req, err)...)
				drs = nil
			}
			for _, dr := range drs {
				repo := strings.TrimSpace(dr.child(nsXDS, "RepositoryUniqueId").textOr())
				uid := strings.TrimSpace(dr.child(nsXDS, "DocumentUniqueId").textOr())
				switch {
				case repo != s.cfg.RepositoryUniqueID:
					errs = append(errs, RegistryError{Code: ErrUnknownRepository, Context: "this repository is " + s.cfg.RepositoryUniqueID, Location: clip(repo)})
					continue
				case uid == "":
					errs = append(errs, RegistryError{Code: ErrDocumentUniqueID, Context: "DocumentUniqueId is required", Location: "DocumentRequest"})
					continue
				}
				got, err := s.retrieveOne(ctx, req, uid, found)
				if err != nil {
					if k := carnet.ErrorKind(err); k == carnet.KindInternal || k == carnet.KindUnavailable {
						errs = append(errs, s.failed(req, err)...)
						continue
					}
					errs = append(errs, RegistryError{Code: ErrDocumentUniqueID, Context: "no document with this uniqueId can be retrieved", Location: clip(uid)})
					continue
				}
				got.Repository = repo
				docs = append(docs, got)
			}
		}
	}
	raw, ct := retrieveResponse(m.MessageID, docs, errs)
	return answer{raw: raw, contentType: ct}
}

// retrieveOne reads the content of the document uid among found, through
// the Service (policy, audit of ITI-68).
func (s *Server) retrieveOne(ctx context.Context, req carnet.Request, uid string, found []carnet.Document) (retrieved, error) {
	for _, d := range found {
		if !d.Latest || d.UniqueID != carnet.NormalizeIdentifier(uid) {
			continue
		}
		_, b, err := s.svc.Content(ctx, req, d.ContentID)
		if err != nil {
			return retrieved{}, err
		}
		return retrieved{UniqueID: d.UniqueID, MimeType: d.Meta.ContentType, Content: b}, nil
	}
	return retrieved{}, carnet.Errorf(carnet.KindNotFound, "not found")
}

func (n *node) textOr() string {
	if n == nil {
		return ""
	}
	return n.Text
}

// derivedUUID is a name-based UUID (SHA-256, RFC 9562 version 8 layout).
func derivedUUID(name string) string {
	h := sha256.Sum256([]byte("carnet xds\x00" + name))
	u := h[:16]
	u[6] = u[6]&0x0f | 0x80
	u[8] = u[8]&0x3f | 0x80
	x := hex.EncodeToString(u)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}
