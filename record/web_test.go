package record_test

import (
	"context"
	"slices"
	"testing"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/synth"
)

// LabResults answers what FindItems answers (the same items, for the same
// caller), on both backends: masked documents' results are absent for a
// professional, present for the patient.
func TestLabResultsIsFindItems(t *testing.T) {
	for _, b := range testenv.Backends {
		t.Run(b.Name, func(t *testing.T) {
			env := testenv.New(t, b, testenv.Options{})
			ctx := context.Background()
			o := synth.Options{Seed: 5, Patients: 1, DocsPerPatient: 30}
			ds := synth.Generate(o)
			_, pros := o.People()
			var gp carnet.Author
			for _, p := range pros {
				if p.Login == "gp" {
					gp = p.Author
				}
			}
			var sub carnet.Submission
			sub.Patient = ds.Patients[0].INS
			sub.Set = carnet.SubmissionSet{UniqueID: "1.2.250.1.999.5.1", SourceID: "1.2.250.1.999.2", ContentType: ds.Documents[0].Meta.Type}
			for _, d := range ds.Documents {
				sub.Documents = append(sub.Documents, carnet.SubmittedDocument{UniqueID: d.UniqueID, Meta: d.Meta, Content: d.Content, Path: "t"})
			}
			sub.Documents[0].Meta.Authors = append(sub.Documents[0].Meta.Authors, gp)
			sys := testenv.SoftwareFiling("t", sub)
			res, err := env.Service.Provide(ctx, sys, sub)
			if err != nil {
				t.Fatal(err)
			}
			patient := carnet.Request{Actor: carnet.Actor{Kind: carnet.ActorPatient, ID: sub.Patient}}
			doctor := carnet.Request{Actor: carnet.Actor{Kind: carnet.ActorProfessional, ID: gp.ID, Profession: "G15_10"}}
			// Every other document is masked to professionals.
			for i, id := range res.DocumentIDs {
				if i%2 == 0 {
					if _, _, err := env.Service.ChangeDocument(ctx, sys, id, carnet.DocumentChange{AddLabels: []carnet.Coding{{System: "urn:oid:" + carnet.OIDVisibility, Code: carnet.LabelMasquePS}}}); err != nil {
						t.Fatal(err)
					}
				}
			}
			f := carnet.ItemFilter{Kinds: []carnet.ItemKind{carnet.ItemObservation}}
			all, err := env.Service.FindItems(ctx, patient, carnet.ItemQuery{PatientID: sub.Patient, Filter: f, Count: 1})
			if err != nil || len(all.Items) == 0 {
				t.Fatalf("no lab result to follow: %v", err)
			}
			// By code too: the trends' query, on blind-indexed codes.
			byCode := f
			byCode.Tokens = []carnet.TokenFilter{{Kind: carnet.TokCode, Values: []string{carnet.CodingTokens(carnet.TokCode, all.Items[0].Code)[0].Value}}}
			totals := map[string]int{}
			for name, r := range map[string]carnet.Request{"patient": patient, "GP": doctor, "patient by code": patient} {
				f := f
				if name == "patient by code" {
					f = byCode
				}
				page, err := env.Service.FindItems(ctx, r, carnet.ItemQuery{PatientID: sub.Patient, Filter: f, Count: 200})
				if err != nil {
					t.Fatal(err)
				}
				p, err := env.Service.PatientByINS(ctx, patient, sub.Patient)
				if err != nil {
					t.Fatal(err)
				}
				items, total, err := env.Service.LabResults(ctx, r, p.Key, f, 200)
				if err != nil {
					t.Fatal(err)
				}
				totals[name] = total
				want, got := ids(page.Items), ids(items)
				if total != page.Total || !slices.Equal(want, got) || len(got) == 0 {
					t.Errorf("%s: LabResults %d items (total %d), FindItems %d (total %d)", name, len(got), total, len(want), page.Total)
				}
			}
			// A short page: the newest results the reader may see, in
			// FindItems' order, and "more than the page" as limit+1.
			for name, r := range map[string]carnet.Request{"patient": patient, "GP": doctor} {
				page, err := env.Service.FindItems(ctx, r, carnet.ItemQuery{PatientID: sub.Patient, Filter: f, Count: 200})
				if err != nil {
					t.Fatal(err)
				}
				p, err := env.Service.PatientByINS(ctx, patient, sub.Patient)
				if err != nil {
					t.Fatal(err)
				}
				const short = 3
				items, total, err := env.Service.LabResults(ctx, r, p.Key, f, short)
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Items) <= short {
					t.Fatalf("%s: %d results, too few for a short page", name, len(page.Items))
				}
				var want, got []string
				for i := range short {
					want, got = append(want, page.Items[i].ID), append(got, items[min(i, len(items)-1)].ID)
				}
				if len(items) != short || !slices.Equal(want, got) || total != short+1 {
					t.Errorf("%s: LabResults(limit %d) gave %d items %v, total %d; want %v, total %d", name, short, len(items), got, total, want, short+1)
				}
			}
			if totals["GP"] >= totals["patient"] {
				t.Errorf("the GP sees %d results, the patient %d: masking hid nothing", totals["GP"], totals["patient"])
			}
		})
	}
}

func ids(items []carnet.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	slices.Sort(out)
	return out
}
