package record_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/synth"
)

// findCounter counts the reads of a record's documents.
type findCounter struct {
	carnet.Store
	finds atomic.Int64
}

func (f *findCounter) FindDocuments(ctx context.Context, p carnet.PatientKey, filter carnet.DocumentFilter) ([]carnet.DocumentRow, error) {
	f.finds.Add(1)
	return f.Store.FindDocuments(ctx, p, filter)
}

// With WarmOnChange, a filing reads the record's point-of-care view again
// in the background: the clinician's next card reads no document rows (the
// first opening costs what a warm one does). Without it, the card reads
// them.
func TestCareViewWarmOnFiling(t *testing.T) {
	for _, warm := range []bool{true, false} {
		env := testenv.New(t, testenv.SQLite, testenv.Options{})
		ctx := context.Background()
		counter := &findCounter{Store: env.Service.Store}
		env.Service.Store = counter
		env.Service.WarmOnChange = warm
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
			Set: carnet.SubmissionSet{UniqueID: "1.2.250.1.999.6.1", SourceID: "1.2.250.1.999.2", ContentType: ds.Documents[0].Meta.Type}}
		for _, d := range ds.Documents {
			sub.Documents = append(sub.Documents, carnet.SubmittedDocument{UniqueID: d.UniqueID, Meta: d.Meta, Content: d.Content, Path: "t"})
		}
		sub.Documents[0].Meta.Authors = append(sub.Documents[0].Meta.Authors, gp)
		if _, err := env.Service.Provide(ctx, testenv.SoftwareFiling("t", sub), sub); err != nil {
			t.Fatal(err)
		}
		if warm { // the background read has started (a card now waits for it)
			for deadline := time.Now().Add(10 * time.Second); counter.finds.Load() == 0; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("no background read of the record after the filing")
				}
			}
		}
		before := counter.finds.Load()
		doctor := carnet.Request{Actor: carnet.Actor{Kind: carnet.ActorProfessional, ID: gp.ID, Profession: "G15_10", Specialty: "G15_10/SM54"}}
		view, _, err := env.Service.PointOfCare(ctx, doctor, "", sub.Patient, "", false, nil)
		if err != nil || len(view.Docs) == 0 {
			t.Fatalf("warm %v: the card's view: %d documents, %v", warm, len(view.Docs), err)
		}
		read := counter.finds.Load() - before
		if warm && read != 0 {
			t.Errorf("kept warm on filing, the first card read the document rows %d times", read)
		}
		if !warm && read == 0 {
			t.Errorf("without warming, the first card read no document rows: the test cannot tell")
		}
	}
}
