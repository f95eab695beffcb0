package backup

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/auditlog"
	"golang.org/x/mod/sumdb/note"
)

func keys(t testing.TB, origin string) (note.Signer, note.Verifier) {
	t.Helper()
	sk, vk, err := auditlog.GenerateKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(sk)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vk)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

func checkpoint(t testing.TB, s note.Signer, size uint64) []byte {
	t.Helper()
	root := make([]byte, 32)
	root[0] = byte(size)
	n, err := auditlog.SignCheckpoint(auditlog.Checkpoint{Origin: s.Name(), Size: size, Root: root}, s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// newBackup writes a complete backup of two files.
func newBackup(t *testing.T, s note.Signer) string {
	t.Helper()
	d, err := Create(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(d.Path, "carnet.db"), []byte(strings.Repeat("ciphertext", 1000)), 0o600)
	os.WriteFile(filepath.Join(d.Path, "audit-log.pub"), []byte("key\n"), 0o600)
	m := Manifest{Origin: s.Name(), Created: time.Now(), Store: "sqlite", Schema: 4, LogSize: 7, Checkpoint: checkpoint(t, s, 7)}
	if _, err := d.Finish(m, s, "carnet.db", "audit-log.pub"); err != nil {
		t.Fatal(err)
	}
	return d.Path
}

func TestVerifyNamesTheTamperedFile(t *testing.T) {
	s, v := keys(t, "carnet.test/audit")
	dir := newBackup(t, s)
	m, err := Verify(dir, v)
	if err != nil {
		t.Fatalf("a fresh backup does not verify: %v", err)
	}
	if m.LogSize != 7 || len(m.Files) != 2 || m.Schema != 4 {
		t.Fatalf("manifest read back as %+v", m)
	}
	for _, name := range []string{"carnet.db", "audit-log.pub"} {
		t.Run(name, func(t *testing.T) {
			dir := newBackup(t, s)
			p := filepath.Join(dir, name)
			b, _ := os.ReadFile(p)
			b[len(b)/2] ^= 0x20
			os.WriteFile(p, b, 0o600)
			_, err := Verify(dir, v)
			var fe *FileError
			if !errors.As(err, &fe) || fe.Name != name {
				t.Fatalf("tampered %s: got %v, want a FileError naming it", name, err)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		dir := newBackup(t, s)
		os.Remove(filepath.Join(dir, "carnet.db"))
		var fe *FileError
		if _, err := Verify(dir, v); !errors.As(err, &fe) || fe.Name != "carnet.db" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("no manifest", func(t *testing.T) {
		dir := newBackup(t, s)
		os.Remove(filepath.Join(dir, ManifestName))
		if _, err := Verify(dir, v); !errors.Is(err, ErrIncomplete) {
			t.Fatalf("got %v, want ErrIncomplete", err)
		}
	})
	t.Run("manifest edited", func(t *testing.T) {
		dir := newBackup(t, s)
		p := filepath.Join(dir, ManifestName)
		b, _ := os.ReadFile(p)
		os.WriteFile(p, []byte(strings.Replace(string(b), "schema 4", "schema 3", 1)), 0o600)
		if _, err := Verify(dir, v); err == nil {
			t.Fatal("an edited manifest verifies")
		}
	})
	t.Run("another deployment's key", func(t *testing.T) {
		_, other := keys(t, "carnet.test/audit")
		if _, err := Verify(newBackup(t, s), other); err == nil {
			t.Fatal("a manifest signed by another key verifies")
		}
	})
}

// A checkpoint note is not a manifest, nor the reverse, though one key
// signs both.
func TestManifestAndCheckpointDoNotMix(t *testing.T) {
	s, v := keys(t, "carnet.test/audit")
	cp := checkpoint(t, s, 3)
	if _, err := Open(cp, v); err == nil {
		t.Fatal("a checkpoint opened as a manifest")
	}
	signed, err := Sign(Manifest{Origin: s.Name(), Created: time.Now(), Store: "sqlite", LogSize: 3, Checkpoint: cp}, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auditlog.OpenCheckpoint(signed, s.Name(), v); err == nil {
		t.Fatal("a manifest opened as a checkpoint")
	}
}

func FuzzParseManifest(f *testing.F) {
	s, _ := keys(f, "carnet.test/audit")
	m := Manifest{Origin: s.Name(), Created: time.Unix(1e9, 0), Store: "postgres", Schema: 4, LogSize: 9, Checkpoint: []byte("x"),
		Files: []File{{Name: "carnet.pgdump", Size: 10}}}
	text, _ := m.text()
	f.Add(text)
	f.Add(Format + "\n")
	f.Fuzz(func(t *testing.T, text string) {
		m, err := parse(text)
		if err != nil {
			return
		}
		again, err := m.text()
		if err != nil {
			t.Fatalf("parsed manifest does not print: %v", err)
		}
		if _, err := parse(again); err != nil {
			t.Fatalf("printed manifest does not parse: %v", err)
		}
	})
}
