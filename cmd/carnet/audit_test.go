package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/synth"
	_ "modernc.org/sqlite"
)

// runCmd runs a carnet command as a user would and returns what it printed.
func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out strings.Builder
	err := run(context.Background(), args, &out, io.Discard)
	return out.String(), err
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(to, 0o700)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// The patient's client checks their history against the signed log, run
// after run; fsck re-verifies everything at rest and names what was
// tampered with; a database rolled back under the client is caught.
func TestAuditVerifyAndFsck(t *testing.T) {
	data := t.TempDir()
	state := filepath.Join(t.TempDir(), "state.json")
	s := startServe(t, "--demo", "--data", data)
	patient := demoToken(t, s, "patient0")
	gp := demoToken(t, s, "gp")
	get(t, demoSearch(s.URL), gp)
	out, err := runCmd(t, "audit", "verify", "--url", s.URL, "--token", patient, "--state", state)
	if err != nil || !strings.Contains(out, "ok: ") || !strings.Contains(out, "on first use") {
		t.Fatalf("first verify: %v\n%s", err, out)
	}
	get(t, demoSearch(s.URL), gp)
	out, err = runCmd(t, "audit", "verify", "--url", s.URL, "--token", patient, "--state", state)
	if err != nil || !strings.Contains(out, "extends") {
		t.Fatalf("second verify: %v\n%s", err, out)
	}
	s.stop()

	backup := filepath.Join(t.TempDir(), "backup")
	copyDir(t, data, backup)
	out, err = runCmd(t, "fsck", "--data", data)
	if err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("fsck of an intact deployment: %v\n%s", err, out)
	}

	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "carnet.db"))
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string) {
		t.Helper()
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// A metadata ciphertext altered: named.
	var docID string
	if err := db.QueryRow("SELECT id FROM documents ORDER BY id LIMIT 1").Scan(&docID); err != nil {
		t.Fatal(err)
	}
	exec("UPDATE documents SET sealed = (SELECT sealed FROM documents WHERE id != '" + docID + "' ORDER BY id LIMIT 1) WHERE id = '" + docID + "'")
	out, err = runCmd(t, "fsck", "--data", data)
	if err == nil || !strings.Contains(out, "FIRST BAD ENTRY") || !strings.Contains(out, docID) {
		t.Errorf("fsck after swapping a document's metadata: %v\n%s", err, out)
	}
	// An audit event's time rewritten: named by its index.
	exec("UPDATE audit_events SET time = time + 1000000 WHERE seq = 3")
	out, _ = runCmd(t, "fsck", "--data", data)
	if !strings.Contains(out, "audit log: FIRST BAD ENTRY: index 3") {
		t.Errorf("fsck after rewriting event 3's time:\n%s", out)
	}
	db.Close()

	// Roll the whole deployment back to the backup, then access it again:
	// the client that remembers a longer log refuses the shorter one.
	os.RemoveAll(data)
	copyDir(t, backup, data)
	restored := startServe(t, "--demo", "--data", data)
	patient = demoToken(t, restored, "patient0")
	out, err = runCmd(t, "audit", "verify", "--url", restored.URL, "--token", patient, "--state", state)
	if err != nil {
		t.Fatalf("verify after restoring the same log: %v\n%s", err, out)
	}
	// A log rolled back to fewer entries than the client saw: the server
	// refuses to sign it while the tree's nodes remember more entries; once
	// those are rolled back too, the client refuses the shorter log.
	restored.stop()
	db, _ = sql.Open("sqlite", "file:"+filepath.Join(data, "carnet.db"))
	if _, err := db.Exec("DELETE FROM audit_events WHERE seq >= 2; DELETE FROM audit_checkpoints WHERE size > 2"); err != nil {
		t.Fatal(err)
	}
	again := startServe(t, "--demo", "--data", data)
	out, err = runCmd(t, "audit", "verify", "--url", again.URL, "--token", demoToken(t, again, "patient0"), "--state", state)
	if err == nil || strings.Contains(out, "ok:") {
		t.Errorf("verify against a rolled-back log: %v\n%s", err, out)
	}
	again.stop()
	if _, err := db.Exec("DELETE FROM audit_nodes; UPDATE audit_tree SET cover = 0; DELETE FROM audit_events WHERE seq >= 2; DELETE FROM audit_checkpoints WHERE size > 2"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	again = startServe(t, "--demo", "--data", data)
	out, err = runCmd(t, "audit", "verify", "--url", again.URL, "--token", demoToken(t, again, "patient0"), "--state", state)
	if err == nil || !(strings.Contains(err.Error(), "FORK") || strings.Contains(err.Error(), "ROLLBACK")) {
		t.Errorf("verify against a rolled-back log and tree: %v\n%s", err, out)
	}
}

// The patient's check refuses what it cannot check, and what does not
// check out (trust review, item 17 and the guard no test held): a token
// that may not read the history, an event the log does not hold.
func TestAuditVerifyFailsClosed(t *testing.T) {
	data := t.TempDir()
	s := startServe(t, "--demo", "--data", data)
	gp := demoToken(t, s, "gp")
	get(t, demoSearch(s.URL), gp)
	patient := demoToken(t, s, "patient0")

	// The GP may not read the patient's history: it is shown empty, and
	// the check must not read as success.
	p := synth.Generate(demoOptions).Patients[0]
	out, err := runCmd(t, "audit", "verify", "--url", s.URL, "--token", gp, "--patient", p.INS.System+"|"+p.INS.Value,
		"--state", filepath.Join(t.TempDir(), "state.json"))
	if err == nil || strings.Contains(out, "ok:") {
		t.Errorf("verify with a token that may not read the history: %v\n%s", err, out)
	}

	// A server (here a proxy in front of the real one) that shows an event
	// the log does not hold: one digest changed.
	upstream, _ := url.Parse(s.URL)
	proxy := httputil.NewSingleHostReverseProxy(upstream)
	proxy.ModifyResponse = func(res *http.Response) error {
		if res.Request.URL.Path != "/AuditEvent" {
			return nil
		}
		b, err := io.ReadAll(res.Body)
		if err != nil {
			return err
		}
		res.Body.Close()
		forged := forgeFirstDigest(t, b)
		res.Body = io.NopCloser(bytes.NewReader(forged))
		res.ContentLength = int64(len(forged))
		res.Header.Set("Content-Length", strconv.Itoa(len(forged)))
		return nil
	}
	ps := httptest.NewServer(proxy)
	defer ps.Close()
	out, err = runCmd(t, "audit", "verify", "--url", ps.URL, "--token", patient, "--state", filepath.Join(t.TempDir(), "state.json"))
	if err == nil || !strings.Contains(err.Error(), "NOT IN THE LOG") {
		t.Errorf("verify of a history with a forged event: %v\n%s", err, out)
	}
	// The same history, unaltered, checks out.
	out, err = runCmd(t, "audit", "verify", "--url", s.URL, "--token", patient, "--state", filepath.Join(t.TempDir(), "state.json"))
	if err != nil || !strings.Contains(out, "ok: ") {
		t.Errorf("verify of the real history: %v\n%s", err, out)
	}
}

// forgeFirstDigest changes one byte of the log digest of the first event of
// an AuditEvent searchset.
func forgeFirstDigest(t *testing.T, body []byte) []byte {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatal(err)
	}
	entries, _ := b["entry"].([]any)
	if len(entries) == 0 {
		t.Fatal("no event to forge")
	}
	ev := entries[0].(map[string]any)["resource"].(map[string]any)
	for _, x := range ev["extension"].([]any) {
		for _, y := range x.(map[string]any)["extension"].([]any) {
			y := y.(map[string]any)
			if y["url"] == "digest" {
				d, err := hex.DecodeString(y["valueString"].(string))
				if err != nil {
					t.Fatal(err)
				}
				d[0] ^= 1
				y["valueString"] = hex.EncodeToString(d)
				out, _ := json.Marshal(b)
				return out
			}
		}
	}
	t.Fatalf("no digest in the first event: %s", body)
	return nil
}
