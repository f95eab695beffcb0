package mhd

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
)

// ProvideBundle writes a submission as the ITI-65 Provide Document Bundle
// that ParseProvide reads back into the same submission: what a producing
// system sends, and what Carnet's own tools (import, tests, benchmarks) use.
//
// Entries come in the order SubmissionSet, then each DocumentReference
// followed by its Binary, then one PATCH entry (FHIRPath Patch) per change.
// fullUrls are the documents' FullURL when set, otherwise urn:uuid: values
// derived from the uniqueIds, so that the same submission always gives the
// same bundle. A set without a date takes the latest creation time of its
// documents, and one without contentType the first document's type.
func ProvideBundle(sub carnet.Submission) fhir.Bundle {
	setURL := derivedUUID("set", sub.Set.UniqueID)
	b := fhir.Bundle{
		Resource: fhir.Resource{ResourceType: "Bundle", Meta: &fhir.Meta{Profile: []string{ProfileProvideBundle}}},
		Type:     "transaction",
	}
	subject := &fhir.Reference{Identifier: &fhir.Identifier{System: sub.Patient.System, Value: sub.Patient.Value}}

	set := sub.Set
	if set.Date.IsZero() {
		for _, d := range sub.Documents {
			if d.Meta.Created.After(set.Date) {
				set.Date = d.Meta.Created
			}
		}
	}
	if set.ContentType.Code == "" && len(sub.Documents) > 0 {
		set.ContentType = sub.Documents[0].Meta.Type
	}
	set.ID, set.Patient, set.Documents = "", "", nil
	lst := List(set, "")
	lst.Subject = subject
	lst.Identifier = append(lst.Identifier, fhir.Identifier{Use: "official", System: SystemURI, Value: setURL})

	var docs []fhir.BundleEntry
	for _, sd := range sub.Documents {
		full := sd.FullURL
		if full == "" {
			full = derivedUUID("document", sd.UniqueID)
		}
		binURL := derivedUUID("binary", full)
		lst.Entry = append(lst.Entry, fhir.ListEntry{Item: fhir.Reference{Reference: full}})

		// Size and hash are always those of the bytes sent.
		m := sd.Meta
		h := sha1.Sum(sd.Content)
		m.SHA1, m.Size = h[:], int64(len(sd.Content))
		dr := DocumentReference(carnet.Document{UniqueID: sd.UniqueID, Status: carnet.StatusCurrent, Meta: m}, "")
		dr.ID, dr.Meta, dr.Date = "", &fhir.Meta{Profile: []string{ProfileDocumentReference}}, ""
		dr.Subject = subject
		for k := range dr.Identifier {
			dr.Identifier[k].Use = "" // the producer's identifiers, as they were
		}
		dr.Content[0].Attachment.URL = binURL
		docs = append(docs,
			entry(full, dr, "POST", "DocumentReference"),
			entry(binURL, fhir.Binary{ContentType: m.ContentType, Data: sd.Content}, "POST", "Binary"))
	}
	b.Entry = append(b.Entry, entry(setURL, lst, "POST", "List"))
	b.Entry = append(b.Entry, docs...)
	for _, ch := range sub.Changes {
		b.Entry = append(b.Entry, entry("", patchParameters(ch), "PATCH", "DocumentReference/"+ch.DocumentID))
	}
	return b
}

func entry(fullURL string, resource any, method, url string) fhir.BundleEntry {
	raw, _ := json.Marshal(resource) // our own types: cannot fail
	return fhir.BundleEntry{FullURL: fullURL, Resource: raw, Request: &fhir.BundleRequest{Method: method, URL: url}}
}

// patchParameters writes a change as the FHIRPath Patch that ParsePatch
// reads back into it.
func patchParameters(ch carnet.DocumentChange) fhir.Parameters {
	p := fhir.Parameters{Resource: fhir.Resource{ResourceType: "Parameters", Meta: &fhir.Meta{Profile: []string{ProfilePatchParameters}}}}
	str := func(s string) *string { return &s }
	op := func(parts ...fhir.ParametersParameter) {
		p.Parameter = append(p.Parameter, fhir.ParametersParameter{Name: "operation", Part: parts})
	}
	typ := func(t string) fhir.ParametersParameter {
		return fhir.ParametersParameter{Name: "type", ValueCode: str(t)}
	}
	path := func(s string) fhir.ParametersParameter {
		return fhir.ParametersParameter{Name: "path", ValueString: str(s)}
	}
	name := func(s string) fhir.ParametersParameter {
		return fhir.ParametersParameter{Name: "name", ValueString: str(s)}
	}
	switch ch.Status {
	case carnet.StatusCurrent:
		op(typ("replace"), path("DocumentReference.status"), fhir.ParametersParameter{Name: "value", ValueCode: str("current")})
	case carnet.StatusSuperseded:
		op(typ("replace"), path("DocumentReference.status"), fhir.ParametersParameter{Name: "value", ValueCode: str("superseded")})
	case carnet.StatusDeleted:
		op(typ("replace"), path("DocumentReference.status"), fhir.ParametersParameter{Name: "value", ValueCode: str("entered-in-error")})
	case carnet.StatusArchived:
		op(typ("add"), path("DocumentReference"), name("extension"), fhir.ParametersParameter{Name: "value", Part: []fhir.ParametersParameter{
			{Name: "url", ValueURI: str(ExtAvailabilityStatus)},
			{Name: "valueCode", ValueCode: str("archived")},
		}})
	}
	for _, l := range ch.AddLabels {
		op(typ("add"), path("DocumentReference"), name("securityLabel"), fhir.ParametersParameter{Name: "value",
			ValueCodeableConcept: &fhir.CodeableConcept{Coding: []fhir.Coding{{System: l.System, Code: l.Code, Display: l.Display}}}})
	}
	for _, c := range ch.RemoveLabels {
		op(typ("delete"), path(fmt.Sprintf("DocumentReference.securityLabel.where(coding.code='%s')", strings.ReplaceAll(c, "'", ""))))
	}
	return p
}

// derivedUUID is a urn:uuid: name-based on kind and name (RFC 9562 version
// 8 layout over SHA-256), stable across calls.
func derivedUUID(kind, name string) string {
	h := sha256.Sum256([]byte("carnet " + kind + "\x00" + name))
	u := h[:16]
	u[6] = u[6]&0x0f | 0x80
	u[8] = u[8]&0x3f | 0x80
	x := hex.EncodeToString(u)
	return "urn:uuid:" + x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}
