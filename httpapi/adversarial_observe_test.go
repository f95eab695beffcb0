package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/httpapi"
	"github.com/carnet-sante/carnet/webhook"
)

// What every other actor sees after a write, against the read oracle.

// observe looks at the record as everyone after a write: each observer in
// normal mode searches it and reads the latest version of what the write
// touched; the patient side reads its notifications and history; one
// observer in turn (emergency modes included) also reads every version and
// the content of what was touched, the lists, the items, the ranking and
// the card.
func (r *advRun) observe(e *advLogEntry, tr *advTruth, touched []*advTrueDoc) {
	n := e.step.N
	observers := r.observers()
	for _, o := range observers {
		if o.emergency() {
			continue
		}
		r.checkSearch(n, o, tr)
		r.checkReads(n, o, tr, touched, false)
		if o.Who.patientSide() && r.relation(o.Who, tr) != carnet.RelationNone {
			r.checkNotifications(n, o, tr)
			if !o.Who.Rep || !r.lean {
				r.checkHistory(n, o, tr, 40)
			}
		}
	}
	if e.step.Kind == advPatch && e.step.Change.Status != "" {
		r.checkText(n, tr, touched)
	}
	if r.lean && n%2 == 1 {
		return
	}
	o := observers[r.deep%len(observers)]
	r.deep++
	r.observeAll(n, o, tr, touched)
}

// observers are who looks after each write: everyone, or in a lean run one
// observer of each kind the rules tell apart.
func (r *advRun) observers() []advObserver {
	if !r.lean {
		return r.cast.observer
	}
	var out []advObserver
	for _, o := range r.cast.observer {
		switch o.String() {
		case "patient", "représentant", "autre-patient", "gp", "nurse", "dentist", "régulateur (centre 15)", "dentist (centre 15)", "logiciel-sans-finess":
			out = append(out, o)
		}
	}
	return out
}

// sweep looks at every document as every observer, once, at the end.
func (r *advRun) sweep() {
	n := len(r.log)
	tr := r.readTruth()
	for _, o := range r.observers() {
		r.observeAll(n, o, tr, tr.Docs)
		if o.Who.patientSide() && !o.emergency() && r.relation(o.Who, tr) != carnet.RelationNone {
			r.checkNotifications(n, o, tr)
			r.checkHistory(n, o, tr, 200)
		}
	}
}

// observeAll: every path that returns patient data, for one observer,
// reading every version and the content of docs.
func (r *advRun) observeAll(n int, o advObserver, tr *advTruth, docs []*advTrueDoc) {
	if o.Mode == carnet.ModeBreakGlass && o.Reason == "" {
		r.checkNeedsReason(n, o, docs)
		return
	}
	r.checkSearch(n, o, tr)
	r.checkReads(n, o, tr, docs, true)
	r.checkLists(n, o, tr)
	r.checkItems(n, o, tr)
	r.checkRelevant(n, o, tr)
	if o.Who.professional() && !o.emergency() {
		r.checkCard(n, o, tr)
	}
}

// checkNeedsReason: bris de glace without a reason is refused on every
// path, 400 saying a reason is required, before anything is read.
func (r *advRun) checkNeedsReason(n int, o advObserver, docs []*advTrueDoc) {
	paths := []string{"/DocumentReference?_count=200&" + insQuery(r.cast.P), "/List?_count=200&" + insQuery(r.cast.P),
		"/Observation?_count=200&" + insQuery(r.cast.P), "/DocumentReference/$relevant?_count=200&" + insQuery(r.cast.P)}
	for _, d := range docs {
		if d != nil {
			paths = append(paths, "/DocumentReference/"+d.Versions[len(d.Versions)-1].ID)
		}
	}
	for _, p := range paths {
		if resp := r.get(o, p); resp.Status != 400 || !bytes.Contains(resp.Body, []byte("reason")) {
			r.fail(n, "bris de glace needs a reason", "GET "+strings.SplitN(p, "?", 2)[0]+" by "+o.String()+" is not refused for want of a reason", "%d %s", resp.Status, clip(resp.Body))
		}
	}
}

// get sends a GET as o (with o's emergency headers).
func (r *advRun) get(o advObserver, path string) response {
	return r.do(o.Who.Token, advRequest{Method: "GET", Path: path, Headers: o.headers()})
}

// why says, for a failure message, what the oracle decided and why.
func (r *advRun) why(o advObserver, tr *advTruth, d *advTrueDoc) string {
	row := d.Latest
	dec := r.decide(o, carnet.ActionRead, tr, &row)
	return fmt.Sprintf("%s (labels %v, status %s, authors %s; oracle %v %v)", d.Handle, d.labels(), d.Latest.Status, r.names(d.authorRPPS()), dec.Permit, dec.Reasons)
}

// ---- no secret in anything shown ----

// checkNoSecret: nothing o is shown names, by id or canary, a document o
// may not see (whatever its status). relatesTo is left out: a visible
// replacement names what it replaced.
func (r *advRun) checkNoSecret(n int, o advObserver, tr *advTruth, where string, body []byte) {
	secrets := r.secretsFor(o, tr)
	if len(secrets) == 0 || len(body) == 0 {
		return
	}
	// A canary of a document o sees is no secret even when a hidden copy
	// of it (a replayed filing) carries it too.
	for _, d := range tr.Docs {
		if r.couldSee(o, tr, d) {
			delete(secrets, r.canaryOf(d.Handle))
		}
	}
	scan := withoutRelatesTo(body)
	for _, d := range tr.Docs { // in filing order: the same step reports the same document
		for _, id := range append(d.ids(), r.canaryOf(d.Handle)) {
			if secrets[id] == d && bytes.Contains(scan, []byte(id)) {
				r.fail(n, "nothing shown names a document its reader may not see", where+" shown to "+o.String()+" names a document hidden from them ("+r.denial(o, tr, d)+")",
					"%s: %s", where, r.why(o, tr, d))
				break
			}
		}
	}
}

// denial is the code of the rule that hides d from o (the oracle's reason).
func (r *advRun) denial(o advObserver, tr *advTruth, d *advTrueDoc) string {
	row := d.Latest
	if row.Status == carnet.StatusDeleted {
		row.Status = carnet.StatusCurrent
	}
	dec := r.decide(o, carnet.ActionRead, tr, &row)
	switch {
	case dec.Permit && d.Latest.Status == carnet.StatusDeleted:
		return "deleted"
	case dec.Permit || len(dec.Reasons) == 0:
		return "permitted"
	}
	code, _, _ := strings.Cut(dec.Reasons[len(dec.Reasons)-1], ":")
	return code
}

// withoutRelatesTo drops every relatesTo member of a JSON body.
func withoutRelatesTo(body []byte) []byte {
	var v any
	if !bytes.Contains(body, []byte(`"relatesTo"`)) || json.Unmarshal(body, &v) != nil {
		return body
	}
	var strip func(any)
	strip = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			delete(x, "relatesTo")
			for _, y := range x {
				strip(y)
			}
		case []any:
			for _, y := range x {
				strip(y)
			}
		}
	}
	strip(v)
	out, _ := json.Marshal(v)
	return out
}

// ---- searches and reads ----

// visibleDocs are what o may find, by logicalId: the documents o sees,
// deleted ones never.
func (r *advRun) visibleDocs(o advObserver, tr *advTruth) map[string]*advTrueDoc {
	out := map[string]*advTrueDoc{}
	if !r.searchable(o, tr) {
		return out
	}
	for _, d := range tr.Docs {
		if d.Latest.Status != carnet.StatusDeleted && r.sees(o, tr, d) {
			out[d.Logical] = d
		}
	}
	return out
}

func (r *advRun) checkSearch(n int, o advObserver, tr *advTruth) {
	resp := r.get(o, "/DocumentReference?_count=200&"+insQuery(r.cast.P))
	r.checkSearchBody(n, o, tr, resp)
}

func (r *advRun) checkSearchBody(n int, o advObserver, tr *advTruth, resp response) {
	if resp.Status != 200 {
		r.fail(n, "a search is answered", "ITI-67 by "+o.String()+" failed", "%d %s", resp.Status, clip(resp.Body))
		return
	}
	r.checkNoSecret(n, o, tr, "ITI-67", resp.Body)
	r.compareDocs(n, o, tr, "ITI-67", bundleIDs(resp.Body, "DocumentReference"), r.visibleDocs(o, tr))
}

// compareDocs compares the documents served, each named by any of its ids
// (a FHIR id names a document, whichever version id the server uses for
// it), with those the oracle permits; each is served once.
func (r *advRun) compareDocs(n int, o advObserver, tr *advTruth, where string, got []string, want map[string]*advTrueDoc) {
	const rule = "every path returns exactly what the policy permits"
	shown := map[string]bool{}
	for _, id := range got {
		d := tr.doc(id)
		switch {
		case d == nil:
			r.fail(n, rule, where+" serves "+o.String()+" an id that names no document of the record", "%s", id)
		case want[d.Logical] == nil:
			r.fail(n, rule, where+" serves "+o.String()+" a document the policy hides ("+r.denial(o, tr, d)+")", "%s", r.why(o, tr, d))
		case shown[d.Logical]:
			r.fail(n, rule, where+" serves "+o.String()+" one document twice", "%s", r.why(o, tr, d))
		}
		if d != nil {
			shown[d.Logical] = true
		}
	}
	for _, d := range tr.Docs {
		if want[d.Logical] != nil && !shown[d.Logical] {
			r.fail(n, rule, where+" withholds from "+o.String()+" a document the policy permits", "%s", r.why(o, tr, d))
		}
	}
}

// bundleIDs are the ids of the match entries of a searchset of typ.
func bundleIDs(body []byte, typ string) []string {
	var b fhir.Bundle
	if json.Unmarshal(body, &b) != nil {
		return nil
	}
	var out []string
	for _, e := range b.Entry {
		var res struct{ ResourceType, ID string }
		if json.Unmarshal(e.Resource, &res) == nil && res.ResourceType == typ {
			out = append(out, res.ID)
		}
	}
	return out
}

// servedVersion reads the id and version of a DocumentReference answered.
func servedVersion(body []byte) (id, version string) {
	var res struct {
		ID   string
		Meta struct{ VersionID string }
	}
	_ = json.Unmarshal(body, &res)
	return res.ID, res.Meta.VersionID
}

// checkReads reads docs as o: by the id of their latest version, or with
// all by every version id, every version (vread) and the content.
func (r *advRun) checkReads(n int, o advObserver, tr *advTruth, docs []*advTrueDoc, all bool) {
	const rule = "every path returns exactly what the policy permits"
	for _, d := range docs {
		if d == nil {
			continue
		}
		sees, hidden := r.sees(o, tr, d), !r.couldSee(o, tr, d)
		versions := d.Versions
		if !all {
			versions = versions[len(versions)-1:]
		}
		for _, v := range versions {
			// A read by the id of any version is the document as it is now
			// (or, where versions have ids of their own, that version).
			resp := r.get(o, "/DocumentReference/"+v.ID)
			id, _ := servedVersion(resp.Body)
			switch {
			case sees && resp.Status != 200:
				r.fail(n, rule, "a read by id is refused to "+o.String()+", whom the policy permits",
					"%s v%d: %d %s", r.why(o, tr, d), v.Version, resp.Status, clip(resp.Body))
			case sees && tr.doc(id) != d:
				r.fail(n, "a read by id serves the document named", "a read by id serves another document", "%s v%d: %s", d.Handle, v.Version, id)
			case !sees && resp.Status == 200:
				r.fail(n, rule, "a read by id (version "+versionKind(v)+") serves "+o.String()+" a document the policy hides ("+r.denial(o, tr, d)+")",
					"%s v%d", r.why(o, tr, d), v.Version)
			case hidden:
				r.likeAbsent(n, o, "a read by id", resp, func(id string) string { return "/DocumentReference/" + id }, v.ID)
			}
			if !all {
				continue
			}
			// vread: every version by the document's id (its first
			// version's) and its number.
			vread := func(id string) string { return "/DocumentReference/" + id + "/_history/" + strconv.Itoa(v.Version) }
			resp = r.get(o, vread(d.Versions[0].ID))
			_, version := servedVersion(resp.Body)
			switch {
			case sees && resp.Status != 200:
				r.fail(n, rule, "a version read (vread, …/_history/N) is refused to "+o.String()+", whom the policy permits",
					"%s v%d: %d %s", r.why(o, tr, d), v.Version, resp.Status, clip(resp.Body))
			case sees && version != strconv.Itoa(v.Version):
				r.fail(n, "a version read serves the version named", "a vread serves another version", "%s v%d: version %q", d.Handle, v.Version, version)
			case !sees && resp.Status == 200:
				r.fail(n, rule, "a version read (vread) serves "+o.String()+" a document the policy hides ("+r.denial(o, tr, d)+")",
					"%s v%d", r.why(o, tr, d), v.Version)
			case hidden:
				r.likeAbsent(n, o, "a version read", resp, vread, d.Versions[0].ID)
			}
		}
		if !all {
			continue
		}
		resp := r.get(o, "/Binary/"+d.Latest.ContentID)
		switch {
		case sees && d.Latest.Status != carnet.StatusDeleted && resp.Status != 200:
			r.fail(n, rule, "ITI-68 is refused to "+o.String()+", whom the policy permits", "%s: %d", r.why(o, tr, d), resp.Status)
		case (!sees || d.Latest.Status == carnet.StatusDeleted) && resp.Status == 200:
			r.fail(n, rule, "ITI-68 serves "+o.String()+" content the policy hides ("+r.denial(o, tr, d)+")", "%s", r.why(o, tr, d))
		case hidden:
			r.likeAbsent(n, o, "ITI-68", resp, func(id string) string { return "/Binary/" + id }, d.Latest.ContentID)
		}
	}
}

func versionKind(v carnet.DocumentRow) string {
	if v.Latest {
		return "latest"
	}
	return "older"
}

// likeAbsent: a denied read is answered exactly like a read of an id that
// does not exist (path makes the request's path of an id).
func (r *advRun) likeAbsent(n int, o advObserver, what string, denied response, path func(string) string, id string) {
	// The answer for an absent id, once per observer and path.
	key := o.String() + path("{id}")
	a, ok := r.absent[key]
	if !ok {
		a.id = carnet.NewID()
		a.resp = r.get(o, path(a.id))
		r.absent[key] = a
	}
	if diff := sameAnswer(denied, a.resp, []string{id}, a.id); diff != "" {
		r.fail(n, "a denial is answered exactly like an absent id", what+" denied to "+o.String()+" differs from not-found", "%s", diff)
	}
}

// ---- lists, items, ranking, card ----

func (r *advRun) checkLists(n int, o advObserver, tr *advTruth) {
	resp := r.get(o, "/List?_count=200&"+insQuery(r.cast.P))
	if resp.Status != 200 {
		r.fail(n, "a search is answered", "ITI-66 by "+o.String()+" failed", "%d %s", resp.Status, clip(resp.Body))
		return
	}
	r.checkNoSecret(n, o, tr, "ITI-66", resp.Body)
	listed := map[string]bool{}
	for _, id := range advRefRE.FindAllSubmatch(resp.Body, -1) {
		d := tr.doc(string(id[1]))
		if d == nil {
			continue
		}
		listed[d.Logical] = true
		if !r.sees(o, tr, d) {
			r.fail(n, "every path returns exactly what the policy permits", "ITI-66 lists to "+o.String()+" a document the policy hides ("+r.denial(o, tr, d)+")", "%s", r.why(o, tr, d))
		}
	}
	for _, d := range r.visibleDocs(o, tr) {
		if !listed[d.Logical] {
			r.fail(n, "every path returns exactly what the policy permits", "ITI-66 leaves out of its set a document "+o.String()+" may see", "%s", r.why(o, tr, d))
		}
	}
}

// checkItems: QEDm Observations are exactly those of the current or
// archived documents o sees.
func (r *advRun) checkItems(n int, o advObserver, tr *advTruth) {
	resp := r.get(o, "/Observation?_count=200&"+insQuery(r.cast.P))
	if resp.Status != 200 {
		r.fail(n, "a search is answered", "QEDm by "+o.String()+" failed", "%d %s", resp.Status, clip(resp.Body))
		return
	}
	r.checkNoSecret(n, o, tr, "QEDm", resp.Body)
	got := bundleIDs(resp.Body, "Observation")
	visible := map[string]*advTrueDoc{}
	for _, d := range r.visibleDocs(o, tr) {
		if d.Latest.Status == carnet.StatusCurrent || d.Latest.Status == carnet.StatusArchived {
			visible[d.Logical] = d
		}
	}
	for _, it := range tr.Items {
		if it.Kind != carnet.ItemObservation {
			continue
		}
		d := tr.byID[it.SourceLogicalID]
		served := slices.Contains(got, it.ID)
		switch {
		case d != nil && d.Latest.Status == carnet.StatusSuperseded && r.sees(o, tr, d):
			// A replaced document's items: QEDm (docs/QEDM.md) and ACCESS.md
			// ("shown exactly when the document is") read differently; either.
		case served && visible[it.SourceLogicalID] == nil && d != nil:
			r.fail(n, "derived data follows its document's visibility", "QEDm serves "+o.String()+" an item of a document the policy hides ("+r.denial(o, tr, d)+")", "%s", r.why(o, tr, d))
			return
		case !served && visible[it.SourceLogicalID] != nil:
			r.fail(n, "derived data follows its document's visibility", "QEDm withholds from "+o.String()+" an item of a document they see", "%s", r.why(o, tr, d))
			return
		}
	}
}

// checkRelevant: the ranked list holds exactly the documents o sees, on
// their own line or folded under another.
func (r *advRun) checkRelevant(n int, o advObserver, tr *advTruth) {
	resp := r.get(o, "/DocumentReference/$relevant?_count=200&"+insQuery(r.cast.P))
	if resp.Status != 200 {
		r.fail(n, "a search is answered", "$relevant by "+o.String()+" failed", "%d %s", resp.Status, clip(resp.Body))
		return
	}
	r.checkNoSecret(n, o, tr, "$relevant", resp.Body)
	ids := bundleIDs(resp.Body, "DocumentReference")
	for _, m := range advFoldedRE.FindAllSubmatch(resp.Body, -1) {
		ids = append(ids, string(m[1]))
	}
	r.compareDocs(n, o, tr, "$relevant", ids, r.visibleDocs(o, tr))
}

var (
	advRefRE    = regexp.MustCompile(`DocumentReference/([0-9a-f-]{36})`)
	advFoldedRE = regexp.MustCompile(`"valueReference":\{"reference":"DocumentReference/([0-9a-f-]{36})"`)
)

// checkText: after a status change, a current or archived document is
// still found by its words (the full-text terms are not destroyed).
func (r *advRun) checkText(n int, tr *advTruth, touched []*advTrueDoc) {
	for _, d := range touched {
		if d == nil || r.replaced[d.Logical] || (d.Latest.Status != carnet.StatusCurrent && d.Latest.Status != carnet.StatusArchived) {
			continue
		}
		var o *advObserver
		for _, x := range r.cast.observer {
			if !x.emergency() && x.Who.Kind != carnet.ActorSystem && r.searchable(x, tr) && r.sees(x, tr, d) {
				o = &x
				break
			}
		}
		if o == nil {
			continue
		}
		resp := r.get(*o, "/DocumentReference/$relevant?_count=200&"+insQuery(r.cast.P)+"&q="+r.canaryOf(d.Handle))
		if !textMatched(resp.Body, tr, d) {
			r.fail(n, "derived data is never destroyed by a reversible change", "a current document is no longer found by its words", "%s, searched by %s", r.why(*o, tr, d), o)
		}
	}
}

// textMatched: the ranked line of d carries the full-text reason. A
// document folded under another line (a replacement, or a document with
// the same uniqueId or content) cannot be told apart: it passes.
func textMatched(body []byte, tr *advTruth, d *advTrueDoc) bool {
	var b fhir.Bundle
	if json.Unmarshal(body, &b) != nil {
		return false
	}
	for _, e := range b.Entry {
		var dr fhir.DocumentReference
		if json.Unmarshal(e.Resource, &dr) != nil {
			continue
		}
		ext, _ := json.Marshal(dr.Extension)
		folded := false
		for _, m := range advRefRE.FindAllSubmatch(ext, -1) {
			folded = folded || tr.doc(string(m[1])) == d
		}
		switch {
		case tr.doc(dr.ID) == d:
			return bytes.Contains(ext, []byte(`"code":"text"`))
		case folded:
			return true
		}
	}
	return false
}

// checkCard: a clinician gets one card exactly when they may see the
// record, and it names nothing they may not see.
func (r *advRun) checkCard(n int, o advObserver, tr *advTruth) {
	body := hookBody(r.t, "Practitioner/"+o.Who.rpps(), r.cast.P.System+"|"+r.cast.P.Value, o.Who.Token)
	resp := r.do(clientJWT(r.t, r.env), advRequest{Method: "POST", Path: "/cds-services/" + httpapi.PastilleService, ContentType: "application/json", Body: body})
	if resp.Status != 200 {
		r.fail(n, "a card request is answered", "the pastille for "+o.String()+" failed", "%d %s", resp.Status, clip(resp.Body))
		return
	}
	var out struct {
		Cards []cdsCard `json:"cards"`
	}
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		r.fail(n, "a card request is answered", "the pastille answer is not JSON", "%v", err)
		return
	}
	want := 0
	if r.searchable(o, tr) {
		want = 1
	}
	if len(out.Cards) != want {
		r.fail(n, "a record the clinician may not see gets no card; one they may see gets one", fmt.Sprintf("%d cards for %s, want %d", len(out.Cards), o, want), "")
	}
	r.checkNoSecret(n, o, tr, "the CDS card", resp.Body)
}

// ---- what the patient side is told ----

// advCommunication is a notification as served.
type advCommunication struct {
	ID    string
	Kind  string
	Text  string
	About []string // document ids
}

func (r *advRun) checkNotifications(n int, o advObserver, tr *advTruth) {
	resp := r.get(o, "/Communication?_count=500")
	if resp.Status != 200 {
		r.fail(n, "the patient side reads its notifications", "GET /Communication by "+o.String()+" failed", "%d %s", resp.Status, clip(resp.Body))
		return
	}
	r.checkNoSecret(n, o, tr, "GET /Communication", resp.Body)
	var b fhir.Bundle
	if err := json.Unmarshal(resp.Body, &b); err != nil {
		r.t.Fatalf("communications: %v", err)
	}
	announced := map[string]bool{}
	for _, e := range b.Entry {
		var cm fhir.Communication
		if err := json.Unmarshal(e.Resource, &cm); err != nil {
			r.t.Fatal(err)
		}
		c := advCommunication{ID: cm.ID}
		if len(cm.Category) > 0 && len(cm.Category[0].Coding) > 0 {
			c.Kind = cm.Category[0].Coding[0].Code
		}
		if len(cm.Payload) > 0 {
			c.Text = cm.Payload[0].ContentString
		}
		for _, a := range cm.About {
			c.About = append(c.About, strings.TrimPrefix(a.Reference, "DocumentReference/"))
		}
		if c.Kind != string(carnet.NotifyNewDocument) {
			continue
		}
		if len(c.About) == 0 {
			r.fail(n, "a notification whose documents are all hidden is not shown", "a new-document notification naming no document is shown to "+o.String(), "%q", c.Text)
		} else if got := announcedCount(c.Text); got >= 0 && got != len(c.About) {
			r.fail(n, "a notification's text is written from what is shown (count, author)", "a new-document notification to "+o.String()+" counts other documents than it names",
				"%q names %d documents", c.Text, len(c.About))
		}
		for _, id := range c.About {
			if d := tr.doc(id); d != nil {
				announced[d.Logical] = true
			}
		}
	}
	// Every document filed by someone else that o may see was announced
	// (one filed invisible to the patient, when the label is lifted).
	for _, d := range tr.Docs {
		if d.Latest.Status == carnet.StatusDeleted || !r.sees(o, tr, d) || announced[d.Logical] {
			continue
		}
		if f := r.filer[d.Logical]; f == "" || r.cast.get(f).patientSide() {
			continue
		}
		r.fail(n, "a document is announced to whoever may see it (a hidden one when the label is lifted)", "a document "+o.String()+" may see was never announced to them", "%s", r.why(o, tr, d))
	}
}

var advCountRE = regexp.MustCompile(`^(\d+) nouveaux documents`)

// announcedCount reads how many documents a new-document text announces;
// -1 when the text says it in other words.
func announcedCount(text string) int {
	if m := advCountRE.FindStringSubmatch(text); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	if strings.HasPrefix(text, "Un nouveau document") {
		return 1
	}
	return -1
}

// checkHistory reads the newest count events of the history (each step
// adds some; the sweep reads further back).
func (r *advRun) checkHistory(n int, o advObserver, tr *advTruth, count int) {
	resp := r.get(o, "/AuditEvent?_count="+strconv.Itoa(count))
	if resp.Status != 200 {
		r.fail(n, "the patient side reads its history", "GET /AuditEvent by "+o.String()+" failed", "%d %s", resp.Status, clip(resp.Body))
		return
	}
	r.checkNoSecret(n, o, tr, "GET /AuditEvent", resp.Body)
}

// ---- the webhook ----

// advHook is a notification gateway the deployment's webhook.Sender
// delivers to.
type advHook struct {
	r      *advRun
	sender *webhook.Sender
	mu     sync.Mutex
	got    []webhook.Payload
	seen   int
}

func newAdvHook(t *testing.T, r *advRun) *advHook {
	h := &advHook{r: r}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var p webhook.Payload
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.got = append(h.got, p)
		h.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	h.sender = &webhook.Sender{URL: srv.URL, Secret: bytes.Repeat([]byte("k"), 32), Source: r.env.Service, Client: srv.Client()}
	return h
}

// deliver runs the sender until nothing is pending, and checks what it
// sent: the webhook cannot tell who reads the patient's messages, so it
// names only documents both the patient and their representatives may see.
func (h *advHook) deliver(e *advLogEntry, tr *advTruth) {
	r := h.r
	ctx, cancel := context.WithTimeout(r.ctx, 30*time.Second)
	defer cancel()
	for range 20 {
		n, err := h.sender.Deliver(ctx)
		if err != nil {
			r.fail(e.step.N, "notifications are delivered", "the webhook sender failed", "%v", err)
			return
		}
		if n == 0 {
			break
		}
	}
	h.mu.Lock()
	fresh := slices.Clone(h.got[h.seen:])
	h.seen = len(h.got)
	h.mu.Unlock()
	patient := advObserver{Who: r.cast.get("patient"), Mode: carnet.ModeNormal}
	rep := advObserver{Who: r.cast.get("représentant"), Mode: carnet.ModeNormal}
	for _, p := range fresh {
		var note *carnet.Notification
		for i := range tr.Notes {
			if tr.Notes[i].ID == p.ID {
				note = &tr.Notes[i]
			}
		}
		r.checkNoSecret(e.step.N, rep, tr, "a webhook payload", []byte(p.Text))
		if note == nil || p.Kind != carnet.NotifyNewDocument {
			continue
		}
		both, hidden := 0, ""
		for _, id := range note.Documents {
			if d := tr.doc(id); d != nil && r.couldSee(patient, tr, d) && r.couldSee(rep, tr, d) {
				both++
			} else if d != nil {
				hidden = r.why(rep, tr, d) + " / " + r.why(patient, tr, d)
			}
		}
		switch got := announcedCount(p.Text); {
		case both == 0 && hidden != "":
			r.fail(e.step.N, "the webhook names only documents both the patient and their representatives may see", "a webhook payload announces only documents hidden from the patient or the representatives",
				"%q: %s", p.Text, hidden)
		case got >= 0 && got != both:
			r.fail(e.step.N, "the webhook names only documents both the patient and their representatives may see", "a webhook payload counts documents hidden from the patient or the representatives",
				"%q, %d may be shown: %s", p.Text, both, hidden)
		}
	}
}
