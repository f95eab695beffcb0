// Package ips builds the HL7 International Patient Summary (FHIR R4, IG
// hl7.fhir.uv.ips 2.0.0) of a record from its extracted items and the
// documents they came from: which items go in which section (Select), and
// the document Bundle (Document). It decides nothing about access: it is
// given only what the caller may see (record.Service.Summary). See
// docs/IPS.md.
package ips

import (
	"encoding/json"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// MaxEntries bounds the entries of a section; the narrative says how many
// more the record holds.
const MaxEntries = 100

// MedicationWindow is how far back a prescription counts as current
// treatment: prescribed within it, or valid until a date within it.
const MedicationWindow = 365 * 24 * time.Hour

// SectionSpec is one IPS section Carnet fills.
type SectionSpec struct {
	Key   string // allergies, medications, problems, …
	LOINC string // the section's code
	// Display is the LOINC display the IG's examples give; Title the
	// section's French title.
	Display, Title string
	// Empty is what the narrative says of an empty section.
	Empty string
	// Required sections (and the recommended immunizations and results)
	// are always present, with emptyReason when empty; the others only
	// when they have entries.
	Always bool
}

// Sections are the sections in the order of the Composition.
var Sections = []SectionSpec{
	{Key: "allergies", LOINC: "48765-2", Display: "Allergies and adverse reactions Document", Title: "Allergies et intolérances", Empty: "Aucune allergie ni intolérance n'est rapportée par les documents disponibles.", Always: true},
	{Key: "medications", LOINC: "10160-0", Display: "History of Medication use Narrative", Title: "Traitements", Empty: "Aucun traitement prescrit dans les douze derniers mois n'est rapporté par les documents disponibles.", Always: true},
	{Key: "problems", LOINC: "11450-4", Display: "Problem list - Reported", Title: "Problèmes de santé", Empty: "Aucun problème de santé actif n'est rapporté par les documents disponibles.", Always: true},
	{Key: "immunizations", LOINC: "11369-6", Display: "History of Immunization note", Title: "Vaccinations", Empty: "Aucune vaccination n'est rapportée par les documents disponibles.", Always: true},
	{Key: "results", LOINC: "30954-2", Display: "Relevant diagnostic tests/laboratory data note", Title: "Résultats d'examens", Empty: "Aucun résultat d'examen n'est rapporté par les documents disponibles.", Always: true},
	{Key: "vitals", LOINC: "8716-3", Display: "Vital signs note", Title: "Signes vitaux"},
	{Key: "past", LOINC: "11348-0", Display: "History of Past illness note", Title: "Antécédents"},
}

// Section is a section's share of a selection.
type Section struct {
	SectionSpec
	Items []carnet.Item // newest first
	// More counts the section's items beyond MaxEntries; Older the
	// prescriptions left out as older than MedicationWindow. Repeats of an
	// entry are counted in neither.
	More, Older int
}

// Selection is what a summary shows, by section.
type Selection struct {
	Sections []Section
	Time     time.Time
}

// Items returns every item of the selection, in section order.
func (s Selection) Items() []carnet.Item {
	var out []carnet.Item
	for _, sec := range s.Sections {
		out = append(out, sec.Items...)
	}
	return out
}

// view is what selection and narrative read of an item's resource.
type view struct {
	Code                 *concept  `json:"code"`
	Medication           *concept  `json:"medicationCodeableConcept"`
	Vaccine              *concept  `json:"vaccineCode"`
	Category             []concept `json:"category"`
	ClinicalStatus       *concept  `json:"clinicalStatus"`
	Status               string    `json:"status"`
	ValueQuantity        *quantity `json:"valueQuantity"`
	ValueString          string    `json:"valueString"`
	ValueCodeableConcept *concept  `json:"valueCodeableConcept"`
	Dosage               []struct {
		Text string `json:"text"`
	} `json:"dosageInstruction"`
	Reaction []struct {
		Manifestation []concept `json:"manifestation"`
	} `json:"reaction"`
	DispenseRequest *struct {
		ValidityPeriod *struct {
			End string `json:"end"`
		} `json:"validityPeriod"`
	} `json:"dispenseRequest"`
	Interpretation []concept `json:"interpretation"`
}

type concept struct {
	Coding []struct {
		System  string `json:"system"`
		Code    string `json:"code"`
		Display string `json:"display"`
	} `json:"coding"`
	Text string `json:"text"`
}

func (c *concept) code() string {
	if c == nil {
		return ""
	}
	for _, cd := range c.Coding {
		if cd.Code != "" {
			return cd.Code
		}
	}
	return ""
}

func (c *concept) label() string {
	if c == nil {
		return ""
	}
	if c.Text != "" {
		return c.Text
	}
	for _, cd := range c.Coding {
		if cd.Display != "" {
			return cd.Display
		}
	}
	return c.code()
}

type quantity struct {
	Value json.Number `json:"value"`
	Unit  string      `json:"unit"`
}

func viewOf(it carnet.Item) view {
	var v view
	_ = json.Unmarshal(it.Resource, &v) // what does not parse is shown as absent
	return v
}

// sectionOf is the key of the section an item belongs to, "" for none
// (a prescription outside the window).
func sectionOf(it carnet.Item, v view, now time.Time) string {
	switch it.Kind {
	case carnet.ItemAllergy:
		return "allergies"
	case carnet.ItemImmunization:
		return "immunizations"
	case carnet.ItemCondition:
		if v.ClinicalStatus.code() == "resolved" || v.ClinicalStatus.code() == "inactive" || v.ClinicalStatus.code() == "remission" {
			return "past"
		}
		return "problems"
	case carnet.ItemMedicationRequest:
		if v.Status == "cancelled" || v.Status == "entered-in-error" {
			return ""
		}
		since := now.Add(-MedicationWindow)
		if !it.Effective.IsZero() && !it.Effective.Before(since) {
			return "medications"
		}
		if v.DispenseRequest != nil && v.DispenseRequest.ValidityPeriod != nil {
			if end, err := time.Parse("2006-01-02", firstN(v.DispenseRequest.ValidityPeriod.End, 10)); err == nil && !end.Before(since) {
				return "medications"
			}
		}
		return ""
	case carnet.ItemObservation:
		if it.Category == "vital-signs" {
			return "vitals"
		}
		for _, c := range v.Category {
			if c.code() == "vital-signs" {
				return "vitals"
			}
		}
		return "results"
	}
	return ""
}

func firstN(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// dedupKey is what makes two items of a section the same entry: the code,
// and for a vaccination its day; "" (no code) never repeats.
func dedupKey(it carnet.Item) string {
	if it.Code.Code == "" {
		return ""
	}
	k := it.Code.System + "|" + it.Code.Code
	if it.Kind == carnet.ItemImmunization {
		k += "|" + it.Effective.Format("2006-01-02")
	}
	return k
}

// Select chooses the summary's items among those given (newest first, as
// the Store gives them), as of now: each in its section, repeats of a code
// kept once (the newest), prescriptions within MedicationWindow, at most
// MaxEntries a section.
func Select(items []carnet.Item, now time.Time) Selection {
	sel := Selection{Time: now}
	index := map[string]int{}
	for i, spec := range Sections {
		sel.Sections = append(sel.Sections, Section{SectionSpec: spec})
		index[spec.Key] = i
	}
	seen := map[string]bool{}
	for _, it := range items {
		v := viewOf(it)
		key := sectionOf(it, v, now)
		if key == "" {
			if it.Kind == carnet.ItemMedicationRequest && v.Status != "cancelled" && v.Status != "entered-in-error" {
				sel.Sections[index["medications"]].Older++
			}
			continue
		}
		sec := &sel.Sections[index[key]]
		// By kind, not section: a problem resolved in the newest document
		// is a past problem, not also a current one from an older document.
		if k := dedupKey(it); k != "" {
			if seen[string(it.Kind)+"\x00"+k] {
				continue
			}
			seen[string(it.Kind)+"\x00"+k] = true
		}
		if len(sec.Items) >= MaxEntries {
			sec.More++
			continue
		}
		sec.Items = append(sec.Items, it)
	}
	return sel
}
