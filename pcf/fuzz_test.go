package pcf

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	carnet "github.com/carnet-sante/carnet"
)

func FuzzParseConsent(f *testing.F) {
	for _, k := range carnet.ConsentKinds {
		for _, permit := range permits(k) {
			f.Add(marshal(f, Resource(stored(k, permit), testINS)))
		}
	}
	f.Add([]byte(base))
	files, _ := filepath.Glob(filepath.Join("..", "..", "shared", "corpus", "fhir-r4", "Consent-*.json"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"resourceType":"Consent","provision":{"actor":[{"reference":{"identifier":null}}],"data":[{}]}}`))
	f.Add([]byte(`[[[[{"resourceType":"Consent"}]]]]`))
	const limit = 16 << 10
	f.Fuzz(func(t *testing.T, body []byte) {
		c, patient, err := ParseConsent(body, limit)
		if err != nil {
			switch k := carnet.ErrorKind(err); k {
			case carnet.KindInvalid, carnet.KindUnprocessable, carnet.KindTooLarge:
			default:
				t.Fatalf("error of kind %v: %v", k, err)
			}
			if n := len(carnet.ErrorIssues(err)); n == 0 || n > maxIssues+1 {
				t.Fatalf("%d issues: %v", n, err)
			}
			return
		}
		if len(body) > limit {
			t.Fatalf("accepted a body of %d bytes over the limit of %d", len(body), limit)
		}
		if issues := c.Check("Consent"); len(issues) > 0 {
			t.Fatalf("accepted a consent that does not pass Check: %v", issues)
		}
		// What was accepted renders, and reads back as the same choice.
		b, err := json.Marshal(Resource(c, patient))
		if err != nil {
			t.Fatalf("Resource does not marshal: %v", err)
		}
		c2, patient2, err := ParseConsent(b, 1<<20)
		if err != nil {
			t.Fatalf("Resource of an accepted consent is refused: %v\n%s", err, b)
		}
		if c2 != c || patient2 != patient {
			t.Fatalf("round trip: %+v for %v, then %+v for %v", c, patient, c2, patient2)
		}
	})
}
