package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/qedm"
)

// itemKinds are the QEDm resources served, extracted from N3 documents:
// every kind the extraction gives.
var itemKinds = carnet.ItemKinds

func (s *Server) itemRoutes() {
	for _, kind := range itemKinds {
		k := kind
		s.mux.Handle("GET /"+string(k), s.wrap(string(k), carnet.ActionSearch, func(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
			return s.searchItems(w, r, req, k)
		}))
		s.mux.Handle("POST /"+string(k)+"/_search", s.wrap(string(k), carnet.ActionSearch, func(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
			return s.searchItems(w, r, req, k)
		}))
		s.mux.Handle("GET /"+string(k)+"/{id}", s.wrap(string(k), carnet.ActionRead, func(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
			return s.readItem(w, r, req, k)
		}))
	}
	s.mux.Handle("POST /DocumentReference/{op}", s.wrap("DocumentReference", carnet.ActionCreate, s.generateMetadata))
}

// searchItems is a QEDm search (PCC-44): the items of the patient whose
// source document the caller may see, each with its Provenance on request.
func (s *Server) searchItems(w http.ResponseWriter, r *http.Request, req carnet.Request, kind carnet.ItemKind) error {
	q, err := s.searchParams(r)
	if err != nil {
		return err
	}
	search, warnings, err := qedm.ParseItemSearch(kind, q)
	if err != nil {
		return err
	}
	page, err := s.svc.FindItems(r.Context(), req, carnet.ItemQuery{PatientKey: search.PatientKey, PatientID: search.PatientID, Filter: search.Filter, Count: search.Count, Page: search.Page, Chronological: search.Chronological, Total: search.Total})
	if err != nil {
		return err
	}
	base := s.base(r)
	b := fhir.Bundle{Type: "searchset"}
	if total := page.Total; total != carnet.TotalUnknown {
		b.Total = &total // given when counted, or when one page holds every match
	}
	b.ID = carnet.NewID()
	path := "/" + string(kind)
	b.Link = append(b.Link, fhir.BundleLink{Relation: "self", URL: s.selfURL(r, path, q, search.Page)})
	if page.Next != "" {
		b.Link = append(b.Link, fhir.BundleLink{Relation: "next", URL: s.selfURL(r, path, q, page.Next)})
	}
	for _, it := range page.Items {
		raw, err := qedm.Serve(it, base)
		if err != nil {
			return err
		}
		b.Entry = append(b.Entry, fhir.BundleEntry{FullURL: base + "/" + string(kind) + "/" + it.ID, Resource: raw, Search: &fhir.BundleSearch{Mode: "match"}})
	}
	if search.RevIncludeProvenance {
		for _, it := range page.Items {
			b.Entry = append(b.Entry, fhir.BundleEntry{FullURL: base + "/Provenance/prov-" + it.ID, Resource: qedm.Provenance(it, base), Search: &fhir.BundleSearch{Mode: "include"}})
		}
	}
	if len(warnings) > 0 {
		issues := make([]carnet.Issue, len(warnings))
		for i, wn := range warnings {
			issues[i] = carnet.Issue{Severity: "warning", Code: "not-supported", Diagnostics: wn}
		}
		oo, _ := json.Marshal(fhir.OutcomeFromIssues(issues))
		b.Entry = append(b.Entry, fhir.BundleEntry{Resource: oo, Search: &fhir.BundleSearch{Mode: "outcome"}})
	}
	s.writeResource(w, http.StatusOK, b)
	return nil
}

func (s *Server) readItem(w http.ResponseWriter, r *http.Request, req carnet.Request, kind carnet.ItemKind) error {
	it, err := s.svc.Item(r.Context(), req, kind, r.PathValue("id"))
	if err != nil {
		return err
	}
	raw, err := qedm.Serve(it, s.base(r))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/fhir+json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(raw)))
	_, _ = w.Write(raw)
	return nil
}

// generateMetadata is ITI-106: POST /DocumentReference/$generate-metadata
// with a Parameters holding the document as a Binary (or a Binary alone).
// The metadata is read from the document's CDA header and the document is
// filed; the answer is the new DocumentReference.
func (s *Server) generateMetadata(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	if r.PathValue("op") != "$generate-metadata" {
		return carnet.Errorf(carnet.KindNotFound, "no such operation: %s", r.PathValue("op"))
	}
	body, _, err := s.readBody(r, fhirJSON...)
	if err != nil {
		return err
	}
	var bin fhir.Binary
	switch fhir.PeekResourceType(body) {
	case "Binary":
		if err := fhir.Decode(bytes.NewReader(body), s.cfg.MaxBody, &bin); err != nil {
			return err
		}
	case "Parameters":
		var params struct {
			Parameter []struct {
				Name     string          `json:"name"`
				Resource json.RawMessage `json:"resource"`
			} `json:"parameter"`
		}
		if err := json.Unmarshal(body, &params); err != nil {
			return carnet.WrapError(carnet.KindInvalid, "generate-metadata", err)
		}
		found := false
		for _, p := range params.Parameter {
			if p.Name == "document" && fhir.PeekResourceType(p.Resource) == "Binary" {
				if err := fhir.Unmarshal(p.Resource, &bin, "Parameters.parameter.resource"); err != nil {
					return err
				}
				found = true
			}
		}
		if !found {
			return refuse(carnet.KindInvalid, "required", "Parameters needs a parameter \"document\" holding a Binary")
		}
	default:
		return refuse(carnet.KindInvalid, "invalid", "$generate-metadata takes a Parameters (document: Binary) or a Binary")
	}
	if len(bin.Data) == 0 {
		return refuse(carnet.KindInvalid, "required", "the Binary has no data")
	}
	res, _, err := s.svc.PublishContent(r.Context(), req, bin.ContentType, bin.Data)
	if err != nil {
		return err
	}
	s.writeFiled(w, r, res, "filed with the metadata its header states")
	return nil
}
