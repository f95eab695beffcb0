package httpapi_test

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// The true state behind the API, read from the Store with the Sealer (the
// documented on-disk formats, docs/ENCRYPTION.md), and the read oracle:
// policy.Engine, the pure function the server decides with, applied to
// that state.

// advTruth is the record of P as stored, opened.
type advTruth struct {
	Exists  bool
	Row     carnet.PatientRow
	Patient carnet.Patient
	// UExists: a record was created for U, the person who has none.
	UExists bool
	Docs    []*advTrueDoc // in filing order
	byID    map[string]*advTrueDoc
	Items   []carnet.Item
	Notes   []carnet.Notification // newest first
}

// advTrueDoc is one document (all its metadata versions).
type advTrueDoc struct {
	Logical  string
	Versions []carnet.DocumentRow // oldest first
	Latest   carnet.DocumentRow
	Doc      carnet.Document // the latest version, opened
	Handle   string          // the suite's name for it ("" for a document it did not file)
}

// doc finds a document by any of its version ids or its content id.
func (tr *advTruth) doc(id string) *advTrueDoc { return tr.byID[id] }

func (tr *advTruth) byHandle(h string) *advTrueDoc {
	for _, d := range tr.Docs {
		if d.Handle == h {
			return d
		}
	}
	return nil
}

// settings are the record's access choices as the policy reads them.
func (tr *advTruth) settings() carnet.AccessSettings {
	s := tr.Patient.Settings()
	s.Closed = s.Closed || tr.Row.State == carnet.RecordClosed
	return s
}

func (tr *advTruth) careTeam() []string { return sortedCopy(tr.settings().CareTeam) }

// ids are every id of the document a response could name: its version
// ids, its logicalId and its content id.
func (d *advTrueDoc) ids() []string {
	out := []string{d.Logical, d.Latest.ContentID}
	for _, v := range d.Versions {
		out = append(out, v.ID)
	}
	return out
}

func (d *advTrueDoc) versionIDs() []string {
	out := make([]string, len(d.Versions))
	for i, v := range d.Versions {
		out[i] = v.ID
	}
	return out
}

func (d *advTrueDoc) labels() []string {
	var out []string
	for _, c := range d.Doc.Meta.Confidentiality {
		if c.Code != carnet.LabelNormal {
			out = append(out, c.Code)
		}
	}
	sort.Strings(out)
	return out
}

func (d *advTrueDoc) hasLabel(code string) bool { return d.Doc.Meta.HasLabel(code) }

// authorRPPS are the RPPS of its professional authors, as the metadata
// names them.
func (d *advTrueDoc) authorRPPS() []string {
	var out []string
	for _, a := range d.Doc.Meta.Authors {
		if a.ID.OID() == carnet.OIDRPPS && a.ID.Value != "" {
			out = append(out, a.ID.Value)
		}
	}
	return out
}

// patientDocument: class 90 (document du patient) with no professional
// or organisation author (ACCESS.md, "Who may file for whom").
func (d *advTrueDoc) patientDocument() bool {
	if d.Doc.Meta.Class.Code != "90" {
		return false
	}
	for _, a := range d.Doc.Meta.Authors {
		if a.ID.OID() == carnet.OIDRPPS || a.Org != "" || a.OrgID.Value != "" {
			return false
		}
	}
	return true
}

func (r *advRun) store() carnet.Store   { return r.env.Store }
func (r *advRun) sealer() carnet.Sealer { return r.env.Service.Sealer }

// readTruth reads the record of P and whether U got one.
func (r *advRun) readTruth() *advTruth {
	t, ctx, st, se := r.t, r.ctx, r.store(), r.sealer()
	t.Helper()
	tr := &advTruth{byID: map[string]*advTrueDoc{}}
	keys, err := st.PatientKeys(ctx, "", 1000)
	if err != nil {
		t.Fatalf("truth: patient keys: %v", err)
	}
	for _, k := range keys {
		row, err := st.Patient(ctx, k)
		if err != nil {
			t.Fatalf("truth: patient %s: %v", k, err)
		}
		pt, err := se.Open(ctx, row.Key, carnet.Binding{Kind: "patient", ID: string(row.Key), Version: row.Version}, row.Sealed)
		if err != nil {
			t.Fatalf("truth: open patient: %v", err)
		}
		var p carnet.Patient
		if err := json.Unmarshal(pt, &p); err != nil {
			t.Fatal(err)
		}
		p.Key, p.State, p.Version = row.Key, row.State, row.Version
		for _, id := range p.Identifiers {
			switch id.Value {
			case r.cast.P.Value:
				tr.Exists, tr.Row, tr.Patient = true, row, p
			case r.cast.U.Value:
				tr.UExists = true
			}
		}
	}
	if !tr.Exists {
		return tr
	}
	key := tr.Row.Key
	rows, err := st.FindDocuments(ctx, key, carnet.DocumentFilter{AllVersions: true})
	if err != nil {
		t.Fatalf("truth: documents: %v", err)
	}
	byLogical := map[string]*advTrueDoc{}
	for _, row := range rows {
		d := byLogical[row.LogicalID]
		if d == nil {
			d = &advTrueDoc{Logical: row.LogicalID}
			byLogical[row.LogicalID] = d
			tr.Docs = append(tr.Docs, d)
		}
		d.Versions = append(d.Versions, row)
		if row.Latest {
			d.Latest = row
		}
	}
	for _, d := range tr.Docs {
		sort.Slice(d.Versions, func(i, j int) bool { return d.Versions[i].Version < d.Versions[j].Version })
		if d.Latest.ID == "" { // cannot happen in a sound store; decide on the newest
			d.Latest = d.Versions[len(d.Versions)-1]
		}
		doc, ok := r.openedDocs[d.Latest.ID]
		if !ok {
			pt, err := se.Open(ctx, key, carnet.Binding{Kind: "document", ID: d.Latest.ID, Version: d.Latest.Version}, d.Latest.Sealed)
			if err != nil {
				t.Fatalf("truth: open document: %v", err)
			}
			if err := json.Unmarshal(pt, &doc); err != nil {
				t.Fatal(err)
			}
			r.openedDocs[d.Latest.ID] = doc
		}
		doc.Status = d.Latest.Status // the row is authoritative for what changes in place
		d.Doc = doc
		d.Handle = r.handle(d.Logical, doc.Meta.Title)
		for _, id := range d.ids() {
			tr.byID[id] = d
		}
	}
	// Filing order: by the first version's registration, then id.
	sort.SliceStable(tr.Docs, func(i, j int) bool {
		a, b := tr.Docs[i].Versions[0], tr.Docs[j].Versions[0]
		if !a.Date.Equal(b.Date) {
			return a.Date.Before(b.Date)
		}
		return a.ID < b.ID
	})

	itemRows, err := st.FindItems(ctx, key, carnet.ItemFilter{})
	if err != nil {
		t.Fatalf("truth: items: %v", err)
	}
	for _, row := range itemRows {
		it, ok := r.openedItems[row.ID]
		if !ok {
			pt, err := se.Open(ctx, key, carnet.Binding{Kind: "item", ID: row.ID, Version: 1}, row.Sealed)
			if err != nil {
				t.Fatalf("truth: open item: %v", err)
			}
			if err := json.Unmarshal(pt, &it); err != nil {
				t.Fatal(err)
			}
			it.ID = row.ID
			r.openedItems[row.ID] = it
		}
		tr.Items = append(tr.Items, it)
	}

	noteRows, err := st.Notifications(ctx, key, carnet.NotificationFilter{})
	if err != nil {
		t.Fatalf("truth: notifications: %v", err)
	}
	for _, row := range noteRows {
		n, ok := r.openedNotes[row.ID]
		if !ok {
			pt, err := se.Open(ctx, key, carnet.Binding{Kind: "notification", ID: row.ID, Version: 1}, row.Sealed)
			if err != nil {
				t.Fatalf("truth: open notification: %v", err)
			}
			if err := json.Unmarshal(pt, &n); err != nil {
				t.Fatal(err)
			}
			n.ID = row.ID
			r.openedNotes[row.ID] = n
		}
		tr.Notes = append(tr.Notes, n)
	}
	return tr
}

// ---- the read oracle ----

// relation is how a patient-side member stands to P's record.
func (r *advRun) relation(m *advMember, tr *advTruth) carnet.PatientRelation {
	if !m.patientSide() || !tr.Exists {
		return carnet.RelationNone
	}
	for _, id := range tr.Patient.Identifiers {
		if id.Value == m.INS.Value && strings.TrimPrefix(id.System, "urn:oid:") == strings.TrimPrefix(m.INS.System, "urn:oid:") {
			if m.Rep {
				return carnet.RelationLegalRep
			}
			return carnet.RelationSelf
		}
	}
	return carnet.RelationNone
}

// decide asks the engine what the server must decide for o about the
// record (doc nil) or a document's latest row. On top of the engine, the
// one rule of docs/ACCESS.md a pure function of the request cannot see
// unless the token says it: centre 15 is for the régulation only.
func (r *advRun) decide(o advObserver, act carnet.Action, tr *advTruth, doc *carnet.DocumentRow) carnet.Decision {
	if !tr.Exists {
		return carnet.Decision{}
	}
	if o.Mode == carnet.ModeCentre15 && !o.Who.Centre15 {
		return carnet.Decision{Reasons: []string{"centre-15-not-regulator"}}
	}
	req := carnet.AccessRequest{Actor: o.Who.Actor, Action: act, Mode: o.Mode, Reason: strings.TrimSpace(o.Reason),
		Patient: &tr.Row, Document: doc, Now: time.Now().UTC(), Settings: tr.settings(), Relation: r.relation(o.Who, tr)}
	return r.oracle.Decide(req)
}

// searchable: the record-level search is permitted.
func (r *advRun) searchable(o advObserver, tr *advTruth) bool {
	return r.decide(o, carnet.ActionSearch, tr, nil).Permit
}

// sees: o may read the document as it is now (its latest version decides
// for every version).
func (r *advRun) sees(o advObserver, tr *advTruth, d *advTrueDoc) bool {
	row := d.Latest
	return r.decide(o, carnet.ActionRead, tr, &row).Permit
}

// couldSee: o may read the document, or could before it was deleted. A
// deleted document's ids are no secret to whoever read it before; what
// must never reach o are the documents o may not see whatever their status.
func (r *advRun) couldSee(o advObserver, tr *advTruth, d *advTrueDoc) bool {
	row := d.Latest
	if row.Status == carnet.StatusDeleted {
		row.Status = carnet.StatusCurrent
	}
	return r.decide(o, carnet.ActionRead, tr, &row).Permit
}

// secretsFor are the ids and canaries of the documents o may not see
// whatever their status: none of them may appear in anything o is shown.
func (r *advRun) secretsFor(o advObserver, tr *advTruth) map[string]*advTrueDoc {
	out := map[string]*advTrueDoc{}
	for _, d := range tr.Docs {
		if r.couldSee(o, tr, d) {
			continue
		}
		for _, id := range d.ids() {
			out[id] = d
		}
		if c := r.canaryOf(d.Handle); c != "" {
			out[c] = d
		}
	}
	return out
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return slices.Compact(out)
}
