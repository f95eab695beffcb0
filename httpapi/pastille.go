package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/mhd"
	"github.com/carnet-sante/carnet/pastille"
)

// RelevanceURL is the extension a ranked DocumentReference carries: its
// score, whether it is new, and the reasons, in French.
const RelevanceURL = "https://carnet-sante.fr/fhir/StructureDefinition/relevance"

// careRanking is one point-of-care ranking (pastille.RankView, shared with
// the web space).
type careRanking = pastille.Ranking

// rankCare gathers the record's view for the caller, ranks it and opens the
// top n documents. since, when not zero, stands for the last visit (the
// card's link keeps the visit the card was computed for).
func (s *Server) rankCare(r *http.Request, req carnet.Request, key carnet.PatientKey, id carnet.Identifier, q string, n int, mark bool, since time.Time) (*careRanking, error) {
	gather := func(pick func(carnet.CareView) []string) (carnet.CareView, carnet.CareDetails, error) {
		return s.svc.PointOfCare(r.Context(), req, key, id, q, mark, pick)
	}
	return pastille.RankView(gather, pastille.RankOptions{Actor: req.Actor, Since: since, Show: n, Cache: &s.care})
}

// CareInput turns the Service's view into the ranking's input (what the
// card and $relevant rank; exported for `carnet bench pastille`).
func CareInput(a carnet.Actor, v carnet.CareView, since time.Time) pastille.Input {
	return pastille.FromView(a, v, since)
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
	total := len(cr.Ranked)
	b.Total = &total
	b.Link = []fhir.BundleLink{{Relation: "self", URL: s.base(r) + r.URL.RequestURI()}}
	for _, rk := range cr.Ranked {
		d, ok := cr.Details.Documents[rk.Doc.ID]
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
	if s.cfg.CDS != nil && s.cfg.CDS.Link != nil {
		return s.cfg.CDS.Link(s.base(r), cr.View.Patient, cr.Input.LastVisit)
	}
	v := url.Values{}
	if cr.View.INS.Value != "" {
		v.Set("patient.identifier", cr.View.INS.System+"|"+cr.View.INS.Value)
	} else {
		v.Set("patient", "Patient/"+string(cr.View.Patient))
	}
	if !cr.Input.LastVisit.IsZero() {
		v.Set("since", cr.Input.LastVisit.UTC().Format(time.RFC3339Nano))
	}
	return s.base(r) + "/DocumentReference/$relevant?" + v.Encode()
}
