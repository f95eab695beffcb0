package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/mhd"
)

// transaction is ITI-65 Provide Document Bundle: POST / with a transaction Bundle.
func (s *Server) transaction(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	body, _, err := s.readBody(r, fhirJSON...)
	if err != nil {
		return err
	}
	sub, entries, err := mhd.ParseProvide(body, s.parseOptions())
	if err != nil {
		return err
	}
	if err := allowEntries(req.Actor, entries); err != nil {
		return err
	}
	res, err := s.svc.Provide(r.Context(), req, sub)
	if err != nil {
		return err
	}
	s.writeResource(w, http.StatusOK, mhd.BuildProvideResponse(res, entries, s.base(r)))
	return nil
}

// simplifiedPublish is ITI-105: POST /DocumentReference with the document inline.
func (s *Server) simplifiedPublish(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	body, _, err := s.readBody(r, fhirJSON...)
	if err != nil {
		return err
	}
	opts := s.parseOptions()
	opts.Derivable = s.svc.Extractor != nil // a CDA states its own metadata
	sub, err := mhd.ParseSimplifiedPublish(body, opts)
	if err != nil {
		return err
	}
	res, err := s.svc.Provide(r.Context(), req, sub)
	if err != nil {
		return err
	}
	s.writeFiled(w, r, res, "filed")
	return nil
}

// writeChanged answers a write of document d: the resource if the caller
// may read it, else an OperationOutcome of severity information.
func (s *Server) writeChanged(w http.ResponseWriter, r *http.Request, status int, d carnet.Document, readable bool, what string) {
	if readable {
		s.writeResource(w, status, mhd.DocumentReference(d, s.base(r)))
		return
	}
	s.writeResource(w, status, fhir.OutcomeFromIssues([]carnet.Issue{{Severity: "information", Code: "informational",
		Diagnostics: what + "; it is at the Location given, which this caller may not read", Expression: "DocumentReference"}}))
}

// searchParams merges the query string and, for POST _search, the form body.
func (s *Server) searchParams(r *http.Request) (url.Values, error) {
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		ct := r.Header.Get("Content-Type")
		if !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			return nil, refuse(carnet.KindUnsupported, "not-supported", "POST _search takes application/x-www-form-urlencoded")
		}
		if err := r.ParseForm(); err != nil {
			return nil, carnet.WrapError(carnet.KindInvalid, "parse form", err)
		}
		for k, vs := range r.PostForm {
			q[k] = append(q[k], vs...)
		}
	}
	return q, nil
}

// selfURL renders the search as understood, for Bundle links.
func (s *Server) selfURL(r *http.Request, path string, q url.Values, page string) string {
	v := url.Values{}
	for k, vs := range q {
		if k != "_page" {
			v[k] = vs
		}
	}
	if page != "" {
		v.Set("_page", page)
	}
	u := s.base(r) + path
	if enc := v.Encode(); enc != "" {
		u += "?" + enc
	}
	return u
}

// searchDocuments is ITI-67 Find Document References.
func (s *Server) searchDocuments(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	q, err := s.searchParams(r)
	if err != nil {
		return err
	}
	search, warnings, err := mhd.ParseDocumentSearch(q)
	if err != nil {
		return err
	}
	page, err := s.svc.FindDocuments(r.Context(), req, search)
	if err != nil {
		return err
	}
	page.Warnings = append(warnings, page.Warnings...)
	b := mhd.DocumentSearchBundle(page, s.base(r), s.selfURL(r, "/DocumentReference", q, search.Page), s.selfURL(r, "/DocumentReference", q, page.Next))
	b.ID = carnet.NewID()
	s.writeResource(w, http.StatusOK, b)
	return nil
}

// readDocument is GET DocumentReference/{id}, and the vread GET
// DocumentReference/{id}/_history/{vid}.
func (s *Server) readDocument(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	vid := 0
	if v := r.PathValue("vid"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return refuse(carnet.KindNotFound, "not-found", "not found")
		}
		vid = n
	}
	d, warnings, err := s.svc.DocumentVersion(r.Context(), req, r.PathValue("id"), vid)
	if err != nil {
		return err
	}
	for _, wn := range warnings {
		w.Header().Add("Warning", `199 carnet "`+strings.ReplaceAll(wn, `"`, `'`)+`"`)
	}
	w.Header().Set("ETag", fmt.Sprintf(`W/"%d"`, d.Version))
	w.Header().Set("Last-Modified", d.Date.Format(http.TimeFormat))
	s.writeResource(w, http.StatusOK, mhd.DocumentReference(d, s.base(r)))
	return nil
}

// documentHistory is GET DocumentReference/{id}/_history: every metadata
// version, newest first (a FHIR history Bundle).
func (s *Server) documentHistory(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	docs, err := s.svc.DocumentHistory(r.Context(), req, r.PathValue("id"))
	if err != nil {
		return err
	}
	b := fhir.Bundle{Type: "history"}
	b.ID = carnet.NewID()
	for _, d := range docs {
		raw, err := json.Marshal(mhd.DocumentReference(d, s.base(r)))
		if err != nil {
			return carnet.WrapError(carnet.KindInternal, "encode", err)
		}
		b.Entry = append(b.Entry, fhir.BundleEntry{FullURL: s.base(r) + "/DocumentReference/" + mhd.FHIRID(d) + "/_history/" + strconv.Itoa(d.Version), Resource: raw})
	}
	total := len(b.Entry)
	b.Total = &total
	s.writeResource(w, http.StatusOK, b)
	return nil
}

// patchDocument is the PDSm metadata change: mask, visibility, archive, delete.
func (s *Server) patchDocument(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	body, ct, err := s.readBody(r, "application/fhir+json", "application/json-patch+json", "application/json")
	if err != nil {
		return err
	}
	ch, err := mhd.ParsePatch(body, ct)
	if err != nil {
		return err
	}
	if v := r.Header.Get("If-Match"); v != "" {
		// W/"3": the version the change was prepared from.
		n, err := strconv.Atoi(strings.Trim(strings.TrimPrefix(strings.TrimSpace(v), "W/"), `"`))
		if err != nil || n < 1 {
			return refuse(carnet.KindInvalid, "value", `If-Match takes the ETag of a version, e.g. W/"2"`)
		}
		ch.IfMatch = n
	}
	d, readable, err := s.svc.ChangeDocument(r.Context(), req, r.PathValue("id"), ch)
	if err != nil {
		return err
	}
	w.Header().Set("Location", s.base(r)+"/DocumentReference/"+mhd.FHIRID(d)+"/_history/"+strconv.Itoa(d.Version))
	w.Header().Set("ETag", fmt.Sprintf(`W/"%d"`, d.Version))
	s.writeChanged(w, r, http.StatusOK, d, readable, "the change was made")
	return nil
}

// retrieve is ITI-68: the document's original bytes, with their content type.
func (s *Server) retrieve(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	d, content, err := s.svc.Content(r.Context(), req, r.PathValue("id"))
	if err != nil {
		return err
	}
	// A FHIR format asked for (JSON, or XML: format.go) gets the Binary
	// resource; anything else the document's own bytes.
	if accept := r.Header.Get("Accept"); strings.Contains(accept, "application/fhir+json") || wantsXML(r) {
		bin := fhir.Binary{ContentType: d.Meta.ContentType, Data: content}
		bin.ID = r.PathValue("id")
		s.writeResource(w, http.StatusOK, bin)
		return nil
	}
	w.Header().Set("Content-Type", d.Meta.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(content)))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "sandbox; default-src 'none'")
	w.Header().Set("Content-Disposition", "attachment")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(content)
	return nil
}

// searchLists is ITI-66 Find Document Lists.
func (s *Server) searchLists(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	q, err := s.searchParams(r)
	if err != nil {
		return err
	}
	search, warnings, err := mhd.ParseListSearch(q)
	if err != nil {
		return err
	}
	page, err := s.svc.FindLists(r.Context(), req, search)
	if err != nil {
		return err
	}
	page.Warnings = append(warnings, page.Warnings...)
	b := mhd.ListSearchBundle(page, s.base(r), s.selfURL(r, "/List", q, search.Page), s.selfURL(r, "/List", q, page.Next))
	b.ID = carnet.NewID()
	s.writeResource(w, http.StatusOK, b)
	return nil
}

// readList is GET List/{id}.
func (s *Server) readList(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	set, err := s.svc.List(r.Context(), req, r.PathValue("id"))
	if err != nil {
		return err
	}
	s.writeResource(w, http.StatusOK, mhd.List(set, s.base(r)))
	return nil
}

func (s *Server) parseOptions() mhd.ParseOptions {
	return mhd.ParseOptions{MaxBytes: s.cfg.MaxBody, AcceptTestINS: s.svc.AllowTestINS}
}
