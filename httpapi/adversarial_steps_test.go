package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/httpapi"
	"github.com/carnet-sante/carnet/mhd"
	"github.com/carnet-sante/carnet/synth"
)

// Steps: one write by one member on one endpoint, what the generator
// draws, printed so that a failing sequence can be read and replayed.

type advKind string

const (
	advFile        advKind = "ITI-65"           // POST /
	advPublish     advKind = "ITI-105"          // POST /DocumentReference
	advGenerate    advKind = "ITI-106"          // POST /DocumentReference/$generate-metadata
	advPatch       advKind = "PATCH"            // PATCH /DocumentReference/{id}
	advConsent     advKind = "POST /Consent"    //
	advRevoke      advKind = "DELETE /Consent"  //
	advFeed        advKind = "PUT /Patient"     // identity feed
	advFeedback    advKind = "CDS feedback"     // POST /cds-services/carnet-pastille/feedback
	advEmergency   advKind = "emergency search" // ITI-67 in BTG or ETREAT mode
	advReplay      advKind = "replay"           // an earlier step's exact request, sent again
	advAbsent              = "(absent)"         // a target id that names nothing
	advClass90             = "90"               // document du patient (TRE_A03)
	advClassSystem         = "urn:oid:1.2.250.1.213.1.1.4.1"
)

// advStep is one write. Documents are named by handles (D1, D2, …) that
// the suite gives them, never by the server's random ids, so that the
// same seed draws the same steps.
type advStep struct {
	N        int
	Actor    string
	Kind     advKind
	Docs     []*advDocSpec // filings
	Target   string        // PATCH, restriction: the document's handle, or advAbsent
	Version  int           // PATCH: the metadata version named (0: the latest)
	Change   advChange     // PATCH
	JSON     bool          // PATCH as JSON Patch rather than FHIRPath Patch
	Consent  *advConsentSpec
	Revoke   *advConsentSpec // DELETE /Consent: the consent withdrawn (kind, professional), found in the record
	Unknown  bool            // PUT /Patient: the INS of a person with no record
	Mode     carnet.Mode     // emergency search
	Reason   string
	ReplayOf int    // replay: the step whose request is sent again
	Card     string // CDS feedback: the card named
	Note     string // what the step tries, in words
}

// advDocSpec is one document filed by a step.
type advDocSpec struct {
	Handle   string
	UniqueID string
	Reuses   string // the handle whose uniqueId this document reuses
	// CDA copies a synthetic CDA R2 document of kind CDA written by
	// CDAAuthor (its header names them); "" files plain text.
	CDA       synth.Kind
	CDAAuthor string
	Authors   []string // metadata authors: cast names ("patient" names the patient by INS)
	Class     string
	Type      string
	Labels    []string
	Replaces  string // the handle (or advAbsent) of the document it replaces
	Results   int    // the lab results a CDA carries (QEDm items)
}

// advChange is a PDSm metadata change.
type advChange struct {
	Add, Remove []string // confidentiality labels
	Status      string   // archive, unarchive, superseded, current, delete
}

func (c advChange) String() string {
	var parts []string
	for _, l := range c.Add {
		parts = append(parts, "+"+l)
	}
	for _, l := range c.Remove {
		parts = append(parts, "-"+l)
	}
	if c.Status != "" {
		parts = append(parts, "status "+c.Status)
	}
	return strings.Join(parts, " ")
}

// advConsentSpec is a patient choice or a declaration (docs/PCF.md).
type advConsentSpec struct {
	Kind   carnet.ConsentKind
	Permit bool
	Pro    string // the professional named (cast name)
	Doc    string // restrict: the document's handle, or advAbsent
}

func (c advConsentSpec) String() string {
	s := string(c.Kind)
	if c.Kind.Toggle() {
		s += map[bool]string{true: " permit", false: " deny"}[c.Permit]
	}
	if c.Pro != "" {
		s += " " + c.Pro
	}
	if c.Doc != "" {
		s += " " + c.Doc
	}
	return s
}

func (s advStep) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d. %s %s", s.N, s.Actor, s.Kind)
	switch s.Kind {
	case advFile, advPublish, advGenerate:
		for i, d := range s.Docs {
			if i > 0 {
				b.WriteString(" +")
			}
			fmt.Fprintf(&b, " %s", d)
		}
	case advPatch:
		v := "latest"
		if s.Version > 0 {
			v = fmt.Sprintf("v%d", s.Version)
		}
		form := "FHIRPath"
		if s.JSON {
			form = "JSON Patch"
		}
		fmt.Fprintf(&b, " %s@%s %s (%s)", s.Target, v, s.Change, form)
	case advConsent:
		fmt.Fprintf(&b, " %s", s.Consent)
	case advRevoke:
		fmt.Fprintf(&b, " %s", s.Revoke)
	case advFeed:
		b.WriteString(map[bool]string{true: " INS with no record", false: " INS of the record"}[s.Unknown])
	case advEmergency:
		fmt.Fprintf(&b, " %s reason %q", s.Mode, s.Reason)
	case advReplay:
		fmt.Fprintf(&b, " of step %d", s.ReplayOf)
	case advFeedback:
		fmt.Fprintf(&b, " card %q", s.Card)
	}
	if s.Note != "" {
		fmt.Fprintf(&b, " [%s]", s.Note)
	}
	return b.String()
}

func (d *advDocSpec) String() string {
	var b strings.Builder
	b.WriteString(d.Handle)
	if d.CDA != "" {
		fmt.Fprintf(&b, " = CDA %s by %s", d.CDA, d.CDAAuthor)
	} else {
		fmt.Fprintf(&b, " = %s class %s by %s", d.Type, d.Class, strings.Join(d.Authors, ","))
	}
	if len(d.Labels) > 0 {
		fmt.Fprintf(&b, " labels %s", strings.Join(d.Labels, ","))
	}
	if d.Replaces != "" {
		fmt.Fprintf(&b, " replacing %s", d.Replaces)
	}
	if d.Reuses != "" {
		fmt.Fprintf(&b, " reusing the uniqueId of %s", d.Reuses)
	}
	return b.String()
}

// ---- CDA templates ----

// advTemplates are synthetic CDA documents of patient P by each roster
// author, copied with a new id and title for each filing.
type advTemplates map[string]synth.Document // login/kind

func newAdvTemplates() advTemplates {
	ds := synth.Generate(synth.Options{Seed: 7, Patients: 3, Professionals: len(synth.RosterLogins()), DocsPerPatient: 60})
	out := advTemplates{}
	for _, d := range ds.Documents {
		if d.Patient != 0 || d.Kind == synth.KindLabN1 || d.Kind == synth.KindImaging {
			continue
		}
		k := ds.Professionals[d.Author].Login + "/" + string(d.Kind)
		if _, ok := out[k]; !ok || (d.Kind == synth.KindLabN3 && len(d.Results) > len(out[k].Results)) {
			out[k] = d
		}
	}
	return out
}

// of returns the template keys of author login, sorted.
func (ts advTemplates) of(login string) []string {
	var out []string
	for k := range ts {
		if strings.HasPrefix(k, login+"/") {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// ---- building requests ----

// advRequest is an HTTP request of a step, kept for replays.
type advRequest struct {
	Method, Path, ContentType string
	Body                      []byte
	Headers                   []string
}

// canary is the word a document's title and text carry: it may appear
// only in what someone who may see the document is shown.
func advCanary(handle string) string {
	n := 0
	fmt.Sscanf(handle, "D%d", &n)
	letters := make([]byte, 4)
	for i := 3; i >= 0; i-- {
		letters[i] = byte('a' + n%26)
		n /= 26
	}
	return "zkq" + string(letters)
}

var advTypeTitles = map[string]string{
	"11488-4": "Compte rendu de consultation",
	"68599-0": "Synthèse psychiatrique",
	"89601-9": "Certificat médical",
	"57833-6": "Ordonnance",
	"60591-5": "Synthèse médicale",
	"51855-5": "Note du patient",
}

// submitted builds the document a spec files; targets resolves handles
// to the latest version ids of the record.
func (r *advRun) submitted(d *advDocSpec, target func(string) string) carnet.SubmittedDocument {
	canary := advCanary(d.Handle)
	labels := []carnet.Coding{{System: "urn:oid:2.16.840.1.113883.5.25", Code: "N", Display: "Normal"}}
	for _, l := range d.Labels {
		labels = append(labels, carnet.Coding{System: "urn:oid:" + carnet.OIDVisibility, Code: l})
	}
	var sd carnet.SubmittedDocument
	if d.CDA != "" {
		tpl := r.templates[d.CDAAuthor+"/"+string(d.CDA)]
		content := bytes.Replace(tpl.Content, []byte(`<id root="`+tpl.UniqueID+`"/>`), []byte(`<id root="`+d.UniqueID+`"/>`), 1)
		title := tpl.Meta.Title + " " + canary
		content = bytes.Replace(content, []byte("</title>"), []byte(" "+canary+"</title>"), 1) // the header's title comes first
		meta := tpl.Meta
		meta.Title, meta.SHA1, meta.SHA256, meta.Size = title, nil, nil, 0
		meta.Confidentiality = labels
		sd = carnet.SubmittedDocument{UniqueID: d.UniqueID, Meta: meta, Content: content}
	} else {
		base := r.templates["gp/consultation"].Meta
		title := advTypeTitles[d.Type] + " " + canary
		meta := carnet.DocumentMeta{
			Title: title, Class: carnet.Coding{System: advClassSystem, Code: d.Class},
			Type:            carnet.Coding{System: "http://loinc.org", Code: d.Type, Display: advTypeTitles[d.Type]},
			Format:          carnet.Coding{System: "urn:oid:1.3.6.1.4.1.19376.1.2.3", Code: "urn:ihe:iti:xds-sd:text:2008"},
			Confidentiality: labels, Facility: base.Facility, PracticeSetting: base.PracticeSetting,
			Created: base.Created, Language: "fr-FR", ContentType: "text/plain",
		}
		for _, a := range d.Authors {
			if a == "patient" {
				meta.Authors = append(meta.Authors, carnet.Author{ID: r.cast.P, Family: "Patient"})
				continue
			}
			meta.Authors = append(meta.Authors, r.cast.get(a).Author)
		}
		sd = carnet.SubmittedDocument{UniqueID: d.UniqueID, Meta: meta, Content: []byte(title + " : " + canary + ", texte de test du dossier.")}
	}
	if d.Replaces != "" {
		sd.Meta.RelatesTo = []carnet.Relation{{Code: "replaces", Target: target(d.Replaces)}}
	}
	return sd
}

// request builds the HTTP request of a step against the record as it is.
func (r *advRun) request(s *advStep, tr *advTruth) advRequest {
	target := func(h string) string {
		if h == advAbsent {
			return carnet.NewID()
		}
		if d := tr.byHandle(h); d != nil {
			return d.Latest.ID
		}
		return carnet.NewID()
	}
	switch s.Kind {
	case advFile:
		sub := carnet.Submission{Patient: r.cast.P, Set: carnet.SubmissionSet{UniqueID: r.setUID(s), SourceID: "1.2.250.1.999.3", Title: "envoi " + s.Actor}}
		for _, d := range s.Docs {
			sub.Documents = append(sub.Documents, r.submitted(d, target))
		}
		b, _ := json.Marshal(mhd.ProvideBundle(sub))
		return advRequest{Method: "POST", Path: "/", ContentType: "application/fhir+json", Body: b}
	case advPublish:
		sd := r.submitted(s.Docs[0], target)
		return advRequest{Method: "POST", Path: "/DocumentReference", ContentType: "application/fhir+json", Body: publishBody(r.t, r.cast.P, sd.UniqueID, sd.Meta, sd.Content)}
	case advGenerate:
		sd := r.submitted(s.Docs[0], target)
		body := fmt.Sprintf(`{"resourceType":"Parameters","parameter":[{"name":"document","resource":{"resourceType":"Binary","contentType":"text/xml","data":%q}}]}`,
			base64.StdEncoding.EncodeToString(sd.Content))
		return advRequest{Method: "POST", Path: "/DocumentReference/$generate-metadata", ContentType: "application/fhir+json", Body: []byte(body)}
	case advPatch:
		id := carnet.NewID()
		d := tr.byHandle(s.Target)
		if d != nil {
			id = d.Latest.ID
			if s.Version > 0 && s.Version <= len(d.Versions) {
				id = d.Versions[s.Version-1].ID
			}
		}
		if s.JSON {
			return advRequest{Method: "PATCH", Path: "/DocumentReference/" + id, ContentType: "application/json-patch+json", Body: jsonPatchOf(s.Change, d)}
		}
		return advRequest{Method: "PATCH", Path: "/DocumentReference/" + id, ContentType: "application/fhir+json", Body: fhirPathPatchOf(s.Change)}
	case advConsent:
		c := carnet.Consent{Kind: s.Consent.Kind, Permit: s.Consent.Permit}
		if s.Consent.Pro != "" {
			c.Professional = r.cast.get(s.Consent.Pro).Author.ID
		}
		if s.Consent.Doc != "" {
			c.Document = target(s.Consent.Doc)
		}
		var patient carnet.Identifier
		if !r.cast.get(s.Actor).patientSide() {
			patient = r.cast.P
		}
		return advRequest{Method: "POST", Path: "/Consent", ContentType: "application/fhir+json", Body: consentBody(r.t, c, patient)}
	case advRevoke:
		id := carnet.NewID()
		for _, c := range tr.Patient.Consents {
			if c.Kind == s.Revoke.Kind && (s.Revoke.Pro == "" || c.Professional.Value == r.cast.get(s.Revoke.Pro).Author.ID.Value) {
				id = c.ID
			}
		}
		return advRequest{Method: "DELETE", Path: "/Consent/" + id + "?" + insQuery(r.cast.P)}
	case advFeed:
		ins := r.cast.P
		if s.Unknown {
			ins = r.cast.U
		}
		body, _ := json.Marshal(fhir.Patient{Identifier: []fhir.Identifier{{System: ins.System, Value: ins.Value}},
			Name: []fhir.HumanName{{Use: "official", Family: "DURAND", Given: []string{"MARIE"}}}, Gender: "female", BirthDate: "1954-03-12"})
		return advRequest{Method: "PUT", Path: "/Patient?identifier=" + url.QueryEscape(ins.System+"|"+ins.Value), ContentType: "application/fhir+json", Body: body}
	case advEmergency:
		o := advObserver{Who: r.cast.get(s.Actor), Mode: s.Mode, Reason: s.Reason}
		return advRequest{Method: "GET", Path: "/DocumentReference?_count=200&" + insQuery(r.cast.P), Headers: o.headers()}
	case advFeedback:
		body, _ := json.Marshal(map[string]any{"feedback": []map[string]any{{"card": s.Card, "outcome": "overridden",
			"outcomeTimestamp": time.Now().UTC().Format(time.RFC3339), "overrideReason": map[string]any{"reason": map[string]any{"code": "not-relevant"}}}}})
		return advRequest{Method: "POST", Path: "/cds-services/" + httpapi.PastilleService + "/feedback", ContentType: "application/json", Body: body}
	}
	panic("adversarial: no request for " + string(s.Kind))
}

// setUID is the submission set uniqueId of an ITI-65 step: fresh per step.
func (r *advRun) setUID(s *advStep) string {
	return fmt.Sprintf("1.2.250.1.999.78.%d.%d", r.seed, s.N)
}

func fhirPathPatchOf(c advChange) []byte {
	var ops []string
	op := func(parts string) { ops = append(ops, `{"name":"operation","part":[`+parts+`]}`) }
	switch c.Status {
	case "archive":
		op(`{"name":"type","valueCode":"add"},{"name":"path","valueString":"DocumentReference"},{"name":"name","valueString":"extension"},` +
			`{"name":"value","part":[{"name":"url","valueUri":"` + mhd.ExtAvailabilityStatus + `"},{"name":"valueCode","valueCode":"archived"}]}`)
	case "unarchive":
		op(`{"name":"type","valueCode":"delete"},{"name":"path","valueString":"DocumentReference.extension.where(url='` + mhd.ExtAvailabilityStatus + `')"}`)
	case "superseded", "current":
		op(`{"name":"type","valueCode":"replace"},{"name":"path","valueString":"DocumentReference.status"},{"name":"value","valueCode":"` + c.Status + `"}`)
	case "delete":
		op(`{"name":"type","valueCode":"replace"},{"name":"path","valueString":"DocumentReference.status"},{"name":"value","valueCode":"entered-in-error"}`)
	}
	for _, l := range c.Add {
		op(`{"name":"type","valueCode":"add"},{"name":"path","valueString":"DocumentReference"},{"name":"name","valueString":"securityLabel"},` +
			`{"name":"value","valueCodeableConcept":{"coding":[{"system":"urn:oid:` + carnet.OIDVisibility + `","code":"` + l + `"}]}}`)
	}
	for _, l := range c.Remove {
		op(`{"name":"type","valueCode":"delete"},{"name":"path","valueString":"DocumentReference.securityLabel.where(coding.code='` + l + `')"}`)
	}
	return []byte(`{"resourceType":"Parameters","parameter":[` + strings.Join(ops, ",") + `]}`)
}

// jsonPatchOf writes the change as JSON Patch; removals test the element
// at its position in the document as served (d, when known).
func jsonPatchOf(c advChange, d *advTrueDoc) []byte {
	var ops []string
	switch c.Status {
	case "archive":
		ops = append(ops, `{"op":"add","path":"/extension/-","value":{"url":"`+mhd.ExtAvailabilityStatus+`","valueCode":"archived"}}`)
	case "unarchive":
		ops = append(ops, `{"op":"test","path":"/extension/0/url","value":"`+mhd.ExtAvailabilityStatus+`"}`, `{"op":"remove","path":"/extension/0"}`)
	case "superseded", "current":
		ops = append(ops, `{"op":"replace","path":"/status","value":"`+c.Status+`"}`)
	case "delete":
		ops = append(ops, `{"op":"replace","path":"/status","value":"entered-in-error"}`)
	}
	for _, l := range c.Add {
		ops = append(ops, `{"op":"add","path":"/securityLabel/-","value":{"coding":[{"system":"urn:oid:`+carnet.OIDVisibility+`","code":"`+l+`"}]}}`)
	}
	for _, l := range c.Remove {
		at := 0
		if d != nil {
			for i, cd := range d.Doc.Meta.Confidentiality {
				if cd.Code == l {
					at = i
				}
			}
		}
		ops = append(ops, fmt.Sprintf(`{"op":"test","path":"/securityLabel/%d/coding/0/code","value":%q}`, at, l), fmt.Sprintf(`{"op":"remove","path":"/securityLabel/%d"}`, at))
	}
	return []byte("[" + strings.Join(ops, ",") + "]")
}

// ---- documents ----

// plain is a text document of LOINC type typ and class, by authors (cast
// names; "patient" is the patient, by INS).
func (r *advRun) plain(typ, class string, authors []string, labels ...string) *advDocSpec {
	return &advDocSpec{Handle: r.newHandle(), UniqueID: r.freshUID(), Class: class, Type: typ, Authors: authors, Labels: labels}
}

// cda is a copy of a synthetic CDA of kind by author (a roster login).
func (r *advRun) cda(author string, kind synth.Kind) *advDocSpec {
	tpl := r.templates[author+"/"+string(kind)]
	return &advDocSpec{Handle: r.newHandle(), UniqueID: r.freshUID(), CDA: kind, CDAAuthor: author, Authors: []string{author},
		Type: tpl.Meta.Type.Code, Results: len(tpl.Results)}
}

func one(d *advDocSpec) []*advDocSpec { return []*advDocSpec{d} }

// ---- the generator ----

// advMove draws one step from the record as it is; nil: not possible now.
type advMove struct {
	name   string
	weight int
	draw   func(r *advRun, rnd *rand.Rand, tr *advTruth) *advStep
}

var advLabels = []string{carnet.LabelMasquePS, carnet.LabelInvisiblePatient, carnet.LabelInvisibleLegalRep}

// pick returns one element of s.
func pick[T any](rnd *rand.Rand, s []T) T { return s[rnd.IntN(len(s))] }

func (r *advRun) newHandle() string {
	r.handles++
	return fmt.Sprintf("D%d", r.handles)
}

func (r *advRun) freshUID() string {
	r.uids++
	return fmt.Sprintf("1.2.250.1.999.77.%d.%d", r.seed, r.uids)
}

// drawLabels gives a professional filing its labels: mostly none.
func drawLabels(rnd *rand.Rand) []string {
	if rnd.IntN(3) > 0 {
		return nil
	}
	return []string{pick(rnd, advLabels)}
}

// ownDocument is a document authored by pro (a cast name), plain text or
// a copy of one of their CDA documents.
func (r *advRun) ownDocument(rnd *rand.Rand, pro string, cda bool) *advDocSpec {
	d := &advDocSpec{Handle: r.newHandle(), UniqueID: r.freshUID(), Labels: drawLabels(rnd)}
	login := pro
	if login == "régulateur" {
		login = "samu"
	}
	if tpls := r.templates.of(login); cda && len(tpls) > 0 {
		k := pick(rnd, tpls)
		tpl := r.templates[k]
		d.CDA, d.CDAAuthor, d.Type, d.Results = tpl.Kind, login, tpl.Meta.Type.Code, len(tpl.Results)
		d.Authors = []string{login}
		return d
	}
	d.Class, d.Type, d.Authors = "10", pick(rnd, []string{"11488-4", "11488-4", "68599-0", "89601-9", "57833-6", "60591-5"}), []string{pro}
	return d
}

func (r *advRun) patientDocument(rnd *rand.Rand) *advDocSpec {
	return &advDocSpec{Handle: r.newHandle(), UniqueID: r.freshUID(), Class: advClass90, Type: "51855-5", Authors: []string{"patient"}}
}

// filingKind chooses the transaction: ITI-106 only for a CDA alone.
func filingKind(rnd *rand.Rand, d *advDocSpec) advKind {
	if d.CDA != "" && d.Replaces == "" && len(d.Labels) == 0 && rnd.IntN(3) == 0 {
		return advGenerate
	}
	return pick(rnd, []advKind{advFile, advPublish})
}

var advPros = []string{"gp", "cardio", "nurse", "dentist", "samu", "pharma", "bio"}

// softwareFor is the software of the organisation of a roster author.
var advSoftwareFor = map[string]string{"bio": "logiciel-labo", "gp": "logiciel-cabinet", "cardio": "logiciel-hôpital", "samu": "logiciel-hôpital"}

var advSoftware = []string{"logiciel-labo", "logiciel-cabinet", "logiciel-hôpital", "logiciel-sans-finess"}

// liveDocs are the record's documents the suite filed, in filing order.
func liveDocs(tr *advTruth, keep func(*advTrueDoc) bool) []*advTrueDoc {
	var out []*advTrueDoc
	for _, d := range tr.Docs {
		if d.Handle != "" && (keep == nil || keep(d)) {
			out = append(out, d)
		}
	}
	return out
}

func drawOwnFiling(r *advRun, rnd *rand.Rand, tr *advTruth) *advStep {
	pro := pick(rnd, advPros)
	d := r.ownDocument(rnd, pro, rnd.IntN(2) == 0)
	return &advStep{Actor: pro, Kind: filingKind(rnd, d), Docs: []*advDocSpec{d}}
}

func drawSoftwareFiling(r *advRun, rnd *rand.Rand, tr *advTruth) *advStep {
	pro := pick(rnd, []string{"bio", "bio", "gp", "cardio", "samu"})
	d := r.ownDocument(rnd, pro, true)
	return &advStep{Actor: advSoftwareFor[pro], Kind: filingKind(rnd, d), Docs: []*advDocSpec{d}}
}

var advMoves = []advMove{
	{"a professional files their own document", 8, drawOwnFiling},
	{"software files for its organisation's author", 7, drawSoftwareFiling},
	{"a forged author", 10, func(r *advRun, rnd *rand.Rand, tr *advTruth) *advStep {
		author := pick(rnd, advPros)
		d := r.ownDocument(rnd, author, rnd.IntN(2) == 0)
		var actor string
		switch rnd.IntN(4) {
		case 0, 1:
			actor = pick(rnd, slices.DeleteFunc(slices.Clone(advPros), func(p string) bool { return p == author }))
		case 2:
			actor = pick(rnd, []string{"patient", "représentant", "autre-patient"})
		default:
			actor = pick(rnd, slices.DeleteFunc(slices.Clone(advSoftware), func(s string) bool { return s == advSoftwareFor[author] }))
		}
		return &advStep{Actor: actor, Kind: filingKind(rnd, d), Docs: []*advDocSpec{d}, Note: "names " + author + " as author"}
	}},
	{"a replacement", 10, func(r *advRun, rnd *rand.Rand, tr *advTruth) *advStep {
		docs := liveDocs(tr, nil)
		if len(docs) == 0 {
			return nil
		}
		target := pick(rnd, docs)
		actors := []string{"patient", "représentant", "gp", "cardio", "nurse", "dentist", "bio", "logiciel-labo", "logiciel-cabinet", "logiciel-hôpital"}
		for _, a := range r.authorsOf(target) { // the rightful ones, more often
			actors = append(actors, a, a)
		}
		actor := pick(rnd, actors)
		m := r.cast.get(actor)
		var d *advDocSpec
		switch {
		case m.patientSide():
			d = r.patientDocument(rnd)
		case m.software():
			d = r.ownDocument(rnd, pick(rnd, []string{"bio", "gp", "cardio", "samu"}), false)
			for _, author := range r.authorsOf(target) { // its own organisation's author, when it has one
				if advSoftwareFor[author] == actor {
					d = r.ownDocument(rnd, author, false)
					break
				}
			}
		default:
			d = r.ownDocument(rnd, actor, false)
		}
		d.Replaces, d.Labels = target.Handle, nil
		if rnd.IntN(8) == 0 {
			d.Replaces = advAbsent
		}
		return &advStep{Actor: actor, Kind: pick(rnd, []advKind{advFile, advPublish}), Docs: []*advDocSpec{d}}
	}},
	{"the patient side files a document", 4, func(r *advRun, rnd *rand.Rand, tr *advTruth) *advStep {
		d := r.patientDocument(rnd)
		actor := pick(rnd, []string{"patient", "représentant", "autre-patient"})
		note := ""
		if rnd.IntN(3) == 0 {
			d.Class, d.Type, note = "10", "11488-4", "a patient document in a professional's class"
		}
		return &advStep{Actor: actor, Kind: pick(rnd, []advKind{advFile, advPublish}), Docs: []*advDocSpec{d}, Note: note}
	}},
	{"a metadata change", 22, func(r *advRun, rnd *rand.Rand, tr *advTruth) *advStep {
		docs := liveDocs(tr, nil)
		if len(docs) == 0 {
			return nil
		}
		d := pick(rnd, docs)
		actors := []string{"patient", "patient", "représentant", "représentant", "autre-patient", "nurse", "dentist", "pharma", "cardio",
			"logiciel-labo", "logiciel-cabinet", "logiciel-hôpital", "logiciel-sans-finess"}
		for _, a := range r.authorsOf(d) {
			actors = append(actors, a, a, a)
			if sw := advSoftwareFor[a]; sw != "" {
				actors = append(actors, sw)
			}
		}
		s := &advStep{Actor: pick(rnd, actors), Kind: advPatch, Target: d.Handle, JSON: rnd.IntN(2) == 0}
		if rnd.IntN(10) == 0 {
			s.Target = advAbsent
		}
		if len(d.Versions) > 1 && rnd.IntN(6) == 0 {
			s.Version = 1 + rnd.IntN(len(d.Versions)-1)
		}
		// Half the time, a change the actor may not make, when there is one.
		changes := possibleChanges(d)
		if rnd.IntN(2) == 0 {
			m := r.cast.get(s.Actor)
			forbidden := slices.DeleteFunc(slices.Clone(changes), func(c advChange) bool { return r.mayChange(m, d, tr, c.ops()[0]) })
			if len(forbidden) > 0 {
				changes = forbidden
			}
		}
		s.Change = pick(rnd, changes)
		if rnd.IntN(6) == 0 { // two operations in one PATCH
			if both, ok := combine(s.Change, pick(rnd, possibleChanges(d))); ok {
				s.Change = both
			}
		}
		return s
	}},
	{"a patient's choice", 12, func(r *advRun, rnd *rand.Rand, tr *advTruth) *advStep {
		actor := pick(rnd, []string{"patient", "patient", "représentant", "autre-patient"})
		c := &advConsentSpec{}
		switch rnd.IntN(9) {
		case 0:
			c.Kind, c.Pro = carnet.ConsentBlock, pick(rnd, advPros)
		case 1:
			c.Kind, c.Permit, c.Pro = carnet.ConsentAccess, true, pick(rnd, advPros)
		case 2:
			c.Kind, c.Permit, c.Pro = carnet.ConsentDesignate, true, pick(rnd, advPros)
		case 3:
			c.Kind, c.Permit = pick(rnd, []carnet.ConsentKind{carnet.ConsentBTG, carnet.ConsentCentre15}), rnd.IntN(3) == 0
		case 4:
			c.Kind, c.Permit = pick(rnd, []carnet.ConsentKind{carnet.ConsentMasked, carnet.ConsentMaskNew}), rnd.IntN(2) == 0
		case 5, 6:
			docs := liveDocs(tr, func(d *advTrueDoc) bool { return d.Latest.Status != carnet.StatusDeleted })
			if len(docs) == 0 {
				return nil
			}
			c.Kind, c.Doc = carnet.ConsentRestrict, pick(rnd, docs).Handle
			if rnd.IntN(8) == 0 {
				c.Doc = advAbsent
			}
		default: // withdraw a professional from the care team, or lift a block
			var revocable []*advConsentSpec
			for _, cs := range tr.Patient.Consents {
				for _, p := range advPros {
					if cs.Professional.Value == r.cast.get(p).Author.ID.Value && (cs.Kind == carnet.ConsentCareTeam || cs.Kind == carnet.ConsentBlock) {
						revocable = append(revocable, &advConsentSpec{Kind: cs.Kind, Pro: p})
					}
				}
			}
			if len(revocable) == 0 {
				return nil
			}
			return &advStep{Actor: actor, Kind: advRevoke, Revoke: pick(rnd, revocable)}
		}
		return &advStep{Actor: actor, Kind: advConsent, Consent: c}
	}},
	{"a professional declares", 8, func(r *advRun, rnd *rand.Rand, tr *advTruth) *advStep {
		pro := pick(rnd, advPros)
		s := &advStep{Actor: pro, Kind: advConsent, Consent: &advConsentSpec{Kind: carnet.ConsentCareTeam, Permit: true, Pro: pro}}
		switch rnd.IntN(6) {
		case 0:
			s.Consent.Pro, s.Note = pick(rnd, advPros), "names someone"
		case 1:
			s.Consent = &advConsentSpec{Kind: carnet.ConsentBlock, Pro: pick(rnd, advPros)}
		case 2:
			s.Actor = pick(rnd, advSoftware)
		}
		return s
	}},
	{"someone else withdraws a consent", 2, func(r *advRun, rnd *rand.Rand, tr *advTruth) *advStep {
		pro := pick(rnd, advPros)
		return &advStep{Actor: pick(rnd, []string{pro, "autre-patient", "logiciel-cabinet"}), Kind: advRevoke,
			Revoke: &advConsentSpec{Kind: pick(rnd, []carnet.ConsentKind{carnet.ConsentBlock, carnet.ConsentCareTeam}), Pro: pro}}
	}},
	{"an identity feed", 3, func(r *advRun, rnd *rand.Rand, tr *advTruth) *advStep {
		return &advStep{Actor: pick(rnd, []string{"gp", "nurse", "patient", "autre-patient", "logiciel-cabinet"}), Kind: advFeed, Unknown: rnd.IntN(2) == 0}
	}},
	{"a replayed filing", 5, func(r *advRun, rnd *rand.Rand, tr *advTruth) *advStep {
		var filings []int
		for _, e := range r.log {
			if e.step.Kind == advFile || e.step.Kind == advPublish || e.step.Kind == advGenerate {
				filings = append(filings, e.step.N)
			}
		}
		if len(filings) == 0 {
			return nil
		}
		of := pick(rnd, filings)
		actor := r.log[of-1].step.Actor
		if rnd.IntN(3) > 0 {
			actor = pick(rnd, append(slices.Clone(advPros), "patient", "logiciel-sans-finess", "logiciel-cabinet"))
		}
		return &advStep{Actor: actor, Kind: advReplay, ReplayOf: of}
	}},
	{"a uniqueId reused", 4, func(r *advRun, rnd *rand.Rand, tr *advTruth) *advStep {
		docs := liveDocs(tr, nil)
		if len(docs) == 0 {
			return nil
		}
		prev := r.specs[pick(rnd, docs).Handle]
		if prev == nil {
			return nil
		}
		s := pick(rnd, []func(*advRun, *rand.Rand, *advTruth) *advStep{drawOwnFiling, drawSoftwareFiling})(r, rnd, tr)
		s.Docs[0].UniqueID, s.Docs[0].Reuses = prev.UniqueID, prev.Handle
		if s.Kind == advGenerate {
			s.Kind = advFile
		}
		return s
	}},
	{"an emergency access", 6, func(r *advRun, rnd *rand.Rand, tr *advTruth) *advStep {
		s := &advStep{Actor: pick(rnd, []string{"samu", "dentist", "nurse", "cardio", "régulateur"}), Kind: advEmergency}
		switch rnd.IntN(5) {
		case 0:
			s.Mode = carnet.ModeCentre15
		case 1:
			s.Mode, s.Actor = carnet.ModeCentre15, "régulateur"
		case 2:
			s.Mode, s.Reason = carnet.ModeBreakGlass, pick(rnd, []string{"", "  "})
		case 3:
			s.Mode, s.Reason = carnet.ModeBreakGlass, pick(rnd, []string{"malaise\r\nX-Injected: 1", "coma\x00", "urgence\x1b[2J", strings.Repeat("motif ", 100)})
		default:
			s.Mode, s.Reason = carnet.ModeBreakGlass, pick(rnd, []string{"patient inconscient", "détresse respiratoire", "<b>arrêt cardiaque</b>"})
		}
		return s
	}},
	{"CDS feedback", 2, func(r *advRun, rnd *rand.Rand, tr *advTruth) *advStep {
		card := carnet.NewID()
		if docs := liveDocs(tr, nil); len(docs) > 0 && rnd.IntN(2) == 0 {
			card = pick(rnd, docs).Latest.ID
		}
		return &advStep{Actor: "logiciel-cabinet", Kind: advFeedback, Card: card}
	}},
}

// possibleChanges are the single changes a document admits as it is: a
// label added or removed, a status it may move to.
func possibleChanges(d *advTrueDoc) []advChange {
	var out []advChange
	labels := d.labels()
	for _, l := range advLabels {
		if slices.Contains(labels, l) {
			out = append(out, advChange{Remove: []string{l}})
		} else {
			out = append(out, advChange{Add: []string{l}})
		}
	}
	switch d.Latest.Status {
	case carnet.StatusCurrent:
		out = append(out, advChange{Status: "archive"}, advChange{Status: "superseded"}, advChange{Status: "delete"})
	case carnet.StatusArchived:
		out = append(out, advChange{Status: "unarchive"}, advChange{Status: "current"}, advChange{Status: "delete"})
	case carnet.StatusSuperseded:
		out = append(out, advChange{Status: "current"}, advChange{Status: "delete"})
	default:
		out = append(out, advChange{Status: "current"})
	}
	return out
}

// combine joins two changes into one PATCH when they do not contradict
// each other (one status at most, a label named once).
func combine(a, b advChange) (advChange, bool) {
	labels := append(append(slices.Clone(a.Add), a.Remove...), append(b.Add, b.Remove...)...)
	if a.Status != "" && b.Status != "" || len(sortedCopy(labels)) != len(labels) {
		return a, false
	}
	return advChange{Add: append(slices.Clone(a.Add), b.Add...), Remove: append(slices.Clone(a.Remove), b.Remove...), Status: a.Status + b.Status}, true
}

// authorsOf are the cast names of a document's professional authors.
func (r *advRun) authorsOf(d *advTrueDoc) []string {
	var out []string
	for _, rpps := range d.authorRPPS() {
		for _, p := range advPros {
			if r.cast.get(p).Author.ID.Value == rpps {
				out = append(out, p)
			}
		}
	}
	return out
}

// draw draws the next step.
func (r *advRun) draw(tr *advTruth) *advStep {
	total := 0
	for _, m := range advMoves {
		total += m.weight
	}
	for {
		n := r.rnd.IntN(total)
		for _, m := range advMoves {
			if n -= m.weight; n < 0 {
				if s := m.draw(r, r.rnd, tr); s != nil {
					if s.Note == "" && m.name != "a metadata change" && m.name != "a patient's choice" {
						s.Note = m.name
					}
					return s
				}
				break
			}
		}
	}
}
