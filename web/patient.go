package web

import (
	"cmp"
	"context"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/cda"
	"github.com/carnet-sante/carnet/mhd"
	"github.com/carnet-sante/carnet/record"
)

// pageSize is how many documents a list shows (and opens) at once.
const pageSize = 20

// docLine is a document as a list shows it.
type docLine struct {
	ID, Title, Type, Date, Authors string
	Labels                         []string
	Status                         string // "" for current
	New                            bool
	Reasons                        []string
	Findings                       []string
	Warning                        string
}

// docFilter is the patient's filters, posted (a search word is not for a
// URL).
type docFilter struct {
	Type, Author, Q  string
	From, To         time.Time
	FromText, ToText string
	Page             int
}

func readDocFilter(r *http.Request) docFilter {
	var f docFilter
	if r.Method != http.MethodPost {
		return f
	}
	v := r.PostForm
	f.Type, f.Author = v.Get("type"), v.Get("auteur")
	f.Q = strings.TrimSpace(v.Get("q"))
	if len(f.Q) > 200 {
		f.Q = f.Q[:200]
	}
	f.FromText, f.ToText = v.Get("du"), v.Get("au")
	if t, err := time.ParseInLocation(time.DateOnly, f.FromText, paris); err == nil {
		f.From = t
	} else {
		f.FromText = ""
	}
	if t, err := time.ParseInLocation(time.DateOnly, f.ToText, paris); err == nil {
		f.To = t.AddDate(0, 0, 1)
	} else {
		f.ToText = ""
	}
	f.Page, _ = strconv.Atoi(v.Get("page"))
	f.Page = max(f.Page, 0)
	return f
}

// rowToken returns the value of the first token of kind in a row.
func rowTokens(row carnet.DocumentRow, kind string) []string {
	var out []string
	for _, t := range row.Tokens {
		if t.Kind == kind {
			out = append(out, t.Value)
		}
	}
	return out
}

func typeCode(row carnet.DocumentRow) string {
	for _, v := range rowTokens(row, carnet.TokType) {
		if _, code, ok := strings.Cut(v, "|"); ok {
			return code
		}
	}
	return ""
}

// clinicalDate is when the act was documented, else when it was filed.
func clinicalDate(cd carnet.CareDoc) time.Time {
	if !cd.Row.Created.IsZero() {
		return cd.Row.Created
	}
	if !cd.Filed.IsZero() {
		return cd.Filed
	}
	return cd.Row.Date
}

// patientDocuments lists the record's documents, newest first, with the
// filters; the Service decides every one on its clear fields and opens
// only the page shown (recorded as served).
func (s *Server) patientDocuments(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx, cancel := pageContext(r)
	defer cancel()
	f := readDocFilter(r)
	var total int
	types := map[string]bool{}
	var page []string
	pick := func(v carnet.CareView) []string {
		docs := slices.Clone(v.Docs)
		for _, d := range docs {
			if code := typeCode(*d.Row); code != "" {
				types[code] = true
			}
		}
		docs = slices.DeleteFunc(docs, func(d carnet.CareDoc) bool {
			at := clinicalDate(d)
			switch {
			case f.Type != "" && typeCode(*d.Row) != f.Type,
				f.Author != "" && !slices.Contains(rowTokens(*d.Row, carnet.TokAuthor), f.Author),
				!f.From.IsZero() && at.Before(f.From),
				!f.To.IsZero() && !at.Before(f.To),
				f.Q != "" && d.TextScore <= 0:
				return true
			}
			return false
		})
		slices.SortStableFunc(docs, func(a, b carnet.CareDoc) int {
			if f.Q != "" && a.TextScore != b.TextScore {
				return cmp.Compare(b.TextScore, a.TextScore)
			}
			if c := clinicalDate(b).Compare(clinicalDate(a)); c != 0 {
				return c
			}
			return strings.Compare(a.Row.ID, b.Row.ID)
		})
		total = len(docs)
		start := min(f.Page*pageSize, len(docs))
		for _, d := range docs[start:min(start+pageSize, len(docs))] {
			page = append(page, d.Row.ID)
		}
		return page
	}
	view, det, err := s.svc.PointOfCare(ctx, c.req, "", c.req.Actor.ID, f.Q, false, pick)
	if err != nil {
		return err
	}
	pros, err := s.authors(ctx, c.req, view.Stamp)
	if err != nil {
		return err
	}
	lines := make([]docLine, 0, len(page))
	for _, id := range page {
		if d, ok := det.Documents[id]; ok {
			lines = append(lines, patientLine(d))
		}
	}
	var typeOpts []option
	for code := range types {
		typeOpts = append(typeOpts, option{Value: code, Label: typeName(carnet.Coding{Code: code}), Selected: code == f.Type})
	}
	slices.SortFunc(typeOpts, func(a, b option) int { return strings.Compare(a.Label, b.Label) })
	var authorOpts []option
	for _, p := range pros {
		if p.Authored > 0 {
			authorOpts = append(authorOpts, option{Value: p.ID.Value, Label: proLabel(p), Selected: p.ID.Value == f.Author})
		}
	}
	s.render(w, r, c, http.StatusOK, "patient-documents", "Mes documents", map[string]any{
		"Lines": lines, "Total": total, "Filter": f, "Types": typeOpts, "Authors": authorOpts,
		"Page": f.Page, "Pages": (total + pageSize - 1) / pageSize, "Prev": f.Page - 1, "Next": f.Page + 1,
		"Filtered": f.Type != "" || f.Author != "" || f.Q != "" || !f.From.IsZero() || !f.To.IsZero(),
	})
	return nil
}

// authors are the professionals of the caller's record, for the author
// filter: read through the Service (audited) once per record version and
// caller, then kept while the record's stamp (its documents) is the same,
// so that the list costs one Service call. Names are the caller's own data;
// the cache is bounded and per process.
func (s *Server) authors(ctx context.Context, r carnet.Request, stamp string) ([]record.RecordProfessional, error) {
	key := authorsKey{actor: r.Actor.ID, rep: r.Actor.LegalRepresentative, stamp: stamp}
	s.authorsMu.Lock()
	pros, ok := s.authorsCache[key]
	s.authorsMu.Unlock()
	if ok && stamp != "" {
		return pros, nil
	}
	pros, err := s.svc.Professionals(ctx, r, r.Actor.ID)
	if err != nil || stamp == "" {
		return pros, err
	}
	s.authorsMu.Lock()
	if s.authorsCache == nil || len(s.authorsCache) >= 4096 {
		s.authorsCache = map[authorsKey][]record.RecordProfessional{}
	}
	s.authorsCache[key] = pros
	s.authorsMu.Unlock()
	return pros, nil
}

type authorsKey struct {
	actor carnet.Identifier
	rep   bool
	stamp string
}

type option struct {
	Value, Label string
	Selected     bool
}

func proLabel(p record.RecordProfessional) string {
	name := p.Name
	if name == "" {
		name = "Professionnel (RPPS " + p.ID.Value + ")"
	}
	if p.Profession != "" {
		name += " — " + strings.ToLower(professionName(p.Profession, p.Specialty))
	}
	return name
}

func patientLine(d carnet.Document) docLine {
	l := docLine{ID: fhirID(d), Title: d.Meta.Title, Type: typeName(d.Meta.Type), Date: frenchDate(docDate(d)), Authors: authorNames(d.Meta)}
	if l.Title == "" {
		l.Title = l.Type
	}
	for _, c := range d.Meta.Confidentiality {
		if n := labelName(c.Code); n != "" {
			l.Labels = append(l.Labels, n)
		}
	}
	l.Status = statusName(d.Status)
	return l
}

func docDate(d carnet.Document) time.Time {
	if !d.Meta.Created.IsZero() {
		return d.Meta.Created
	}
	return d.Date
}

func statusName(st carnet.DocumentStatus) string {
	switch st {
	case carnet.StatusSuperseded:
		return "remplacé par une version plus récente"
	case carnet.StatusArchived:
		return "archivé"
	case carnet.StatusDeleted:
		return "supprimé"
	}
	return ""
}

// docView is what the viewer shows of one document.
type docView struct {
	Doc       carnet.Document
	Line      docLine
	Narrative template.HTML // built by cda.RenderHTML from an allow-list
	PDF       bool
	Text      string
	Masked    bool
	HiddenRL  bool
	Warnings  []string
	Base      string // where the viewer's links go
}

// openDocument reads a document and its content through the Service (two
// audited reads) and prepares what the viewer shows.
func (s *Server) openDocument(r *http.Request, c *call, id string) (*docView, error) {
	ctx, cancel := pageContext(r)
	defer cancel()
	d, warnings, err := s.svc.Document(ctx, c.req, id)
	if err != nil {
		return nil, err
	}
	v := &docView{Doc: d, Line: patientLine(d), Warnings: warnings,
		Masked: d.Meta.HasLabel(carnet.LabelMasquePS), HiddenRL: d.Meta.HasLabel(carnet.LabelInvisibleLegalRep)}
	if d.Status == carnet.StatusDeleted {
		return v, nil
	}
	_, content, err := s.svc.Content(ctx, c.req, d.ContentID)
	if err != nil {
		return nil, err
	}
	ct := strings.ToLower(d.Meta.ContentType)
	switch {
	case strings.Contains(ct, "xml") || strings.Contains(ct, "hl7"):
		if doc, err := cda.Parse(content, cda.Limits{}); err == nil {
			v.Narrative = template.HTML(cda.RenderHTML(doc)) // #nosec: sanitised by construction
			v.PDF = doc.Attachment != nil && doc.Attachment.MediaType == "application/pdf"
		}
	case ct == "application/pdf":
		v.PDF = true
	case strings.HasPrefix(ct, "text/plain"):
		v.Text = string(content)
	}
	return v, nil
}

// patientDocument is the viewer, with the patient's confidentiality
// actions.
func (s *Server) patientDocument(w http.ResponseWriter, r *http.Request, c *call) error {
	v, err := s.openDocument(r, c, r.PathValue("id"))
	if err != nil {
		return err
	}
	v.Base = "/patient/documents/" + url.PathEscape(fhirID(v.Doc))
	s.render(w, r, c, http.StatusOK, "patient-document", v.Line.Title, map[string]any{"View": v, "Representative": c.req.Actor.LegalRepresentative})
	return nil
}

// documentPDF serves a document's PDF (N1: the file inside the CDA) to be
// shown in the viewer: its own policy lets this site frame it.
func (s *Server) documentPDF(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx, cancel := pageContext(r)
	defer cancel()
	key := carnet.PatientKey(r.PathValue("patient"))
	if key != "" && !s.svc.InRecord(ctx, r.PathValue("id"), key) {
		// An emergency access to one record never opens another's.
		return carnet.Errorf(carnet.KindNotFound, "not in this record")
	}
	req := s.recordRequest(c, key)
	d, _, err := s.svc.Document(ctx, req, r.PathValue("id"))
	if err != nil {
		return err
	}
	_, content, err := s.svc.Content(ctx, req, d.ContentID)
	if err != nil {
		return err
	}
	pdf := content
	if strings.ToLower(d.Meta.ContentType) != "application/pdf" {
		doc, err := cda.Parse(content, cda.Limits{})
		if err != nil || doc.Attachment == nil || doc.Attachment.MediaType != "application/pdf" {
			return carnet.Errorf(carnet.KindNotFound, "no PDF")
		}
		pdf = doc.Attachment.Data
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'self'")
	w.Header().Set("X-Frame-Options", "SAMEORIGIN")
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", `inline; filename="document.pdf"`)
	_, _ = w.Write(pdf)
	return nil
}

// documentOriginal downloads the document as filed, byte for byte.
func (s *Server) documentOriginal(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx, cancel := pageContext(r)
	defer cancel()
	d, _, err := s.svc.Document(ctx, c.req, r.PathValue("id"))
	if err != nil {
		return err
	}
	_, content, err := s.svc.Content(ctx, c.req, d.ContentID)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+fileName(d)+`"`)
	_, _ = w.Write(content)
	return nil
}

// fileName is a safe file name for a document: its date and type, no
// title (titles may be anything).
func fileName(d carnet.Document) string {
	ext := ".bin"
	ct := strings.ToLower(d.Meta.ContentType)
	switch {
	case strings.Contains(ct, "xml") || strings.Contains(ct, "hl7"):
		ext = ".xml"
	case ct == "application/pdf":
		ext = ".pdf"
	case strings.HasPrefix(ct, "text/"):
		ext = ".txt"
	}
	code := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' {
			return r
		}
		return '_'
	}, d.Meta.Type.Code)
	return docDate(d).In(paris).Format("2006-01-02") + "_" + code + "_" + fhirID(d)[:min(8, len(fhirID(d)))] + ext
}

// patientDocumentChange applies a confidentiality action to a document.
func (s *Server) patientDocumentChange(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx, cancel := pageContext(r)
	defer cancel()
	id := r.PathValue("id")
	label := func(code string) []carnet.Coding { return []carnet.Coding{{System: mhd.SystemVisibility, Code: code}} }
	var ch carnet.DocumentChange
	msg := ""
	switch r.PostForm.Get("action") {
	case "masquer":
		ch.AddLabels, msg = label(carnet.LabelMasquePS), "masque"
	case "demasquer":
		ch.RemoveLabels, msg = []string{carnet.LabelMasquePS}, "demasque"
	case "cacher-rl":
		if c.req.Actor.LegalRepresentative {
			return userError(carnet.KindForbidden, "Seul le patient peut cacher un document à ses représentants légaux.")
		}
		ch.AddLabels, msg = label(carnet.LabelInvisibleLegalRep), "cache-rl"
	case "montrer-rl":
		if c.req.Actor.LegalRepresentative {
			return userError(carnet.KindForbidden, "Seul le patient peut décider de ce que voient ses représentants légaux.")
		}
		ch.RemoveLabels, msg = []string{carnet.LabelInvisibleLegalRep}, "montre-rl"
	case "restreindre":
		_, err := s.svc.AddConsent(ctx, c.req, c.req.Actor.ID, carnet.Consent{Kind: carnet.ConsentRestrict, Document: id}, "Consent")
		if err != nil {
			return err
		}
		http.Redirect(w, r, "/patient/documents/"+url.PathEscape(id)+"?message=restreint", http.StatusSeeOther)
		return nil
	default:
		return userError(carnet.KindInvalid, "Action inconnue.")
	}
	d, _, err := s.svc.ChangeDocument(ctx, c.req, id, ch)
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/patient/documents/"+url.PathEscape(fhirID(d))+"?message="+msg, http.StatusSeeOther)
	return nil
}
