package web

import (
	"net/http"
	"slices"
	"strings"

	carnet "github.com/carnet-sante/carnet"
)

// auditLine is an access as an auditor reads it: the history's line and
// the policy's reasons.
type auditLine struct {
	historyLine
	Reasons string
}

// auditHome asks an auditor for the record (by INS, posted).
func (s *Server) auditHome(w http.ResponseWriter, r *http.Request, c *call) error {
	s.render(w, r, c, http.StatusOK, "audit", "Espace auditeur", map[string]any{"Form": s.proForm(c, proForm{})})
	return nil
}

// auditSearch shows a record's access history with the policy's reasons:
// the Service records the auditor's reading in that history too.
func (s *Server) auditSearch(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx, cancel := pageContext(r)
	defer cancel()
	f := proForm{INS: strings.TrimSpace(r.PostForm.Get("ins")), System: r.PostForm.Get("systeme")}
	data := map[string]any{}
	if !slices.ContainsFunc(s.proForm(c, proForm{}).Systems, func(o option) bool { return o.Value == f.System }) || len(f.INS) != 15 {
		f.Problem = "Indiquez un INS de 15 caractères et son type."
	} else {
		entries, err := s.svc.AuditHistory(ctx, c.req, carnet.Identifier{System: "urn:oid:" + f.System, Value: f.INS}, carnet.AuditFilter{Limit: 100}, nil)
		switch {
		case carnet.IsKind(err, carnet.KindNotFound):
			f.Problem = "Aucun dossier pour cet INS."
		case err != nil:
			return err
		default:
			var lines []auditLine
			for i, l := range historyLines(entries, carnet.Actor{}) {
				lines = append(lines, auditLine{historyLine: l, Reasons: strings.Join(entries[i].Event.Detail, " ; ")})
			}
			data["Lines"] = lines
		}
	}
	data["Form"] = s.proForm(c, f)
	s.render(w, r, c, http.StatusOK, "audit", "Espace auditeur", data)
	return nil
}
