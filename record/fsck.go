package record

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"

	carnet "github.com/carnet-sante/carnet"
)

// Problem is one thing `carnet fsck` found wrong in the stored records.
type Problem struct {
	Patient carnet.PatientKey
	What    string // "patient", "document", "content"
	ID      string
	Err     error
}

func (p Problem) String() string {
	return fmt.Sprintf("record %s: %s %s: %v", p.Patient, p.What, p.ID, p.Err)
}

// FsckReport counts what CheckRecords verified.
type FsckReport struct {
	Records, Documents, Contents int
	Problems                     []Problem
}

// CheckRecords re-verifies every record, every metadata version and every
// content: each ciphertext opens in its own place (authenticated
// encryption bound to patient, kind, id and version), and each content
// matches the hash and size recorded when it was filed. It visits records
// in key order and reports every problem, first found first; an error is
// returned only when the check itself cannot go on (store unreachable,
// keys unavailable).
func (s *Service) CheckRecords(ctx context.Context) (FsckReport, error) {
	var rep FsckReport
	after := carnet.PatientKey("")
	for {
		keys, err := s.Store.PatientKeys(ctx, after, 256)
		if err != nil {
			return rep, err
		}
		if len(keys) == 0 {
			return rep, nil
		}
		for _, k := range keys {
			if err := s.checkRecord(ctx, k, &rep); err != nil {
				return rep, err
			}
		}
		after = keys[len(keys)-1]
	}
}

func (s *Service) checkRecord(ctx context.Context, k carnet.PatientKey, rep *FsckReport) error {
	if k == carnet.AuditKeyRecord {
		return nil
	}
	bad := func(what, id string, err error) error {
		if carnet.IsKind(err, carnet.KindUnavailable) {
			return err // the keys, not the data
		}
		rep.Problems = append(rep.Problems, Problem{Patient: k, What: what, ID: id, Err: err})
		return nil
	}
	rep.Records++
	row, err := s.Store.Patient(ctx, k)
	if err != nil {
		return err
	}
	if _, err := s.openPatient(ctx, row); err != nil {
		return bad("patient", string(k), err)
	}
	rows, err := s.Store.FindDocuments(ctx, k, carnet.DocumentFilter{AllVersions: true})
	if err != nil {
		return err
	}
	checked := map[string]bool{}
	for _, dr := range rows {
		rep.Documents++
		d, err := s.openDocument(ctx, dr)
		if err != nil {
			if e := bad("document", dr.ID, err); e != nil {
				return e
			}
			continue
		}
		if d.Status == carnet.StatusDeleted || checked[d.ContentID] {
			continue
		}
		checked[d.ContentID] = true
		rep.Contents++
		sealed, err := s.Store.Content(ctx, k, d.ContentID)
		if err != nil {
			if e := bad("content", d.ContentID, err); e != nil {
				return e
			}
			continue
		}
		b, err := s.Sealer.Open(ctx, k, carnet.Binding{Kind: "content", ID: d.ContentID, Version: 1}, sealed)
		if err != nil {
			if e := bad("content", d.ContentID, err); e != nil {
				return e
			}
			continue
		}
		sum := sha256.Sum256(b)
		if subtle.ConstantTimeCompare(sum[:], d.Meta.SHA256) != 1 || int64(len(b)) != d.Meta.Size {
			if e := bad("content", d.ContentID, fmt.Errorf("does not match the hash and size recorded for document %s", d.ID)); e != nil {
				return e
			}
		}
	}
	return nil
}
