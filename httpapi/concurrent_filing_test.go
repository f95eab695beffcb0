package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/mhd"
	"github.com/carnet-sante/carnet/synth"
)

// Filings sent at the same moment, on both backends (PostgreSQL's Update
// isolates transactions by record with locks, not SERIALIZABLE:
// docs/POSTGRES.md): what a user would see of each race.
func TestConcurrentFilings(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{})
		c := newClient(t, env)
		ds := synth.Generate(synth.Options{Seed: 21, Patients: 12, DocsPerPatient: 4})
		docsOf := func(p int) []synth.Document {
			var out []synth.Document
			for _, d := range ds.Documents {
				if d.Patient == p {
					out = append(out, d)
				}
			}
			return out
		}
		ins := func(p int) carnet.Identifier { return ds.Patients[p].INS }
		retries, _ := env.Store.(interface{ Retries() uint64 })

		t.Run("same submission twice at once", func(t *testing.T) {
			docs := docsOf(0)
			if r := c.provide(submissionOf(ins(0), "1.2.250.1.999.21.0.0", docs[0])); r.Status != 200 {
				t.Fatalf("first filing: %d %s", r.Status, r.Body)
			}
			// A software sending the same submission again before the
			// first answer: each is answered as the first, one is stored.
			sub := submissionOf(ins(0), "1.2.250.1.999.21.0.1", docs[1])
			got := fileAtOnce(t, env, sub, sub, sub, sub)
			var ids []string
			for i, r := range got {
				if r.status != 200 {
					t.Fatalf("copy %d: %d %s", i, r.status, r.body)
				}
				ids = append(ids, bundleLocation(t, []byte(r.body)))
			}
			for i, id := range ids {
				if id != ids[0] {
					t.Errorf("copy %d answered document %s, copy 0 %s: want one document", i, id, ids[0])
				}
			}
			if n := countUniqueID(c, ins(0), docs[1].UniqueID); n != 1 {
				t.Errorf("%d documents with uniqueId %s, want 1", n, docs[1].UniqueID)
			}
		})

		t.Run("same uniqueId in two submissions at once", func(t *testing.T) {
			d := docsOf(0)[2]
			a := submissionOf(ins(0), "1.2.250.1.999.21.0.2", d)
			b := submissionOf(ins(0), "1.2.250.1.999.21.0.3", d)
			got := fileAtOnce(t, env, a, b)
			stored := 0
			for i, r := range got {
				switch {
				case r.status == 200:
					stored++
				case r.status == 422 && strings.Contains(r.body, "already filed a document with uniqueId"):
				default:
					t.Errorf("submission %d: %d %s, want 200 or a duplicate", i, r.status, r.body)
				}
			}
			if stored != 1 {
				t.Errorf("%d submissions stored, want 1", stored)
			}
			if n := countUniqueID(c, ins(0), d.UniqueID); n != 1 {
				t.Errorf("%d documents with uniqueId %s, want 1", n, d.UniqueID)
			}
		})

		t.Run("one document replaced by two at once", func(t *testing.T) {
			docs := docsOf(1)
			r := c.provide(submissionOf(ins(1), "1.2.250.1.999.21.1.0", docs[0]))
			if r.Status != 200 {
				t.Fatalf("first filing: %d %s", r.Status, r.Body)
			}
			orig := bundleLocation(t, r.Body)
			var subs []carnet.Submission
			for i, d := range docs[1:3] {
				d.Meta.RelatesTo = []carnet.Relation{{Code: "replaces", Target: orig}}
				subs = append(subs, submissionOf(ins(1), fmt.Sprintf("1.2.250.1.999.21.1.%d", i+1), d))
			}
			got := fileAtOnce(t, env, subs...)
			won := -1
			for i, r := range got {
				switch {
				case r.status == 200 && won < 0:
					won = i
				case r.status == 422 && strings.Contains(r.body, "is not current"):
				default:
					t.Errorf("replacement %d: %d %s, want one success and one refusal saying the document is no longer current", i, r.status, r.body)
				}
			}
			if won < 0 {
				t.Fatal("no replacement stored")
			}
			current, _ := c.search(insQuery(ins(1)) + "&status=current")
			if len(current) != 1 || strings.TrimPrefix(current[0].MasterIdentifier.Value, "urn:oid:") != docs[1+won].UniqueID {
				t.Errorf("%d current documents after the race, want only the winner's replacement", len(current))
			}
			if old, _ := c.search(insQuery(ins(1)) + "&status=superseded"); len(old) != 1 {
				t.Errorf("%d superseded documents, want the original", len(old))
			}
		})

		t.Run("one new record filed into by four at once", func(t *testing.T) {
			var subs []carnet.Submission
			for i, d := range docsOf(2) {
				subs = append(subs, submissionOf(ins(2), fmt.Sprintf("1.2.250.1.999.21.2.%d", i), d))
			}
			for i, r := range fileAtOnce(t, env, subs...) {
				if r.status != 200 {
					t.Errorf("filing %d: %d %s", i, r.status, r.body)
				}
			}
			if found, _ := c.search(insQuery(ins(2))); len(found) != len(subs) {
				t.Errorf("%d documents in the record, want %d", len(found), len(subs))
			}
			// The creations that lost drop the data key they had made.
			var orphans int
			if err := env.DB.QueryRow(`SELECT count(DISTINCT patient_key) FROM data_keys k
				WHERE NOT EXISTS (SELECT 1 FROM patients p WHERE p.patient_key = k.patient_key) AND k.patient_key NOT LIKE 'carnet-%'`).Scan(&orphans); err != nil {
				t.Fatal(err)
			}
			if orphans != 0 {
				t.Errorf("%d record keys hold data keys but no record", orphans)
			}
		})

		t.Run("different records at once", func(t *testing.T) {
			// Records created first, then three documents into each of
			// eight records at once: all stored, none waits for another
			// record, and on PostgreSQL no transaction is rolled back.
			var subs []carnet.Submission
			for p := 3; p < 11; p++ {
				docs := docsOf(p)
				if r := c.provide(submissionOf(ins(p), fmt.Sprintf("1.2.250.1.999.21.%d.0", p), docs[0])); r.Status != 200 {
					t.Fatalf("first filing of record %d: %d %s", p, r.Status, r.Body)
				}
				for i, d := range docs[1:] {
					subs = append(subs, submissionOf(ins(p), fmt.Sprintf("1.2.250.1.999.21.%d.%d", p, i+1), d))
				}
			}
			var before uint64
			if retries != nil {
				before = retries.Retries()
			}
			got := fileAtOnce(t, env, subs...)
			for i, r := range got {
				if r.status != 200 {
					t.Fatalf("filing %d: %d %s", i, r.status, r.body)
				}
			}
			if retries != nil {
				if n := retries.Retries() - before; n != 0 {
					t.Errorf("%d transactions rolled back and run again for %d filings into different records, want 0", n, len(subs))
				}
			}
			// Each answered document is stored, current, in its patient's
			// record (some are hidden from the patient: the store is asked).
			records := map[carnet.Identifier]carnet.PatientKey{}
			for i, r := range got {
				id := bundleLocation(t, []byte(r.body))
				p, err := env.Store.Route(context.Background(), id)
				if err != nil {
					t.Fatalf("filing %d: document %s not routed: %v", i, id, err)
				}
				if q, ok := records[subs[i].Patient]; ok && q != p {
					t.Errorf("filing %d went to record %s, an earlier one of the same patient to %s", i, p, q)
				}
				records[subs[i].Patient] = p
				row, err := env.Store.Document(context.Background(), p, id)
				if err != nil || row.Status != carnet.StatusCurrent {
					t.Errorf("filing %d: document %s: %v, status %q; want it stored, current", i, id, err, row.Status)
				}
			}
			if len(records) != 8 {
				t.Errorf("filings went to %d records, want 8", len(records))
			}
		})
	})
}

type filedAnswer struct {
	status int
	body   string
}

// fileAtOnce sends each submission by ITI-65 from its own goroutine, all
// released together, and returns the answers in order.
func fileAtOnce(t *testing.T, env *testenv.Env, subs ...carnet.Submission) []filedAnswer {
	t.Helper()
	bodies, tokens := make([][]byte, len(subs)), make([]string, len(subs))
	for i, sub := range subs {
		b, err := json.Marshal(mhd.ProvideBundle(sub))
		if err != nil {
			t.Fatal(err)
		}
		bodies[i], tokens[i] = b, softwareFor(t, env, sub)
	}
	out := make([]filedAnswer, len(subs))
	errs := make([]error, len(subs))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range subs {
		wg.Go(func() {
			req, err := http.NewRequest("POST", env.URL+"/", bytes.NewReader(bodies[i]))
			if err != nil {
				errs[i] = err
				return
			}
			req.Header.Set("Content-Type", "application/fhir+json")
			req.Header.Set("Authorization", "Bearer "+tokens[i])
			<-start
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			out[i], errs[i] = filedAnswer{res.StatusCode, string(b)}, err
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// bundleLocation is the id of the document an ITI-65 answer filed (its
// entry after the submission set's).
func bundleLocation(t *testing.T, body []byte) string {
	t.Helper()
	b := decode[fhir.Bundle](t, response{Status: 200, Body: body})
	if len(b.Entry) < 2 || b.Entry[1].Response == nil {
		t.Fatalf("answer without the document's entry: %s", body)
	}
	return idFromLocation(b.Entry[1].Response.Location)
}

// countUniqueID counts the record's documents (any status) with uniqueId
// uid.
func countUniqueID(c client, ins carnet.Identifier, uid string) int {
	found, _ := c.search(insQuery(ins))
	n := 0
	for _, dr := range found {
		if strings.TrimPrefix(dr.MasterIdentifier.Value, "urn:oid:") == uid {
			n++
		}
	}
	return n
}
