package xds

import (
	"context"
	"slices"
	"strconv"
	"strings"

	carnet "github.com/carnet-sante/carnet"
)

// ParseUpdate reads an ITI-57 Update Document Set into one PDSm change of
// one document (docs/XDS.md): a new DocumentEntry version whose
// confidentialityCodes differ, and/or an UpdateAvailabilityStatus
// association. current reads the document as it is now, and refuses it
// when its record is not the patient the SubmissionSet names.
func ParseUpdate(m *Message, lim Limits, current func(id string, patient carnet.Identifier) (carnet.Document, error)) (carnet.DocumentChange, error) {
	var ch carnet.DocumentChange
	objs, err := registryObjects(m.Body, lim.withDefaults())
	if err != nil {
		return ch, err
	}
	l := &errorList{}
	s := sortObjects(objs, l)
	if s.set == nil {
		return ch, l.err()
	}
	_, patient, _ := readSet(s.set, l)
	target := ""
	setTarget := func(id, path string) bool {
		id = strings.TrimPrefix(id, "urn:uuid:")
		if target != "" && target != id {
			l.add(ErrMetadataUpdate, path, "one ITI-57 request changes one document here")
			return false
		}
		target = id
		return true
	}
	var entry *object
	for _, o := range s.docs {
		if entry != nil {
			l.add(ErrMetadataUpdate, "ExtrinsicObject["+o.ID+"]", "one ITI-57 request changes one document here")
			continue
		}
		entry = o
	}
	for _, a := range s.assocs {
		path := "Association[" + a.ID + "]"
		switch a.AssocType {
		case assocHasMember:
			if entry == nil || a.Target != entry.ID {
				l.add(ErrMetadataUpdate, path, "HasMember must name the new DocumentEntry version")
				continue
			}
			if pv := a.slot1("PreviousVersion"); pv != "" {
				n, err := strconv.Atoi(pv)
				if err != nil || n < 1 {
					l.add(ErrMetadataUpdate, path+".PreviousVersion", "PreviousVersion is a version number")
				}
				ch.IfMatch = n
			} else {
				l.add(ErrMetadataUpdate, path+".PreviousVersion", "PreviousVersion is required")
			}
		case assocUpdateAS:
			if !setTarget(a.Target, path) {
				continue
			}
			st, ok := domainStatus(a.slot1("NewStatus"))
			if !ok {
				l.add(ErrMetadataUpdate, path+".NewStatus", "NewStatus must be Approved, Deprecated, Archived or Deleted")
				continue
			}
			ch.Status = st
		default:
			l.add(ErrMetadataUpdate, path, "association type "+clip(a.AssocType)+" is not supported by ITI-57 here")
		}
	}
	if entry != nil {
		if entry.LID == "" || !setTarget(entry.LID, "ExtrinsicObject["+entry.ID+"].lid") {
			if entry.LID == "" {
				l.add(ErrMetadataUpdate, "ExtrinsicObject["+entry.ID+"].lid", "a new version names its document by lid")
			}
		}
	}
	if target == "" {
		l.add(ErrMetadataUpdate, "RegistryObjectList", "nothing to update")
	}
	if err := l.err(); err != nil {
		return ch, err
	}
	ch.DocumentID = target
	cur, err := current(target, patient)
	if err != nil {
		return ch, err
	}
	if entry == nil {
		return ch, nil
	}
	sd := readEntry(entry, patient, ParseOptions{}, l)
	path := sd.Path
	if err := l.err(); err != nil {
		return ch, err
	}
	if sd.UniqueID != cur.UniqueID || sd.Meta.Type.Code != cur.Meta.Type.Code || sd.Meta.Class.Code != cur.Meta.Class.Code ||
		sd.Meta.Format.Code != cur.Meta.Format.Code || sd.Meta.ContentType != cur.Meta.ContentType {
		l.add(ErrMetadataUpdate, path, "only confidentialityCode (masking, visibility) and the availability status may change")
		return ch, l.err()
	}
	had := map[string]bool{}
	for _, c := range cur.Meta.Confidentiality {
		had[c.Code] = true
	}
	has := map[string]bool{}
	for _, c := range sd.Meta.Confidentiality {
		has[c.Code] = true
		if !had[c.Code] {
			ch.AddLabels = append(ch.AddLabels, c)
		}
	}
	for code := range had {
		if !has[code] {
			ch.RemoveLabels = append(ch.RemoveLabels, code)
		}
	}
	slices.Sort(ch.RemoveLabels)
	ch.Path = path
	return ch, nil
}

// update answers ITI-57.
func (s *Server) update(ctx context.Context, req carnet.Request, m *Message) answer {
	a := answer{action: ActionUpdate + responseActionSuffix}
	if err := allowed(req.Actor, [2]string{"DocumentReference", "update"}); err != nil {
		a.body = registryResponse(s.failed(req, err))
		return a
	}
	ch, err := ParseUpdate(m, s.lim, func(id string, patient carnet.Identifier) (carnet.Document, error) {
		d, _, err := s.svc.Document(ctx, req, id)
		if err != nil {
			return d, &Errors{List: []RegistryError{{Code: ErrUnresolvedReference, Context: "no such document", Location: "urn:uuid:" + clip(id)}}}
		}
		// The update names the document's own patient (ITI-57): a request
		// for patient B does not change a document of patient A.
		p, err := s.svc.Patient(ctx, req, d.Patient)
		if err != nil {
			return d, err
		}
		if !slices.Contains(p.Identifiers, patient) {
			return d, &Errors{List: []RegistryError{{Code: ErrPatientIDMismatch, Context: "the SubmissionSet's patientId is not the patient of the document it updates", Location: "urn:uuid:" + clip(id)}}}
		}
		return d, nil
	})
	if err != nil {
		a.body = registryResponse(s.failed(req, err))
		return a
	}
	if _, _, err := s.svc.ChangeDocument(ctx, req, ch.DocumentID, ch); err != nil {
		errs := s.failed(req, err)
		if carnet.IsKind(err, carnet.KindPreconditionFailed) {
			errs = []RegistryError{{Code: ErrMetadataVersion, Context: "PreviousVersion is not the document's latest version", Location: ch.Path}}
		}
		if carnet.IsKind(err, carnet.KindNotFound) {
			errs = []RegistryError{{Code: ErrUnresolvedReference, Context: "no such document", Location: ch.Path}}
		}
		a.body = registryResponse(errs)
		return a
	}
	a.body = registryResponse(nil)
	return a
}
