package mhd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
)

// EntryKind says what a request entry of a Provide Document Bundle was.
type EntryKind uint8

const (
	EntrySubmissionSet EntryKind = iota + 1 // the SubmissionSet List
	EntryDocument                           // DocumentReference of Submission.Documents[Index]
	EntryBinary                             // content of Submission.Documents[Index]
	EntryPatch                              // Submission.Changes[Index]
)

// Entry is one request entry of a Provide Document Bundle.
type Entry struct {
	Kind    EntryKind
	Index   int
	FullURL string
}

// EntryMap records, per request entry and in request order, what the entry
// was, so that the response can answer each entry in its place.
type EntryMap struct {
	Entries []Entry
}

// ParseProvide reads an ITI-65 Provide Document Bundle into a Submission.
//
// The bundle must be a transaction holding exactly one SubmissionSet List,
// its DocumentReferences (POST), one Binary (POST) per document, and
// optionally PATCH entries on existing DocumentReferences (FHIRPath Patch
// Parameters, or a Binary holding a JSON Patch). References between entries
// are resolved by fullUrl. Patient, Practitioner, PractitionerRole and
// Organization entries are refused: Carnet files documents for the record of
// the subject's INS and never takes a patient or an author from a bundle as
// a resource of its own (authors are contained, the producer's patient is
// DocumentReference.context.sourcePatientInfo, contained).
//
// Every problem found is reported, not only the first, as issues of a
// *carnet.Error (see carnet.Invalid for its kind); a body beyond
// opts.MaxBytes, or with more than opts.MaxDocuments documents, is
// KindTooLarge.
func ParseProvide(body []byte, opts ParseOptions) (carnet.Submission, *EntryMap, error) {
	const op = "mhd.ParseProvide"
	opts = opts.withDefaults()
	var sub carnet.Submission
	var b fhir.Bundle
	if int64(len(body)) > opts.MaxBytes {
		return sub, nil, tooLarge(op, fmt.Sprintf("the body exceeds %d bytes", opts.MaxBytes))
	}
	if err := fhir.Decode(bytes.NewReader(body), opts.MaxBytes, &b); err != nil {
		return sub, nil, err
	}
	var l issueList
	if b.ResourceType != "Bundle" {
		l.add("invalid", "Bundle.resourceType", "an ITI-65 request is a Bundle")
		return sub, nil, l.err(op)
	}
	if b.Type != "transaction" {
		l.add("value", "Bundle.type", "an ITI-65 Bundle must be of type transaction")
	}
	if len(b.Entry) == 0 {
		l.add("required", "Bundle.entry", "the Bundle has no entry")
		return sub, nil, l.err(op)
	}
	// A document takes two entries, a change one, the set one.
	if max := 3*opts.MaxDocuments + 1; len(b.Entry) > max {
		return sub, nil, tooLarge(op, fmt.Sprintf("the Bundle has more than %d entries", max))
	}

	type docEntry struct {
		entry int
		pd    parsedDocument
	}
	var (
		setEntries []int
		docs       []docEntry
		binaries   = map[string]int{} // fullUrl -> entry
		fullURLs   = map[string]int{}
		patches    []int
		kinds      = make([]Entry, len(b.Entry))
	)
	for i, e := range b.Entry {
		path := fmt.Sprintf("Bundle.entry[%d]", i)
		kinds[i].FullURL = e.FullURL
		method := ""
		if e.Request == nil {
			l.add("required", path+".request", "a transaction entry needs a request")
		} else {
			method = strings.ToUpper(e.Request.Method)
		}
		if method == "PATCH" {
			patches = append(patches, i)
			kinds[i] = Entry{Kind: EntryPatch, Index: len(patches) - 1, FullURL: e.FullURL}
			continue
		}
		rt := fhir.PeekResourceType(e.Resource)
		if rt == "" {
			l.add("required", path+".resource", "the entry has no resource")
			continue
		}
		if e.Request != nil {
			if method != "POST" {
				l.add("not-supported", path+".request.method", "entries are created with POST or changed with PATCH")
			} else if u := strings.TrimSuffix(e.Request.URL, "/"); u != rt && !strings.HasSuffix(u, "/"+rt) {
				l.add("value", path+".request.url", "the request url must be the resource type %s", fhir.Clip(rt, 40))
			}
		}
		switch rt {
		case "List", "DocumentReference", "Binary":
			if e.FullURL == "" {
				l.add("required", path+".fullUrl", "the entry needs a fullUrl so that other entries can reference it")
			} else if j, dup := fullURLs[e.FullURL]; dup {
				l.add("duplicate", path+".fullUrl", "the fullUrl is already used by Bundle.entry[%d]", j)
			} else {
				fullURLs[e.FullURL] = i
			}
		}
		switch rt {
		case "List":
			var lst fhir.List
			if err := fhir.Unmarshal(e.Resource, &lst, path+".resource"); err != nil {
				l.merge(err, path+".resource")
				continue
			}
			switch listKind(&lst) {
			case "submissionset":
				setEntries = append(setEntries, i)
				kinds[i].Kind = EntrySubmissionSet
			case "folder":
				l.add("not-supported", path+".resource", "folders are not supported")
			default:
				l.add("invalid", path+".resource.code", "a List in a Provide Document Bundle must be a SubmissionSet (code submissionset)")
			}
		case "DocumentReference":
			docs = append(docs, docEntry{entry: i, pd: readDocument(e.Resource, path+".resource", opts, &l)})
			docs[len(docs)-1].pd.doc.FullURL = e.FullURL
			kinds[i] = Entry{Kind: EntryDocument, Index: len(docs) - 1, FullURL: e.FullURL}
		case "Binary":
			if e.FullURL != "" {
				if _, seen := binaries[e.FullURL]; !seen {
					binaries[e.FullURL] = i
				}
			}
			kinds[i].Kind = EntryBinary
		case "Patient":
			l.add("not-supported", path+".resource", "Patient entries are refused: the subject is found by its INS; the producer's patient goes in DocumentReference.context.sourcePatientInfo, contained")
		case "Practitioner", "PractitionerRole", "Organization", "Device":
			l.add("not-supported", path+".resource", "authors must be contained in the DocumentReference or List, not separate entries")
		default:
			l.add("not-supported", path+".resource", "the resource type %s is not accepted in a Provide Document Bundle", fhir.Clip(rt, 40))
		}
	}
	if len(docs) > opts.MaxDocuments {
		return sub, nil, tooLarge(op, fmt.Sprintf("the submission has more than %d documents", opts.MaxDocuments))
	}
	if len(docs) == 0 && len(patches) == 0 {
		l.add("required", "Bundle.entry", "the Bundle has no DocumentReference")
	}

	// The SubmissionSet and the subject everything is filed for.
	var itemRefs map[string]bool
	switch len(setEntries) {
	case 0:
		l.add("required", "Bundle.entry", "the Bundle has no SubmissionSet List")
	default:
		for _, k := range setEntries[1:] {
			l.add("invalid", fmt.Sprintf("Bundle.entry[%d].resource", k), "a Bundle holds exactly one SubmissionSet")
		}
		i := setEntries[0]
		path := fmt.Sprintf("Bundle.entry[%d].resource", i)
		rs := readSubmissionSet(b.Entry[i].Resource, path, opts, &l)
		sub.Set, sub.SetPath = rs.set, path
		sub.Patient, sub.PatientPath = rs.subject, path+".subject"
		if !rs.subjectOK {
			sub.Patient = carnet.Identifier{}
		}
		itemRefs = map[string]bool{}
		for _, it := range rs.items {
			if j, ok := fullURLs[it.ref]; ok && kinds[j].Kind == EntryDocument {
				if itemRefs[it.ref] {
					l.add("duplicate", it.path, "the SubmissionSet lists this DocumentReference twice")
				}
				itemRefs[it.ref] = true
				continue
			}
			if j, ok := fullURLs[it.ref]; strings.HasPrefix(it.ref, "List/") || ok && kinds[j].Kind == EntrySubmissionSet {
				l.add("not-supported", it.path, "folders are not supported")
				continue
			}
			l.add("not-found", it.path, "the SubmissionSet entry references no DocumentReference of the Bundle")
		}
	}

	// Documents: same subject, unique uniqueIds, listed, with their Binary.
	uniqueIDs := map[string]string{}
	usedBinary := map[int]string{}
	for d, de := range docs {
		pd := &docs[d].pd
		if pd.subjectOK {
			switch {
			case sub.Patient.Value == "":
				// No usable SubmissionSet subject (already reported): the
				// first document's is the one the others must match.
				sub.Patient, sub.PatientPath = pd.subject, pd.subjectPath
			case pd.subject != sub.Patient:
				l.add("invalid", pd.subjectPath, "the subject differs from %s: a submission is for one patient", sub.PatientPath)
			}
		}
		if u := pd.doc.UniqueID; u != "" {
			if first, dup := uniqueIDs[u]; dup {
				l.add("duplicate", pd.doc.Path+".masterIdentifier", "the uniqueId is already used by %s", first)
			} else {
				uniqueIDs[u] = pd.doc.Path
			}
		}
		if itemRefs != nil && de.pd.doc.FullURL != "" && !itemRefs[de.pd.doc.FullURL] {
			l.add("invalid", pd.doc.Path, "the SubmissionSet does not list this DocumentReference")
		}
		if pd.att == nil {
			continue
		}
		ref := pd.att.URL
		bi, ok := binaries[ref]
		switch {
		case ref == "":
			l.add("required", pd.attPath+".url", "attachment.url must reference the Binary entry holding the document")
			continue
		case !ok:
			l.add("not-found", pd.attPath+".url", "attachment.url references no Binary entry of the Bundle")
			continue
		}
		if other, dup := usedBinary[bi]; dup {
			l.add("duplicate", pd.attPath+".url", "the Binary is already the content of %s", other)
			continue
		}
		usedBinary[bi] = pd.doc.Path
		kinds[bi].Index = d
		bpath := fmt.Sprintf("Bundle.entry[%d].resource", bi)
		var bin fhir.Binary
		if err := fhir.Unmarshal(b.Entry[bi].Resource, &bin, bpath); err != nil {
			l.merge(err, bpath)
			continue
		}
		if len(bin.Data) == 0 {
			l.add("required", bpath+".data", "the Binary has no data")
			continue
		}
		if bin.ContentType != "" && pd.att.ContentType != "" && !sameMediaType(bin.ContentType, pd.att.ContentType) {
			l.add("value", bpath+".contentType", "the Binary's contentType differs from %s.contentType", pd.attPath)
		}
		attachContent(pd, bin.Data, &l)
	}
	for i := range kinds {
		if _, used := usedBinary[i]; kinds[i].Kind == EntryBinary && !used {
			l.add("invalid", fmt.Sprintf("Bundle.entry[%d]", i), "the Binary is the content of no DocumentReference")
		}
	}

	// Metadata changes of existing documents.
	patched := map[string]string{}
	for _, i := range patches {
		path := fmt.Sprintf("Bundle.entry[%d]", i)
		e := b.Entry[i]
		id, ok := referenceID(e.Request.URL, "DocumentReference")
		if !ok {
			l.add("not-supported", path+".request.url", "only DocumentReference/{id} can be patched")
		} else if first, dup := patched[id]; dup {
			l.add("duplicate", path+".request.url", "the DocumentReference is already patched by %s", first)
		} else {
			patched[id] = path
		}
		ch := carnet.DocumentChange{Path: path, DocumentID: id}
		rp := path + ".resource"
		switch fhir.PeekResourceType(e.Resource) {
		case "Parameters":
			if c, ok, _ := parsePatch(e.Resource, MediaFHIRJSON, rp, &l); ok {
				c.Path, c.DocumentID = ch.Path, ch.DocumentID
				ch = c
			}
		case "Binary":
			var bin fhir.Binary
			if err := fhir.Unmarshal(e.Resource, &bin, rp); err != nil {
				l.merge(err, rp)
				break
			}
			if c, ok, _ := parsePatch(bin.Data, bin.ContentType, rp+".data", &l); ok {
				c.Path, c.DocumentID = ch.Path, ch.DocumentID
				ch = c
			}
		case "":
			l.add("required", rp, "a PATCH entry needs a FHIRPath Patch Parameters or a Binary holding a JSON Patch")
		default:
			l.add("not-supported", rp, "a PATCH entry needs a FHIRPath Patch Parameters or a Binary holding a JSON Patch")
		}
		sub.Changes = append(sub.Changes, ch)
	}
	if err := l.err(op); err != nil {
		return carnet.Submission{}, nil, err
	}
	for _, de := range docs {
		sub.Documents = append(sub.Documents, de.pd.doc)
	}
	return sub, &EntryMap{Entries: kinds}, nil
}

func tooLarge(op, msg string) error {
	return &carnet.Error{Kind: carnet.KindTooLarge, Op: op, Msg: msg,
		Issues: []carnet.Issue{{Severity: "error", Code: "too-costly", Diagnostics: msg, Expression: "Bundle"}}}
}

func sameMediaType(a, b string) bool {
	a, _, _ = strings.Cut(a, ";")
	b, _, _ = strings.Cut(b, ";")
	return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}

// listKind says whether a List is a SubmissionSet or a Folder, by its code
// or, failing that, by the profile it claims.
func listKind(l *fhir.List) string {
	if l.Code != nil {
		for _, c := range l.Code.Coding {
			switch c.Code {
			case "submissionset", "folder":
				return c.Code
			}
		}
	}
	if l.Meta != nil {
		for _, p := range l.Meta.Profile {
			lp := strings.ToLower(p)
			switch {
			case strings.Contains(lp, "submissionset"):
				return "submissionset"
			case strings.Contains(lp, "folder"):
				return "folder"
			}
		}
	}
	return ""
}

type listItem struct{ ref, path string }

type readSet struct {
	set       carnet.SubmissionSet
	subject   carnet.Identifier
	subjectOK bool
	items     []listItem
}

// readSubmissionSet checks and maps the SubmissionSet List at path.
func readSubmissionSet(raw json.RawMessage, path string, opts ParseOptions, l *issueList) readSet {
	var out readSet
	var lst fhir.List
	if err := fhir.Unmarshal(raw, &lst, path); err != nil {
		l.merge(err, path)
		return out
	}
	s := &out.set
	s.Original = append([]byte(nil), raw...)
	s.Title = lst.Title
	// uniqueId is the identifier that is not the entryUUID (urn:uuid).
	for _, id := range lst.Identifier {
		if id.Value != "" && !strings.HasPrefix(id.Value, "urn:uuid:") {
			s.UniqueID = bareID(id.Value)
			break
		}
	}
	if s.UniqueID == "" {
		l.add("required", path+".identifier", "the SubmissionSet needs its uniqueId as an identifier (an OID, urn:oid:…)")
	}
	if lst.Status != "current" {
		l.add("value", path+".status", "a SubmissionSet has status current")
	}
	if lst.Mode != "working" {
		l.add("value", path+".mode", "a SubmissionSet has mode working")
	}
	if ext, ok := fhir.FindExtension(lst.Extension, ExtSourceID); !ok || ext.ValueIdentifier == nil || ext.ValueIdentifier.Value == "" {
		l.add("required", path+".extension", "the SubmissionSet needs the sourceId extension (%s)", ExtSourceID)
	} else {
		s.SourceID = bareID(ext.ValueIdentifier.Value)
	}
	if ext, ok := fhir.FindExtension(lst.Extension, ExtDesignationType); !ok {
		l.add("required", path+".extension", "the SubmissionSet needs the designationType extension (XDS contentTypeCode, %s)", ExtDesignationType)
	} else if c, ok := ext.ValueCodeableConcept.First(); ok {
		s.ContentType = coding(c)
	} else {
		l.add("required", path+".extension", "the designationType extension needs a valueCodeableConcept with a code")
	}
	if lst.Date == "" {
		l.add("required", path+".date", "date (XDS submissionTime) is required")
	} else if dt, err := fhir.ParseDateTime(lst.Date); err != nil {
		l.add("value", path+".date", "date is not a FHIR dateTime")
	} else {
		s.Date = dt.Start
	}
	out.subject, out.subjectOK = readSubject(lst.Subject, path+".subject", opts, l)
	if len(lst.Contained) > maxContained {
		l.add("too-costly", path+".contained", "at most %d contained resources", maxContained)
	} else if lst.Source != nil && lst.Source.Reference != "" {
		if a, ok := readAuthor(lst.Contained, *lst.Source, path+".source", l); ok {
			s.Authors = append(s.Authors, a)
		}
	}
	if len(lst.Entry) > 3*opts.MaxDocuments {
		l.add("too-costly", path+".entry", "the SubmissionSet lists more entries than a submission may hold")
		lst.Entry = nil
	}
	for k, en := range lst.Entry {
		out.items = append(out.items, listItem{ref: en.Item.Reference, path: fmt.Sprintf("%s.entry[%d].item", path, k)})
	}
	return out
}

// BuildProvideResponse returns the transaction-response of a filed
// submission: one entry per request entry of m, in order, 201 Created with
// the location of what was created (List/{id}, DocumentReference/{id},
// Binary/{id}, prefixed with base when given) and 200 OK for PATCH entries,
// located at the new version. A replayed submission answers 200 OK
// throughout: nothing new was created.
func BuildProvideResponse(res carnet.SubmissionResult, m *EntryMap, base string) fhir.Bundle {
	base = strings.TrimSuffix(base, "/")
	loc := func(typ, id string) string {
		if id == "" {
			return ""
		}
		if base == "" {
			return typ + "/" + id
		}
		return base + "/" + typ + "/" + id
	}
	at := func(ids []string, i int) string {
		if i >= 0 && i < len(ids) {
			return ids[i]
		}
		return ""
	}
	created := "201 Created"
	if res.Replayed {
		created = "200 OK"
	}
	out := fhir.Bundle{Resource: fhir.Resource{ResourceType: "Bundle"}, Type: "transaction-response"}
	if m == nil {
		return out
	}
	for _, e := range m.Entries {
		r := &fhir.BundleResponse{Status: created}
		switch e.Kind {
		case EntrySubmissionSet:
			r.Location = loc("List", res.SetID)
		case EntryDocument:
			r.Location = loc("DocumentReference", at(res.DocumentIDs, e.Index))
			if e.Index >= 0 && e.Index < len(res.Warnings) {
				r.Outcome = FilingOutcome(res.Warnings[e.Index])
			}
		case EntryBinary:
			r.Location = loc("Binary", at(res.ContentIDs, e.Index))
		case EntryPatch:
			r.Status = "200 OK"
			r.Location = loc("DocumentReference", at(res.ChangedIDs, e.Index))
		}
		out.Entry = append(out.Entry, fhir.BundleEntry{Response: r})
	}
	return out
}
