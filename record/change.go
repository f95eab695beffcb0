package record

import (
	"context"
	"slices"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// ChangeDocument applies a PDSm metadata change to document id and returns
// the new metadata version, and whether the caller may read it (only then
// does the answer carry it).
func (s *Service) ChangeDocument(ctx context.Context, r carnet.Request, id string, ch carnet.DocumentChange) (carnet.Document, bool, error) {
	p, err := s.route(ctx, id)
	if err != nil {
		return carnet.Document{}, false, s.recordAbsent(ctx, r, carnet.ActionUpdate, err)
	}
	ch.DocumentID = id
	var out carnet.Document
	err = s.Store.Update(ctx, func(tx carnet.Tx) error {
		var err error
		out, err = s.applyChange(ctx, tx, r, p, ch, s.now())
		return err
	})
	if err != nil {
		return carnet.Document{}, false, s.recordDenial(ctx, err)
	}
	s.warmCare(p)
	prow, err := s.Store.Patient(ctx, p)
	if err != nil {
		return carnet.Document{}, false, err
	}
	a, err := s.access(ctx, r, &prow)
	if err != nil {
		return carnet.Document{}, false, err
	}
	row, err := s.sealDocument(ctx, out)
	if err != nil {
		return carnet.Document{}, false, err
	}
	if err := s.showRelations(ctx, a, &out); err != nil {
		return carnet.Document{}, false, err
	}
	return out, a.permits(carnet.ActionRead, &row), s.audit(ctx, r, carnet.ActionUpdate, p, []string{id, out.ID})
}

// applyChange makes a new metadata version of a document (PDSm PATCH, or a
// PATCH entry of ITI-65), in tx. It reads as its pipeline: read the document
// as it is now → decide the change (the policy, on what changes) → seal the
// new version → store it (and tell the patient of a document made visible
// to them).
func (s *Service) applyChange(ctx context.Context, tx carnet.Tx, r carnet.Request, p carnet.PatientKey, ch carnet.DocumentChange, now time.Time) (carnet.Document, error) {
	row, current, a, err := s.readForChange(ctx, tx, r, p, ch.DocumentID)
	if err != nil {
		return carnet.Document{}, err
	}
	if err := a.decideChange(row, current, ch); err != nil {
		return carnet.Document{}, err
	}
	// The document changes from its latest version, whichever version id
	// names it; If-Match holds the change to the version the caller saw.
	if ch.IfMatch != 0 && ch.IfMatch != current.Version {
		return carnet.Document{}, carnet.Errorf(carnet.KindPreconditionFailed, "the document is at version %d, not %d: read it again", current.Version, ch.IfMatch)
	}
	if row.ID != current.ID {
		if row, err = tx.Document(ctx, p, current.ID); err != nil {
			return carnet.Document{}, err
		}
	}
	d, err := s.openDocument(ctx, row)
	if err != nil {
		return carnet.Document{}, err
	}
	next := nextVersion(d, ch, now)
	var told []carnet.Document
	if next.Untold && !next.Meta.HasLabel(carnet.LabelInvisiblePatient) {
		next.Untold = false
		told = []carnet.Document{next}
	}
	nextRow, err := s.sealDocument(ctx, next)
	if err != nil {
		return carnet.Document{}, err
	}
	row.Latest = false
	if err := tx.UpdateDocument(ctx, row); err != nil {
		return carnet.Document{}, err
	}
	if err := tx.InsertDocument(ctx, nextRow); err != nil {
		return carnet.Document{}, err
	}
	// Items and full-text terms stay whatever the status: what is derived
	// from a document is shown exactly when the document is, and a status
	// can change back.
	if len(told) > 0 {
		note, err := s.sealNotification(ctx, newDocumentsNotification(p, told, r.Actor, now))
		if err != nil {
			return carnet.Document{}, err
		}
		if err := tx.InsertNotification(ctx, note); err != nil {
			return carnet.Document{}, err
		}
	}
	return next, nil
}

// readForChange reads the version named, the latest version (which
// decides for every version) and how the caller stands to the record.
func (s *Service) readForChange(ctx context.Context, tx carnet.Tx, r carnet.Request, p carnet.PatientKey, id string) (row, current carnet.DocumentRow, a *access, err error) {
	if row, err = tx.Document(ctx, p, id); err != nil {
		if carnet.IsKind(err, carnet.KindNotFound) {
			err = errNotFound()
		}
		return
	}
	prow, err := tx.Patient(ctx, p)
	if err != nil {
		return
	}
	if a, err = s.access(ctx, r, &prow); err != nil {
		return
	}
	current, err = s.latestOf(ctx, tx, row)
	return
}

// decideChange asks the policy whether the caller may make change ch of
// the document whose latest version is current. Whoever may read the
// document is told why not (410 deleted, 403); anyone else is told it does
// not exist.
func (a *access) decideChange(row, current carnet.DocumentRow, ch carnet.DocumentChange) error {
	act := carnet.ActionUpdate
	if ch.Status == carnet.StatusDeleted {
		act = carnet.ActionDelete
	}
	if current.Status == carnet.StatusDeleted {
		if a.couldRead(current) {
			return a.refusal(act, &row, "deleted", carnet.Errorf(carnet.KindGone, "document deleted"))
		}
		_, err := a.checkInTx(act, &current)
		return err
	}
	req := a.request(act, &current)
	if act == carnet.ActionUpdate {
		req.Change = policyChange(ch)
	}
	dec := a.s.Policy.Decide(req)
	if dec.Permit {
		return nil
	}
	why := strings.Join(dec.Reasons, "; ")
	if !a.couldRead(current) {
		den := a.refusal(act, &row, why, nil)
		return den
	}
	return a.refusal(act, &row, why, &carnet.Error{Kind: carnet.KindForbidden, Msg: changeRefusal(a.r, ch)})
}

// policyChange is what a metadata change changes, as the policy reads it.
func policyChange(ch carnet.DocumentChange) *carnet.Change {
	c := &carnet.Change{Status: ch.Status, RemoveLabels: ch.RemoveLabels}
	for _, l := range ch.AddLabels {
		c.AddLabels = append(c.AddLabels, l.Code)
	}
	return c
}

// changeRefusal tells a caller who may read a document why they may not
// make this change (docs/ACCESS.md, "Who may change what").
func changeRefusal(r carnet.Request, ch carnet.DocumentChange) string {
	switch {
	case r.Mode == carnet.ModeBreakGlass || r.Mode == carnet.ModeCentre15:
		return "emergency modes read: they change nothing"
	case r.Actor.Kind == carnet.ActorPatient:
		return "the patient (or a legal representative) may mask or unmask a document, and the patient may hide it from legal representatives; its status and its visibility to the patient are its author's"
	case slices.Contains(ch.RemoveLabels, carnet.LabelMasquePS):
		return "only the patient (or a legal representative) may unmask a document"
	}
	return "only the author of a document (or the software filing for them) may change or delete it"
}

// nextVersion is document d as changed by ch: a new metadata version.
func nextVersion(d carnet.Document, ch carnet.DocumentChange, now time.Time) carnet.Document {
	next := d
	next.ID, next.Version, next.Latest, next.Date = carnet.NewID(), d.Version+1, true, now
	if ch.Status != "" {
		next.Status = ch.Status
	}
	labels := slices.DeleteFunc(slices.Clone(d.Meta.Confidentiality), func(c carnet.Coding) bool { return slices.Contains(ch.RemoveLabels, c.Code) })
	for _, c := range ch.AddLabels {
		if !slices.ContainsFunc(labels, func(x carnet.Coding) bool { return x.Code == c.Code }) {
			labels = append(labels, c)
		}
	}
	next.Meta.Confidentiality = labels
	return next
}
