package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/mhd"
	"github.com/carnet-sante/carnet/pastille"
)

// RelevanceURL is the extension a ranked DocumentReference carries: its
// score, whether it is new, and the reasons, in French.
const RelevanceURL = "https://carnet-sante.fr/fhir/StructureDefinition/relevance"

// careRanking is one point-of-care ranking: the view, the ranked list and
// the documents opened for it.
type careRanking struct {
	input  pastille.Input
	ranked []pastille.Ranked
	view   carnet.CareView
	det    carnet.CareDetails
}

// rankCare gathers the record's view for the caller, ranks it and opens the
// top n documents. since, when not zero, stands for the last visit (the
// card's link keeps the visit the card was computed for).
func (s *Server) rankCare(r *http.Request, req carnet.Request, key carnet.PatientKey, id carnet.Identifier, q string, n int, mark bool, since time.Time) (*careRanking, error) {
	cr := &careRanking{}
	pick := func(v carnet.CareView) []string {
		cr.input = careInputCached(req.Actor, v, since, &s.care)
		cr.ranked = pastille.Rank(cr.input)
		ids := make([]string, 0, n)
		for _, rk := range cr.ranked {
			if len(ids) == n {
				break
			}
			ids = append(ids, rk.Doc.ID)
		}
		return ids
	}
	view, det, err := s.svc.PointOfCare(r.Context(), req, key, id, q, mark, pick)
	if err != nil {
		return nil, err
	}
	cr.view, cr.det = view, det
	if cr.ranked == nil { // nothing to rank: no record, or not the caller's to see
		cr.input = careInputCached(req.Actor, view, since, &s.care)
	}
	// What was opened fills in what the clear fields could not say.
	for i := range cr.ranked {
		d, ok := det.Documents[cr.ranked[i].Doc.ID]
		if !ok {
			continue
		}
		fill(&cr.ranked[i].Doc, d, det)
		pastille.RefreshReasons(&cr.ranked[i])
	}
	return cr, nil
}

// CareInput turns the Service's view into the ranking's input (what the
// card and $relevant rank; exported for `carnet bench pastille`).
func CareInput(a carnet.Actor, v carnet.CareView, since time.Time) pastille.Input {
	return careInputCached(a, v, since, nil)
}

// careDocs caches, per record and stamp, the ranking's form of each
// document: the part that does not depend on who asks.
type careDocs struct {
	mu sync.Mutex
	m  map[carnet.PatientKey]*careDocsEntry
}

type careDocsEntry struct {
	stamp string
	docs  map[string]pastille.Doc
}

const careDocsRecords = 256

func careInputCached(a carnet.Actor, v carnet.CareView, since time.Time, c *careDocs) pastille.Input {
	in := pastille.Input{Caller: pastille.Caller{Profession: a.Profession, Specialty: a.Specialty}, Now: v.Now, LastVisit: v.LastVisit, Query: v.Query}
	if !since.IsZero() {
		in.LastVisit = since
	}
	var cached *careDocsEntry
	if c != nil && v.Stamp != "" {
		c.mu.Lock()
		if e := c.m[v.Patient]; e != nil && e.stamp == v.Stamp {
			cached = e
		}
		c.mu.Unlock()
	}
	fresh := cached == nil // only an entry not yet shared is written to
	if fresh {
		cached = &careDocsEntry{stamp: v.Stamp, docs: make(map[string]pastille.Doc, len(v.Docs))}
		defer func() {
			if c == nil || v.Stamp == "" {
				return
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.m == nil || len(c.m) >= careDocsRecords {
				c.m = map[carnet.PatientKey]*careDocsEntry{}
			}
			if e := c.m[v.Patient]; e == nil || e.stamp != v.Stamp || len(e.docs) < len(cached.docs) {
				c.m[v.Patient] = cached
			}
		}()
	}
	in.Docs = make([]pastille.Doc, 0, len(v.Docs))
	for _, cd := range v.Docs {
		d, ok := cached.docs[cd.Row.ID]
		if !ok {
			d = careDoc(cd)
			if fresh {
				cached.docs[cd.Row.ID] = d
			}
		}
		// What depends on the request, and what the caller may change.
		d.LabelsChanged, d.TextScore = cd.LabelsChanged, cd.TextScore
		if !cd.Filed.IsZero() {
			d.Date = cd.Filed // when the document came, not its latest metadata change
		}
		d.Findings = slices.Clone(d.Findings)
		in.Docs = append(in.Docs, d)
	}
	return in
}

// careDoc is the ranking's form of a document from its clear fields.
func careDoc(cd carnet.CareDoc) pastille.Doc {
	row := cd.Row
	d := pastille.Doc{ID: row.ID, LogicalID: row.LogicalID, UniqueID: row.UniqueID, SubmissionSet: row.SubmissionSet,
		Status: row.Status, Created: row.Created, Date: row.Date, Superseded: row.Status == carnet.StatusSuperseded}
	codings := map[string]*carnet.Coding{carnet.TokType: &d.Type, carnet.TokClass: &d.Class, carnet.TokFormat: &d.Format,
		carnet.TokFacility: &d.Facility, carnet.TokSetting: &d.Practice}
	for _, t := range row.Tokens {
		if field, ok := codings[t.Kind]; ok {
			if c, ok := tokenCoding(t.Value); ok {
				*field = c
			}
			continue
		}
		switch t.Kind {
		case carnet.TokLabel:
			if !strings.Contains(t.Value, "|") {
				d.Labels = append(d.Labels, t.Value)
			}
		case carnet.TokRelated:
			d.Replaces = append(d.Replaces, t.Value)
		case carnet.TokContentHash:
			d.SHA256 = []byte(t.Value) // a blind token of the hash: equal contents, equal tokens
		}
	}
	for _, f := range cd.Findings {
		d.Findings = append(d.Findings, pastille.Finding{Code: f.Code, Interpretation: f.Interpretation})
	}
	return d
}

// tokenCoding reads a "system|code" token; codes alone are skipped (both
// forms are stored).
func tokenCoding(v string) (carnet.Coding, bool) {
	sys, code, ok := strings.Cut(v, "|")
	if !ok || sys == "" {
		return carnet.Coding{}, false
	}
	return carnet.Coding{System: sys, Code: code}, true
}

// fill completes a ranked document from its opened metadata and results.
func fill(d *pastille.Doc, full carnet.Document, det carnet.CareDetails) {
	m := full.Meta
	d.Title, d.Type, d.Class, d.Practice, d.Facility = m.Title, m.Type, m.Class, m.PracticeSetting, m.Facility
	d.AuthorNames, d.AuthorSpecialties = d.AuthorNames[:0], d.AuthorSpecialties[:0]
	for _, a := range m.Authors {
		if n := a.DisplayName(); n != "" {
			d.AuthorNames = append(d.AuthorNames, n)
		}
		if a.Specialty.Code != "" {
			d.AuthorSpecialties = append(d.AuthorSpecialties, a.Specialty.Code)
		}
	}
	for i := range d.Findings {
		for _, it := range det.Items {
			if it.SourceLogicalID != d.LogicalID || it.Code.Code != d.Findings[i].Code.Code {
				continue
			}
			d.Findings[i].Display, d.Findings[i].Value = observationText(it.Resource)
		}
	}
}

// observationText reads the display and value of a QEDm Observation.
func observationText(resource []byte) (display, value string) {
	var o struct {
		Code struct {
			Text   string `json:"text"`
			Coding []struct {
				Display string `json:"display"`
			} `json:"coding"`
		} `json:"code"`
		ValueQuantity *struct {
			Value json.Number `json:"value"`
			Unit  string      `json:"unit"`
		} `json:"valueQuantity"`
		ValueString string `json:"valueString"`
	}
	if json.Unmarshal(resource, &o) != nil {
		return "", ""
	}
	display = o.Code.Text
	if display == "" && len(o.Code.Coding) > 0 {
		display = o.Code.Coding[0].Display
	}
	// LOINC long names ("Calcium [Masse/Volume] Sérum/Plasma ; Numérique"):
	// the component is what a clinician reads.
	if i := strings.Index(display, " ["); i > 0 {
		display = display[:i]
	}
	if i := strings.Index(display, " ;"); i > 0 {
		display = display[:i]
	}
	switch {
	case o.ValueQuantity != nil:
		value = strings.Replace(o.ValueQuantity.Value.String(), ".", ",", 1) + " " + o.ValueQuantity.Unit
	default:
		value = o.ValueString
	}
	return display, strings.TrimSpace(value)
}

// relevant is GET /DocumentReference/$relevant?patient.identifier=…|patient=…
// [&q=…][&since=…][&_count=]: the record's documents the caller may see,
// ranked for them, each with its reasons.
func (s *Server) relevant(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	q := r.URL.Query()
	var key carnet.PatientKey
	var id carnet.Identifier
	switch {
	case q.Get("patient.identifier") != "":
		var err error
		if id, err = parseIdentifierParam(q.Get("patient.identifier"), "patient.identifier"); err != nil {
			return err
		}
	case q.Get("patient") != "":
		key = carnet.PatientKey(strings.TrimPrefix(q.Get("patient"), "Patient/"))
	case req.Actor.Kind == carnet.ActorPatient:
		id = req.Actor.ID
	default:
		return refuse(carnet.KindInvalid, "required", "name the patient: patient.identifier=system|INS or patient=Patient/{id}")
	}
	n := 20
	if v := q.Get("_count"); v != "" {
		c, err := strconv.Atoi(v)
		if err != nil || c < 1 || c > 200 {
			return refuse(carnet.KindInvalid, "value", "_count must be between 1 and 200")
		}
		n = c
	}
	var since time.Time
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return refuse(carnet.KindInvalid, "value", "since takes an instant, e.g. 2026-10-12T09:00:00Z")
		}
		since = t
	}
	cr, err := s.rankCare(r, req, key, id, strings.TrimSpace(q.Get("q")), n, false, since)
	if err != nil {
		return err
	}
	b := fhir.Bundle{Type: "searchset"}
	b.ID = carnet.NewID()
	total := len(cr.ranked)
	b.Total = &total
	b.Link = []fhir.BundleLink{{Relation: "self", URL: s.base(r) + r.URL.RequestURI()}}
	for _, rk := range cr.ranked {
		d, ok := cr.det.Documents[rk.Doc.ID]
		if !ok {
			break // beyond _count: counted, not shown
		}
		dr := mhd.DocumentReference(d, s.base(r))
		dr.Extension = append(dr.Extension, relevanceExtension(rk))
		raw, err := json.Marshal(dr)
		if err != nil {
			return carnet.WrapError(carnet.KindInternal, "encode", err)
		}
		score := rk.Score
		b.Entry = append(b.Entry, fhir.BundleEntry{FullURL: s.base(r) + "/DocumentReference/" + d.ID, Resource: raw,
			Search: &fhir.BundleSearch{Mode: "match", Score: &score}})
	}
	s.writeResource(w, http.StatusOK, b)
	return nil
}

func relevanceExtension(rk pastille.Ranked) fhir.Extension {
	score := fmt.Sprintf("%.4f", rk.Score)
	ext := fhir.Extension{URL: RelevanceURL, Extension: []fhir.Extension{{URL: "score", ValueString: &score}}}
	isNew := rk.New
	ext.Extension = append(ext.Extension, fhir.Extension{URL: "new", ValueBoolean: &isNew})
	if rk.Pinned {
		pinned := true
		ext.Extension = append(ext.Extension, fhir.Extension{URL: "pinned", ValueBoolean: &pinned})
	}
	for _, reason := range rk.Reasons {
		text := reason.Text
		code := reason.Code
		ext.Extension = append(ext.Extension, fhir.Extension{URL: "reason", ValueCoding: &fhir.Coding{
			System: "https://carnet-sante.fr/fhir/CodeSystem/relevance-reason", Code: code, Display: text}})
	}
	for _, c := range rk.Collapsed {
		ref := "DocumentReference/" + c
		ext.Extension = append(ext.Extension, fhir.Extension{URL: "collapsed", ValueReference: &fhir.Reference{Reference: ref}})
	}
	if rk.Group != "" {
		g := "List/" + rk.Group
		ext.Extension = append(ext.Extension, fhir.Extension{URL: "submission", ValueReference: &fhir.Reference{Reference: g}})
	}
	return ext
}

// relevantLink is the card's link to the ranked list, keeping the visit the
// card was computed for.
func (s *Server) relevantLink(r *http.Request, cr *careRanking) string {
	v := url.Values{}
	if cr.view.INS.Value != "" {
		v.Set("patient.identifier", cr.view.INS.System+"|"+cr.view.INS.Value)
	} else {
		v.Set("patient", "Patient/"+string(cr.view.Patient))
	}
	if !cr.input.LastVisit.IsZero() {
		v.Set("since", cr.input.LastVisit.UTC().Format(time.RFC3339Nano))
	}
	return s.base(r) + "/DocumentReference/$relevant?" + v.Encode()
}
