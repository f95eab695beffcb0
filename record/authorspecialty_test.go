package record_test

import (
	"context"
	"strings"
	"testing"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/pastille"
)

// A cardiologist's document is a cardiology letter to a cardiologist even
// when its title and type say nothing of the heart ("Ordonnance de sortie",
// a prescription): the authors' specialties the ranking weighs are read at
// filing and kept as blind tokens, read back by the point-of-care view, kept
// in the stored form, and give the cardiologist the author's reason before
// anything is opened. The specialty is not stored in clear; a GP, who has no
// row for a cardiologist's letters, gets no such reason.
func TestAuthorSpecialtiesReachTheRanking(t *testing.T) {
	const note = "courrier de cardiologue" // pastille/affinity.csv, G15_10/SM04,author:G15_10/SM04
	for _, be := range testenv.Backends {
		t.Run(be.Name, func(t *testing.T) {
			env := testenv.New(t, be, testenv.Options{})
			ctx := context.Background()
			// The first synthetic document is a cardiologist's discharge
			// prescription, the GP among its authors (the header's authors).
			_, sub, gp := fileCareRecordNoFile(t, 5)
			m := &sub.Documents[0].Meta
			m.Title = "Ordonnance de sortie"
			if m.Type.Code != "57833-6" || len(m.Authors) != 2 || m.Authors[0].Specialty.Code != "G15_10/SM04" {
				t.Fatalf("the first synthetic document is of type %s by %+v, want a cardiologist's prescription (57833-6)", m.Type.Code, m.Authors)
			}
			res, err := env.Service.Provide(ctx, testenv.SoftwareFiling("t", sub), sub)
			if err != nil {
				t.Fatal(err)
			}
			doc := res.Documents[0].ID
			asCardio := carnet.Request{Actor: carnet.Actor{Kind: carnet.ActorProfessional, ID: gp.ID, Profession: "G15_10", Specialty: "G15_10/SM04"}}
			asGP := carnet.Request{Actor: carnet.Actor{Kind: carnet.ActorProfessional, ID: gp.ID, Profession: "G15_10", Specialty: "G15_10/SM54"}}
			specialties := func() []string {
				t.Helper()
				view, _, err := env.Service.PointOfCare(ctx, asCardio, "", sub.Patient, "", false, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range view.Docs {
					if d.Row.ID != doc {
						continue
					}
					// What the store keeps (the view's rows drop the
					// tokens once read).
					row, err := env.Store.Document(ctx, view.Patient, doc)
					if err != nil {
						t.Fatal(err)
					}
					blind := 0
					for _, tok := range row.Tokens {
						if strings.Contains(tok.Value, "SM04") {
							t.Errorf("a stored token holds the author's specialty in clear: %+v", tok)
						}
						if tok.Kind == carnet.TokAuthorSpecialty {
							blind++
						}
					}
					if blind != 1 {
						t.Errorf("%d %s tokens stored, want 1 (the cardiologist's; the GP's specialty weighs nothing)", blind, carnet.TokAuthorSpecialty)
					}
					return d.AuthorSpecialties
				}
				t.Fatalf("the document %s is not in the cardiologist's view", doc)
				return nil
			}
			if got := specialties(); len(got) != 1 || got[0] != "G15_10/SM04" {
				t.Fatalf("author specialties %v, want [G15_10/SM04]", got)
			}
			// A server just started reads them from the stored form.
			env.Service.FlushCareForms()
			env.Restart(t)
			if got := specialties(); len(got) != 1 || got[0] != "G15_10/SM04" {
				t.Errorf("after a restart, author specialties %v, want [G15_10/SM04]", got)
			}
			// The card: the cardiologist reads the author's reason on the
			// line, decided before anything was opened; the GP does not.
			reason := func(r carnet.Request) (string, bool) {
				t.Helper()
				cr, err := pastille.RankView(func(pick func(carnet.CareView) []string) (carnet.CareView, carnet.CareDetails, error) {
					return env.Service.PointOfCare(ctx, r, "", sub.Patient, "", false, pick)
				}, pastille.RankOptions{Actor: r.Actor, Show: 30})
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range cr.All {
					if l.Doc.ID != doc {
						continue
					}
					for _, rs := range l.Reasons {
						if rs.Code == "affinity" && strings.Contains(rs.Text, note) {
							return rs.Text, true
						}
					}
					return "", false
				}
				t.Fatalf("the document %s is not ranked", doc)
				return "", false
			}
			if _, ok := reason(asCardio); !ok {
				t.Errorf("the cardiologist's prescription has no %q reason for a cardiologist", note)
			}
			if text, ok := reason(asGP); ok {
				t.Errorf("a GP reads %q on the cardiologist's prescription", text)
			}
		})
	}
}
