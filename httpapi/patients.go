package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
)

// parseIdentifierParam reads "system|value" as sent in identifier= or
// patient.identifier=.
func parseIdentifierParam(v, param string) (carnet.Identifier, error) {
	sys, val, ok := strings.Cut(v, "|")
	if !ok || sys == "" || val == "" {
		return carnet.Identifier{}, carnet.Invalid(carnet.Issue{Severity: "error", Code: "value",
			Diagnostics: fmt.Sprintf("%s must be system|value, e.g. urn:oid:1.2.250.1.213.1.4.8|<INS>", param), Expression: param})
	}
	if !strings.Contains(sys, ":") {
		sys = "urn:oid:" + sys
	}
	return carnet.Identifier{System: sys, Value: val}, nil
}

func patientResource(p carnet.Patient) fhir.Patient {
	out := fhir.Patient{Gender: p.Identity.Gender, BirthDate: p.Identity.BirthDate}
	out.ID = string(p.Key)
	out.Meta = &fhir.Meta{VersionID: fmt.Sprint(p.Version), LastUpdated: fhir.FormatDateTime(p.Updated)}
	active := p.State == carnet.RecordOpen
	out.Active = &active
	for _, id := range p.Identifiers {
		out.Identifier = append(out.Identifier, fhir.Identifier{Use: "official", System: id.System, Value: id.Value})
	}
	if p.Identity.Family != "" || len(p.Identity.Given) > 0 {
		out.Name = []fhir.HumanName{{Use: "official", Family: p.Identity.Family, Given: p.Identity.Given}}
	}
	return out
}

// putPatient is the identity feed: PUT /Patient?identifier=system|value
// creates the record of a qualified INS ahead of documents, or updates its
// identity traits (conditional update).
func (s *Server) putPatient(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	idv := r.URL.Query().Get("identifier")
	if idv == "" {
		return carnet.Invalid(carnet.Issue{Severity: "error", Code: "required", Diagnostics: "PUT /Patient is a conditional update: give ?identifier=system|value (the INS)", Expression: "identifier"})
	}
	id, err := parseIdentifierParam(idv, "identifier")
	if err != nil {
		return err
	}
	body, _, err := s.readBody(r, fhirJSON...)
	if err != nil {
		return err
	}
	var in fhir.Patient
	if err := fhir.Decode(bytes.NewReader(body), s.cfg.MaxBody, &in); err != nil {
		return err
	}
	if in.ResourceType != "Patient" {
		return carnet.Invalid(carnet.Issue{Severity: "error", Code: "invalid", Diagnostics: "the body must be a Patient resource", Expression: "Patient"})
	}
	found := false
	for _, x := range in.Identifier {
		if x.Value == id.Value && (x.System == id.System || "urn:oid:"+x.System == id.System) {
			found = true
		}
	}
	if !found {
		return carnet.Invalid(carnet.Issue{Severity: "error", Code: "value", Diagnostics: "the Patient must carry the INS named in ?identifier=", Expression: "Patient.identifier"})
	}
	ident := carnet.Identity{Gender: in.Gender, BirthDate: in.BirthDate}
	for _, n := range in.Name {
		if n.Use == "official" || ident.Family == "" {
			ident.Family, ident.Given = n.Family, n.Given
		}
	}
	p, created, err := s.svc.PutPatient(r.Context(), req, id, ident)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	w.Header().Set("Location", s.base(r)+"/Patient/"+string(p.Key))
	w.Header().Set("ETag", fmt.Sprintf(`W/"%d"`, p.Version))
	s.writeResource(w, status, patientResource(p))
	return nil
}

func (s *Server) readPatient(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	p, err := s.svc.Patient(r.Context(), req, carnet.PatientKey(r.PathValue("id")))
	if err != nil {
		return err
	}
	w.Header().Set("ETag", fmt.Sprintf(`W/"%d"`, p.Version))
	s.writeResource(w, http.StatusOK, patientResource(p))
	return nil
}

// searchPatients answers GET /Patient?identifier=system|value (PDQm-like,
// one record at most).
func (s *Server) searchPatients(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	idv := r.URL.Query().Get("identifier")
	if idv == "" {
		return carnet.Invalid(carnet.Issue{Severity: "error", Code: "required", Diagnostics: "search Patient by identifier=system|value (the INS)", Expression: "identifier"})
	}
	id, err := parseIdentifierParam(idv, "identifier")
	if err != nil {
		return err
	}
	b := fhir.Bundle{Type: "searchset"}
	b.ID = carnet.NewID()
	p, err := s.svc.PatientByINS(r.Context(), req, id)
	switch {
	case carnet.IsKind(err, carnet.KindNotFound):
	case err != nil:
		return err
	default:
		raw, err := json.Marshal(patientResource(p))
		if err != nil {
			return carnet.WrapError(carnet.KindInternal, "encode", err)
		}
		b.Entry = append(b.Entry, fhir.BundleEntry{FullURL: s.base(r) + "/Patient/" + string(p.Key), Resource: raw, Search: &fhir.BundleSearch{Mode: "match"}})
	}
	total := len(b.Entry)
	b.Total = &total
	s.writeResource(w, http.StatusOK, b)
	return nil
}
