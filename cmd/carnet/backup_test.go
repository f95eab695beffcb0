package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auditlog"
	"github.com/carnet-sante/carnet/backup"
	"github.com/carnet-sante/carnet/seal"
	"github.com/carnet-sante/carnet/sqlite"
)

// bigDeployment makes a data directory whose database takes a while to
// copy (tens of MB of ciphertext-like content) and its log keys.
func bigDeployment(t *testing.T, mb int) string {
	t.Helper()
	data := t.TempDir()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(data, "carnet.db"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 256<<10)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < mb*4; i++ {
		for j := range chunk {
			chunk[j] = byte(r.Uint32())
		}
		if err := s.Update(ctx, func(tx carnet.Tx) error {
			return tx.PutContent(ctx, "p", "c"+string(rune('a'+i%26))+strings.Repeat("x", i/26), chunk)
		}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := seal.LoadOrCreateKeyFile(filepath.Join(data, seal.KeyFileName), true); err != nil {
		t.Fatal(err)
	}
	sk, vk, _ := auditlog.GenerateKey("carnet.test/audit")
	if err := auditlog.WriteKeyFile(filepath.Join(data, auditlog.SigningKeyFile), sk); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(data, auditlog.VerifierKeyFile), []byte(vk+"\n"), 0o644)
	s.Close()
	return data
}

// kill -9 during a backup leaves nothing that claims to be complete: a
// real `carnet backup` process is killed at random moments; every backup
// directory left either has no MANIFEST (and restore refuses it) or
// verifies whole.
func TestKill9DuringBackupLeavesNothingComplete(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	data := bigDeployment(t, 24)
	backups := t.TempDir()
	r := rand.New(rand.NewPCG(9, 9))
	argv, _ := json.Marshal([]string{"backup", "--data", data, "--backups", backups})
	var full time.Duration
	for round := range 7 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "CARNET_TEST_CHILD_ARGS="+string(argv))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if round == 0 {
			// One backup runs to its end: how long a whole one takes.
			if err := cmd.Wait(); err != nil {
				t.Fatalf("backup: %v\n%s", err, out.String())
			}
			full = time.Since(t0)
			t.Logf("a whole backup of a %d MB store: %v", 24, full)
			continue
		}
		time.Sleep(time.Duration(r.Int64N(int64(full))))
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	vb, _ := os.ReadFile(filepath.Join(data, auditlog.VerifierKeyFile))
	v, err := auditlog.NewVerifier(string(vb))
	if err != nil {
		t.Fatal(err)
	}
	dirs, _ := filepath.Glob(filepath.Join(backups, "carnet-*"))
	complete, incomplete := 0, 0
	for _, d := range dirs {
		_, err := backup.Verify(d, v)
		switch {
		case err == nil:
			complete++
		case errors.Is(err, backup.ErrIncomplete):
			incomplete++
			target := t.TempDir()
			os.WriteFile(filepath.Join(target, auditlog.VerifierKeyFile), vb, 0o644)
			if _, err := carnetCmd(t, "restore", "--backup", d, "--data", target); err == nil || !strings.Contains(err.Error(), "incomplete backup") {
				t.Errorf("restore of the interrupted backup %s: %v, want a refusal", filepath.Base(d), err)
			}
		default:
			t.Errorf("backup %s claims to be complete and is not: %v", filepath.Base(d), err)
		}
	}
	t.Logf("%d backup directories: %d complete and verified, %d interrupted (no MANIFEST)", len(dirs), complete, incomplete)
	if complete < 1 || incomplete < 1 {
		t.Errorf("want both outcomes among the kills (complete %d, interrupted %d): the test proves nothing otherwise", complete, incomplete)
	}
}

// k−1 key shares are refused, k restore the key files byte for byte.
func TestKeySharesRestoreWithKRefuseWithKMinus1(t *testing.T) {
	data := bigDeployment(t, 0)
	out := t.TempDir()
	mustCarnet(t, "keys", "export", "--data", data, "--threshold", "3", "--shares", "5", "--out", out)
	shares, _ := filepath.Glob(filepath.Join(out, "carnet-share-*-of-5.txt"))
	if len(shares) != 5 {
		t.Fatalf("%d share files", len(shares))
	}
	for _, s := range shares {
		if fi, _ := os.Stat(s); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", s, fi.Mode().Perm())
		}
	}
	two := t.TempDir()
	if msg, err := carnetCmd(t, "keys", "import", "--out", two, shares[0], shares[3]); err == nil {
		t.Fatalf("2 of 3 shares restored the keys: %s", msg)
	}
	if ents, _ := os.ReadDir(two); len(ents) != 0 {
		t.Errorf("a refused import wrote %d files", len(ents))
	}
	three := t.TempDir()
	mustCarnet(t, "keys", "import", "--out", three, shares[4], shares[0], shares[2])
	for _, name := range []string{seal.KeyFileName, auditlog.SigningKeyFile, auditlog.VerifierKeyFile} {
		want, _ := os.ReadFile(filepath.Join(data, name))
		got, err := os.ReadFile(filepath.Join(three, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s not restored identically: %v", name, err)
		}
		if fi, err := os.Stat(filepath.Join(three, name)); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s restored with mode %v", name, fi.Mode().Perm())
		}
	}
}

// A key file others may read is refused at start, as the audit log's key
// is: the server does not start, and says which file and what to do.
func TestServeRefusesKeyFilesReadableByOthers(t *testing.T) {
	for _, name := range []string{seal.KeyFileName, auditlog.SigningKeyFile} {
		t.Run(name, func(t *testing.T) {
			data := bigDeployment(t, 0)
			p := filepath.Join(data, name)
			os.Chmod(p, 0o644)
			idp := newIdP(t)
			err := run(context.Background(), append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data}, idp.args(t)...), &bytes.Buffer{}, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "chmod 600") {
				t.Fatalf("serve with %s mode 0644: %v, want a refusal naming it", name, err)
			}
		})
	}
}
