package record

import (
	"fmt"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// fromHeader fills what the producer left out of d with what its header
// states (deriveMissing), and sorts the extractor's notes on the fields it
// filled: warnings (a value found by a fallback rule, which the answer
// reports) and reasons (why a field the producer left out could not be
// derived, which explain the "required" refusal). Notes on fields the
// producer declared do not apply.
func fromHeader(d *carnet.SubmittedDocument, x carnet.Extraction) (warnings, reasons []carnet.Issue) {
	left := map[string]bool{"content[0].format": d.Meta.Format.Code == ""}
	deriveMissing(d, x)
	for _, n := range x.Notes {
		if !left[n.Expression] {
			continue
		}
		n.Expression = d.Path + "." + n.Expression
		if n.Severity == "warning" {
			warnings = append(warnings, n)
		} else {
			reasons = append(reasons, n)
		}
	}
	return warnings, reasons
}

// explainRequired adds to each "is required" issue the reason the header
// did not give the value, so that an ITI-106 refusal says what to do.
func explainRequired(issues, reasons []carnet.Issue) []carnet.Issue {
	for i, is := range issues {
		if is.Code != "required" {
			continue
		}
		for _, r := range reasons {
			if r.Expression == is.Expression {
				issues[i].Diagnostics = strings.TrimSuffix(is.Diagnostics, ".") + ": " + r.Diagnostics
			}
		}
	}
	return issues
}

// checkParticipants checks the coded values of the authors, the legal
// authenticator and the referenceIdList against the national value sets:
// XDS authorSpecialty is the JDV_J01 code (the specialty, or the
// profession when there is none), the referenceIdList types JDV_J197.
func (s *Service) checkParticipants(d carnet.SubmittedDocument, now time.Time) []carnet.Issue {
	if s.Terminology == nil {
		return nil
	}
	var issues []carnet.Issue
	check := func(vs string, c carnet.Coding, path, what string) {
		if c.Code == "" {
			return
		}
		_, known, valid := s.Terminology.Lookup(vs, c.System, c.Code, now)
		switch {
		case !known:
			issues = append(issues, carnet.Issue{Severity: "error", Code: "code-invalid", Diagnostics: fmt.Sprintf("%s %s|%s is not in the national value set %s", what, c.System, c.Code, vs), Expression: path})
		case !valid:
			issues = append(issues, carnet.Issue{Severity: "error", Code: "code-invalid", Diagnostics: fmt.Sprintf("%s %s|%s is retired in %s and refused for new documents", what, c.System, c.Code, vs), Expression: path})
		}
	}
	specialty := func(a carnet.Author) carnet.Coding {
		if a.Specialty.Code != "" {
			return a.Specialty
		}
		return a.Profession
	}
	for i, a := range d.Meta.Authors {
		check(carnet.ValueSetAuthorSpecialty, specialty(a), fmt.Sprintf("%s.author[%d]", d.Path, i), "authorSpecialty")
	}
	if la := d.Meta.LegalAuthenticator; la != nil {
		check(carnet.ValueSetAuthorSpecialty, specialty(*la), d.Path+".authenticator", "legalAuthenticator specialty")
	}
	for i, r := range d.Meta.References {
		check(carnet.ValueSetReferenceIDType, carnet.Coding{System: carnet.SystemReferenceIDType, Code: r.Type}, fmt.Sprintf("%s.context.related[%d]", d.Path, i), "referenceIdList type")
	}
	return issues
}
