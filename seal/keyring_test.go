package seal

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet"
)

var update = flag.Bool("update", false, "rewrite testdata/golden-v1.json")

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestKeyFileCreatedPrivateAndReloaded(t *testing.T) {
	path := filepath.Join(t.TempDir(), KeyFileName)
	kr, err := LoadOrCreateKeyFile(path, true)
	if err != nil {
		t.Fatalf("LoadOrCreateKeyFile(create): %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("key file not created: %v", err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("key file mode = %o, want 600", got)
	}
	if kr.Path() != path {
		t.Errorf("Path() = %q, want %q", kr.Path(), path)
	}
	keys := NewMemoryKeys()
	s1 := New(kr, keys)
	ct := mustSeal(t, s1, "p1", docBinding, []byte("kept across restarts"))
	tok1, _ := s1.Token(context.Background(), "p1", "author.family", "DUPONT")
	id1, _ := s1.IdentityToken("ins", "1800175123456")

	for _, create := range []bool{false, true} {
		kr2, err := LoadOrCreateKeyFile(path, create)
		if err != nil {
			t.Fatalf("reload (create=%v): %v", create, err)
		}
		if got, want := kr2.KEKIDs(), kr.KEKIDs(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("reloaded KEK ids = %v, want %v", got, want)
		}
		s2 := New(kr2, keys)
		mustOpen(t, s2, "p1", docBinding, ct, []byte("kept across restarts"))
		if tok, _ := s2.Token(context.Background(), "p1", "author.family", "DUPONT"); tok != tok1 {
			t.Errorf("Token after reload = %s, want %s", tok, tok1)
		}
		if id, _ := s2.IdentityToken("ins", "1800175123456"); id != id1 {
			t.Errorf("IdentityToken after reload = %s, want %s", id, id1)
		}
	}
	if got := readFile(t, path); !strings.Contains(got, indexTag+" ") || strings.Count(got, kekTag+" ") != 1 {
		t.Errorf("new key file has no index line or not exactly one KEK:\n%s", redact(got))
	}
}

func TestKeyFileMissingIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), KeyFileName)
	_, err := LoadOrCreateKeyFile(path, false)
	wantKind(t, "LoadOrCreateKeyFile(missing, create=false)", err, carnet.KindUnavailable)
	if _, serr := os.Stat(path); serr == nil {
		t.Errorf("a key file was created although create was false")
	}
}

func TestKeyFileMalformed(t *testing.T) {
	good := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, KeySize))
	secret := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, KeySize-1))
	tests := []struct{ name, text string }{
		{"empty", ""},
		{"comments only", "# nothing\n\n"},
		{"index only", indexTag + " " + good + "\n"},
		{"not base64", kekTag + " not*base64\n"},
		{"short key", kekTag + " " + secret + "\n"},
		{"unknown line kind", "carnet-kek-v9 " + good + "\n"},
		{"tag alone", kekTag + "\n"},
		{"two index lines", indexTag + " " + good + "\n" + indexTag + " " + good + "\n" + kekTag + " " + good + "\n"},
		{"duplicate KEK", kekTag + " " + good + "\n" + kekTag + " " + good + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), KeyFileName)
			writeFile(t, path, tt.text)
			_, err := LoadOrCreateKeyFile(path, true)
			wantKind(t, "LoadOrCreateKeyFile", err, carnet.KindUnavailable)
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), good) {
				t.Errorf("error text carries key material: %v", err)
			}
			if got := readFile(t, path); got != tt.text {
				t.Errorf("a malformed key file was rewritten")
			}
			_, err = KeyringFromEnv(tt.text)
			wantKind(t, "KeyringFromEnv", err, carnet.KindUnavailable)
		})
	}
}

func TestKeyringFromEnv(t *testing.T) {
	k1, k2 := testKEK(t), testKEK(t)
	b1, b2 := base64.StdEncoding.EncodeToString(k1), base64.StdEncoding.EncodeToString(k2)
	id1, id2 := kekID(k1), kekID(k2)
	tests := []struct {
		name, value string
		want        []string
	}{
		{"one key", b1, []string{id1}},
		{"surrounding space", "  " + b1 + "\n", []string{id1}},
		{"comma list", b1 + "," + b2, []string{id1, id2}},
		{"space list", b2 + " " + b1, []string{id2, id1}},
		{"key file text", kekTag + " " + b1 + "\n" + kekTag + " " + b2 + "\n", []string{id1, id2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kr, err := KeyringFromEnv(tt.value)
			if err != nil {
				t.Fatalf("KeyringFromEnv: %v", err)
			}
			if got := kr.KEKIDs(); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("KEK ids = %v, want %v", got, tt.want)
			}
			if got := kr.CurrentKEK(); got != tt.want[len(tt.want)-1] {
				t.Errorf("current KEK = %s, want the last, %s", got, tt.want[len(tt.want)-1])
			}
		})
	}
	for _, bad := range []string{"", "   ", ",", "AAAA", b1 + "," + b1, "not base64!"} {
		if _, err := KeyringFromEnv(bad); err == nil || !carnet.IsKind(err, carnet.KindUnavailable) {
			t.Errorf("KeyringFromEnv(%q) error = %v, want KindUnavailable", redact(bad), err)
		}
	}
	// An env keyring and a key file without index line holding the same
	// KEKs are the same keyring: moving from one to the other keeps tokens.
	envKR, _ := KeyringFromEnv(b1 + "," + b2)
	path := filepath.Join(t.TempDir(), KeyFileName)
	writeFile(t, path, kekTag+" "+b1+"\n"+kekTag+" "+b2+"\n")
	fileKR, err := LoadOrCreateKeyFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := New(envKR, NewMemoryKeys()).IdentityToken("ins", "1800175123456")
	b, _ := New(fileKR, NewMemoryKeys()).IdentityToken("ins", "1800175123456")
	if a != b {
		t.Errorf("IdentityToken from env %s differs from key file %s", a, b)
	}
}

func TestRotateKeepsAnotherProcessRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), KeyFileName)
	kr1, err := LoadOrCreateKeyFile(path, true)
	if err != nil {
		t.Fatal(err)
	}
	kr2, err := LoadOrCreateKeyFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	a, err := kr1.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := kr2.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{kr1.KEKIDs()[0], a, b}
	if got := kr2.KEKIDs(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after two rotations by two keyrings: KEK ids = %v, want %v", got, want)
	}
	kr3, err := LoadOrCreateKeyFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := kr3.KEKIDs(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("file after two rotations: KEK ids = %v, want %v", got, want)
	}
	fi, _ := os.Stat(path)
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("key file mode after Rotate = %o, want 600", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d files after Rotate, want only the key file", len(entries))
	}
}

func TestRotateRefusesToDropLoadedKEK(t *testing.T) {
	path := filepath.Join(t.TempDir(), KeyFileName)
	kr, err := LoadOrCreateKeyFile(path, true)
	if err != nil {
		t.Fatal(err)
	}
	// Someone replaced the file with other keys while we ran.
	writeFile(t, path, kekTag+" "+base64.StdEncoding.EncodeToString(testKEK(t))+"\n")
	before := readFile(t, path)
	if _, err := kr.Rotate(); err == nil {
		t.Fatalf("Rotate over a file that lost our KEK succeeded")
	}
	if readFile(t, path) != before {
		t.Errorf("a refused Rotate rewrote the key file")
	}
}

func TestRotateWithoutFile(t *testing.T) {
	kr := testKeyring(t)
	if _, err := kr.Rotate(); err == nil {
		t.Errorf("Rotate of a keyring without a key file succeeded")
	}
	if len(kr.KEKIDs()) != 1 {
		t.Errorf("a failed Rotate changed the keyring")
	}
}

func TestKeyringPrintsNoKeyMaterial(t *testing.T) {
	k := testKEK(t)
	kr := testKeyring(t, k)
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("keys", "keyring", kr)
	out := fmt.Sprintf("%v %+v %#v %s", kr, kr, kr, kr) + logged.String()
	for _, enc := range []string{base64.StdEncoding.EncodeToString(k), fmt.Sprintf("%x", k), string(k)} {
		if strings.Contains(out, enc) {
			t.Fatalf("keyring output contains the KEK: %s", out)
		}
	}
	if !strings.Contains(out, kr.CurrentKEK()) {
		t.Errorf("keyring output %q does not name its KEK id", out)
	}
}

func TestKEKIDIsShortStableFingerprint(t *testing.T) {
	k := bytes.Repeat([]byte{0}, KeySize)
	id := kekID(k)
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(id) {
		t.Errorf("kekID = %q, want 16 hex digits", id)
	}
	if kekID(bytes.Clone(k)) != id {
		t.Errorf("kekID not stable")
	}
	k[31] = 1
	if kekID(k) == id {
		t.Errorf("two keys, one id")
	}
}

// golden is a ciphertext sealed by an earlier build, with everything needed
// to open it. It pins the on-disk formats: a change that cannot open it
// would make existing records unreadable.
type golden struct {
	KeyFile       string            `json:"keyFile"`
	Patient       carnet.PatientKey `json:"patient"`
	DataKey       carnet.WrappedKey `json:"dataKey"`
	Binding       carnet.Binding    `json:"binding"`
	Plaintext     string            `json:"plaintext"`
	Ciphertext    []byte            `json:"ciphertext"`
	Token         map[string]string `json:"token"` // field|value -> token
	IdentityToken map[string]string `json:"identityToken"`
}

func TestGoldenV1(t *testing.T) {
	path := filepath.Join("testdata", "golden-v1.json")
	ctx := context.Background()
	if *update {
		writeGolden(t, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGoldenV1 -update once to create it)", err)
	}
	var g golden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	kr, err := KeyringFromEnv(g.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	keys := NewMemoryKeys()
	keys.Set(g.Patient, []carnet.WrappedKey{g.DataKey})
	s := New(kr, keys)
	mustOpen(t, s, g.Patient, g.Binding, g.Ciphertext, []byte(g.Plaintext))
	for in, want := range g.Token {
		field, value, _ := strings.Cut(in, "|")
		if got, err := s.Token(ctx, g.Patient, field, value); err != nil || got != want {
			t.Errorf("Token(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	for in, want := range g.IdentityToken {
		field, value, _ := strings.Cut(in, "|")
		if got, err := s.IdentityToken(field, value); err != nil || got != want {
			t.Errorf("IdentityToken(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
}

func writeGolden(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	text := indexTag + " " + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x11}, KeySize)) + "\n" +
		kekTag + " " + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x22}, KeySize)) + "\n"
	kr, err := KeyringFromEnv(text)
	if err != nil {
		t.Fatal(err)
	}
	keys := NewMemoryKeys()
	s := New(kr, keys, WithClock(testClock))
	g := golden{
		KeyFile:       text,
		Patient:       "golden-patient",
		Binding:       carnet.Binding{Kind: "document", ID: "golden-doc", Version: 2},
		Plaintext:     "Compte rendu: hémoglobine 13,5 g/dL",
		Token:         map[string]string{},
		IdentityToken: map[string]string{},
	}
	g.Ciphertext = mustSeal(t, s, g.Patient, g.Binding, []byte(g.Plaintext))
	wks, _ := keys.DataKeys(ctx, g.Patient)
	g.DataKey = wks[0]
	for _, in := range []string{"author.family|DUPONT", "author.given|Jeanne"} {
		field, value, _ := strings.Cut(in, "|")
		g.Token[in], _ = s.Token(ctx, g.Patient, field, value)
	}
	g.IdentityToken["ins|1800175123456"], _ = s.IdentityToken("ins", "1800175123456")
	out, _ := json.MarshalIndent(g, "", "  ")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// redact hides base64 runs long enough to be keys, for failure messages.
func redact(s string) string {
	return regexp.MustCompile(`[A-Za-z0-9+/]{20,}={0,2}`).ReplaceAllString(s, "<redacted>")
}
