package qedm

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
)

// subjectElement is the element naming the patient: Immunization and
// AllergyIntolerance call it patient in R4, the others subject.
func subjectElement(k carnet.ItemKind) string {
	switch k {
	case carnet.ItemImmunization, carnet.ItemAllergy:
		return "patient"
	}
	return "subject"
}

// Serve renders a stored item as served: its resource JSON with
// resourceType, id (it.ID), the patient reference (subject, or patient for
// Immunization and AllergyIntolerance) to Patient/{it.Patient}, and
// meta.source naming the source DocumentReference. Resource JSON that is
// not an object is KindInternal: it was written by Extract.
func Serve(it carnet.Item, base string) ([]byte, error) {
	const op = "qedm.Serve"
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(it.Resource, &fields); err != nil || fields == nil {
		return nil, carnet.WrapError(carnet.KindInternal, op, errString("stored item resource is not a JSON object"))
	}
	for _, k := range []string{"resourceType", "id", "meta", "subject", "patient"} {
		delete(fields, k)
	}
	var meta fhir.Meta
	if src := sourceOf(it); src != "" {
		meta.Source = strings.TrimSuffix(base, "/") + "/DocumentReference/" + src
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	n := 0
	member := func(k string, v []byte) {
		if n > 0 {
			buf.WriteByte(',')
		}
		n++
		kb, _ := json.Marshal(k)
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(v)
	}
	kind, _ := json.Marshal(string(it.Kind))
	member("resourceType", kind)
	if it.ID != "" {
		id, _ := json.Marshal(it.ID)
		member("id", id)
	}
	if meta.Source != "" {
		mb, _ := fhir.MarshalPlain(meta)
		member("meta", mb)
	}
	if it.Patient != "" {
		ref, _ := fhir.MarshalPlain(fhir.Reference{Reference: "Patient/" + string(it.Patient)})
		member(subjectElement(it.Kind), ref)
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	// Stored resources are written by Extract in element order; a map
	// loses it, so the rest follows a fixed order: stable bytes for ETags.
	slices.SortStableFunc(keys, func(a, b string) int {
		if ra, rb := elementRank(a), elementRank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	for _, k := range keys {
		member(k, fields[k])
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// elementOrder is the R4 element order of the resources Carnet writes,
// so that served JSON reads the way the specification lists it.
var elementOrder = []string{
	"contained", "clinicalStatus", "status", "intent", "type", "category", "code", "vaccineCode", "medicationCodeableConcept",
	"effectiveDateTime", "effectivePeriod", "dateAsserted", "derivedFrom", "performedDateTime", "performedPeriod",
	"occurrenceDateTime", "occurrenceString", "onsetDateTime", "abatementDateTime", "authoredOn",
	"lotNumber", "valueQuantity", "valueCodeableConcept", "valueString", "valueBoolean", "interpretation", "note", "specimen",
	"referenceRange", "reaction", "dosage", "dosageInstruction", "dispenseRequest", "protocolApplied",
}

func elementRank(k string) int {
	if i := slices.Index(elementOrder, k); i >= 0 {
		return i
	}
	return len(elementOrder)
}

type errString string

func (e errString) Error() string { return string(e) }

// Provenance renders the mXDE Provenance of one item: id "prov-"+it.ID,
// target the item, entity the source DocumentReference (role source),
// policy the mXDE document-provenance policy, activity Derivation, agent
// Carnet as assembler. recorded is the item's effective time, so that the
// bytes do not depend on when they are served; it is absent when the
// document gives no time for the entry.
func Provenance(it carnet.Item, base string) []byte {
	p := ProvenanceResource{
		Resource: fhir.Resource{
			ResourceType: "Provenance",
			ID:           "prov-" + it.ID,
			Meta:         &fhir.Meta{Profile: []string{ProfileMXDEProvenance}},
		},
		Target:   []fhir.Reference{{Reference: string(it.Kind) + "/" + it.ID}},
		Recorded: fhir.FormatDateTime(recordedOf(it)),
		Policy:   []string{PolicyDocumentProvenance},
		Activity: &fhir.CodeableConcept{Coding: []fhir.Coding{{System: SystemW3CProvenanceActivity, Code: "Derivation"}}},
		Agent: []ProvenanceAgent{{
			Type: &fhir.CodeableConcept{Coding: []fhir.Coding{{System: SystemProvenanceAgentType, Code: "assembler", Display: "Assembler"}}},
			Who:  fhir.Reference{Display: "Carnet"},
		}},
	}
	if src := sourceOf(it); src != "" {
		p.Entity = []ProvenanceEntity{{Role: "source", What: fhir.Reference{Reference: "DocumentReference/" + src}}}
	}
	b, err := fhir.MarshalPlain(p)
	if err != nil {
		// Only strings and fixed structs: marshalling cannot fail.
		panic("qedm: marshal Provenance: " + err.Error())
	}
	return b
}

// recordedOf is the Provenance's recorded instant (required by FHIR): when
// Carnet extracted the item from its source document; for an item
// extracted before that was kept, when it happened, if the document says.
func recordedOf(it carnet.Item) time.Time {
	if !it.Recorded.IsZero() {
		return it.Recorded
	}
	return it.Effective
}

// sourceOf is the FHIR id of an item's source document: its logicalId,
// which stays when the document's metadata changes.
func sourceOf(it carnet.Item) string {
	if it.SourceLogicalID != "" {
		return it.SourceLogicalID
	}
	return it.SourceID
}
