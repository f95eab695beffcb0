package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auditlog"
	"github.com/carnet-sante/carnet/internal/ci"
	"github.com/carnet-sante/carnet/postgres/pgtest"
	"github.com/carnet-sante/carnet/seal"
)

// Several nodes on one PostgreSQL (issue 15, docs/POSTGRES.md "Running
// several nodes"): three `carnet serve` on one database, sharing only the
// key-encryption key. Every filing acknowledged by any node is found
// through every node; the log is one (one key, checkpoints that never go
// back whichever node answers, one client's check across the nodes); fsck
// is clean; lost record-creation races leave no data key behind; a node
// holding another log key refuses to start.
func TestThreeNodesOneDatabase(t *testing.T) {
	dsn := pgtest.DSN(t)
	kek := make([]byte, 32)
	rand.Read(kek)
	t.Setenv("CARNET_KEK", base64.StdEncoding.EncodeToString(kek))
	idp := newIdP(t)

	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	var nodes []*server
	for _, dir := range dirs {
		nodes = append(nodes, startServe(t, append([]string{"--postgres", dsn, "--data", dir, "--allow-test-ins"}, idp.args(t)...)...))
	}
	// Only the first node made the log's key; the others sign with the
	// one the database records.
	for i, dir := range dirs {
		_, err := os.Stat(filepath.Join(dir, auditlog.SigningKeyFile))
		if (i == 0) != (err == nil) {
			t.Errorf("node %d: audit log key file present %v", i, err == nil)
		}
	}

	n := 90
	if ci.Race {
		n = 45
	}
	fs := filings(15, n)
	// Round robin over the nodes, concurrently: new records are created
	// on several nodes at once.
	var mu sync.Mutex
	acked := map[int]bool{}
	var wg sync.WaitGroup
	for k, node := range nodes {
		var mine []filing
		var index []int
		for i := k; i < len(fs); i += len(nodes) {
			mine, index = append(mine, fs[i]), append(index, i)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := fileAll(node.URL, idp.filer(t), mine)
			mu.Lock()
			defer mu.Unlock()
			for j := range got {
				acked[index[j]] = true
			}
		}()
	}
	wg.Wait()
	if len(acked) != len(fs) {
		t.Fatalf("%d of %d filings acknowledged", len(acked), len(fs))
	}
	for k, node := range nodes {
		missing := 0
		for i := range fs {
			if !idp.found(t, node.URL, fs[i]) {
				missing++
			}
		}
		if missing > 0 {
			t.Errorf("node %d: %d of %d acknowledged filings not found", k, missing, len(fs))
		}
	}

	// One log: one key, and checkpoints that never go back whichever node
	// answers (a monitor behind a load balancer).
	var keys []string
	for _, node := range nodes {
		_, b := getText(t, node.URL+"/log/key")
		keys = append(keys, strings.TrimSpace(b))
	}
	if keys[0] == "" || keys[1] != keys[0] || keys[2] != keys[0] {
		t.Errorf("the nodes serve different log keys: %q", keys)
	}
	var seen uint64
	for round := range 4 {
		for k, node := range nodes {
			code, note := getText(t, node.URL+"/log/checkpoint")
			if code != 200 {
				t.Fatalf("node %d: /log/checkpoint %d %s", k, code, note)
			}
			size := checkpointSize(t, note)
			if size < seen {
				t.Errorf("round %d, node %d: checkpoint of %d entries after one of %d was served", round, k, size, seen)
			}
			seen = max(seen, size)
		}
		// More events (reads are audited too), through one node only.
		idp.found(t, nodes[round%3].URL, fs[round])
	}
	// A patient's check, one state across the nodes: one history.
	state := filepath.Join(t.TempDir(), "state.json")
	tok := idp.patientToken(t, fs[0].ins)
	for k, node := range nodes {
		if out, err := runCmd(t, "audit", "verify", "--url", node.URL, "--token", tok, "--state", state); err != nil {
			t.Errorf("node %d: audit verify: %v\n%s", k, err, out)
		}
	}

	// No data key of a record creation that lost a race.
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var orphans int
	if err := conn.QueryRow(context.Background(), `SELECT count(DISTINCT patient_key) FROM data_keys k
		WHERE NOT EXISTS (SELECT 1 FROM patients p WHERE p.patient_key = k.patient_key) AND k.patient_key NOT LIKE 'carnet-%'`).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	if orphans != 0 {
		t.Errorf("%d record keys hold data keys but no record", orphans)
	}

	// A node with a log key of its own must not start.
	skey, vkey, err := auditlog.GenerateKey("intrus.example/carnet-audit")
	if err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if err := auditlog.WriteKeyFile(filepath.Join(other, auditlog.SigningKeyFile), skey); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, auditlog.VerifierKeyFile), []byte(vkey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), append([]string{"serve", "--addr", "127.0.0.1:0", "--postgres", dsn, "--data", other, "--allow-test-ins"}, idp.args(t)...), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not the one the deployment's log is signed with") {
		t.Errorf("a node with another log key: %v, want a refusal to start", err)
	}

	for _, node := range nodes {
		node.stop()
	}
	if out, err := runCmd(t, "fsck", "--postgres", dsn, "--data", dirs[0]); err != nil || !strings.Contains(out, "\nok") {
		t.Errorf("fsck after three nodes: %v\n%s", err, out)
	}
}

// getText GETs u and returns the status and body as text.
func getText(t *testing.T, u string) (int, string) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// checkpointSize reads the tree size of a signed checkpoint note (its
// second line).
func checkpointSize(t *testing.T, note string) uint64 {
	t.Helper()
	lines := strings.SplitN(note, "\n", 3)
	if len(lines) < 3 {
		t.Fatalf("not a checkpoint: %q", note)
	}
	n, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		t.Fatalf("checkpoint size %q: %v", lines[1], err)
	}
	return n
}

// Key rotation and crypto-shredding reach every node through the database,
// without restart (docs/POSTGRES.md, "Running several nodes"): node B has
// a record's data key cached; after `carnet keys rotate --data-keys` (a
// third process) B seals what it is next given under the new data key,
// and after the record's keys are shredded (through another process) B no
// longer finds nor opens the record's documents.
func TestKeyChangesReachEveryNode(t *testing.T) {
	dsn := pgtest.DSN(t)
	kek := make([]byte, 32)
	rand.Read(kek)
	t.Setenv("CARNET_KEK", base64.StdEncoding.EncodeToString(kek))
	idp := newIdP(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	a := startServe(t, append([]string{"--postgres", dsn, "--data", dirA, "--allow-test-ins", "--key-changes-poll", "100ms"}, idp.args(t)...)...)
	b := startServe(t, append([]string{"--postgres", dsn, "--data", dirB, "--allow-test-ins", "--key-changes-poll", "100ms"}, idp.args(t)...)...)

	var same []filing // three filings into one record
	for _, f := range filings(31, 40) {
		if len(same) == 0 || f.ins == same[0].ins {
			same = append(same, f)
		}
	}
	if len(same) < 3 {
		t.Fatalf("%d filings for one record", len(same))
	}
	if got := fileAll(a.URL, idp.filer(t), same[:1]); !got[0] {
		t.Fatal("first filing refused")
	}
	if !idp.found(t, b.URL, same[0]) { // B caches the record's data key
		t.Fatal("node B does not find the filing of node A")
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var patient string
	if err := conn.QueryRow(ctx, `SELECT patient_key FROM patients LIMIT 1`).Scan(&patient); err != nil {
		t.Fatal(err)
	}

	mustCarnet(t, "keys", "rotate", "--postgres", dsn, "--data", dirA, "--data-keys")
	var newest string
	if err := conn.QueryRow(ctx, `SELECT id FROM data_keys WHERE patient_key = $1 ORDER BY created DESC, id DESC LIMIT 1`, patient).Scan(&newest); err != nil {
		t.Fatal(err)
	}
	underNewest := func() (n int) {
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM contents WHERE patient_key = $1 AND substring(sealed from 2 for 16) = decode($2, 'hex')`,
			patient, newest).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := underNewest(); n != 0 {
		t.Fatalf("%d contents under a data key made after them", n)
	}
	time.Sleep(time.Second) // ten polls of B
	if got := fileAll(b.URL, idp.filer(t), same[1:2]); !got[0] {
		t.Fatal("second filing refused")
	}
	if n := underNewest(); n != 1 {
		t.Errorf("node B sealed the filing after the rotation under an older data key (%d contents under the new one)", n)
	}

	// Shredding, through another process (an operator's tool on the same
	// database): node B no longer finds the documents.
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	c := serverConfig{Data: dirA, Postgres: dsn}
	store, _, err := openStore(ctx, c, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	sealer, err := openSealer(ctx, c, store, false, logger)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := sealer.(*seal.Sealer).Shred(ctx, carnet.PatientKey(patient)); err != nil || n != 2 {
		t.Fatalf("Shred: %d keys, %v; want 2", n, err)
	}
	gone := false
	for range 50 {
		if gone = !idp.found(t, b.URL, same[0]) && !idp.found(t, b.URL, same[1]); gone {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !gone {
		t.Error("node B still finds the documents of a shredded record")
	}
	req, _ := http.NewRequest("GET", b.URL+"/Binary/"+contentIDOf(t, conn, patient), nil)
	req.Header.Set("Authorization", "Bearer "+idp.proToken(t, same[0].author))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == 200 {
		t.Error("node B serves the content of a shredded record")
	}
}

func contentIDOf(t *testing.T, conn *pgx.Conn, patient string) string {
	t.Helper()
	var id string
	if err := conn.QueryRow(context.Background(), `SELECT id FROM contents WHERE patient_key = $1 LIMIT 1`, patient).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}
