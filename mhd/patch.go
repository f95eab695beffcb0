package mhd

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
)

// MaxPatchBytes bounds a PATCH body: the changes PDSm allows fit in a few
// hundred bytes.
const MaxPatchBytes = 64 << 10

// Media types of the two patch formats accepted.
const (
	MediaFHIRJSON  = "application/fhir+json"
	MediaJSONPatch = "application/json-patch+json"
)

// changeableLabels are the confidentiality codes a PATCH may add or remove
// (PDSm masking and visibility); the others (N, R, V) are set at filing.
var changeableLabels = map[string]bool{
	carnet.LabelMasquePS:          true,
	carnet.LabelInvisiblePatient:  true,
	carnet.LabelInvisibleLegalRep: true,
}

// ParsePatch reads a PDSm metadata change of a DocumentReference, sent as a
// FHIRPath Patch (Parameters, application/fhir+json) or a JSON Patch
// (application/json-patch+json). Only these changes are allowed:
//
//   - status: replace with current, superseded or entered-in-error
//     (entered-in-error is Carnet's logical deletion);
//   - securityLabel: add or delete MASQUE_PS, INVISIBLE_PATIENT or
//     INVISIBLE_REPRESENTANTS_LEGAUX, with system urn:oid:1.2.250.1.213.1.1.4.13;
//   - the availability-status extension (ExtAvailabilityStatus): add it with
//     valueCode archived to archive, delete it (or set it to current) to
//     unarchive.
//
// A label or extension is deleted by naming it: in FHIRPath Patch with
// DocumentReference.securityLabel.where(coding.code='MASQUE_PS') (or
// ….where(coding.where(system='…' and code='…').exists())) and
// DocumentReference.extension.where(url='…'); in JSON Patch, whose paths are
// positional, by a "test" op on /securityLabel/N/coding/0/code (or
// /extension/N/url) right before the "remove" of /securityLabel/N, so that
// the change cannot hit another element than the one meant.
//
// The returned change has DocumentID empty: the caller knows which document
// the request addresses. Errors: KindUnsupported for another media type,
// KindTooLarge beyond MaxPatchBytes, KindInvalid for a malformed body,
// KindUnprocessable for anything else than the changes above, each with
// precise issues.
func ParsePatch(body []byte, contentType string) (carnet.DocumentChange, error) {
	const op = "mhd.ParsePatch"
	var root string
	switch mediaType(contentType) {
	case MediaFHIRJSON:
		root = "Parameters"
	case MediaJSONPatch:
		root = "JSONPatch"
	default:
		return carnet.DocumentChange{}, &carnet.Error{Kind: carnet.KindUnsupported, Op: op,
			Msg: "a PATCH body must be " + MediaFHIRJSON + " (FHIRPath Patch) or " + MediaJSONPatch}
	}
	if len(body) > MaxPatchBytes {
		return carnet.DocumentChange{}, &carnet.Error{Kind: carnet.KindTooLarge, Op: op,
			Msg: fmt.Sprintf("a PATCH body is at most %d bytes", MaxPatchBytes)}
	}
	var l issueList
	ch, _, malformed := parsePatch(body, contentType, root, &l)
	if len(l) > 0 {
		k := carnet.KindUnprocessable
		if malformed {
			k = carnet.KindInvalid
		}
		return carnet.DocumentChange{}, &carnet.Error{Kind: k, Op: op, Msg: "the patch cannot be applied", Issues: l}
	}
	return ch, nil
}

func mediaType(ct string) string {
	base, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(base))
}

// patchBuilder accumulates the effect of the operations and refuses
// contradictions (two statuses, a label both added and removed).
type patchBuilder struct {
	ch        carnet.DocumentChange
	statusAt  string
	labelsAt  map[string]string
	l         *issueList
	anyChange bool
	malformed bool // the body is not even a patch
}

func (b *patchBuilder) status(s carnet.DocumentStatus, at string) {
	if b.ch.Status != "" && b.ch.Status != s {
		b.l.add("invalid", at, "the patch sets two different statuses (see %s)", b.statusAt)
		return
	}
	b.ch.Status, b.statusAt, b.anyChange = s, at, true
}

func (b *patchBuilder) label(code string, add bool, at string) {
	if b.labelsAt == nil {
		b.labelsAt = map[string]string{}
	}
	if prev, seen := b.labelsAt[code]; seen {
		b.l.add("invalid", at, "the patch changes the label %s twice (see %s)", code, prev)
		return
	}
	b.labelsAt[code] = at
	b.anyChange = true
	if add {
		b.ch.AddLabels = append(b.ch.AddLabels, carnet.Coding{System: SystemVisibility, Code: code})
	} else {
		b.ch.RemoveLabels = append(b.ch.RemoveLabels, code)
	}
}

func statusFromFHIR(code string) (carnet.DocumentStatus, bool) {
	switch code {
	case "current":
		return carnet.StatusCurrent, true
	case "superseded":
		return carnet.StatusSuperseded, true
	case "entered-in-error":
		return carnet.StatusDeleted, true
	}
	return "", false
}

// checkLabel validates a label to add or remove; system may be empty only
// for removals, where the code alone names it.
func checkLabel(system, code string, at string, l *issueList) bool {
	if !changeableLabels[code] {
		l.add("not-supported", at, "only the labels MASQUE_PS, INVISIBLE_PATIENT and INVISIBLE_REPRESENTANTS_LEGAUX can be changed")
		return false
	}
	if system != SystemVisibility {
		l.add("code-invalid", at, "the label's system must be %s", SystemVisibility)
		return false
	}
	return true
}

// parsePatch parses body as the patch format of contentType, recording
// issues with expressions under root. ok is false when nothing usable came
// out (issues say why).
func parsePatch(body []byte, contentType, root string, l *issueList) (ch carnet.DocumentChange, ok, malformed bool) {
	before := len(*l)
	b := &patchBuilder{l: l}
	switch mediaType(contentType) {
	case MediaFHIRJSON, "application/json+fhir":
		fhirPathPatch(body, root, b)
	case MediaJSONPatch:
		jsonPatch(body, root, b)
	default:
		l.add("not-supported", root, "a patch must be %s (FHIRPath Patch) or %s", MediaFHIRJSON, MediaJSONPatch)
	}
	if len(*l) == before && !b.anyChange {
		l.add("required", root, "the patch changes nothing")
	}
	return b.ch, len(*l) == before, b.malformed
}

var (
	reLabelWhere = []*regexp.Regexp{
		regexp.MustCompile(`^DocumentReference\.securityLabel\.where\(coding\.code\s*=\s*'([A-Za-z_]+)'\)$`),
		regexp.MustCompile(`^DocumentReference\.securityLabel\.where\(coding\.where\(system\s*=\s*'([^']+)'\s+and\s+code\s*=\s*'([A-Za-z_]+)'\)\.exists\(\)\)$`),
		regexp.MustCompile(`^DocumentReference\.securityLabel\.where\(coding\.system\s*=\s*'([^']+)'\s+and\s+coding\.code\s*=\s*'([A-Za-z_]+)'\)$`),
	}
	reExtWhere = regexp.MustCompile(`^DocumentReference\.extension\.where\(url\s*=\s*'([^']+)'\)(\.value|\.valueCode)?$`)
)

func fhirPathPatch(body []byte, root string, b *patchBuilder) {
	l := b.l
	var p fhir.Parameters
	if err := fhir.Unmarshal(body, &p, root); err != nil {
		l.merge(err, root)
		b.malformed = true
		return
	}
	if p.ResourceType != "Parameters" {
		l.add("invalid", root+".resourceType", "a FHIRPath Patch is a Parameters resource")
		b.malformed = true
		return
	}
	if len(p.Parameter) == 0 {
		l.add("required", root+".parameter", "the patch has no operation")
		b.malformed = true
		return
	}
	for i, prm := range p.Parameter {
		at := fmt.Sprintf("%s.parameter[%d]", root, i)
		if prm.Name != "operation" {
			l.add("invalid", at+".name", "a FHIRPath Patch parameter is named operation")
			continue
		}
		parts := map[string]*fhir.ParametersParameter{}
		for k := range prm.Part {
			pp := &prm.Part[k]
			if _, dup := parts[pp.Name]; dup {
				l.add("invalid", fmt.Sprintf("%s.part[%d]", at, k), "the part %s appears twice", fhir.Clip(pp.Name, 20))
				continue
			}
			parts[pp.Name] = pp
		}
		typ, path := partString(parts["type"]), partString(parts["path"])
		if typ == "" || path == "" {
			l.add("required", at, "an operation needs a type and a path")
			continue
		}
		name, value := partString(parts["name"]), parts["value"]
		switch {
		case typ == "replace" && path == "DocumentReference.status":
			code := partString(value)
			s, ok := statusFromFHIR(code)
			if !ok {
				l.add("code-invalid", at, "the status can only become current, superseded or entered-in-error")
				continue
			}
			b.status(s, at)
		case typ == "add" && path == "DocumentReference" && name == "securityLabel":
			var codings []fhir.Coding
			switch {
			case value == nil:
			case value.ValueCodeableConcept != nil:
				codings = value.ValueCodeableConcept.Coding
			case value.ValueCoding != nil:
				codings = []fhir.Coding{*value.ValueCoding}
			}
			if len(codings) != 1 {
				l.add("required", at, "adding a securityLabel needs a value with exactly one coding")
				continue
			}
			if checkLabel(codings[0].System, codings[0].Code, at, l) {
				b.label(codings[0].Code, true, at)
			}
		case typ == "delete" && strings.HasPrefix(path, "DocumentReference.securityLabel"):
			system, code, ok := labelWhere(path)
			if !ok {
				l.add("not-supported", at, "a securityLabel is deleted by naming its code: DocumentReference.securityLabel.where(coding.code='MASQUE_PS')")
				continue
			}
			if system == "" {
				system = SystemVisibility
			}
			if checkLabel(system, code, at, l) {
				b.label(code, false, at)
			}
		case typ == "add" && path == "DocumentReference" && name == "extension":
			url, code := extensionValue(value)
			if url != ExtAvailabilityStatus {
				l.add("not-supported", at, "the only extension that can be added is %s", ExtAvailabilityStatus)
				continue
			}
			b.archive(code, at)
		case (typ == "delete" || typ == "replace") && strings.HasPrefix(path, "DocumentReference.extension"):
			m := reExtWhere.FindStringSubmatch(path)
			if m == nil || m[1] != ExtAvailabilityStatus {
				l.add("not-supported", at, "the only extension that can be changed is %s, named with .where(url='…')", ExtAvailabilityStatus)
				continue
			}
			if typ == "delete" {
				if m[2] != "" {
					l.add("not-supported", at, "delete the whole extension, not its value")
					continue
				}
				b.status(carnet.StatusCurrent, at)
				continue
			}
			if m[2] == "" {
				l.add("not-supported", at, "replace the extension's value: …where(url='%s').value", ExtAvailabilityStatus)
				continue
			}
			b.archive(partString(value), at)
		default:
			l.add("not-supported", at, "PDSm allows only changes of status, of the masking and visibility labels and of archiving; %s on %s is not one", fhir.Clip(typ, 20), fhir.Clip(path, 120))
		}
	}
}

// archive applies a value of the availability-status extension.
func (b *patchBuilder) archive(code, at string) {
	switch code {
	case "archived":
		b.status(carnet.StatusArchived, at)
	case "current":
		b.status(carnet.StatusCurrent, at)
	default:
		b.l.add("code-invalid", at, "the availability-status extension takes valueCode archived or current")
	}
}

func labelWhere(path string) (system, code string, ok bool) {
	for i, re := range reLabelWhere {
		m := re.FindStringSubmatch(path)
		if m == nil {
			continue
		}
		if i == 0 {
			return "", m[1], true
		}
		return m[1], m[2], true
	}
	return "", "", false
}

// partString is a part's primitive value as a string.
func partString(p *fhir.ParametersParameter) string {
	if p == nil {
		return ""
	}
	for _, v := range []*string{p.ValueString, p.ValueCode, p.ValueURI} {
		if v != nil {
			return *v
		}
	}
	return ""
}

// extensionValue reads an Extension given as FHIRPath Patch parts: a part
// "url" and a part "valueCode" (FHIRPath Patch spells complex values as
// parts, one per element).
func extensionValue(v *fhir.ParametersParameter) (url, code string) {
	if v == nil {
		return "", ""
	}
	for i := range v.Part {
		p := &v.Part[i]
		switch p.Name {
		case "url":
			url = partString(p)
		case "valueCode", "value":
			code = partString(p)
		}
	}
	return url, code
}

type jsonPatchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value,omitempty"`
	From  string          `json:"from,omitempty"`
}

func jsonPatch(body []byte, root string, b *patchBuilder) {
	l := b.l
	var ops []jsonPatchOp
	if err := fhir.Unmarshal(body, &ops, root); err != nil {
		l.merge(err, root)
		b.malformed = true
		return
	}
	if len(ops) == 0 {
		l.add("required", root, "the patch has no operation")
		b.malformed = true
		return
	}
	// tested[path] is the value a "test" op asserted at path; a remove is
	// accepted only on an element whose identity was tested just before.
	tested := map[string]string{}
	for i, o := range ops {
		at := fmt.Sprintf("%s[%d]", root, i)
		var str string
		strOK := json.Unmarshal(o.Value, &str) == nil
		switch {
		case (o.Op == "replace" || o.Op == "add") && o.Path == "/status":
			s, ok := statusFromFHIR(str)
			if !strOK || !ok {
				l.add("code-invalid", at+".value", "the status can only become current, superseded or entered-in-error")
				continue
			}
			b.status(s, at)
		case o.Op == "add" && (o.Path == "/securityLabel/-" || indexed(o.Path, "/securityLabel/") >= 0):
			var cc fhir.CodeableConcept
			if json.Unmarshal(o.Value, &cc) != nil || len(cc.Coding) != 1 {
				l.add("required", at+".value", "adding a securityLabel needs a CodeableConcept with exactly one coding")
				continue
			}
			if checkLabel(cc.Coding[0].System, cc.Coding[0].Code, at+".value", l) {
				b.label(cc.Coding[0].Code, true, at)
			}
		case o.Op == "add" && (o.Path == "/extension/-" || indexed(o.Path, "/extension/") >= 0):
			var ext fhir.Extension
			if json.Unmarshal(o.Value, &ext) != nil || ext.URL != ExtAvailabilityStatus || ext.ValueCode == nil {
				l.add("not-supported", at+".value", "the only extension that can be added is %s with a valueCode", ExtAvailabilityStatus)
				continue
			}
			b.archive(*ext.ValueCode, at)
		case o.Op == "test":
			if !strOK {
				l.add("not-supported", at, "only string tests naming a label code or an extension url are understood")
				continue
			}
			if n := indexedTail(o.Path, "/securityLabel/", "/coding/0/code"); n >= 0 {
				tested[fmt.Sprintf("/securityLabel/%d", n)] = str
				continue
			}
			if n := indexedTail(o.Path, "/extension/", "/url"); n >= 0 {
				tested[fmt.Sprintf("/extension/%d", n)] = str
				continue
			}
			l.add("not-supported", at, "only tests of /securityLabel/N/coding/0/code or /extension/N/url are understood")
		case o.Op == "remove" && indexed(o.Path, "/securityLabel/") >= 0:
			code, ok := tested[o.Path]
			if !ok {
				l.add("not-supported", at, "removing %s needs a test of %s/coding/0/code just before, so that the right label is removed", fhir.Clip(o.Path, 40), fhir.Clip(o.Path, 40))
				continue
			}
			if checkLabel(SystemVisibility, code, at, l) {
				b.label(code, false, at)
			}
		case o.Op == "remove" && indexed(o.Path, "/extension/") >= 0:
			if tested[o.Path] != ExtAvailabilityStatus {
				l.add("not-supported", at, "removing an extension needs a test of its url (%s) just before", ExtAvailabilityStatus)
				continue
			}
			b.status(carnet.StatusCurrent, at)
		case o.Op == "replace" && indexedTail(o.Path, "/extension/", "/valueCode") >= 0:
			n := indexedTail(o.Path, "/extension/", "/valueCode")
			if tested[fmt.Sprintf("/extension/%d", n)] != ExtAvailabilityStatus {
				l.add("not-supported", at, "replacing an extension value needs a test of its url (%s) just before", ExtAvailabilityStatus)
				continue
			}
			b.archive(str, at)
		default:
			l.add("not-supported", at, "PDSm allows only changes of status, of the masking and visibility labels and of archiving; %s on %s is not one", fhir.Clip(o.Op, 20), fhir.Clip(o.Path, 120))
		}
	}
}

// indexed returns N when path is prefix+N, else -1.
func indexed(path, prefix string) int {
	return indexedTail(path, prefix, "")
}

// indexedTail returns N when path is prefix+N+tail, else -1.
func indexedTail(path, prefix, tail string) int {
	rest, ok := strings.CutPrefix(path, prefix)
	if !ok {
		return -1
	}
	rest, ok = strings.CutSuffix(rest, tail)
	if !ok || rest == "" || len(rest) > 4 {
		return -1
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || strconv.Itoa(n) != rest {
		return -1
	}
	return n
}
