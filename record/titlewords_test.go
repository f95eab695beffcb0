package record_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/pastille"
)

// The ranking weighs a title's words ("Holter", "ECG") without opening the
// document: they are read at filing and kept as blind tokens of the record,
// read back by the point-of-care view, kept in the stored form, and give
// the cardiologist the title's reason. Nothing of the title is in clear.
// The document titled is a biologist's (the third): a cardiologist's own
// would show the author's reason, which weighs more than the title's.
func TestTitleWordsReachTheRanking(t *testing.T) {
	for _, be := range testenv.Backends {
		t.Run(be.Name, func(t *testing.T) {
			env := testenv.New(t, be, testenv.Options{})
			ctx := context.Background()
			sub, gp, res := fileCareRecordTitled(t, env, 2, "Holter ECG des 24 heures")
			cardio := carnet.Request{Actor: carnet.Actor{Kind: carnet.ActorProfessional, ID: gp.ID, Profession: "G15_10", Specialty: "G15_10/SM04"}}
			titled := res.Documents[2].ID
			words := func() []string {
				t.Helper()
				view, _, err := env.Service.PointOfCare(ctx, cardio, "", sub.Patient, "", false, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range view.Docs {
					if d.Row.ID == titled {
						// What the store keeps (the view's rows drop the
						// tokens once read).
						row, err := env.Store.Document(ctx, view.Patient, titled)
						if err != nil {
							t.Fatal(err)
						}
						if !slices.ContainsFunc(row.Tokens, func(tok carnet.Token) bool { return tok.Kind == carnet.TokTitleWord }) {
							t.Errorf("no %s token stored", carnet.TokTitleWord)
						}
						// A blind token is random base64: it may hold three
						// letters such as "ecg" by chance (about one run in
						// thirty), never the six of "holter" nor a word alone.
						for _, tok := range row.Tokens {
							if strings.Contains(strings.ToLower(tok.Value), "holter") || strings.EqualFold(tok.Value, "ecg") {
								t.Errorf("a token holds the title in clear: %+v", tok)
							}
						}
						return d.TitleWords
					}
				}
				t.Fatalf("the titled document %s is not in the cardiologist's view", titled)
				return nil
			}
			if got := words(); !slices.Contains(got, "holter") || !slices.Contains(got, "ecg") {
				t.Fatalf("title words %v, want holter and ecg", got)
			}
			// A server just started reads them from the stored form.
			env.Service.FlushCareForms()
			env.Restart(t)
			if got := words(); !slices.Contains(got, "holter") || !slices.Contains(got, "ecg") {
				t.Errorf("after a restart, title words %v, want holter and ecg", got)
			}
			// And the ranking gives the title's reason to the cardiologist.
			cr, err := pastille.RankView(func(pick func(carnet.CareView) []string) (carnet.CareView, carnet.CareDetails, error) {
				return env.Service.PointOfCare(ctx, cardio, "", sub.Patient, "", false, pick)
			}, pastille.RankOptions{Actor: cardio.Actor, Show: 30})
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range cr.All {
				if l.Doc.ID != titled {
					continue
				}
				for _, r := range l.Reasons {
					if r.Code == "affinity" && strings.Contains(r.Text, "Holter") {
						return
					}
				}
				t.Errorf("the Holter's line has no title reason: %+v", l.Reasons)
				return
			}
			t.Errorf("the Holter is not ranked")
		})
	}
}

// fileCareRecordTitled files fileCareRecord's first five documents, the
// i-th titled title.
func fileCareRecordTitled(t *testing.T, env *testenv.Env, i int, title string) (carnet.Submission, carnet.Author, carnet.SubmissionResult) {
	t.Helper()
	_, sub, gp := fileCareRecordNoFile(t, 5)
	sub.Documents[i].Meta.Title = title
	res, err := env.Service.Provide(context.Background(), testenv.SoftwareFiling("t", sub), sub)
	if err != nil {
		t.Fatal(err)
	}
	return sub, gp, res
}
