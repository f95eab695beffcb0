package mhd

import (
	"encoding/json"
	"fmt"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
)

// ProvideBundle is the producer's side of ITI-65: the transaction Bundle
// (SubmissionSet List, one DocumentReference and one Binary per document,
// linked by urn:uuid fullUrls) that files sub. ParseProvide of its JSON
// gives sub back. Carnet's demo loader, benchmarks and tests file documents
// with it exactly as outside software would.
func ProvideBundle(sub carnet.Submission) fhir.Bundle {
	subject := &fhir.Reference{Identifier: &fhir.Identifier{System: sub.Patient.System, Value: sub.Patient.Value}}
	setURL := "urn:uuid:" + carnet.NewID()
	docURLs := make([]string, len(sub.Documents))
	binURLs := make([]string, len(sub.Documents))
	for i := range sub.Documents {
		docURLs[i], binURLs[i] = "urn:uuid:"+carnet.NewID(), "urn:uuid:"+carnet.NewID()
	}

	set := sub.Set
	if set.Date.IsZero() {
		set.Date = time.Now().UTC() // submissionTime
	}
	list := List(set, "")
	list.ID = ""
	list.Meta = &fhir.Meta{Profile: []string{ProfileSubmissionSet}}
	list.Subject = subject
	list.Entry = nil
	for _, u := range docURLs {
		list.Entry = append(list.Entry, fhir.ListEntry{Item: fhir.Reference{Reference: u}})
	}

	b := fhir.Bundle{Type: "transaction"}
	b.Meta = &fhir.Meta{Profile: []string{ProfileProvideBundle}}
	b.Entry = append(b.Entry, fhir.BundleEntry{FullURL: setURL, Resource: encodeResource(list), Request: &fhir.BundleRequest{Method: "POST", URL: "List"}})
	for i, sd := range sub.Documents {
		d := carnet.Document{UniqueID: sd.UniqueID, Status: carnet.StatusCurrent, Meta: sd.Meta}
		d.Meta.Size = int64(len(sd.Content))
		dr := DocumentReference(d, "")
		dr.Meta = &fhir.Meta{Profile: []string{ProfileDocumentReference}}
		dr.Date = ""
		dr.Subject = subject
		dr.Content[0].Attachment.URL = binURLs[i]
		b.Entry = append(b.Entry, fhir.BundleEntry{FullURL: docURLs[i], Resource: encodeResource(dr), Request: &fhir.BundleRequest{Method: "POST", URL: "DocumentReference"}})
	}
	for i, sd := range sub.Documents {
		bin := fhir.Binary{ContentType: sd.Meta.ContentType, Data: sd.Content}
		b.Entry = append(b.Entry, fhir.BundleEntry{FullURL: binURLs[i], Resource: encodeResource(bin), Request: &fhir.BundleRequest{Method: "POST", URL: "Binary"}})
	}
	return b
}

func encodeResource(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("mhd: encode %T: %v", v, err))
	}
	return b
}
