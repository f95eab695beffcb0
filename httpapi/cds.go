package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auth"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/pastille"
)

// The pastille as a CDS Hooks 2.0 service (docs/PASTILLE.md).
const (
	PastilleService = "carnet-pastille"
	maxHookBody     = 1 << 20
)

// CDSConfig lets CDS Clients (the clinicians' software) call the pastille.
type CDSConfig struct {
	// Client verifies the JWT a CDS Client signs (auth.Verifier.VerifyClient
	// with the service's URL as audience).
	Client func(ctx context.Context, raw string) (auth.ClientAssertion, error)
	// User verifies the access token the client passes in
	// fhirAuthorization: the clinician, whose rights the card is computed
	// with (auth.Verifier.Verify).
	User func(ctx context.Context, raw string) (carnet.Actor, error)
	// Link, when set, is the card's link to a record, keeping the visit the
	// card was computed for (zero: a first visit): the web space's page,
	// which works in a browser. Nil links to $relevant.
	Link func(base string, patient carnet.PatientKey, since time.Time) string
}

func (s *Server) cdsRoutes() {
	s.mux.HandleFunc("GET /cds-services", s.cdsDiscovery)
	if s.cfg.CDS == nil {
		return
	}
	s.mux.HandleFunc("POST /cds-services/"+PastilleService, s.cdsCall)
	s.mux.HandleFunc("POST /cds-services/"+PastilleService+"/feedback", s.cdsFeedback)
}

type cdsService struct {
	Hook        string            `json:"hook"`
	Title       string            `json:"title,omitempty"`
	Description string            `json:"description"`
	ID          string            `json:"id"`
	Prefetch    map[string]string `json:"prefetch,omitempty"`
}

func (s *Server) cdsDiscovery(w http.ResponseWriter, r *http.Request) {
	var services []cdsService
	if s.cfg.CDS != nil {
		services = append(services, cdsService{
			Hook: "patient-view", ID: PastilleService, Title: "Pastille Carnet",
			Description: "Ce qui est nouveau et pertinent pour vous dans le dossier partagé du patient depuis votre dernière visite : documents classés, résultats anormaux, avec leurs raisons.",
			// The record is Carnet's own: the patient is all it needs. A
			// client that prefetches the Patient (with its INS) spares a lookup.
			Prefetch: map[string]string{"patient": "Patient/{{context.patientId}}"},
		})
	}
	s.writeJSON(w, map[string]any{"services": services})
}

// cdsError answers a CDS Client: the status and an OperationOutcome.
func (s *Server) cdsError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="carnet-cds"`)
	}
	s.writeResource(w, status, fhir.OutcomeFromError(refuse(carnet.KindInvalid, code, msg)))
}

type hookRequest struct {
	Hook              string `json:"hook"`
	HookInstance      string `json:"hookInstance"`
	FHIRServer        string `json:"fhirServer"`
	FHIRAuthorization *struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	} `json:"fhirAuthorization"`
	Context struct {
		UserID    string `json:"userId"`
		PatientID string `json:"patientId"`
	} `json:"context"`
	Prefetch map[string]json.RawMessage `json:"prefetch"`
}

type cdsCard struct {
	UUID      string    `json:"uuid"`
	Summary   string    `json:"summary"`
	Detail    string    `json:"detail,omitempty"`
	Indicator string    `json:"indicator"`
	Source    cdsSource `json:"source"`
	Links     []cdsLink `json:"links,omitempty"`
}

type cdsSource struct {
	Label string `json:"label"`
	URL   string `json:"url,omitempty"`
}

type cdsLink struct {
	Label string `json:"label"`
	URL   string `json:"url"`
	Type  string `json:"type"`
}

// clientAuth checks the CDS Client's JWT.
func (s *Server) clientAuth(w http.ResponseWriter, r *http.Request) bool {
	raw, err := auth.BearerToken(r)
	if err == nil {
		_, err = s.cfg.CDS.Client(r.Context(), raw)
	}
	if err != nil {
		s.log.Info("CDS client refused", "err", err)
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("WWW-Authenticate", bearerChallenge("carnet-cds", r, err))
		s.writeResource(w, http.StatusUnauthorized, fhir.OutcomeFromError(refuse(carnet.KindInvalid, "login",
			"the CDS Client must authenticate with a signed JWT (CDS Hooks 2.0): "+carnet.ErrorMessage(err))))
		return false
	}
	return true
}

// cdsCall answers patient-view with the pastille card.
func (s *Server) cdsCall(w http.ResponseWriter, r *http.Request) {
	rid := carnet.NewID()
	w.Header().Set("X-Request-Id", rid)
	r = r.WithContext(context.WithValue(r.Context(), requestIDKey, rid))
	if !s.clientAuth(w, r) {
		return
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxHookBody)); err != nil {
		s.cdsError(w, r, http.StatusRequestEntityTooLarge, "too-costly", "the hook request exceeds 1 MiB")
		return
	}
	var hr hookRequest
	dec := json.NewDecoder(&buf)
	if err := dec.Decode(&hr); err != nil {
		s.cdsError(w, r, http.StatusBadRequest, "structure", "the hook request is not JSON: "+err.Error())
		return
	}
	switch {
	case hr.Hook != "patient-view":
		s.cdsError(w, r, http.StatusBadRequest, "not-supported", fmt.Sprintf("this service answers patient-view, not %q", hr.Hook))
		return
	case hr.HookInstance == "":
		s.cdsError(w, r, http.StatusBadRequest, "required", "hookInstance is required")
		return
	case hr.Context.PatientID == "" || hr.Context.UserID == "":
		s.cdsError(w, r, http.StatusBadRequest, "required", "context.userId and context.patientId are required for patient-view")
		return
	case hr.FHIRAuthorization == nil || hr.FHIRAuthorization.AccessToken == "":
		// The card is computed with the clinician's own rights: without
		// their token there is no data to decide on.
		s.cdsError(w, r, http.StatusPreconditionFailed, "security", "fhirAuthorization with the clinician's Carnet access token is required")
		return
	}
	actor, err := s.cfg.CDS.User(r.Context(), hr.FHIRAuthorization.AccessToken)
	if err != nil || actor.Kind != carnet.ActorProfessional {
		s.cdsError(w, r, http.StatusPreconditionFailed, "security", "fhirAuthorization.access_token is not a valid professional's token for this server")
		return
	}
	// context.userId is [ResourceType]/[id] (CDS Hooks 2.0). The card is
	// always computed for the professional of fhirAuthorization; userId
	// must agree with them where Carnet can tell: a Practitioner by RPPS.
	// A PractitionerRole id is the client's own (Carnet keeps no directory
	// of roles), so it is accepted unchecked and never trusted; a patient
	// or anything else names no professional.
	switch typ, id, _ := strings.Cut(hr.Context.UserID, "/"); {
	case typ == "Practitioner" && id != actor.ID.Value:
		s.cdsError(w, r, http.StatusForbidden, "forbidden", "context.userId is not the professional of fhirAuthorization")
		return
	case typ == "Practitioner", typ == "PractitionerRole" && id != "":
	case typ == "Patient", typ == "RelatedPerson":
		s.cdsError(w, r, http.StatusForbidden, "forbidden", "context.userId names a patient: the pastille is for the professional of fhirAuthorization")
		return
	default:
		s.cdsError(w, r, http.StatusBadRequest, "invalid", "context.userId must be Practitioner/{RPPS} of the professional of fhirAuthorization (or the client's PractitionerRole/{id})")
		return
	}
	if err := allow(actor, "DocumentReference", carnet.ActionSearch); err != nil {
		s.writeError(w, r, err)
		return
	}
	key, ins, ok := s.hookPatient(hr)
	if !ok {
		// A card for one patient must never show in another's chart.
		s.cdsError(w, r, http.StatusBadRequest, "invariant", "prefetch.patient is not the patient of context.patientId")
		return
	}
	req := carnet.Request{Actor: actor, Mode: carnet.ModeNormal, RequestID: rid}
	cr, err := s.rankCare(r, req, key, ins, "", 5, true, time.Time{})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if cr.View.Patient == "" {
		s.writeJSON(w, map[string]any{"cards": []cdsCard{}}) // no record, or none this clinician may see
		return
	}
	link := s.relevantLink(r, cr)
	card := pastille.Summarize(cr.Input, cr.All, link)
	s.writeJSON(w, map[string]any{"cards": []cdsCard{{
		UUID: carnet.NewID(), Summary: card.Summary, Detail: card.Detail, Indicator: card.Indicator,
		Source: cdsSource{Label: "Carnet — dossier partagé", URL: s.base(r)},
		Links:  []cdsLink{{Label: "Voir les documents classés", URL: link, Type: "absolute"}},
	}}})
}

// hookPatient reads the record a hook names: the INS of a prefetched
// Patient when given, else context.patientId as Carnet's Patient id, or as
// system|INS.
func (s *Server) hookPatient(hr hookRequest) (carnet.PatientKey, carnet.Identifier, bool) {
	if raw, ok := hr.Prefetch["patient"]; ok {
		var p struct {
			ID         string                           `json:"id"`
			Identifier []struct{ System, Value string } `json:"identifier"`
		}
		if json.Unmarshal(raw, &p) == nil {
			if p.ID != "" && p.ID != hr.Context.PatientID {
				return "", carnet.Identifier{}, false
			}
			for _, id := range p.Identifier {
				ident := carnet.Identifier{System: id.System, Value: id.Value}
				if isINS, _ := ident.IsINS(); isINS {
					return "", ident, true
				}
			}
		}
	}
	if sys, val, ok := strings.Cut(hr.Context.PatientID, "|"); ok {
		if !strings.Contains(sys, ":") {
			sys = "urn:oid:" + sys
		}
		return "", carnet.Identifier{System: sys, Value: val}, true
	}
	return carnet.PatientKey(hr.Context.PatientID), carnet.Identifier{}, true
}

// cdsFeedback takes the clinician's feedback on cards (CDS Hooks 2.0):
// kept in the technical log, which holds no patient data.
func (s *Server) cdsFeedback(w http.ResponseWriter, r *http.Request) {
	if !s.clientAuth(w, r) {
		return
	}
	var fb struct {
		Feedback []struct {
			Card             string `json:"card"`
			Outcome          string `json:"outcome"`
			OutcomeTimestamp string `json:"outcomeTimestamp"`
			OverrideReason   *struct {
				Reason *struct{ Code string } `json:"reason"`
			} `json:"overrideReason"`
		} `json:"feedback"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxHookBody)).Decode(&fb); err != nil || len(fb.Feedback) == 0 {
		s.cdsError(w, r, http.StatusBadRequest, "structure", "feedback takes {\"feedback\": [{\"card\", \"outcome\", \"outcomeTimestamp\"}]}")
		return
	}
	// Cards are ids this service made (UUIDs), times are RFC 3339: what is
	// logged is bounded by what is accepted, and a client cannot flood the
	// technical log.
	const maxFeedback = 20
	if len(fb.Feedback) > maxFeedback {
		s.cdsError(w, r, http.StatusBadRequest, "value", fmt.Sprintf("at most %d feedback entries per request", maxFeedback))
		return
	}
	for _, f := range fb.Feedback {
		_, tsErr := time.Parse(time.RFC3339Nano, f.OutcomeTimestamp)
		if !validCardID(f.Card) || (f.Outcome != "accepted" && f.Outcome != "overridden") || tsErr != nil {
			s.cdsError(w, r, http.StatusBadRequest, "value", "each feedback names its card (the uuid this service gave it), an outcome (accepted or overridden) and its outcomeTimestamp (RFC 3339)")
			return
		}
	}
	accepted := 0
	for _, f := range fb.Feedback {
		if f.Outcome == "accepted" {
			accepted++
		}
	}
	s.log.Info("pastille feedback", "entries", len(fb.Feedback), "accepted", accepted)
	w.WriteHeader(http.StatusOK)
}

// validCardID accepts a card id as this service makes them: a UUID.
func validCardID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if r != '-' {
				return false
			}
		case !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F'):
			return false
		}
	}
	return true
}
