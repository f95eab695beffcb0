package record_test

import (
	"context"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/internal/testenv"
)

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
		_, sub, gp, _ := fileCareRecord(t, env, 20, "1.2.250.1.999.6.1")
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
