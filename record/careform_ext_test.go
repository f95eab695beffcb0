package record_test

import (
	"bytes"
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/synth"
)

// findCounter counts the reads of a record's documents, and keeps the
// point-of-care forms of the Store it wraps.
type findCounter struct {
	carnet.Store
	finds atomic.Int64
}

func (f *findCounter) FindDocuments(ctx context.Context, p carnet.PatientKey, filter carnet.DocumentFilter) ([]carnet.DocumentRow, error) {
	f.finds.Add(1)
	return f.Store.FindDocuments(ctx, p, filter)
}

func (f *findCounter) PutCareForm(ctx context.Context, p carnet.PatientKey, stamp string, sealed []byte) error {
	return f.Store.(carnet.CareFormStore).PutCareForm(ctx, p, stamp, sealed)
}

func (f *findCounter) CareForm(ctx context.Context, p carnet.PatientKey) (string, []byte, error) {
	return f.Store.(carnet.CareFormStore).CareForm(ctx, p)
}

// fileCareRecord files the first n documents of a synthetic record in one
// submission, the GP among the first one's authors (so in the care team);
// the record's 20 documents are returned too.
func fileCareRecord(t *testing.T, env *testenv.Env, n int, setUID string) (synth.Dataset, carnet.Submission, carnet.Author, carnet.SubmissionResult) {
	t.Helper()
	ds, sub, gp := fileCareRecordNoFile(t, n)
	sub.Set.UniqueID = setUID
	res, err := env.Service.Provide(context.Background(), testenv.SoftwareFiling("t", sub), sub)
	if err != nil {
		t.Fatal(err)
	}
	return ds, sub, gp, res
}

// fileCareRecordNoFile is the submission fileCareRecord files: n synthetic
// documents of one patient, the GP among the first one's authors.
func fileCareRecordNoFile(t *testing.T, n int) (synth.Dataset, carnet.Submission, carnet.Author) {
	t.Helper()
	o := synth.Options{Seed: 6, Patients: 1, DocsPerPatient: 20}
	ds := synth.Generate(o)
	_, pros := o.People()
	var gp carnet.Author
	for _, p := range pros {
		if p.Login == "gp" {
			gp = p.Author
		}
	}
	sub := carnet.Submission{Patient: ds.Patients[0].INS,
		Set: carnet.SubmissionSet{UniqueID: "1.2.250.1.999.6.9", SourceID: "1.2.250.1.999.2", ContentType: ds.Documents[0].Meta.Type}}
	for _, d := range ds.Documents[:n] {
		sub.Documents = append(sub.Documents, carnet.SubmittedDocument{UniqueID: d.UniqueID, Meta: d.Meta, Content: d.Content, Path: "t"})
	}
	sub.Documents[0].Meta.Authors = append(sub.Documents[0].Meta.Authors, gp)
	return ds, sub, gp
}

// The first opening of a record by a server that has not read it reads the
// record's stored form, one row, not its documents; whatever changed since
// the form was written, by this server or another, the card shows what the
// clinician may see now: a document masked, deleted or restricted after
// the form was written is neither shown nor counted, a professional blocked
// sees nothing, another server's filing is seen at once, and a form put
// back under a newer stamp is not used.
func TestCareFormColdOpenings(t *testing.T) {
	for _, be := range testenv.Backends {
		t.Run(be.Name, func(t *testing.T) {
			env := testenv.New(t, be, testenv.Options{})
			ctx := context.Background()
			ds, sub, gp, res := fileCareRecord(t, env, 19, "1.2.250.1.999.6.2")
			sys := testenv.SoftwareFiling("t", sub)
			patient := carnet.Request{Actor: carnet.Actor{Kind: carnet.ActorPatient, ID: sub.Patient}}
			doctor := carnet.Request{Actor: carnet.Actor{Kind: carnet.ActorProfessional, ID: gp.ID, Profession: "G15_10", Specialty: "G15_10/SM54"}}
			type card struct {
				ids      []string
				findings int
				reads    int64
			}
			// open is a card of the record for the GP by svc, with the
			// number of times it read the record's documents.
			open := func(svc *carnet.Store, s interface {
				PointOfCare(context.Context, carnet.Request, carnet.PatientKey, carnet.Identifier, string, bool, func(carnet.CareView) []string) (carnet.CareView, carnet.CareDetails, error)
			}) card {
				t.Helper()
				c, _ := (*svc).(*findCounter)
				var before int64
				if c != nil {
					before = c.finds.Load()
				}
				v, _, err := s.PointOfCare(ctx, doctor, "", sub.Patient, "", false, nil)
				if err != nil {
					t.Fatal(err)
				}
				var out card
				for _, d := range v.Docs {
					out.ids = append(out.ids, d.Row.ID)
					out.findings += len(d.Findings)
				}
				slices.Sort(out.ids)
				if c != nil {
					out.reads = c.finds.Load() - before
				}
				return out
			}
			// restart is a server started on the same store: nothing in memory.
			restart := func() {
				env.Restart(t)
				env.Service.Store = &findCounter{Store: env.Service.Store}
			}
			forms := env.Store.(carnet.CareFormStore)
			first := open(&env.Service.Store, env.Service)
			if len(first.ids) != 19 || first.findings == 0 {
				t.Fatalf("first card: %d documents, %d abnormal results; want 19 and some results", len(first.ids), first.findings)
			}
			env.Service.FlushCareForms()
			key := carnet.PatientKey("")
			if p, err := env.Service.PatientByINS(ctx, patient, sub.Patient); err == nil {
				key = p.Key
			} else {
				t.Fatal(err)
			}
			stamp, sealed, err := forms.CareForm(ctx, key)
			if now, _ := env.Store.RecordStamp(ctx, key); err != nil || stamp != now {
				t.Fatalf("the record's form after its first opening: stamp %q (record %q), %v", stamp, now, err)
			}
			if bytes.Contains(sealed, []byte(res.Documents[0].LogicalID)) || bytes.Contains(sealed, []byte(carnet.LabelMasquePS)) {
				t.Error("the stored form holds document ids or labels in clear: it is not sealed")
			}
			oldForm := sealed

			restart()
			if c := open(&env.Service.Store, env.Service); c.reads != 0 || !slices.Equal(c.ids, first.ids) || c.findings != first.findings {
				t.Fatalf("first opening after a restart: %d document reads, %d documents, %d results; want 0 reads and the first card's %d and %d",
					c.reads, len(c.ids), c.findings, len(first.ids), first.findings)
			}
			a := env.Service // a server that has the record in memory
			restart()
			b := env.Service // another server on the same store

			// Masked to professionals by b: a sees it at once, and so
			// does a server started since (the form is at an old stamp).
			masked := res.DocumentIDs[3] // not the GP's (authors see what they wrote)
			if _, _, err := b.ChangeDocument(ctx, sys, masked, carnet.DocumentChange{AddLabels: []carnet.Coding{{System: "urn:oid:" + carnet.OIDVisibility, Code: carnet.LabelMasquePS}}}); err != nil {
				t.Fatal(err)
			}
			gone := func(c card, ids ...string) bool {
				for _, id := range ids {
					for _, got := range c.ids {
						if got == id {
							return false
						}
					}
				}
				return true
			}
			restart()
			if c := open(&env.Service.Store, env.Service); len(c.ids) != 18 || !gone(c, masked) || c.reads == 0 {
				t.Errorf("a document masked after the form was written, first opening after a restart: %d documents shown (want 18), %d document reads (want some: the form is old)", len(c.ids), c.reads)
			}
			if c := open(&a.Store, a); len(c.ids) != 18 || !gone(c, masked) {
				t.Errorf("a document masked by another server: %d documents shown (want 18)", len(c.ids))
			}
			// Put back under the current stamp, the old form is not used.
			// Every server's background writes are done first: a's read
			// above stores a fresh form, which would otherwise land after
			// the old one is put back.
			env.Service.FlushCareForms()
			a.FlushCareForms()
			b.FlushCareForms()
			now, _ := env.Store.RecordStamp(ctx, key)
			if err := forms.PutCareForm(ctx, key, now, oldForm); err != nil {
				t.Fatal(err)
			}
			restart()
			if c := open(&env.Service.Store, env.Service); len(c.ids) != 18 || !gone(c, masked) || c.reads == 0 {
				t.Errorf("an old form put back under the current stamp: %d documents shown (want 18), %d document reads (want some)", len(c.ids), c.reads)
			}

			// Deleted by b.
			deleted := res.DocumentIDs[4]
			if _, _, err := b.ChangeDocument(ctx, sys, deleted, carnet.DocumentChange{Status: carnet.StatusDeleted}); err != nil {
				t.Fatal(err)
			}
			if c := open(&a.Store, a); len(c.ids) != 17 || !gone(c, deleted) {
				t.Errorf("a document deleted by another server: %d documents shown (want 17)", len(c.ids))
			}
			// Filed by b, which reads the record again after a filing and
			// stores its form: a shows the new document at once, from
			// that form.
			b.WarmOnChange = true
			more := carnet.Submission{Patient: sub.Patient, Set: carnet.SubmissionSet{UniqueID: "1.2.250.1.999.6.3", SourceID: "1.2.250.1.999.2", ContentType: ds.Documents[19].Meta.Type},
				Documents: []carnet.SubmittedDocument{{UniqueID: ds.Documents[19].UniqueID, Meta: ds.Documents[19].Meta, Content: ds.Documents[19].Content, Path: "t"}}}
			filed, err := b.Provide(ctx, testenv.SoftwareFiling("t", more), more)
			if err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				now, _ := env.Store.RecordStamp(ctx, key)
				if stamp, _, _ := forms.CareForm(ctx, key); stamp == now {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the filing server did not store the record's form after the filing")
				}
			}
			if c := open(&a.Store, a); len(c.ids) != 18 || !slices.Contains(c.ids, filed.DocumentIDs[0]) || c.reads != 0 {
				t.Errorf("a document filed by another server: %d documents shown (want 18, the new one among them), %d document reads (want 0: that server stored the form)", len(c.ids), c.reads)
			}

			// Restricted by the patient: no document changes, the form is
			// current and used, and the decision is made afresh.
			b.FlushCareForms()
			a.FlushCareForms()
			restart()
			warm := open(&env.Service.Store, env.Service) // writes the form at the current stamp
			env.Service.FlushCareForms()
			restricted := res.Documents[5]
			if _, err := b.AddConsent(ctx, patient, sub.Patient, carnet.Consent{Kind: carnet.ConsentRestrict, Document: restricted.LogicalID}, "Consent"); err != nil {
				t.Fatal(err)
			}
			restart()
			if c := open(&env.Service.Store, env.Service); c.reads != 0 || len(c.ids) != len(warm.ids)-1 || !gone(c, restricted.ID) {
				t.Errorf("a document restricted after the form was written: %d documents shown (want %d), %d document reads (want 0: the form is current)", len(c.ids), len(warm.ids)-1, c.reads)
			}
			// The GP blocked by the patient: nothing.
			if _, err := b.AddConsent(ctx, patient, sub.Patient, carnet.Consent{Kind: carnet.ConsentBlock, Professional: gp.ID}, "Consent"); err != nil {
				t.Fatal(err)
			}
			restart()
			if c := open(&env.Service.Store, env.Service); len(c.ids) != 0 {
				t.Errorf("a blocked professional's card shows %d documents", len(c.ids))
			}
			if c := open(&a.Store, a); len(c.ids) != 0 {
				t.Errorf("a blocked professional's card on a server with the record in memory shows %d documents", len(c.ids))
			}
		})
	}
}
