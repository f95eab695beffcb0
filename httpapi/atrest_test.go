package httpapi_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/postgres/pgtest"
	"github.com/carnet-sante/carnet/synth"
)

func canary(t *testing.T) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "CANARY" + strings.ToUpper(hex.EncodeToString(b[:]))
}

// No plaintext health data reaches disk (RELIABILITY.md #1): canaries planted
// in document content, titles, author and patient names are found nowhere
// in the data directory (SQLite: database, WAL, temp files) or, on
// PostgreSQL, in any row of any table of the schema.
func TestNoPlaintextAtRest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{})
		c := newClient(t, env)
		ds := synth.Generate(synth.Options{Seed: 31, Patients: 2, DocsPerPatient: 3})
		var canaries []string
		plant := func() string { s := canary(t); canaries = append(canaries, s); return s }
		lastAuthor := map[int]string{}
		for i, p := range ds.Patients {
			family := plant()
			body, _ := json.Marshal(fhir.Patient{Identifier: []fhir.Identifier{{System: p.INS.System, Value: p.INS.Value}},
				Name: []fhir.HumanName{{Family: family, Given: []string{plant()}}}, BirthDate: "1961-04-12"})
			if r := c.do("PUT", "/Patient?identifier="+url.QueryEscape(p.INS.System+"|"+p.INS.Value), "application/fhir+json", body); r.Status != 201 {
				t.Fatalf("PUT Patient: %d %s", r.Status, r.Body)
			}
			for j, d := range ds.Documents {
				if d.Patient != i {
					continue
				}
				d.Content = append(bytes.Clone(d.Content), []byte("<!-- "+plant()+" -->")...)
				sum := fmt.Sprint(j)
				d.Meta.Title = "Compte rendu " + plant()
				d.Meta.Description = plant()
				d.Meta.Authors[0].Family = plant()
				lastAuthor[i] = d.Meta.Authors[0].Family
				d.Meta.SHA1, d.Meta.SHA256 = nil, nil
				d.Meta.SourcePatientRaw, _ = json.Marshal(fhir.Patient{Name: []fhir.HumanName{{Family: family}}})
				meta := d.Meta
				r := c.provide(carnet.Submission{Patient: p.INS, Set: carnet.SubmissionSet{UniqueID: d.UniqueID + ".s" + sum, SourceID: "1.2.250.1.999.2", Title: plant(), ContentType: meta.Type},
					Documents: []carnet.SubmittedDocument{{UniqueID: d.UniqueID, Meta: meta, Content: d.Content}}})
				if r.Status != 200 {
					t.Fatalf("ITI-65: %d %s", r.Status, r.Body)
				}
			}
			// Every canary is served back to a reader: they did reach the store.
			found, _ := c.search(insQuery(p.INS))
			if len(found) == 0 || !strings.Contains(found[0].Content[0].Attachment.Title, "CANARY") {
				t.Fatalf("the planted title is not served back")
			}
		}
		// A planted author name is found by search although it is stored blind.
		if found, _ := c.search(insQuery(ds.Patients[0].INS) + "&author.family=" + strings.ToLower(lastAuthor[0])); len(found) != 1 {
			t.Errorf("search by the author's family name (folded): %d results, want 1", len(found))
		}

		var hits []string
		scan := func(where string, data []byte) {
			for _, s := range canaries {
				if bytes.Contains(data, []byte(s)) {
					hits = append(hits, fmt.Sprintf("%s contains %s", where, s))
				}
			}
		}
		if env.Dir != "" {
			// Flush nothing on purpose: the WAL is scanned as it is.
			err := filepath.WalkDir(env.Dir, func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				data, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				scan(path, data)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		// Every table, every row, as text (works on both backends' SQL).
		tables := tableNames(t, env)
		if len(tables) < 5 {
			t.Fatalf("found only tables %v", tables)
		}
		for _, table := range tables {
			rows, err := env.DB.Query("SELECT * FROM " + table)
			if err != nil {
				t.Fatalf("scan %s: %v", table, err)
			}
			cols, _ := rows.Columns()
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				for i, v := range vals {
					scan(table+"."+cols[i], []byte(fmt.Sprint(v)))
					if bs, ok := v.([]byte); ok {
						scan(table+"."+cols[i], bs)
					}
				}
			}
			rows.Close()
		}
		if len(canaries) < 20 {
			t.Fatalf("only %d canaries planted", len(canaries))
		}
		for _, h := range hits {
			t.Error(h)
		}
	})
}

func tableNames(t *testing.T, env *testenv.Env) []string {
	t.Helper()
	q := "SELECT name FROM sqlite_master WHERE type='table'"
	if env.Dir == "" {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
	}
	rows, err := env.DB.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	return names
}

// A ciphertext decrypts only in its own place (RELIABILITY.md #2): contents
// and metadata swapped between documents, and between patients, directly in
// the database, are refused; nothing of the other document is served.
func TestSwappedCiphertextsRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{})
		c := newClient(t, env)
		ds := synth.Generate(synth.Options{Seed: 32, Patients: 2, DocsPerPatient: 3})
		for i, p := range ds.Patients {
			for j, d := range ds.Documents {
				if d.Patient == i {
					if r := c.provide(submissionOf(p.INS, fmt.Sprintf("1.2.250.1.999.32.%d.%d", i, j), d)); r.Status != 200 {
						t.Fatalf("%d %s", r.Status, r.Body)
					}
				}
			}
		}
		type row struct {
			patient, id, contentID string
			sealed, content        []byte
		}
		var docs []row
		rs, err := env.DB.Query("SELECT patient_key, id, content_id, sealed FROM documents")
		if err != nil {
			t.Fatal(err)
		}
		for rs.Next() {
			var r row
			if err := rs.Scan(&r.patient, &r.id, &r.contentID, &r.sealed); err != nil {
				t.Fatal(err)
			}
			docs = append(docs, r)
		}
		rs.Close()
		for i := range docs {
			if err := env.DB.QueryRow(rebind(env, "SELECT sealed FROM contents WHERE id = ?"), docs[i].contentID).Scan(&docs[i].content); err != nil {
				t.Fatal(err)
			}
		}
		if len(docs) != 6 {
			t.Fatalf("%d document rows, want 6", len(docs))
		}
		trials, refused := 0, 0
		for i := range docs {
			for j := range docs {
				if i == j {
					continue
				}
				a, o := docs[i], docs[j]
				// o's content sealed bytes placed where a's are.
				exec(t, env, "UPDATE contents SET sealed = ? WHERE id = ?", o.content, a.contentID)
				r := c.get("/Binary/" + a.contentID)
				trials++
				if r.Status == 500 {
					refused++
				}
				if bytes.Contains(r.Body, []byte("<ClinicalDocument")) {
					t.Errorf("swapped content of %s into %s: a document was served", o.id, a.id)
				}
				exec(t, env, "UPDATE contents SET sealed = ? WHERE id = ?", a.content, a.contentID)

				// o's sealed metadata placed in a's row.
				exec(t, env, "UPDATE documents SET sealed = ? WHERE id = ?", o.sealed, a.id)
				r = c.get("/DocumentReference/" + a.id)
				trials++
				if r.Status == 500 {
					refused++
				}
				exec(t, env, "UPDATE documents SET sealed = ? WHERE id = ?", a.sealed, a.id)
			}
		}
		if refused != trials {
			t.Errorf("%d of %d swapped ciphertexts refused, want all", refused, trials)
		}
		// Restored rows read again.
		if r := c.get("/Binary/" + docs[0].contentID); r.Status != 200 {
			t.Errorf("restored content: %d", r.Status)
		}
		// The answer to a refused read says nothing of the cause.
		exec(t, env, "UPDATE contents SET sealed = ? WHERE id = ?", docs[1].content, docs[0].contentID)
		r := c.get("/Binary/" + docs[0].contentID)
		for _, leak := range []string{"cipher", "authentication", "sqlite", "postgres", "key", "seal"} {
			if strings.Contains(strings.ToLower(string(r.Body)), leak) {
				t.Errorf("error response mentions %q: %s", leak, r.Body)
			}
		}
	})
}

func rebind(env *testenv.Env, q string) string {
	if env.Dir != "" {
		return q
	}
	return pgtest.Rebind(q)
}

func exec(t *testing.T, env *testenv.Env, q string, args ...any) {
	t.Helper()
	if _, err := env.DB.Exec(rebind(env, q), args...); err != nil {
		t.Fatal(err)
	}
}
