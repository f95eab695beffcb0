package qedm

import (
	"bytes"
	"fmt"
	"mime"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/cda"
	"github.com/carnet-sante/carnet/fhir"
)

// Extractor reads CDA R2 documents for the Service: the metadata their
// header states and the QEDm items of their N3 entries.
type Extractor struct {
	Limits cda.Limits // zero fields take cda.DefaultLimits
	// Formats is the CI-SIS volet table (ci-sis-formats.csv) the formatCode
	// is derived from; nil derives none (the producer declares it).
	Formats *cda.FormatTable
}

var _ carnet.Extractor = Extractor{}

const op = "qedm.Extract"

// Extract reads content when it is XML (text/xml, application/xml, a
// +xml type, or no useful type and bytes that look like a
// ClinicalDocument). Other content, and XML that is not a CDA R2
// ClinicalDocument, is ok=false with no error. A CDA that cannot be read
// safely is a *carnet.Error of kind KindInvalid or KindTooLarge.
//
// Items have Kind, Code, Category, Effective, Abnormal and Resource set;
// Patient, ID and Source* are the Service's to fill.
func (e Extractor) Extract(contentType string, content []byte) (x carnet.Extraction, ok bool, err error) {
	if !readsAsXML(contentType, content) {
		return carnet.Extraction{}, false, nil
	}
	doc, err := cda.Parse(content, e.Limits)
	if err != nil {
		switch carnet.ErrorKind(err) {
		case carnet.KindUnsupported:
			return carnet.Extraction{}, false, nil // XML, but not a CDA R2 document
		case carnet.KindInvalid, carnet.KindTooLarge:
			return carnet.Extraction{}, false, err
		}
		return carnet.Extraction{}, false, &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "the CDA document could not be read", Err: err}
	}
	defer func() {
		// The mapping is plain code over a parsed tree, but a bug on
		// hostile input must refuse the document, not crash the server.
		if r := recover(); r != nil {
			x, ok, err = carnet.Extraction{}, false, &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "the CDA document could not be read", Err: fmt.Errorf("panic: %v", r)}
		}
	}()
	x, err = fromDocument(doc, mediaType(contentType), e.Formats)
	if err != nil {
		return carnet.Extraction{}, false, err
	}
	return x, true, nil
}

func mediaType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(contentType))
	}
	return mt
}

// readsAsXML decides from the declared type, and from the bytes only when
// the type says nothing (absent or application/octet-stream): a PDF or an
// image declared as such is never parsed.
func readsAsXML(contentType string, content []byte) bool {
	switch mt := mediaType(contentType); {
	case mt == "text/xml", mt == "application/xml", strings.HasSuffix(mt, "+xml"):
		return true
	case mt == "", mt == "application/octet-stream":
		return looksLikeCDA(content)
	}
	return false
}

// looksLikeCDA reports whether b starts like an XML document and names a
// ClinicalDocument early on.
func looksLikeCDA(b []byte) bool {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != '<' {
		return false
	}
	head := b[:min(len(b), 64<<10)]
	return bytes.Contains(head, []byte("ClinicalDocument"))
}

func fromDocument(doc *cda.Document, contentType string, formats *cda.FormatTable) (carnet.Extraction, error) {
	var x carnet.Extraction
	if ins, ok := doc.PatientINS(); ok {
		x.Patient = ins
	}
	x.Derived = doc.Metadata()
	x.UniqueID = doc.UniqueID
	x.Derived.Class = classFor(x.Derived.Type)
	switch fm := formats.Match(doc); fm.How {
	case cda.FormatFallback:
		x.Derived.Format = fm.Code
		x.Notes = append(x.Notes, carnet.Issue{Severity: "warning", Code: "not-found", Diagnostics: fm.Reason, Expression: "content[0].format"})
	case cda.FormatNone:
		x.Notes = append(x.Notes, carnet.Issue{Severity: "information", Code: "not-found", Diagnostics: fm.Reason, Expression: "content[0].format"})
	default:
		x.Derived.Format = fm.Code
	}
	if contentType == "text/xml" || contentType == "application/xml" {
		x.Derived.ContentType = contentType
	}
	docDate := doc.Effective.Time
	for _, group := range []struct {
		results  []cda.LabResult
		category string
	}{{doc.LabResults, categoryLaboratory}, {doc.VitalSigns, categoryVitalSigns}} {
		for _, r := range group.results {
			if r.Code.Code == "" && r.Quantity == nil && r.Coded == nil && r.Text == "" {
				continue // nothing a reader could use
			}
			r.Interpretation = interpretationOf(r)
			it := carnet.Item{
				Kind:           carnet.ItemObservation,
				Code:           normCoding(r.Code),
				Category:       group.category,
				Effective:      r.Effective.Time,
				Abnormal:       IsAbnormal(r.Interpretation),
				Interpretation: r.Interpretation,
			}
			if it.Effective.IsZero() {
				it.Effective = docDate
			}
			if err := setResource(&it, observation(r, group.category)); err != nil {
				return x, err
			}
			x.Items = append(x.Items, it)
		}
	}
	// FR simple observations standing as entries (certificates, discharge
	// letters, EHPAD liaison documents): those with a code and a value.
	for _, r := range doc.Observations {
		if r.Code.Code == "" || !hasValue(r) || administrative(r) {
			continue
		}
		it := carnet.Item{
			Kind:           carnet.ItemObservation,
			Code:           normCoding(r.Code),
			Effective:      firstTime(r.Effective.Time, docDate),
			Abnormal:       IsAbnormal(r.Interpretation),
			Interpretation: strings.TrimSpace(r.Interpretation),
		}
		if err := setResource(&it, observation(r, "")); err != nil {
			return x, err
		}
		x.Items = append(x.Items, it)
	}
	// The generic class a product states (ATC) is found too: what the
	// point-of-care ranking reads an anticoagulant by.
	classes := map[int]carnet.Coding{}
	for _, m := range doc.Medications {
		if m.Product.Code == "" && m.Name == "" {
			continue
		}
		var it carnet.Item
		switch m.Mood {
		case "INT", "":
			it = carnet.Item{Kind: carnet.ItemMedicationRequest, Code: normCoding(m.Product), Effective: firstTime(m.Start.Time, docDate)}
			if err := setResource(&it, medicationRequest(m, docDate)); err != nil {
				return x, err
			}
		case "EVN":
			// Taken, dispensed or reimbursed.
			var handed time.Time
			if m.Supply != nil {
				handed = m.Supply.Time.Time
			}
			it = carnet.Item{Kind: carnet.ItemMedicationStatement, Code: normCoding(m.Product), Effective: firstTime(m.Start.Time, handed, docDate)}
			if err := setResource(&it, medicationStatement(m, docDate)); err != nil {
				return x, err
			}
		default:
			continue // proposed, requested…: neither
		}
		if m.Class.Code != "" {
			classes[len(x.Items)] = normCoding(m.Class)
		}
		x.Items = append(x.Items, it)
	}
	for _, im := range doc.Immunizations {
		if im.Vaccine.Code == "" && im.Name == "" {
			continue
		}
		it := carnet.Item{Kind: carnet.ItemImmunization, Code: normCoding(im.Vaccine), Effective: im.Date.Time}
		if err := setResource(&it, immunization(im)); err != nil {
			return x, err
		}
		x.Items = append(x.Items, it)
	}
	for _, a := range doc.Allergies {
		if a.Agent.Code == "" && a.Name == "" {
			continue
		}
		it := carnet.Item{Kind: carnet.ItemAllergy, Code: normCoding(a.Agent), Effective: a.Start.Time}
		if err := setResource(&it, allergyIntolerance(a)); err != nil {
			return x, err
		}
		x.Items = append(x.Items, it)
	}
	for _, p := range doc.Problems {
		if p.Code.Code == "" && p.Name == "" {
			continue
		}
		it := carnet.Item{Kind: carnet.ItemCondition, Code: normCoding(p.Code), Effective: p.Start.Time}
		if err := setResource(&it, condition(p)); err != nil {
			return x, err
		}
		x.Items = append(x.Items, it)
	}
	for _, p := range doc.Procedures {
		if p.Mood != "EVN" || (p.Code.Code == "" && p.Name == "") || carnet.NormalizeIdentifier(p.Code.System) == oidAbsentUnknown {
			continue // planned, or "no known procedures"
		}
		it := carnet.Item{Kind: carnet.ItemProcedure, Code: normCoding(p.Code), Effective: p.Start.Time}
		if err := setResource(&it, procedure(p)); err != nil {
			return x, err
		}
		x.Items = append(x.Items, it)
	}
	x.Text = searchText(doc)
	for i := range x.Items {
		x.Items[i].Tokens = ItemTokens(x.Items[i])
		if c, ok := classes[i]; ok {
			x.Items[i].Tokens = append(x.Items[i].Tokens, carnet.CodingTokens(TokCode, c)...)
		}
	}
	return x, nil
}

func firstTime(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

func setResource(it *carnet.Item, v any) error {
	b, err := fhir.MarshalPlain(v)
	if err != nil {
		return carnet.WrapError(carnet.KindInternal, op, err)
	}
	it.Resource = b
	return nil
}

// searchText is the plain text a full-text search reads. Package cda does
// not expose section narratives nor the text of an embedded PDF yet, so
// this is the title, the section titles and what the entries say.
func searchText(doc *cda.Document) string {
	var b strings.Builder
	add := func(parts ...string) {
		for _, p := range parts {
			if p = strings.TrimSpace(p); p != "" {
				if b.Len() > 0 {
					b.WriteByte('\n')
				}
				b.WriteString(p)
			}
		}
	}
	add(doc.Title)
	for _, s := range doc.Sections {
		add(s.Title, s.Text())
	}
	if a := doc.Attachment; a != nil && a.MediaType == "application/pdf" {
		add(cda.PDFText(a.Data)) // N1: the text of the PDF, where it has any
	}
	for _, r := range append(append([]cda.LabResult(nil), doc.LabResults...), doc.VitalSigns...) {
		v := r.Text
		if r.Quantity != nil {
			v = r.Quantity.Value + " " + r.Quantity.Unit
		} else if r.Coded != nil {
			v = r.Coded.Display
		}
		add(strings.TrimSpace(r.Code.Display + " " + v))
	}
	for _, m := range doc.Medications {
		add(m.Name, m.Frequency)
	}
	for _, im := range doc.Immunizations {
		add(im.Name)
	}
	for _, a := range doc.Allergies {
		add(a.Name, a.Reaction)
	}
	for _, p := range doc.Problems {
		add(p.Name)
	}
	for _, p := range doc.Procedures {
		add(p.Name)
	}
	for _, r := range doc.Observations {
		if r.Coded != nil {
			add(strings.TrimSpace(r.Code.Display + " " + r.Coded.Display))
		} else {
			add(strings.TrimSpace(r.Code.Display + " " + r.Text))
		}
	}
	return b.String()
}

// hasValue reports whether an observation states a value a reader can use.
func hasValue(r cda.LabResult) bool {
	return (r.Quantity != nil && strings.TrimSpace(r.Quantity.Value) != "") || (r.Coded != nil && r.Coded.Code != "") || r.Boolean != nil || strings.TrimSpace(r.Text) != ""
}

// administrative reports whether a simple observation is about the
// document, not the patient: its status (FR-Statut-document), the type
// of a document attached to it (FR-Type-document-attache, LOINC 69764-9).
func administrative(r cda.LabResult) bool {
	if normSystem(r.Code.System) == SystemLOINC && r.Code.Code == "69764-9" {
		return true
	}
	for _, t := range r.Source.TemplateIDs {
		if t == "1.2.250.1.213.1.1.3.48.16" || t == "1.2.250.1.213.1.1.3.48.18" {
			return true
		}
	}
	return false
}

// classFor is the XDS classCode (TRE_A03) of a document type: a CDA header
// has no class, and the ANS derives it from the type through its table
// ASS_X04-CorrespondanceType-Classe. That table is not in the reference
// data Carnet is given (ci-sis-jdv has neither it nor JDV_J06), so this is
// Carnet's grouping of the types it meets onto the JDV_J57 classes; types
// not listed are reports ("Compte rendu"). docs/CDA.md lists it; a test
// pins it per ANS example.
func classFor(typ carnet.Coding) carnet.Coding {
	const sys = "urn:oid:1.2.250.1.213.1.1.4.1"
	c := func(code, display string) carnet.Coding {
		return carnet.Coding{System: sys, Code: code, Display: display}
	}
	switch typ.Code {
	case "57833-6", "57832-8", "29551-9", "55115-0": // prescriptions, incl. imaging requests
		return c("42", "Prescription")
	case "60593-1":
		return c("43", "Dispensation")
	case "60591-5", "34133-9", "74207-2", "SYNTH": // summaries, emergency liaison documents
		return c("11", "Synthèse")
	case "87273-9", "11369-6": // vaccinations given
		return c("45", "Traitement administré")
	case "18748-4":
		return c("31", "Imagerie médicale")
	case "89601-9", "CERT_DECL":
		return c("52", "Certificat, déclaration")
	case "REMB":
		return c("60", "Données de remboursement")
	}
	return c("10", "Compte rendu")
}
