package ips

import (
	"encoding/json"
	"fmt"
	"html"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/mhd"
	"github.com/carnet-sante/carnet/qedm"
)

// Codes and systems of the document.
const (
	SystemLOINC       = "http://loinc.org"
	CodePatientSumary = "60591-5" // Patient summary Document
	SystemEmptyReason = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
	SystemRFC3986     = "urn:ietf:rfc:3986"
	// oidConfidentiality is HL7 v3 Confidentiality (N, R, V) as the XDS
	// metadata names it.
	oidConfidentiality = "2.16.840.1.113883.5.25"
)

// Composition is the R4 Composition, the elements an IPS uses here.
type Composition struct {
	fhir.Resource
	Identifier      *fhir.Identifier     `json:"identifier,omitempty"`
	Status          string               `json:"status"`
	Type            fhir.CodeableConcept `json:"type"`
	Subject         fhir.Reference       `json:"subject"`
	Date            string               `json:"date"`
	Author          []fhir.Reference     `json:"author"`
	Title           string               `json:"title"`
	Confidentiality string               `json:"confidentiality,omitempty"`
	Section         []CompositionSection `json:"section"`
}

// CompositionSection is Composition.section.
type CompositionSection struct {
	Title       string                `json:"title"`
	Code        fhir.CodeableConcept  `json:"code"`
	Text        fhir.Narrative        `json:"text"`
	Entry       []fhir.Reference      `json:"entry,omitempty"`
	EmptyReason *fhir.CodeableConcept `json:"emptyReason,omitempty"`
}

func (c Composition) MarshalJSON() ([]byte, error) {
	type plain Composition
	p := plain(c)
	p.ResourceType = "Composition"
	return fhir.MarshalPlain(p)
}

// Document builds the IPS document Bundle of sel for patient p: the
// Composition first, the Patient, Carnet as the author (a Device), each
// selected item as QEDm serves it with its Provenance, and the documents
// the items came from as ITI-67 serves them (sources, by logicalId). base
// is the server's public base URL; at the time of the summary.
func Document(sel Selection, p carnet.Patient, sources map[string]carnet.Document, base string, at time.Time) (fhir.Bundle, error) {
	base = strings.TrimSuffix(base, "/")
	at = at.UTC()
	b := fhir.Bundle{Type: "document", Timestamp: fhir.FormatDateTime(at),
		Identifier: &fhir.Identifier{System: SystemRFC3986, Value: "urn:uuid:" + carnet.NewID()}}
	b.ID = carnet.NewID()
	b.Language = "fr-FR"

	patientURL := base + "/Patient/" + string(p.Key)
	deviceURL := "urn:uuid:" + carnet.NewID()
	comp := Composition{
		Status:  "final",
		Type:    fhir.CodeableConcept{Coding: []fhir.Coding{{System: SystemLOINC, Code: CodePatientSumary, Display: "Patient summary Document"}}},
		Subject: fhir.Reference{Reference: patientURL},
		Date:    fhir.FormatDateTime(at),
		Author:  []fhir.Reference{{Reference: deviceURL, Display: "Carnet"}},
		Title:   "Synthèse patient (IPS) au " + frenchDate(at),
	}
	comp.ID = carnet.NewID()
	comp.Language = "fr-FR"
	comp.Confidentiality = confidentiality(sel, sources)

	var entries []fhir.BundleEntry
	var provenance []fhir.BundleEntry
	var documents []fhir.BundleEntry
	listed := map[string]bool{}
	for _, sec := range sel.Sections {
		if len(sec.Items) == 0 && !sec.Always {
			continue
		}
		cs := CompositionSection{Title: sec.Title,
			Code: fhir.CodeableConcept{Coding: []fhir.Coding{{System: SystemLOINC, Code: sec.LOINC, Display: sec.Display}}},
			Text: fhir.Narrative{Status: "generated", Div: narrative(sec, sources)}}
		if len(sec.Items) == 0 {
			cs.EmptyReason = &fhir.CodeableConcept{Coding: []fhir.Coding{{System: SystemEmptyReason, Code: "unavailable", Display: "Unavailable"}},
				Text: "Aucune information disponible"}
		}
		for _, it := range sec.Items {
			url := base + "/" + string(it.Kind) + "/" + it.ID
			cs.Entry = append(cs.Entry, fhir.Reference{Reference: url})
			raw, err := qedm.Serve(it, base)
			if err != nil {
				return fhir.Bundle{}, err
			}
			entries = append(entries, fhir.BundleEntry{FullURL: url, Resource: raw})
			src, ok := sources[it.SourceLogicalID]
			prov, err := provenanceOf(it, src, ok, base)
			if err != nil {
				return fhir.Bundle{}, err
			}
			provenance = append(provenance, fhir.BundleEntry{FullURL: base + "/Provenance/prov-" + it.ID, Resource: prov})
			if ok && !listed[it.SourceLogicalID] {
				listed[it.SourceLogicalID] = true
				raw, err := json.Marshal(mhd.DocumentReference(src, base))
				if err != nil {
					return fhir.Bundle{}, carnet.WrapError(carnet.KindInternal, "ips", err)
				}
				documents = append(documents, fhir.BundleEntry{FullURL: base + "/DocumentReference/" + mhd.FHIRID(src), Resource: raw})
			}
		}
		comp.Section = append(comp.Section, cs)
	}

	head := func(v any, url string) error {
		raw, err := json.Marshal(v)
		if err != nil {
			return carnet.WrapError(carnet.KindInternal, "ips", err)
		}
		b.Entry = append(b.Entry, fhir.BundleEntry{FullURL: url, Resource: raw})
		return nil
	}
	if err := head(comp, "urn:uuid:"+comp.ID); err != nil {
		return fhir.Bundle{}, err
	}
	if err := head(patientResource(p), patientURL); err != nil {
		return fhir.Bundle{}, err
	}
	if err := head(carnetDevice(strings.TrimPrefix(deviceURL, "urn:uuid:")), deviceURL); err != nil {
		return fhir.Bundle{}, err
	}
	b.Entry = append(b.Entry, entries...)
	b.Entry = append(b.Entry, documents...)
	b.Entry = append(b.Entry, provenance...)
	return b, nil
}

// provenanceOf is the item's mXDE Provenance. FHIR requires recorded:
// for an item the document gives no time for, it is when the source
// document was filed.
func provenanceOf(it carnet.Item, src carnet.Document, known bool, base string) (json.RawMessage, error) {
	raw := qedm.Provenance(it, base)
	if !it.Recorded.IsZero() || !it.Effective.IsZero() || !known {
		return raw, nil
	}
	var p qedm.ProvenanceResource
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, carnet.WrapError(carnet.KindInternal, "ips", err)
	}
	p.Recorded = fhir.FormatDateTime(src.Date)
	out, err := fhir.MarshalPlain(p)
	if err != nil {
		return nil, carnet.WrapError(carnet.KindInternal, "ips", err)
	}
	return out, nil
}

// patientResource is the Patient of the summary: INS, name, gender and
// birth date (what the IPS Patient needs; nothing else is kept).
func patientResource(p carnet.Patient) fhir.Patient {
	out := fhir.Patient{Gender: p.Identity.Gender, BirthDate: p.Identity.BirthDate}
	out.ResourceType = "Patient"
	out.ID = string(p.Key)
	for _, id := range p.Identifiers {
		out.Identifier = append(out.Identifier, fhir.Identifier{Use: "official", System: id.System, Value: id.Value})
	}
	if p.Identity.Family != "" || len(p.Identity.Given) > 0 {
		out.Name = []fhir.HumanName{{Use: "official", Family: p.Identity.Family, Given: p.Identity.Given}}
	}
	return out
}

// device is Carnet as the summary's author: software assembling it.
type device struct {
	fhir.Resource
	DeviceName []deviceName `json:"deviceName"`
}

type deviceName struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

func carnetDevice(id string) device {
	d := device{DeviceName: []deviceName{{Name: "Carnet", Type: "user-friendly-name"}}}
	d.ResourceType, d.ID = "Device", id
	return d
}

// confidentiality is the highest HL7 confidentiality (N < R < V) of the
// source documents of the selection's items.
func confidentiality(sel Selection, sources map[string]carnet.Document) string {
	rank := map[string]int{"N": 1, "R": 2, "V": 3}
	best := "N"
	for _, sec := range sel.Sections {
		for _, it := range sec.Items {
			for _, c := range sources[it.SourceLogicalID].Meta.Confidentiality {
				sys := strings.TrimPrefix(c.System, "urn:oid:")
				if (sys == oidConfidentiality || c.System == "http://terminology.hl7.org/CodeSystem/v3-Confidentiality") && rank[c.Code] > rank[best] {
					best = c.Code
				}
			}
		}
	}
	return best
}

var frenchMonths = [...]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"}

func frenchDate(t time.Time) string {
	return fmt.Sprintf("%d %s %d", t.Day(), frenchMonths[t.Month()-1], t.Year())
}

// shortDate is a date as a French reader writes it; the precision the
// document gave is kept (a year stays a year).
func shortDate(t time.Time) string {
	if t.IsZero() {
		return "date inconnue"
	}
	return t.Format("02/01/2006")
}

// narrative is the section's XHTML: one row per entry (what, detail,
// when, from which document), and what was left out.
func narrative(sec Section, sources map[string]carnet.Document) string {
	var b strings.Builder
	b.WriteString(`<div xmlns="http://www.w3.org/1999/xhtml">`)
	if len(sec.Items) == 0 {
		b.WriteString("<p>" + esc(sec.Empty) + "</p>")
	} else {
		b.WriteString("<table><thead><tr><th>Élément</th><th>Détail</th><th>Date</th><th>Document source</th></tr></thead><tbody>")
		for _, it := range sec.Items {
			v := viewOf(it)
			b.WriteString("<tr><td>" + esc(label(it, v)) + "</td><td>" + esc(detail(it, v)) + "</td><td>" + esc(shortDate(it.Effective)) + "</td><td>")
			if d, ok := sources[it.SourceLogicalID]; ok {
				when := d.Meta.Created
				if when.IsZero() {
					when = d.Date
				}
				b.WriteString(esc(d.Meta.Title + " (" + shortDate(when) + ")"))
			}
			b.WriteString("</td></tr>")
		}
		b.WriteString("</tbody></table>")
	}
	if sec.More > 0 {
		b.WriteString(fmt.Sprintf("<p>%d autres éléments du dossier ne sont pas repris ici.</p>", sec.More))
	}
	if sec.Older > 0 {
		b.WriteString(fmt.Sprintf("<p>%d prescriptions de plus de douze mois ne sont pas reprises ici.</p>", sec.Older))
	}
	b.WriteString("</div>")
	return b.String()
}

func label(it carnet.Item, v view) string {
	for _, c := range []*concept{v.Code, v.Medication, v.Vaccine} {
		if l := c.label(); l != "" {
			return l
		}
	}
	if it.Code.Display != "" {
		return it.Code.Display
	}
	return it.Code.Code
}

func detail(it carnet.Item, v view) string {
	switch it.Kind {
	case carnet.ItemObservation:
		s := ""
		switch {
		case v.ValueQuantity != nil:
			s = strings.TrimSpace(v.ValueQuantity.Value.String() + " " + v.ValueQuantity.Unit)
		case v.ValueCodeableConcept != nil:
			s = v.ValueCodeableConcept.label()
		default:
			s = v.ValueString
		}
		if len(v.Interpretation) > 0 {
			if i := v.Interpretation[0].code(); i != "" && i != "N" {
				s += " (" + i + ")"
			}
		}
		return s
	case carnet.ItemMedicationRequest:
		var parts []string
		for _, d := range v.Dosage {
			if d.Text != "" {
				parts = append(parts, d.Text)
			}
		}
		return strings.Join(parts, " ; ")
	case carnet.ItemAllergy:
		var parts []string
		for _, r := range v.Reaction {
			for _, m := range r.Manifestation {
				if l := m.label(); l != "" {
					parts = append(parts, l)
				}
			}
		}
		return strings.Join(parts, ", ")
	case carnet.ItemCondition:
		switch v.ClinicalStatus.code() {
		case "active", "recurrence", "relapse":
			return "actif"
		case "resolved", "inactive", "remission":
			return "résolu"
		}
	}
	return ""
}

// esc escapes text for XHTML, dropping the characters XML does not allow.
func esc(s string) string {
	s = strings.Map(func(r rune) rune {
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0xFFFE || r == 0xFFFF || (r >= 0xD800 && r <= 0xDFFF) {
			return -1
		}
		return r
	}, s)
	return html.EscapeString(s)
}
