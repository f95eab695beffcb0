package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auditlog"
	"github.com/carnet-sante/carnet/auth"
	"github.com/carnet-sante/carnet/mhd"
	"github.com/carnet-sante/carnet/pcf"
	"github.com/carnet-sante/carnet/synth"
)

// carnetCmd runs a carnet command in this process, as an operator would.
func carnetCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out strings.Builder
	err := run(context.Background(), args, &out, io.Discard)
	return out.String(), err
}

func mustCarnet(t *testing.T, args ...string) string {
	t.Helper()
	out, err := carnetCmd(t, args...)
	if err != nil {
		t.Fatalf("carnet %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// filing is one ITI-65 submission of one document, and who may read it back.
type filing struct {
	ins    carnet.Identifier
	uid    string
	author carnet.Author
	body   []byte
}

func filings(seed uint64, n int) []filing { return filingsFor(seed, n, false) }

// filingsFor makes filings; with production set, the patients carry a
// production INS-NIR (as a server without test mode accepts) instead of
// the synthetic test ones.
func filingsFor(seed uint64, n int, production bool) []filing {
	ds := synth.Generate(synth.Options{Seed: seed, Patients: 8, DocsPerPatient: (n + 7) / 8})
	var out []filing
	for _, d := range ds.Documents {
		if len(out) == n {
			break
		}
		ins := ds.Patients[d.Patient].INS
		if production {
			ins.System = "urn:oid:" + carnet.OIDInsNIR
		}
		s := carnet.Submission{Patient: ins, Set: carnet.SubmissionSet{UniqueID: d.UniqueID + ".set", SourceID: "1.2.250.1.999.2", ContentType: d.Meta.Type},
			Documents: []carnet.SubmittedDocument{{UniqueID: d.UniqueID, Meta: d.Meta, Content: d.Content}}}
		body, _ := json.Marshal(mhd.ProvideBundle(s))
		out = append(out, filing{ins, d.UniqueID, d.Meta.Authors[0], body})
	}
	return out
}

func post(base, path, token, ctype string, body []byte) (int, []byte, error) {
	req, _ := http.NewRequest("POST", base+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b, nil
}

// fileAll files fs concurrently, each with token(f), and returns the
// indexes acknowledged (200).
func fileAll(base string, token func(filing) string, fs []filing) map[int]bool {
	var mu sync.Mutex
	acked := map[int]bool{}
	var wg sync.WaitGroup
	next := make(chan int)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				// As producing software does: a 503 or 429 is "try again"
				// (an ITI-65 retry is idempotent), a few times.
				code, body, err := post(base, "/", token(fs[i]), "application/fhir+json", fs[i].body)
				for try := 1; try < 4 && err == nil && (code == 503 || code == 429); try++ {
					time.Sleep(time.Duration(try) * 200 * time.Millisecond)
					code, body, err = post(base, "/", token(fs[i]), "application/fhir+json", fs[i].body)
				}
				if err == nil && code == 200 {
					mu.Lock()
					acked[i] = true
					mu.Unlock()
				} else if os.Getenv("CARNET_DEBUG_FILINGS") != "" {
					fmt.Fprintf(os.Stderr, "filing %d: %d %v %s\n", i, code, err, body)
				}
			}
		}()
	}
	for i := range fs {
		next <- i
	}
	close(next)
	wg.Wait()
	return acked
}

func (i *idp) patientToken(t *testing.T, ins carnet.Identifier) string {
	t.Helper()
	tok, err := i.issuer.Issue(carnet.ActorPatient, map[string]any{auth.ClaimINS: ins.Value, auth.ClaimINSSystem: ins.System, auth.ClaimScope: "patient/*.cruds"}, idpAudience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// found says whether the filing's document is in its record, for its author.
func (i *idp) found(t *testing.T, base string, f filing) bool {
	t.Helper()
	q := url.Values{"patient.identifier": {f.ins.System + "|" + f.ins.Value}, "identifier": {f.uid}}
	code, b := get(t, base+"/DocumentReference?"+q.Encode(), i.proToken(t, f.author))
	return code == 200 && b["total"].(float64) == 1
}

// fetchCheckpoint returns the served checkpoint note, as a patient's
// client remembers it.
func fetchCheckpoint(t *testing.T, base string) []byte {
	t.Helper()
	res, err := http.Get(base + "/log/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("/log/checkpoint: %d", res.StatusCode)
	}
	return b
}

// extends checks with a Witness (what `carnet audit verify` keeps) that the
// log served at base extends the remembered checkpoint; proofs are asked
// with token, as a patient's client does.
func extends(t *testing.T, base, token string, v auditlogVerifier, remembered []byte) error {
	t.Helper()
	old, err := auditlog.OpenCheckpoint(remembered, v.Name(), v)
	if err != nil {
		t.Fatal(err)
	}
	w := auditlog.NewWitness(v.Name(), v, &old)
	note := fetchCheckpoint(t, base)
	cur, err := auditlog.OpenCheckpoint(note, v.Name(), v)
	if err != nil {
		t.Fatal(err)
	}
	var proof [][]byte
	if old.Size <= cur.Size {
		code, p := get(t, fmt.Sprintf("%s/log/proof/consistency?from=%d&to=%d", base, old.Size, cur.Size), token)
		if code != 200 {
			t.Fatalf("consistency proof: %d %v", code, p)
		}
		for _, h := range p["hashes"].([]any) {
			b, _ := base64.StdEncoding.DecodeString(h.(string))
			proof = append(proof, b)
		}
	}
	_, err = w.Update(note, proof)
	return err
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// replicationLag reads carnet_replication_lag_seconds from /metrics.
func replicationLag(addr string) (time.Duration, error) {
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "carnet_replication_lag_seconds "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return time.Duration(f * float64(time.Second)), err
		}
	}
	return 0, fmt.Errorf("no replication lag in the metrics")
}

type auditlogVerifier = interface {
	Name() string
	KeyHash() uint32
	Verify(msg, sig []byte) bool
}

// The restore drill of docs/OPERATIONS.md, in the suite: file documents
// and consents, back up, keep filing, lose the data directory (kill -9,
// then rm -rf), restore the keys from 3 of 5 shares, restore from the
// backup and the replica: every filing acknowledged before the replica's
// position is back, fsck is clean, the restored log extends the backup's
// checkpoint and what a patient's client saw; a tampered backup is refused
// naming the file.
func TestRestoreDrill(t *testing.T) {
	root := t.TempDir()
	data, backups, replica := filepath.Join(root, "data"), filepath.Join(root, "backups"), filepath.Join(root, "replica")
	idp := newIdP(t)
	metricsAddr := freeAddr(t)
	args := append([]string{"--data", data, "--allow-test-ins", "--replica", replica, "--replica-interval", "50ms", "--metrics-addr", metricsAddr}, idp.args(t)...)
	c := startChild(t, args...)
	lgc := idp.filer(t) // the software of each document's author's organisation
	fs := filings(12, 40)

	acked := fileAll(c.url, lgc, fs[:20])
	// Consents: each patient designates the author of their first document.
	consents := 0
	for _, f := range fs[:8] {
		body, _ := json.Marshal(pcf.Resource(carnet.Consent{Kind: carnet.ConsentDesignate, Permit: true, Professional: f.author.ID}, f.ins))
		var m map[string]any
		json.Unmarshal(body, &m)
		delete(m, "id")
		body, _ = json.Marshal(m)
		if code, b, err := post(c.url, "/Consent", idp.patientToken(t, f.ins), "application/fhir+json", body); err != nil || code != 201 {
			t.Fatalf("POST /Consent: %d %s %v", code, b, err)
		}
		consents++
	}
	seenByPatient := fetchCheckpoint(t, c.url) // a patient's client remembers it

	mustCarnet(t, "keys", "export", "--data", data, "--threshold", "3", "--shares", "5", "--out", filepath.Join(root, "shares"))
	out := mustCarnet(t, "backup", "--data", data, "--backups", backups)
	if !strings.Contains(out, "backup complete") {
		t.Fatalf("backup: %s", out)
	}
	bdir, err := filepath.Glob(filepath.Join(backups, "carnet-*"))
	if err != nil || len(bdir) != 1 {
		t.Fatalf("backups: %v %v", bdir, err)
	}

	// Keep filing after the backup; wait until the replica holds all of it.
	for i, ok := range fileAll(c.url, lgc, fs[20:]) {
		acked[20+i] = ok
	}
	lastAck := time.Now()
	seenLater := fetchCheckpoint(t, c.url)
	// The server says, on its metrics listener, when the last ship that
	// left nothing committed behind began: once after lastAck, the replica
	// holds every acknowledged filing.
	deadline := time.Now().Add(30 * time.Second)
	for {
		lag, err := replicationLag(metricsAddr)
		if err == nil && time.Now().Add(-lag).After(lastAck) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica did not catch up: lag %v, %v", lag, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(acked) < 35 {
		t.Fatalf("only %d of 40 filings acknowledged", len(acked))
	}

	// The disaster: the server dies and its data directory is gone.
	c.kill()
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}

	// A tampered backup is refused, naming the file.
	tampered := filepath.Join(root, "tampered")
	os.MkdirAll(tampered, 0o700)
	for _, name := range []string{"carnet.db", "MANIFEST", "audit-log.pub"} {
		b, _ := os.ReadFile(filepath.Join(bdir[0], name))
		if name == "carnet.db" {
			b[len(b)/2] ^= 1
		}
		os.WriteFile(filepath.Join(tampered, name), b, 0o600)
	}

	// Keys from 3 custodians, then the restore.
	shares, _ := filepath.Glob(filepath.Join(root, "shares", "*.txt"))
	restored := filepath.Join(root, "restored")
	mustCarnet(t, append([]string{"keys", "import", "--out", restored}, shares[1:4]...)...)
	if out, err := carnetCmd(t, "restore", "--backup", tampered, "--data", restored); err == nil || !strings.Contains(err.Error(), "backup file carnet.db") {
		t.Fatalf("a tampered backup: %v\n%s, want a refusal naming carnet.db", err, out)
	}
	out = mustCarnet(t, "restore", "--backup", bdir[0], "--replica", replica, "--data", restored)
	if !strings.Contains(out, "replica generation") {
		t.Fatalf("the replica was not used: %s", out)
	}
	t.Logf("restore:\n%s", out)
	if out := mustCarnet(t, "fsck", "--data", restored); !strings.Contains(out, "\nok") {
		t.Fatalf("fsck after restore:\n%s", out)
	}

	s := startServe(t, append([]string{"--data", restored, "--allow-test-ins"}, idp.args(t)...)...)
	missing := 0
	for i := range fs {
		if acked[i] && !idp.found(t, s.URL, fs[i]) {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged filings missing after the restore", missing, len(acked))
	}
	for _, f := range fs[:consents] {
		code, b := get(t, s.URL+"/Consent", idp.patientToken(t, f.ins))
		if code != 200 || !strings.Contains(fmt.Sprint(b), string(carnet.ConsentDesignate)) {
			t.Errorf("a patient's consent is missing after the restore: %d", code)
			break
		}
	}
	pub, _ := os.ReadFile(filepath.Join(restored, auditlog.VerifierKeyFile))
	v, err := auditlog.NewVerifier(string(pub))
	if err != nil {
		t.Fatal(err)
	}
	for name, cp := range map[string][]byte{"before the backup": seenByPatient, "after the backup": seenLater} {
		if err := extends(t, s.URL, idp.patientToken(t, fs[0].ins), v, cp); err != nil {
			t.Errorf("the restored log does not extend the checkpoint a client saw %s: %v", name, err)
		}
	}
}
