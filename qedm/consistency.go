package qedm

import (
	"fmt"
	"strings"

	carnet "github.com/carnet-sante/carnet"
)

// CheckConsistency compares what a submission declares about a document
// (ITI-65 DocumentReference metadata and subject) with what its CDA header
// says, and returns one error issue per contradiction:
//
//	path.subject  the header names another INS, in the same system, than
//	              the submission's subject
//	path.type     the header's type code differs from the declared one
//	path.author   the header's author RPPS share none with the declared ones
//
// Each diagnostic names both values. A value missing on either side is not
// a contradiction; neither are INS in different systems (NIR and NIA of
// one person). INS are shown by their last four characters only, because
// diagnostics end up in error texts and logs.
func CheckConsistency(declared carnet.DocumentMeta, declaredPatient carnet.Identifier, x carnet.Extraction, path string) []carnet.Issue {
	var issues []carnet.Issue
	add := func(field, format string, args ...any) {
		issues = append(issues, carnet.Issue{
			Severity:    "error",
			Code:        "business-rule",
			Diagnostics: fmt.Sprintf(format, args...),
			Expression:  path + "." + field,
		})
	}
	hp, dp := normIdentifier(x.Patient), normIdentifier(declaredPatient)
	if hp.Value != "" && dp.Value != "" && hp.System == dp.System && hp.Value != dp.Value {
		add("subject", "the CDA header names the patient %s, the DocumentReference subject is %s: a document is filed only in the record of the patient it is about",
			maskINS(hp), maskINS(dp))
	}
	ht, dt := normCoding(x.Derived.Type), normCoding(declared.Type)
	if ht.Code != "" && dt.Code != "" && (ht.Code != dt.Code || (ht.System != "" && dt.System != "" && ht.System != dt.System)) {
		add("type", "the CDA header says type %s, the DocumentReference says %s", showCoding(ht), showCoding(dt))
	}
	hr, dr := rpps(x.Derived.Authors), rpps(declared.Authors)
	if len(hr) > 0 && len(dr) > 0 && !shareAny(hr, dr) {
		add("author", "the CDA header names author RPPS %s, the DocumentReference names %s", strings.Join(hr, ", "), strings.Join(dr, ", "))
	}
	return issues
}

func normIdentifier(id carnet.Identifier) carnet.Identifier {
	id.System = strings.TrimSpace(id.System)
	if carnet.IsOID(id.System) {
		id.System = "urn:oid:" + id.System
	}
	id.Value = strings.TrimSpace(id.Value)
	return id
}

// maskINS writes an INS as its kind and last four characters ("INS-NIR
// (test) ending in …4521").
func maskINS(id carnet.Identifier) string {
	kind := "identifier"
	switch id.OID() {
	case carnet.OIDInsNIR:
		kind = "INS-NIR"
	case carnet.OIDInsNIA:
		kind = "INS-NIA"
	case carnet.OIDInsTestNIR:
		kind = "INS-NIR (test)"
	case carnet.OIDInsTestNIA:
		kind = "INS-NIA (test)"
	}
	v := id.Value
	if len(v) > 4 {
		v = "…" + v[len(v)-4:]
	}
	return kind + " ending in " + v
}

func showCoding(c carnet.Coding) string {
	if c.Display != "" {
		return c.Code + " (" + c.Display + ")"
	}
	return c.Code
}

// rpps lists the RPPS values of authors, in order, without repeats.
func rpps(as []carnet.Author) []string {
	var out []string
	for _, a := range as {
		id := normIdentifier(a.ID)
		if id.OID() != carnet.OIDRPPS || id.Value == "" {
			continue
		}
		if !contains(out, id.Value) {
			out = append(out, id.Value)
		}
	}
	return out
}

func shareAny(a, b []string) bool {
	for _, v := range a {
		if contains(b, v) {
			return true
		}
	}
	return false
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Check is CheckConsistency, for carnet.Extractor.
func (Extractor) Check(declared carnet.DocumentMeta, patient carnet.Identifier, x carnet.Extraction, path string) []carnet.Issue {
	return CheckConsistency(declared, patient, x, path)
}
