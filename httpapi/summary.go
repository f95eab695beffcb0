package httpapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/balp"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/ips"
	"github.com/carnet-sante/carnet/mhd"
	"github.com/carnet-sante/carnet/pcf"
	"github.com/carnet-sante/carnet/qedm"
	"github.com/carnet-sante/carnet/record"
)

// ProfileIPSBundle is the IPS Bundle profile, the one $summary's profile
// parameter may name.
const ProfileIPSBundle = "http://hl7.org/fhir/uv/ips/StructureDefinition/Bundle-uv-ips"

// everythingTypes are the resource types Patient/$everything serves.
var everythingTypes = append([]string{"Patient", "DocumentReference", "Binary", "Provenance", "Consent", "AuditEvent"}, func() []string {
	var out []string
	for _, k := range itemKinds {
		out = append(out, string(k))
	}
	return out
}()...)

func (s *Server) summaryRoutes() {
	s.mux.Handle("GET /Patient/{id}/$summary", s.wrap("Patient", carnet.ActionRead, s.patientSummary))
	s.mux.Handle("GET /Patient/$summary", s.wrap("Patient", carnet.ActionRead, s.patientSummary))
	s.mux.Handle("GET /Patient/{id}/$everything", s.wrap("Patient", carnet.ActionRead, s.patientEverything))
	s.mux.Handle("GET /Patient/$everything", s.wrap("Patient", carnet.ActionRead, s.patientEverything))
}

// operationParams checks an operation's query: only the parameters named
// (and _format) are understood; any other is refused, not ignored.
func operationParams(r *http.Request, op string, known ...string) error {
	for k := range r.URL.Query() {
		if k != "_format" && !slices.Contains(known, k) {
			return refuse(carnet.KindInvalid, "not-supported", op+" does not support the parameter "+fhir.Clip(k, 40)+" (it takes "+strings.Join(known, ", ")+")")
		}
	}
	return nil
}

// patientRecord is the record an operation names: its key in the path,
// or an INS in ?identifier=, or neither (a patient's own record).
func patientRecord(r *http.Request) (carnet.PatientKey, carnet.Identifier, error) {
	key := carnet.PatientKey(r.PathValue("id"))
	v := r.URL.Query().Get("identifier")
	if v == "" {
		return key, carnet.Identifier{}, nil
	}
	if key != "" {
		return "", carnet.Identifier{}, refuse(carnet.KindInvalid, "invalid", "name the patient once: by the id in the path or by identifier, not both")
	}
	id, err := parseIdentifierParam(v, "identifier")
	return "", id, err
}

// allowAll checks the scopes for reading every resource type of types.
func allowAll(a carnet.Actor, types []string) error {
	for _, t := range types {
		if err := allow(a, t, carnet.ActionRead); err != nil {
			return err
		}
	}
	return nil
}

// patientSummary is the IPS $summary operation: the record's International
// Patient Summary, a document Bundle built from what the caller may see
// (docs/IPS.md).
func (s *Server) patientSummary(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	if err := operationParams(r, "$summary", "identifier", "profile"); err != nil {
		return err
	}
	if p := r.URL.Query().Get("profile"); p != "" && p != ProfileIPSBundle {
		return refuse(carnet.KindInvalid, "not-supported", "$summary builds the IPS only (profile "+ProfileIPSBundle+")")
	}
	types := []string{"DocumentReference"}
	for _, k := range itemKinds {
		types = append(types, string(k))
	}
	if err := allowAll(req.Actor, types); err != nil {
		return err
	}
	key, id, err := patientRecord(r)
	if err != nil {
		return err
	}
	var sel ips.Selection
	sum, err := s.svc.Summary(r.Context(), req, key, id, func(items []carnet.Item, now time.Time) []carnet.Item {
		sel = ips.Select(items, now)
		return sel.Items()
	})
	if err != nil {
		return err
	}
	b, err := ips.Document(sel, sum.Patient, sum.Sources, s.base(r), sum.Time)
	if err != nil {
		return err
	}
	s.writeResource(w, http.StatusOK, b)
	return nil
}

// patientEverything is Patient/$everything for the patient side: one page
// of everything the record shows them (docs/IPS.md).
func (s *Server) patientEverything(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	if err := operationParams(r, "$everything", "identifier", "_count", "_page", "_type"); err != nil {
		return err
	}
	q := record.EverythingQuery{Page: r.URL.Query().Get("_page")}
	var err error
	if q.PatientKey, q.PatientID, err = patientRecord(r); err != nil {
		return err
	}
	if v := r.URL.Query().Get("_count"); v != "" {
		if q.Count, err = strconv.Atoi(v); err != nil || q.Count < 1 {
			return refuse(carnet.KindInvalid, "value", "_count must be a positive integer")
		}
	}
	for _, v := range r.URL.Query()["_type"] {
		for _, t := range fhir.SplitValues(v) {
			if !slices.Contains(everythingTypes, t) {
				return refuse(carnet.KindInvalid, "value", "_type names "+fhir.Clip(t, 40)+", which $everything does not serve (it serves "+strings.Join(everythingTypes, ", ")+")")
			}
			q.Types = append(q.Types, t)
		}
	}
	wanted := q.Types
	if len(wanted) == 0 {
		wanted = everythingTypes
	}
	if err := allowAll(req.Actor, wanted); err != nil {
		return err
	}
	wants := func(t string) bool { return slices.Contains(wanted, t) }
	page, err := s.svc.Everything(r.Context(), req, q)
	if err != nil {
		return err
	}
	base := s.base(r)
	ins := firstIdentifier(page.Patient)
	b := fhir.Bundle{Type: "searchset"}
	b.ID = carnet.NewID()
	path := "/Patient/$everything"
	if id := r.PathValue("id"); id != "" {
		path = "/Patient/" + url.PathEscape(id) + "/$everything"
	}
	b.Link = append(b.Link, fhir.BundleLink{Relation: "self", URL: s.selfURL(r, path, r.URL.Query(), q.Page)})
	if page.Next != "" {
		b.Link = append(b.Link, fhir.BundleLink{Relation: "next", URL: s.selfURL(r, path, r.URL.Query(), page.Next)})
	}
	add := func(url string, v any, mode string) error {
		var raw []byte
		switch x := v.(type) {
		case []byte:
			raw = x
		default:
			var err error
			if raw, err = json.Marshal(v); err != nil {
				return carnet.WrapError(carnet.KindInternal, "encode", err)
			}
		}
		b.Entry = append(b.Entry, fhir.BundleEntry{FullURL: url, Resource: raw, Search: &fhir.BundleSearch{Mode: mode}})
		return nil
	}
	for _, e := range page.Entries {
		var err error
		switch {
		case e.Patient != nil:
			err = add(base+"/Patient/"+string(e.Patient.Key), patientResource(*e.Patient), "match")
		case e.Document != nil:
			d := *e.Document
			if wants("DocumentReference") {
				err = add(base+"/DocumentReference/"+mhd.FHIRID(d), mhd.DocumentReference(d, base), "match")
			}
			if err == nil && e.Content != nil {
				bin := fhir.Binary{ContentType: d.Meta.ContentType, Data: e.Content,
					SecurityContext: &fhir.Reference{Reference: "DocumentReference/" + mhd.FHIRID(d)}}
				bin.ID = d.ContentID
				err = add(base+"/Binary/"+d.ContentID, bin, "match")
			}
		case e.Item != nil:
			it := *e.Item
			if wants(string(it.Kind)) {
				var raw []byte
				if raw, err = qedm.Serve(it, base); err == nil {
					err = add(base+"/"+string(it.Kind)+"/"+it.ID, raw, "match")
				}
			}
			if err == nil && wants("Provenance") {
				err = add(base+"/Provenance/prov-"+it.ID, qedm.Provenance(it, base), "include")
			}
		case e.Consent != nil:
			err = add(base+"/Consent/"+e.Consent.ID, pcf.Resource(*e.Consent, ins), "match")
		case e.Audit != nil:
			err = add(base+"/AuditEvent/"+e.Audit.Event.ID, balp.Render(*e.Audit, ins, req.Actor.Kind == carnet.ActorPatient), "match")
		}
		if err != nil {
			return err
		}
	}
	s.writeResource(w, http.StatusOK, b)
	return nil
}
