package mhd

import (
	"bytes"
	"encoding/json"
	"fmt"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
)

// ParseSimplifiedPublish reads an ITI-105 Simplified Publish: one
// DocumentReference carrying its document in content.attachment.data. It is
// checked like a document of ITI-65 and becomes a submission of one
// document, whose SubmissionSet Carnet synthesizes: its uniqueId is an OID
// (2.25.…) derived from the document's uniqueId, so that a retried publish
// is recognised as the same submission; its contentType is the document's
// type and its authors the document's.
func ParseSimplifiedPublish(body []byte, opts ParseOptions) (carnet.Submission, error) {
	const op = "mhd.ParseSimplifiedPublish"
	opts = opts.withDefaults()
	if int64(len(body)) > opts.MaxBytes {
		return carnet.Submission{}, tooLarge(op, fmt.Sprintf("the body exceeds %d bytes", opts.MaxBytes))
	}
	var head fhir.Resource
	if err := fhir.Decode(bytes.NewReader(body), opts.MaxBytes, &head); err != nil {
		return carnet.Submission{}, err
	}
	var l issueList
	const path = "DocumentReference"
	if head.ResourceType != "DocumentReference" {
		l.add("invalid", path+".resourceType", "an ITI-105 request is a DocumentReference")
		return carnet.Submission{}, l.err(op)
	}
	pd := readDocument(body, path, opts, &l)
	if pd.att != nil {
		switch {
		case len(pd.att.Data) > 0:
			attachContent(&pd, pd.att.Data, &l)
		default:
			l.add("required", pd.attPath+".data", "ITI-105 carries the document in attachment.data")
		}
	}
	if err := l.err(op); err != nil {
		return carnet.Submission{}, err
	}
	// The kept DocumentReference does not need the document a second time.
	pd.doc.Meta.Original = withoutData(body)
	doc := pd.doc
	return carnet.Submission{
		Patient:     pd.subject,
		PatientPath: pd.subjectPath,
		Set: carnet.SubmissionSet{
			UniqueID:    setUniqueIDOf(doc.UniqueID),
			ContentType: doc.Meta.Type,
			Authors:     doc.Meta.Authors,
		},
		SetPath:   path,
		Documents: []carnet.SubmittedDocument{doc},
	}, nil
}

// withoutData returns the DocumentReference JSON without its attachments'
// data (elements then come in key order; the rest is unchanged).
func withoutData(body []byte) []byte {
	// Blanked first when that is cheap, so that the walk below does not
	// cross the documents again; their data goes anyway.
	if small, ok := fhir.WithoutAttachmentData(body); ok {
		body = small
	}
	var dr map[string]json.RawMessage
	if json.Unmarshal(body, &dr) != nil {
		return body
	}
	var content []map[string]json.RawMessage
	if json.Unmarshal(dr["content"], &content) != nil {
		return body
	}
	for _, c := range content {
		var att map[string]json.RawMessage
		if json.Unmarshal(c["attachment"], &att) != nil {
			return body
		}
		delete(att, "data")
		c["attachment"], _ = json.Marshal(att)
	}
	dr["content"], _ = json.Marshal(content)
	out, err := json.Marshal(dr)
	if err != nil {
		return body
	}
	return out
}

// setUniqueIDOf derives the synthesized set's uniqueId, or leaves it to the
// Service when the document's own uniqueId is yet to be read from it.
func setUniqueIDOf(docUniqueID string) string {
	if docUniqueID == "" {
		return ""
	}
	return carnet.DerivedSetUniqueID(docUniqueID)
}
