package record

import (
	"context"
	"strings"

	carnet "github.com/carnet-sante/carnet"
)

// professionSystem is the code system of JDV_J01 professions (TRE_G15).
const professionSystem = "urn:oid:1.2.250.1.213.1.1.4.5"

// professionName is the profession of a TRE_G15 code as a patient reads
// it ("médecin"), from the national table the server loaded, else the
// common ones.
func (s *Service) professionName(code string) string {
	if code == "" {
		return ""
	}
	if s.Terminology != nil {
		if c, known, _ := s.Terminology.Lookup(carnet.ValueSetAuthorSpecialty, professionSystem, code, s.now()); known && c.Display != "" {
			return strings.ToLower(c.Display)
		}
	}
	return professionNames[code]
}

// knownProfessional returns the name and profession of a professional
// named by RPPS, as the record already knows them: from its care team,
// from the history of who accessed it, from the authors of its documents.
// A patient blocking or designating someone by number is then shown who
// that is. Nothing is returned for a professional the record has never
// met, or met only where the reader may not look (a care team joined by a
// hidden filing, a hidden document, an access shown to no one on the
// patient side): the patient's own words stay, and the answer is no
// oracle.
func (s *Service) knownProfessional(ctx context.Context, a *access, rpps carnet.Identifier) (name, role string) {
	consents, err := s.shownConsents(ctx, a)
	if err != nil {
		return "", ""
	}
	for _, c := range consents {
		if c.Professional.Value == rpps.Value && c.ProfessionalName != "" {
			return c.ProfessionalName, c.ProfessionalRole
		}
	}
	if tok, err := carnet.AuditActorToken(ctx, s.Sealer, a.row.Key, carnet.Identifier{System: rpps.System, Value: rpps.Value}); err == nil {
		if rows, err := s.Store.FindAudit(ctx, a.row.Key, carnet.AuditFilter{Actors: []string{tok}, Limit: 20}); err == nil && len(rows) > 0 {
			latest, err := s.latestRows(ctx, a.row.Key)
			if err != nil {
				return "", ""
			}
			for _, row := range rows {
				if row.Sealed == nil {
					continue
				}
				if ev, err := carnet.OpenAuditEvent(ctx, s.Sealer, row); err == nil && strings.TrimSpace(ev.Actor.Name) != "" && shownInHistory(&ev, latest, a) {
					return strings.TrimSpace(ev.Actor.Name), s.professionName(ev.Actor.Profession)
				}
			}
		}
	}
	rows, err := s.Store.FindDocuments(ctx, a.row.Key, carnet.DocumentFilter{Tokens: []carnet.TokenFilter{{Kind: carnet.TokAuthor, Values: []string{rpps.Value}}}})
	if err != nil {
		return "", ""
	}
	for _, row := range rows {
		if !a.couldRead(row) {
			continue
		}
		d, err := s.openDocument(ctx, row)
		if err != nil {
			continue
		}
		for _, au := range d.Meta.Authors {
			if au.ID.Value == rpps.Value {
				role := professionalRole(au)
				if role == "" {
					role = s.professionName(au.Profession.Code)
				}
				return au.DisplayName(), role
			}
		}
	}
	return "", ""
}
