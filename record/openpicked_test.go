package record_test

import (
	"context"
	"testing"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/internal/testenv"
)

// The card opens the lines it shows in one query, by their entryUUID's
// identifier token; a document filed later naming that identifier among
// its own is not what the line shows: each line opens its own document.
func TestCardOpensEachLinesOwnDocument(t *testing.T) {
	for _, be := range testenv.Backends {
		t.Run(be.Name, func(t *testing.T) {
			env := testenv.New(t, be, testenv.Options{})
			ctx := context.Background()
			_, sub, gp, res := fileCareRecord(t, env, 2, "1.2.250.1.999.6.31")
			target := res.Documents[0]
			// Another document of the record naming the first one's
			// entryUUID as an identifier of its own.
			other := sub
			other.Set.UniqueID = "1.2.250.1.999.6.32"
			other.Documents = []carnet.SubmittedDocument{sub.Documents[1]}
			other.Documents[0].UniqueID = "1.2.250.1.999.6.33"
			other.Documents[0].Meta.Title = "Document qui se dit un autre"
			other.Documents[0].Meta.Identifiers = append(other.Documents[0].Meta.Identifiers, carnet.Identifier{Value: "urn:uuid:" + target.ID})
			if _, err := env.Service.Provide(ctx, testenv.SoftwareFiling("t", other), other); err != nil {
				t.Fatal(err)
			}
			named, err := env.Store.FindDocuments(ctx, target.Patient, carnet.DocumentFilter{Tokens: []carnet.TokenFilter{{Kind: carnet.TokIdentifier, Values: []string{"urn:uuid:" + target.ID}}}})
			if err != nil || len(named) != 2 {
				t.Fatalf("the identifier names %d documents (%v), want 2: the case is not made", len(named), err)
			}
			asGP := carnet.Request{Actor: carnet.Actor{Kind: carnet.ActorProfessional, ID: gp.ID, Profession: "G15_10", Specialty: "G15_10/SM54"}}
			_, det, err := env.Service.PointOfCare(ctx, asGP, "", sub.Patient, "", false, func(carnet.CareView) []string { return []string{target.ID} })
			if err != nil {
				t.Fatal(err)
			}
			got, ok := det.Documents[target.ID]
			if !ok || got.ID != target.ID || got.Meta.Title != target.Meta.Title {
				t.Fatalf("the line of %s (%q) opened %s (%q)", target.ID, target.Meta.Title, got.ID, got.Meta.Title)
			}
			if len(det.Documents) != 1 {
				t.Errorf("%d documents opened for one line", len(det.Documents))
			}
		})
	}
}
