package pastille

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// What the transports share to rank a record at the point of care (the CDS
// card and $relevant in httpapi, the pastille view in web): the Service
// gathers the view, RankView ranks it and opens only the lines shown. One
// code path, so that a clinician sees the same order wherever they look.

// Gather is record.Service.PointOfCare bound to one request: it gathers the
// record's view for the caller, calls pick with it, opens the documents pick
// returns and records them as served.
type Gather func(pick func(carnet.CareView) []string) (carnet.CareView, carnet.CareDetails, error)

// RankOptions say how a view is ranked and how much of it is opened.
type RankOptions struct {
	Actor carnet.Actor
	// Since, when not zero, stands for the last visit (the card's link
	// keeps the visit the card was computed for).
	Since time.Time
	// Show is how many lines are opened (their documents unsealed, shown
	// and recorded as served).
	Show int
	// Keep filters the ranked lines before the Show first are picked
	// (nil keeps every line).
	Keep func(Ranked) bool
	// NewFirst puts the lines new since the last visit before the others
	// (each part in rank order), as a "what is new" view shows them.
	NewFirst bool
	// FirstVisit ranks as a first opening of the record whatever the view
	// says (the first opening of a session, remembered by the web space).
	FirstVisit bool
	// Cache keeps the ranking's form of documents per record and stamp.
	Cache *ViewCache
}

// Ranking is one point-of-care ranking: the view, the ranked (and kept)
// lines, and the documents opened for the first Show of them.
type Ranking struct {
	Input Input
	// All is every line in rank order (what the card counts); Ranked the
	// lines kept, in the order shown.
	All     []Ranked
	Ranked  []Ranked
	View    carnet.CareView
	Details carnet.CareDetails
}

// RankView gathers, ranks, keeps and opens: the lines opened are filled with
// what their metadata says (titles, authors, results) and their reasons
// written again with it.
func RankView(gather Gather, o RankOptions) (*Ranking, error) {
	cr := &Ranking{}
	ranked := false
	pick := func(v carnet.CareView) []string {
		cr.Input = fromView(o.Actor, v, o.Since, o.Cache)
		if o.FirstVisit {
			cr.Input.LastVisit = time.Time{}
		}
		cr.All = Rank(cr.Input)
		cr.Ranked = cr.All
		ranked = true
		if o.Keep != nil || o.NewFirst {
			// One pass: the kept lines, the new ones first when asked, each
			// part in rank order.
			kept := make([]Ranked, 0, len(cr.All))
			for pass := 0; pass < 2; pass++ {
				for _, r := range cr.All {
					if o.Keep != nil && !o.Keep(r) {
						continue
					}
					if o.NewFirst && r.New != (pass == 0) || !o.NewFirst && pass == 1 {
						continue
					}
					kept = append(kept, r)
				}
			}
			cr.Ranked = kept
		}
		ids := make([]string, 0, o.Show)
		for _, rk := range cr.Ranked {
			if len(ids) == o.Show {
				break
			}
			ids = append(ids, rk.Doc.ID)
		}
		return ids
	}
	view, det, err := gather(pick)
	if err != nil {
		return nil, err
	}
	cr.View, cr.Details = view, det
	if !ranked { // nothing to rank: no record, or not the caller's to see
		cr.Input = fromView(o.Actor, view, o.Since, o.Cache)
	}
	// The lines opened are the first Show of Ranked (what pick returned).
	// Their documents may be the cache's, shared with other requests: each
	// is filled on a copy, which the same line of All is given too (their
	// reasons are shared already).
	var filled map[*Doc]*Doc
	for i := range cr.Ranked[:min(o.Show, len(cr.Ranked))] {
		l := &cr.Ranked[i]
		d, ok := det.Documents[l.Doc.ID]
		if !ok {
			continue
		}
		cp := *l.Doc
		if filled == nil {
			filled = map[*Doc]*Doc{}
		}
		filled[l.Doc] = &cp
		l.Doc = &cp
		Fill(l.Doc, d, det)
		RefreshReasons(l)
	}
	if len(filled) > 0 { // All may be another slice than Ranked (Keep, NewFirst)
		for i := range cr.All {
			if cp, ok := filled[cr.All[i].Doc]; ok {
				cr.All[i].Doc = cp
			}
		}
	}
	return cr, nil
}

// FromView turns the Service's view into the ranking's input.
func FromView(a carnet.Actor, v carnet.CareView, since time.Time) Input {
	return fromView(a, v, since, nil)
}

// ViewCache caches, per record and stamp, the ranking's form of each
// document: the part that does not depend on who asks. The zero value is
// ready to use.
type ViewCache struct {
	mu sync.Mutex
	m  map[carnet.PatientKey]*viewCacheEntry
}

// viewCacheEntry holds the forms of a record's rows by their position
// (CareDoc.Pos) at one stamp. Once shared it is never written to: rows a
// caller could not see stay unmade, and are made afresh by those who see
// them.
type viewCacheEntry struct {
	stamp string
	docs  []Doc
	made  []bool
}

const viewCacheRecords = 256

func fromView(a carnet.Actor, v carnet.CareView, since time.Time, c *ViewCache) Input {
	in := Input{Caller: Caller{Profession: a.Profession, Specialty: a.Specialty}, Now: v.Now, LastVisit: v.LastVisit, Query: v.Query}
	if !since.IsZero() {
		in.LastVisit = since
	}
	cacheable := c != nil && v.Stamp != "" && v.Rows > 0
	var cached *viewCacheEntry
	if cacheable {
		c.mu.Lock()
		if e := c.m[v.Patient]; e != nil && e.stamp == v.Stamp && len(e.docs) == v.Rows {
			cached = e
		}
		c.mu.Unlock()
	}
	fresh := cacheable && cached == nil // only an entry not yet shared is written to
	if fresh {
		cached = &viewCacheEntry{stamp: v.Stamp, docs: make([]Doc, v.Rows), made: make([]bool, v.Rows)}
		defer func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.m == nil || len(c.m) >= viewCacheRecords {
				c.m = map[carnet.PatientKey]*viewCacheEntry{}
			}
			if e := c.m[v.Patient]; e == nil || e.stamp != v.Stamp || made(e) < made(cached) {
				c.m[v.Patient] = cached
			}
		}()
	}
	if !cacheable {
		in.Docs = make([]Doc, 0, len(v.Docs))
		for _, cd := range v.Docs {
			d := viewDoc(cd)
			d.LabelsChanged, d.TextScore = cd.LabelsChanged, cd.TextScore
			in.Docs = append(in.Docs, d)
		}
		return in
	}
	// The ranking reads the cached forms where it can: a document is
	// copied only when this request changes it (its labels changed since
	// the caller's last visit, a full-text score) or when a shared entry
	// lacks it.
	in.shared = make([]*Doc, 0, len(v.Docs))
	for _, cd := range v.Docs {
		var d *Doc
		inCache := cd.Pos >= 0 && cd.Pos < len(cached.docs)
		switch {
		case inCache && cached.made[cd.Pos]:
			d = &cached.docs[cd.Pos]
		case inCache && fresh:
			cached.docs[cd.Pos], cached.made[cd.Pos] = viewDoc(cd), true
			d = &cached.docs[cd.Pos]
		default:
			nd := viewDoc(cd)
			d = &nd
		}
		if cd.LabelsChanged != d.LabelsChanged || cd.TextScore != d.TextScore {
			nd := *d // Findings stay shared: Fill copies them before writing
			nd.LabelsChanged, nd.TextScore = cd.LabelsChanged, cd.TextScore
			d = &nd
		}
		in.shared = append(in.shared, d)
	}
	return in
}

// made is how many rows an entry holds the form of.
func made(e *viewCacheEntry) int {
	n := 0
	for _, m := range e.made {
		if m {
			n++
		}
	}
	return n
}

// viewDoc is the ranking's form of a document from its clear fields.
func viewDoc(cd carnet.CareDoc) Doc {
	row := cd.Row
	// A uniqueId folds documents of one filer only: two filers' documents
	// under one uniqueId are two documents (or one hiding another); the same
	// document filed by two systems still folds by its content's hash.
	uid := row.UniqueID
	if uid != "" && row.Filer != "" {
		uid = row.Filer + "|" + uid
	}
	d := Doc{ID: row.ID, LogicalID: row.LogicalID, UniqueID: uid, SubmissionSet: row.SubmissionSet,
		Status: row.Status, Created: row.Created, Date: row.Date, Superseded: row.Status == carnet.StatusSuperseded}
	for _, t := range row.Tokens {
		var field *carnet.Coding
		switch t.Kind {
		case carnet.TokType:
			field = &d.Type
		case carnet.TokClass:
			field = &d.Class
		case carnet.TokFormat:
			field = &d.Format
		case carnet.TokFacility:
			field = &d.Facility
		case carnet.TokSetting:
			field = &d.Practice
		}
		if field != nil {
			if c, ok := TokenCoding(t.Value); ok {
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
		d.Findings = append(d.Findings, Finding{Code: f.Code, Interpretation: f.Interpretation})
	}
	d.Concepts, d.TitleKey, d.TitleWords = cd.Concepts, cd.TitleKey, cd.TitleWords
	d.AuthorSpecialties = cd.AuthorSpecialties
	if !cd.Filed.IsZero() {
		d.Date = cd.Filed // when the document came, not its latest metadata change
	}
	return d
}

// TokenCoding reads a "system|code" token; codes alone are skipped (both
// forms are stored).
func TokenCoding(v string) (carnet.Coding, bool) {
	sys, code, ok := strings.Cut(v, "|")
	if !ok || sys == "" {
		return carnet.Coding{}, false
	}
	return carnet.Coding{System: sys, Code: code}, true
}

// Fill completes a ranked document from its opened metadata and results.
func Fill(d *Doc, full carnet.Document, det carnet.CareDetails) {
	m := full.Meta
	d.Title, d.Type, d.Class, d.Practice, d.Facility = m.Title, m.Type, m.Class, m.PracticeSetting, m.Facility
	d.AuthorNames, d.AuthorSpecialties = nil, nil
	// The findings may be shared (ViewCache): written on a copy.
	d.Findings = slices.Clone(d.Findings)
	for _, a := range m.Authors {
		if n := a.DisplayName(); n != "" {
			d.AuthorNames = append(d.AuthorNames, n)
		}
		if c := a.SpecialtyCode(); c != "" {
			d.AuthorSpecialties = append(d.AuthorSpecialties, c)
		}
	}
	for i := range d.Findings {
		for _, it := range det.Items {
			if it.SourceLogicalID != d.LogicalID || it.Code.Code != d.Findings[i].Code.Code {
				continue
			}
			d.Findings[i].Display, d.Findings[i].Value = ObservationText(it.Resource)
		}
	}
}

// ObservationText reads the display and value of a QEDm Observation.
func ObservationText(resource []byte) (display, value string) {
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
