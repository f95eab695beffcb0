package main

import (
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/mhd"
	"github.com/carnet-sante/carnet/seal"
	"github.com/carnet-sante/carnet/synth"
)

// `carnet keys rotate` during a run of concurrent filings, against a
// running server that is never restarted: the server wraps new data keys
// under the new key-encryption key once it has re-read the stored keyring,
// every document filed before or after still opens (fsck), and no (data
// key, nonce) pair repeats anywhere in the database.
func TestKeysRotateDuringFilings(t *testing.T) {
	data := t.TempDir()
	idp := newIdP(t)
	s := startServe(t, append([]string{"--data", data, "--allow-test-ins", "--keyring-refresh", "200ms"}, idp.args(t)...)...)
	lgc := idp.filer(t)
	fs := filings(31, 48)

	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[int]bool{}
	for part := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, ok := range fileAll(s.URL, lgc, fs[part*24:(part+1)*24]) {
				mu.Lock()
				acked[part*24+i] = ok
				mu.Unlock()
				_ = ok
			}
		}()
		if part == 0 {
			time.Sleep(300 * time.Millisecond)
			out := mustCarnet(t, "keys", "rotate", "--data", data, "--data-keys")
			if !strings.Contains(out, "now the one wrapping new data keys") {
				t.Fatalf("rotate: %s", out)
			}
		}
	}
	wg.Wait()
	newTerm := strings.Fields(mustCarnet(t, "keys", "rotate", "--data", data))[2]
	time.Sleep(500 * time.Millisecond) // more than a keyring refresh
	// A filing for a new record now gets a data key under the newest term,
	// from the server that was never restarted.
	late := newRecordFiling(31)
	if code, b, err := post(s.URL, "/", lgc(late), "application/fhir+json", late.body); err != nil || code != 200 {
		t.Fatalf("late filing: %d %s %v", code, b, err)
	}
	s.stop()
	if len(acked) < 40 {
		t.Fatalf("only %d of 48 filings acknowledged", len(acked))
	}

	db, err := sql.Open("sqlite", filepath.Join(data, "carnet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var underNew int
	if err := db.QueryRow(`SELECT count(*) FROM data_keys WHERE kek_id = ? AND patient_key != ?`, newTerm, string(seal.KeyringRecord)).Scan(&underNew); err != nil {
		t.Fatal(err)
	}
	if underNew == 0 {
		t.Errorf("the running server never wrapped a data key under the rotated KEK %s", newTerm)
	}
	// Every ciphertext header: version, data key id (16), nonce (12).
	seen := map[string]string{}
	dups, total := 0, 0
	for _, q := range []string{
		"SELECT sealed FROM patients", "SELECT sealed FROM documents", "SELECT sealed FROM contents",
		"SELECT sealed FROM submission_sets", "SELECT sealed FROM notifications", "SELECT sealed FROM items",
		"SELECT sealed FROM audit_events WHERE sealed IS NOT NULL",
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
			var b []byte
			rows.Scan(&b)
			if len(b) < 29 {
				continue
			}
			k := string(b[1:29])
			if _, dup := seen[k]; dup {
				dups++
			}
			seen[k] = q
			total++
		}
		rows.Close()
	}
	if dups > 0 || total < 100 {
		t.Errorf("%d ciphertexts, %d repeated (data key, nonce) pairs", total, dups)
	}
	out := mustCarnet(t, "fsck", "--data", data)
	if !strings.Contains(out, "\nok") {
		t.Fatalf("fsck after rotations:\n%s", out)
	}
	t.Logf("%d ciphertexts, 0 repeated (data key, nonce); %d data keys under the newest KEK; %s", total, underNew, strings.Split(out, "\n")[0])
}

// newRecordFiling is a filing for a patient filings(seed, …) never names.
func newRecordFiling(seed uint64) filing {
	ds := synth.Generate(synth.Options{Seed: seed, Patients: 9, DocsPerPatient: 1})
	for _, d := range ds.Documents {
		if d.Patient == 8 {
			s := carnet.Submission{Patient: ds.Patients[8].INS, Set: carnet.SubmissionSet{UniqueID: d.UniqueID + ".set", SourceID: "1.2.250.1.999.2", ContentType: d.Meta.Type},
				Documents: []carnet.SubmittedDocument{{UniqueID: d.UniqueID, Meta: d.Meta, Content: d.Content}}}
			body, _ := json.Marshal(mhd.ProvideBundle(s))
			return filing{ds.Patients[8].INS, d.UniqueID, d.Meta.Authors[0], body}
		}
	}
	panic("no document for patient 8")
}

// SIGTERM while a filing is being received: the server finishes it,
// answers 200, exits cleanly, and the filing is there after a restart.
func TestSIGTERMFinishesTheFilingInFlight(t *testing.T) {
	data := t.TempDir()
	idp := newIdP(t)
	args := append([]string{"--data", data, "--allow-test-ins"}, idp.args(t)...)
	c := startChild(t, args...)
	f := filings(5, 1)[0]
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", c.url+"/", pr)
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Authorization", "Bearer "+idp.softwareToken(t, f.author))
	req.ContentLength = int64(len(f.body))
	type answer struct {
		code int
		body []byte
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- answer{err: err}
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		done <- answer{code: res.StatusCode, body: b}
	}()
	half := len(f.body) / 2
	pw.Write(f.body[:half])
	time.Sleep(200 * time.Millisecond) // the server is reading the body
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the signal is handled while the body is still coming
	pw.Write(f.body[half:])
	pw.Close()
	a := <-done
	if a.err != nil || a.code != 200 {
		t.Fatalf("the filing in flight at SIGTERM: %d %s %v", a.code, a.body, a.err)
	}
	exited := make(chan error, 1)
	go func() { exited <- c.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("the server did not exit cleanly after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		t.Fatal("the server did not exit after SIGTERM")
	}
	// New connections are refused once it stopped; the filing is durable.
	s := startServe(t, args...)
	if !idp.found(t, s.URL, f) {
		t.Fatal("the filing acknowledged during shutdown is not there after a restart")
	}
}
