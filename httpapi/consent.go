package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/pcf"
)

// patientParam reads the record a patient-side request names:
// patient.identifier=system|value, or none (the caller's own record).
func patientParam(r *http.Request) (carnet.Identifier, error) {
	v := r.URL.Query().Get("patient.identifier")
	if v == "" {
		return carnet.Identifier{}, nil
	}
	return parseIdentifierParam(v, "patient.identifier")
}

// searchBundle writes a searchset of resources, each at base/type/id.
func (s *Server) searchBundle(w http.ResponseWriter, r *http.Request, typ string, ids []string, resources []any) error {
	b := fhir.Bundle{Type: "searchset"}
	b.ID = carnet.NewID()
	for i, res := range resources {
		raw, err := json.Marshal(res)
		if err != nil {
			return carnet.WrapError(carnet.KindInternal, "encode", err)
		}
		b.Entry = append(b.Entry, fhir.BundleEntry{FullURL: s.base(r) + "/" + typ + "/" + ids[i], Resource: raw, Search: &fhir.BundleSearch{Mode: "match"}})
	}
	total := len(b.Entry)
	b.Total = &total
	b.Link = append(b.Link, fhir.BundleLink{Relation: "self", URL: s.base(r) + r.URL.RequestURI()})
	s.writeResource(w, http.StatusOK, b)
	return nil
}

// searchConsents is GET /Consent[?patient.identifier=…]: the record's
// active consents, for the patient or a legal representative.
func (s *Server) searchConsents(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	id, err := patientParam(r)
	if err != nil {
		return err
	}
	p, cs, err := s.svc.Consents(r.Context(), req, id)
	if carnet.IsKind(err, carnet.KindNotFound) {
		return s.searchBundle(w, r, "Consent", nil, nil)
	}
	if err != nil {
		return err
	}
	ins := firstIdentifier(p)
	ids, res := make([]string, len(cs)), make([]any, len(cs))
	for i, c := range cs {
		ids[i], res[i] = c.ID, pcf.Resource(c, ins)
	}
	return s.searchBundle(w, r, "Consent", ids, res)
}

func firstIdentifier(p carnet.Patient) carnet.Identifier {
	if len(p.Identifiers) > 0 {
		return p.Identifiers[0]
	}
	return carnet.Identifier{}
}

// createConsent is POST /Consent: a patient's choice (IHE PCF shapes), or a
// professional declaring their care relationship.
func (s *Server) createConsent(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	body, _, err := s.readBody(r, fhirJSON...)
	if err != nil {
		return err
	}
	c, patient, err := pcf.ParseConsent(body, s.cfg.MaxBody)
	if err != nil {
		return err
	}
	out, err := s.svc.AddConsent(r.Context(), req, patient, c, "Consent")
	if err != nil {
		return err
	}
	if patient.Value == "" {
		patient = req.Actor.ID
	}
	w.Header().Set("Location", s.base(r)+"/Consent/"+out.ID)
	s.writeResource(w, http.StatusCreated, pcf.Resource(out, patient))
	return nil
}

// deleteConsent is DELETE /Consent/{id}[?patient.identifier=…]: the
// patient withdraws a choice; the very next request is decided without it.
func (s *Server) deleteConsent(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	id, err := patientParam(r)
	if err != nil {
		return err
	}
	if err := s.svc.RevokeConsent(r.Context(), req, id, r.PathValue("id")); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// searchNotifications is GET /Communication[?patient.identifier=…][&_count=]
// [&sent=lt<instant>]: the patient's notifications, newest first.
func (s *Server) searchNotifications(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	id, err := patientParam(r)
	if err != nil {
		return err
	}
	f := carnet.NotificationFilter{Limit: 50}
	q := r.URL.Query()
	if v := q.Get("_count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return refuse(carnet.KindInvalid, "value", "_count must be between 1 and 500")
		}
		f.Limit = n
	}
	if v := q.Get("sent"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v[min(2, len(v)):])
		if len(v) < 3 || v[:2] != "lt" || err != nil {
			return refuse(carnet.KindInvalid, "value", "sent takes lt<instant>, e.g. sent=lt2026-11-28T10:00:00Z")
		}
		f.Before = t
	}
	ns, err := s.svc.Notifications(r.Context(), req, id, f)
	if carnet.IsKind(err, carnet.KindNotFound) {
		return s.searchBundle(w, r, "Communication", nil, nil)
	}
	if err != nil {
		return err
	}
	patient := id
	if patient.Value == "" {
		patient = req.Actor.ID
	}
	ids, res := make([]string, len(ns)), make([]any, len(ns))
	for i, n := range ns {
		ids[i], res[i] = n.ID, pcf.Communication(n, patient)
	}
	return s.searchBundle(w, r, "Communication", ids, res)
}
