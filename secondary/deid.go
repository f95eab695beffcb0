package secondary

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	carnet "github.com/carnet-sante/carnet"
)

// What leaves is a whitelist: a field not named here does not leave
// (docs/SECONDARY.md, "Pseudonymisation at the source").

// subjectView is what the export knows of one record while writing it.
type subjectView struct {
	pseudo  string // the patient's pseudonym
	dates   dater
	names   Scrubber
	pseudos Pseudonyms
}

// patientResource is the pseudonymised Patient: pseudonym, sex, birth year,
// département.
func patientResource(q QI, pseudo string) []byte {
	m := map[string]any{"resourceType": "Patient", "id": pseudo}
	if q.Sex != "" {
		m["gender"] = q.Sex
	}
	if q.BirthYear != "" {
		m["birthDate"] = q.BirthYear
	}
	if q.Departement != "" {
		m["address"] = []any{map[string]any{"district": q.Departement, "country": "FR"}}
	}
	return mustJSON(m)
}

func codeable(c carnet.Coding) map[string]any {
	return map[string]any{"coding": []any{coding(c)}}
}

func coding(c carnet.Coding) map[string]any {
	m := map[string]any{"code": c.Code}
	if c.System != "" {
		m["system"] = fhirSystem(c.System)
	}
	return m
}

// fhirSystem writes a bare OID as a FHIR uri.
func fhirSystem(s string) string {
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		return "urn:oid:" + s
	}
	return s
}

// documentResource is the pseudonymised DocumentReference of d; text is
// the de-identified narrative, "" for none.
func documentResource(d carnet.Document, v subjectView, text string) []byte {
	m := map[string]any{
		"resourceType": "DocumentReference",
		"id":           v.pseudos.Of("document", d.LogicalID),
		"status":       "current",
		"subject":      map[string]any{"reference": "Patient/" + v.pseudo},
	}
	if d.Meta.Type.Code != "" {
		m["type"] = codeable(d.Meta.Type)
	}
	if d.Meta.Class.Code != "" {
		m["category"] = []any{codeable(d.Meta.Class)}
	}
	when := d.Meta.Created
	if when.IsZero() {
		when = d.Date
	}
	if !v.dates.month && !when.IsZero() {
		m["date"] = v.dates.day(when) + "T00:00:00Z" // an instant: shifted, at day precision
	}
	var authors []any
	for _, a := range d.Meta.Authors {
		if a.ID.Value != "" {
			authors = append(authors, map[string]any{"reference": "Practitioner/" + v.pseudos.Of("practitioner", a.ID.Value)})
		}
	}
	if len(authors) > 0 {
		m["author"] = authors
	}
	att := map[string]any{"contentType": "text/plain; charset=utf-8"}
	if text != "" {
		att["data"] = base64.StdEncoding.EncodeToString([]byte(text))
	}
	content := map[string]any{"attachment": att}
	if d.Meta.Format.Code != "" {
		content["format"] = coding(d.Meta.Format)
	}
	m["content"] = []any{content}
	ctx := map[string]any{}
	if p := d.Meta.ServicePeriod; !p.Start.IsZero() || !p.End.IsZero() {
		per := map[string]any{}
		if s := v.dates.day(p.Start); s != "" {
			per["start"] = s
		}
		if e := v.dates.day(p.End); e != "" {
			per["end"] = e
		}
		ctx["period"] = per
	}
	if d.Meta.Facility.Code != "" {
		ctx["facilityType"] = codeable(d.Meta.Facility)
	}
	if d.Meta.PracticeSetting.Code != "" {
		ctx["practiceSetting"] = codeable(d.Meta.PracticeSetting)
	}
	var events []any
	for _, e := range d.Meta.Events {
		if e.Code != "" {
			events = append(events, codeable(e))
		}
	}
	if len(events) > 0 {
		ctx["event"] = events
	}
	if len(ctx) > 0 {
		m["context"] = ctx
	}
	return mustJSON(m)
}

// topLevel are the fields of each item type that may leave, besides
// resourceType, id and subject (which the export sets).
var topLevel = map[carnet.ItemKind][]string{
	carnet.ItemObservation: {"status", "category", "code", "effectiveDateTime", "effectivePeriod", "issued",
		"valueQuantity", "valueCodeableConcept", "valueBoolean", "valueInteger", "valueRange", "valueRatio",
		"interpretation", "referenceRange", "component", "method", "bodySite"},
	carnet.ItemCondition: {"clinicalStatus", "verificationStatus", "category", "severity", "code", "bodySite",
		"onsetDateTime", "onsetPeriod", "abatementDateTime", "recordedDate"},
	carnet.ItemMedicationRequest: {"status", "intent", "category", "priority", "medicationCodeableConcept",
		"authoredOn", "dosageInstruction"},
	carnet.ItemImmunization: {"status", "vaccineCode", "occurrenceDateTime", "primarySource", "site", "route",
		"doseQuantity", "protocolApplied"},
	carnet.ItemAllergy: {"clinicalStatus", "verificationStatus", "type", "category", "criticality", "code",
		"onsetDateTime", "recordedDate", "reaction"},
	// Not the contained dispensation (it names the pharmacy) nor derivedFrom.
	carnet.ItemMedicationStatement: {"status", "category", "medicationCodeableConcept", "effectiveDateTime",
		"effectivePeriod", "dateAsserted", "dosage"},
	carnet.ItemProcedure: {"status", "category", "code", "performedDateTime", "performedPeriod", "bodySite"},
}

// nested are the fields that may leave inside those (codings, quantities,
// periods, dosage, reactions): no text, display, note, identifier,
// reference or extension at any depth.
var nested = setOf("coding", "system", "code", "value", "unit", "comparator", "low", "high", "numerator",
	"denominator", "start", "end", "type", "appliesTo", "age", "interpretation", "valueQuantity",
	"valueCodeableConcept", "valueInteger", "valueBoolean", "timing", "repeat", "frequency", "period",
	"periodUnit", "boundsPeriod", "count", "duration", "durationUnit", "when", "dayOfWeek", "doseAndRate",
	"doseQuantity", "doseRange", "rateQuantity", "route", "site", "method", "asNeededBoolean", "sequence",
	"manifestation", "severity", "substance", "exposureRoute", "onset", "doseNumberPositiveInt",
	"seriesDosesPositiveInt", "targetDisease", "maxDosePerPeriod", "maxDosePerAdministration")

// dateKeys hold dates, shifted or generalised like every date.
var dateKeys = setOf("effectiveDateTime", "issued", "onsetDateTime", "abatementDateTime", "recordedDate",
	"authoredOn", "occurrenceDateTime", "start", "end", "onset", "dateAsserted", "performedDateTime")

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

var errNotObject = errors.New("item resource is not a JSON object")

// itemResource is the pseudonymised item: the whitelisted fields of its
// FHIR JSON, dates rewritten, its subject the patient's pseudonym.
func itemResource(it carnet.Item, v subjectView) ([]byte, error) {
	var in map[string]any
	dec := json.NewDecoder(bytes.NewReader(it.Resource))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil || in == nil {
		return nil, errNotObject
	}
	out := map[string]any{"resourceType": string(it.Kind), "id": v.pseudos.Of("item", it.ID),
		"subject": map[string]any{"reference": "Patient/" + v.pseudo}}
	if it.Kind == carnet.ItemAllergy || it.Kind == carnet.ItemImmunization {
		delete(out, "subject")
		out["patient"] = map[string]any{"reference": "Patient/" + v.pseudo}
	}
	for _, k := range topLevel[it.Kind] {
		if val, ok := in[k]; ok {
			if c, keep := clean(k, val, v.dates, 0); keep {
				out[k] = c
			}
		}
	}
	return mustJSON(out), nil
}

// clean keeps the whitelisted part of one value; keep is false when
// nothing of it may leave.
func clean(key string, val any, d dater, depth int) (any, bool) {
	if depth > 16 {
		return nil, false
	}
	switch x := val.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, v := range x {
			if !nested[k] {
				continue
			}
			if c, ok := clean(k, v, d, depth+1); ok {
				out[k] = c
			}
		}
		return out, len(out) > 0
	case []any:
		var out []any
		for _, v := range x {
			if c, ok := clean(key, v, d, depth+1); ok {
				out = append(out, c)
			}
		}
		return out, len(out) > 0
	case string:
		if dateKeys[key] {
			s := d.str(x)
			return s, s != ""
		}
		if len(x) > 200 {
			return nil, false // a code or unit is short; a long string is text
		}
		return x, true
	case json.Number, bool:
		return x, true
	}
	return nil, false
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("secondary: marshal: " + err.Error()) // maps of strings and numbers always marshal
	}
	return b
}

// fold lower-cases and strips the diacritics of Latin letters, so that
// "Émilie" and "EMILIE" compare equal.
func fold(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if f, ok := foldTable[r]; ok {
			b.WriteRune(f)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

var foldTable = func() map[rune]rune {
	m := map[rune]rune{}
	for from, to := range map[string]rune{"àâäáãå": 'a', "çć": 'c', "éèêëę": 'e', "îïíì": 'i', "ôöóòõø": 'o', "ùûüú": 'u', "ÿý": 'y', "ñ": 'n', "œ": 'o', "æ": 'a'} {
		for _, r := range from {
			m[r] = to
		}
	}
	return m
}()
