package seal

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/carnet-sante/carnet"
)

func TestRoundTrip(t *testing.T) {
	s, _, _ := newTestSealer(t)
	big := bytes.Repeat([]byte("compte rendu de biologie "), 4000)
	tests := []struct {
		name      string
		p         carnet.PatientKey
		b         carnet.Binding
		plaintext []byte
	}{
		{"empty", "p1", docBinding, nil},
		{"short", "p1", docBinding, []byte("Dupont")},
		{"content 100 KB", "p1", carnet.Binding{Kind: "content", ID: "c1"}, big},
		{"patient row", "p2", carnet.Binding{Kind: "patient", ID: "p2", Version: 3}, []byte(`{"family":"Martin"}`)},
		{"empty id, negative version", "p3", carnet.Binding{Kind: "x", Version: -1}, []byte{0, 1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := mustSeal(t, s, tt.p, tt.b, tt.plaintext)
			if got, want := len(ct), len(tt.plaintext)+Overhead; got != want {
				t.Errorf("len(ciphertext) = %d, want %d", got, want)
			}
			if len(tt.plaintext) >= 6 && bytes.Contains(ct, tt.plaintext[:6]) {
				t.Errorf("ciphertext contains the plaintext in clear")
			}
			mustOpen(t, s, tt.p, tt.b, ct, tt.plaintext)
			// Same input twice: different ciphertexts (fresh nonce).
			if ct2 := mustSeal(t, s, tt.p, tt.b, tt.plaintext); bytes.Equal(ct, ct2) {
				t.Errorf("two seals of the same plaintext are identical")
			}
		})
	}
}

func TestOpenUnderAnotherBindingFails(t *testing.T) {
	s, _, _ := newTestSealer(t)
	ctx := context.Background()
	const p = carnet.PatientKey("patient-a")
	b := carnet.Binding{Kind: "document", ID: "doc-1", Version: 2}
	ct := mustSeal(t, s, p, b, []byte("lettre de liaison"))
	// patient-b has data keys of its own; patient-c has none.
	mustSeal(t, s, "patient-b", b, []byte("x"))

	tests := []struct {
		name string
		p    carnet.PatientKey
		b    carnet.Binding
	}{
		{"other patient with keys", "patient-b", b},
		{"other patient without keys", "patient-c", b},
		{"patient key prefix", "patient-", b},
		{"other document id", p, carnet.Binding{Kind: "document", ID: "doc-2", Version: 2}},
		{"other kind", p, carnet.Binding{Kind: "content", ID: "doc-1", Version: 2}},
		{"older version", p, carnet.Binding{Kind: "document", ID: "doc-1", Version: 1}},
		{"newer version", p, carnet.Binding{Kind: "document", ID: "doc-1", Version: 3}},
		{"kind and id run together", p, carnet.Binding{Kind: "documentdoc-1", ID: "", Version: 2}},
		{"boundary moved", p, carnet.Binding{Kind: "documentd", ID: "oc-1", Version: 2}},
		{"zero binding", p, carnet.Binding{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Open(ctx, tt.p, tt.b, ct)
			wantKind(t, "Open", err, carnet.KindInternal)
			if got != nil {
				t.Errorf("Open returned %q with its error, want nil", got)
			}
		})
	}
	mustOpen(t, s, p, b, ct, []byte("lettre de liaison"))
}

func TestSwappedCiphertextsRefused(t *testing.T) {
	s, _, _ := newTestSealer(t)
	type place struct {
		p carnet.PatientKey
		b carnet.Binding
	}
	var places []place
	for _, p := range []carnet.PatientKey{"p1", "p2", "p3"} {
		for _, kind := range []string{"document", "content"} {
			for d := range 4 {
				for v := 1; v <= 2; v++ {
					places = append(places, place{p, carnet.Binding{Kind: kind, ID: fmt.Sprintf("id-%d", d), Version: v}})
				}
			}
		}
	}
	cts := make([][]byte, len(places))
	for i, pl := range places {
		cts[i] = mustSeal(t, s, pl.p, pl.b, fmt.Appendf(nil, "plaintext %d", i))
	}
	tried, refused := 0, 0
	for i, ct := range cts {
		for j, pl := range places {
			if i == j {
				continue
			}
			tried++
			got, err := s.Open(context.Background(), pl.p, pl.b, ct)
			if err != nil && got == nil && carnet.IsKind(err, carnet.KindInternal) {
				refused++
			}
		}
	}
	if refused != tried {
		t.Errorf("refused %d of %d swapped ciphertexts, want all", refused, tried)
	}
	for i, pl := range places {
		mustOpen(t, s, pl.p, pl.b, cts[i], fmt.Appendf(nil, "plaintext %d", i))
	}
}

func TestDamagedCiphertextRefused(t *testing.T) {
	s, _, _ := newTestSealer(t)
	ctx := context.Background()
	ct := mustSeal(t, s, "p1", docBinding, []byte("ordonnance: amoxicilline"))

	refuse := func(what string, damaged []byte) {
		t.Helper()
		got, err := s.Open(ctx, "p1", docBinding, damaged)
		if err == nil || got != nil || !carnet.IsKind(err, carnet.KindInternal) {
			t.Errorf("%s: Open = %q, %v; want nil and a KindInternal error", what, got, err)
		}
	}
	for bit := range len(ct) * 8 {
		damaged := bytes.Clone(ct)
		damaged[bit/8] ^= 1 << (bit % 8)
		refuse(fmt.Sprintf("bit %d flipped", bit), damaged)
	}
	for n := range len(ct) {
		refuse(fmt.Sprintf("truncated to %d bytes", n), ct[:n])
	}
	refuse("one byte appended", append(bytes.Clone(ct), 0))
	mustOpen(t, s, "p1", docBinding, ct, []byte("ordonnance: amoxicilline"))
}

func TestNoDuplicateKeyNoncePairs(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	s, _, _ := newTestSealer(t)
	ctx := context.Background()
	seen := make(map[[headerSize - 1]byte]int, n)
	for i := range n {
		p := carnet.PatientKey(fmt.Sprintf("p%d", i%3))
		if i == n/2 {
			// Half-way, patient p0 also gets a second data key.
			if _, err := s.RotateDataKey(ctx, "p0"); err != nil {
				t.Fatalf("RotateDataKey: %v", err)
			}
		}
		ct := mustSeal(t, s, p, docBinding, nil)
		var k [headerSize - 1]byte // data key id and nonce
		copy(k[:], ct[1:headerSize])
		if prev, dup := seen[k]; dup {
			t.Fatalf("seal %d reuses the data key and nonce of seal %d", i, prev)
		}
		seen[k] = i
	}
	if len(seen) != n {
		t.Errorf("distinct (data key, nonce) pairs = %d, want %d", len(seen), n)
	}
}

func TestMissingOrWrongKEKIsUnavailable(t *testing.T) {
	ctx := context.Background()
	keys := NewMemoryKeys()
	right := New(testKeyring(t), keys)
	ct := mustSeal(t, right, "p1", docBinding, []byte("x"))

	wrong := New(testKeyring(t), keys) // another KEK, same database
	tampered := NewMemoryKeys()
	wks, _ := keys.DataKeys(ctx, "p1")
	wks[0].Wrapped[len(wks[0].Wrapped)-1] ^= 1
	tampered.Set("p1", wks)

	sealers := []struct {
		name string
		s    carnet.Sealer
	}{
		{"wrong KEK", wrong},
		{"wrapped key tampered", New(right.kr, tampered)},
		{"Locked", Locked()},
		{"nil keyring", New(nil, keys)},
		{"nil key store", New(right.kr, nil)},
	}
	for _, tt := range sealers {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.s.Seal(ctx, "p1", docBinding, []byte("y"))
			wantKind(t, "Seal", err, carnet.KindUnavailable)
			got, err := tt.s.Open(ctx, "p1", docBinding, ct)
			wantKind(t, "Open", err, carnet.KindUnavailable)
			if got != nil {
				t.Errorf("Open returned plaintext %q with its error", got)
			}
			_, err = tt.s.Token(ctx, "p1", "author.family", "DUPONT")
			wantKind(t, "Token", err, carnet.KindUnavailable)
			if carnet.ErrorMessage(err) == "internal error" {
				t.Errorf("caller-visible message of %v is %q", err, carnet.ErrorMessage(err))
			}
		})
	}
	// A wrong KEK must not give the patient a second data key either.
	if wks, _ := keys.DataKeys(ctx, "p1"); len(wks) != 1 {
		t.Errorf("after the wrong-KEK attempts p1 has %d data keys, want 1", len(wks))
	}
	for _, s := range []carnet.Sealer{Locked(), New(nil, keys)} {
		_, err := s.IdentityToken("ins", "1234567890123")
		wantKind(t, "IdentityToken", err, carnet.KindUnavailable)
	}
	mustOpen(t, right, "p1", docBinding, ct, []byte("x"))
}

func TestWrappedKeyBoundToPatient(t *testing.T) {
	ctx := context.Background()
	s, _, keys := newTestSealer(t)
	mustSeal(t, s, "alice", docBinding, []byte("secret of alice"))
	// An attacker with write access to the database copies Alice's wrapped
	// data key to Bob's record: it must not unwrap there.
	wks, _ := keys.DataKeys(ctx, "alice")
	keys.Set("bob", wks)
	_, err := New(s.kr, keys).Token(ctx, "bob", "author.family", "DUPONT")
	wantKind(t, "Token with Alice's wrapped key copied to Bob", err, carnet.KindUnavailable)
}

func TestCiphertextBoundToPatientUnderTheSameKey(t *testing.T) {
	ctx := context.Background()
	s, kr, keys := newTestSealer(t)
	ct := mustSeal(t, s, "alice", docBinding, []byte("secret of alice"))
	// Even if Bob held the very same data key, properly wrapped for him (a
	// faulty restore or merge), Alice's ciphertext must not open as Bob's.
	wks, _ := keys.DataKeys(ctx, "alice")
	set := kr.set.Load()
	secret, err := unwrap(set, "alice", wks[0])
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, nonceSize)
	bob := wks[0]
	bob.Wrapped = set.current().wrap.Seal(append([]byte{wrapV1}, nonce...), nonce, secret, wrapAAD("bob", bob.ID, bob.KEKID))
	keys.Set("bob", []carnet.WrappedKey{bob})
	got, err := New(kr, keys).Open(ctx, "bob", docBinding, ct)
	wantKind(t, "Open(bob, Alice's ciphertext, same data key)", err, carnet.KindInternal)
	if got != nil {
		t.Errorf("Open returned %q", got)
	}
}

func TestKEKRotation(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/carnet.keys"
	kr, err := LoadOrCreateKeyFile(path, true)
	if err != nil {
		t.Fatal(err)
	}
	oldKEK := kr.CurrentKEK()
	keys := NewMemoryKeys()
	s := New(kr, keys)
	before := mustSeal(t, s, "old", docBinding, []byte("before rotation"))
	tokBefore, _ := s.Token(ctx, "old", "author.family", "MARTIN")
	idBefore, _ := s.IdentityToken("ins", "2800175123456")

	newKEK, err := kr.Rotate()
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if newKEK == oldKEK || kr.CurrentKEK() != newKEK {
		t.Fatalf("after Rotate current KEK = %s (returned %s), old %s", kr.CurrentKEK(), newKEK, oldKEK)
	}

	// A restarted server reads both KEKs from the file.
	kr2, err := LoadOrCreateKeyFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(kr2.KEKIDs(), ","), oldKEK+","+newKEK; got != want {
		t.Fatalf("reloaded KEK ids = %s, want %s", got, want)
	}
	s2 := New(kr2, keys)
	mustOpen(t, s2, "old", docBinding, before, []byte("before rotation"))
	if tok, _ := s2.Token(ctx, "old", "author.family", "MARTIN"); tok != tokBefore {
		t.Errorf("Token changed across KEK rotation: %s, want %s", tok, tokBefore)
	}
	if id, _ := s2.IdentityToken("ins", "2800175123456"); id != idBefore {
		t.Errorf("IdentityToken changed across KEK rotation: %s, want %s", id, idBefore)
	}

	// New data keys are wrapped by the new KEK; so is a patient's rotated one.
	mustSeal(t, s2, "new", docBinding, []byte("after rotation"))
	if wks, _ := keys.DataKeys(ctx, "new"); len(wks) != 1 || wks[0].KEKID != newKEK {
		t.Errorf("new patient's data keys = %+v, want one wrapped by %s", wks, newKEK)
	}
	dekID, err := s2.RotateDataKey(ctx, "old")
	if err != nil {
		t.Fatalf("RotateDataKey: %v", err)
	}
	wks, _ := keys.DataKeys(ctx, "old")
	if len(wks) != 2 || wks[0].KEKID != oldKEK || wks[1].KEKID != newKEK || wks[1].ID != dekID {
		t.Fatalf("old patient's data keys after RotateDataKey = %v, want [%s under %s, %s under %s]", wks, wks[0].ID, oldKEK, dekID, newKEK)
	}
	after := mustSeal(t, s2, "old", docBinding, []byte("sealed with the rotated data key"))
	if got := fmt.Sprintf("%x", after[1:1+dekIDSize]); got != dekID {
		t.Errorf("Seal after RotateDataKey used data key %s, want the newest %s", got, dekID)
	}
	mustOpen(t, s2, "old", docBinding, before, []byte("before rotation"))
	if tok, _ := s2.Token(ctx, "old", "author.family", "MARTIN"); tok != tokBefore {
		t.Errorf("Token changed across data key rotation: %s, want %s", tok, tokBefore)
	}

	// Retiring the old KEK (removing it from the file) makes only what it
	// wrapped unavailable; the identity index survives through its own
	// secret.
	var kept []string
	for _, line := range strings.Split(readFile(t, path), "\n") {
		if v, ok := strings.CutPrefix(line, kekTag+" "); ok {
			if k, err := decodeKey(v); err == nil && kekID(k) == oldKEK {
				continue
			}
		}
		kept = append(kept, line)
	}
	writeFile(t, path, strings.Join(kept, "\n"))
	kr3, err := LoadOrCreateKeyFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	s3 := New(kr3, keys)
	_, err = s3.Open(ctx, "old", docBinding, before)
	wantKind(t, "Open under a retired KEK", err, carnet.KindUnavailable)
	mustOpen(t, s3, "old", docBinding, after, []byte("sealed with the rotated data key"))
	if id, _ := s3.IdentityToken("ins", "2800175123456"); id != idBefore {
		t.Errorf("IdentityToken changed after retiring the first KEK: %s, want %s", id, idBefore)
	}
}

func TestConcurrentFirstSeal(t *testing.T) {
	ctx := context.Background()
	kr := testKeyring(t)
	keys := NewMemoryKeys()
	// Two Sealers on one key store stand for two server processes.
	sealers := []*Sealer{New(kr, keys), New(kr, keys)}
	const perSealer = 32
	const p = carnet.PatientKey("new-patient")

	type sealed struct {
		b  carnet.Binding
		ct []byte
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		out    []sealed
		tokens = map[string]bool{}
		errs   []error
	)
	for si, s := range sealers {
		for g := range perSealer {
			wg.Go(func() {
				b := carnet.Binding{Kind: "document", ID: fmt.Sprintf("d-%d-%d", si, g), Version: 1}
				ct, err := s.Seal(ctx, p, b, []byte(b.ID))
				tok, terr := s.Token(ctx, p, "author.family", "DURAND")
				mu.Lock()
				defer mu.Unlock()
				if err != nil || terr != nil {
					errs = append(errs, err, terr)
					return
				}
				out = append(out, sealed{b, ct})
				tokens[tok] = true
			})
		}
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Seal/Token: %v", err)
		}
	}
	reader := New(kr, keys)
	for _, sd := range out {
		mustOpen(t, reader, p, sd.b, sd.ct, []byte(sd.b.ID))
	}
	if len(out) != 2*perSealer {
		t.Errorf("opened %d ciphertexts, want %d", len(out), 2*perSealer)
	}
	if wks, _ := keys.DataKeys(ctx, p); len(wks) != 1 {
		t.Errorf("patient has %d data keys after concurrent first seals, want 1", len(wks))
	}
	if len(tokens) != 1 {
		t.Errorf("concurrent Token calls gave %d distinct tokens, want 1", len(tokens))
	}
}

func TestToken(t *testing.T) {
	ctx := context.Background()
	s, kr, keys := newTestSealer(t)
	tok := func(s carnet.Sealer, p carnet.PatientKey, field, value string) string {
		t.Helper()
		v, err := s.Token(ctx, p, field, value)
		if err != nil {
			t.Fatalf("Token: %v", err)
		}
		return v
	}
	base := tok(s, "p1", "author.family", "DUPONT")
	if len(base) < 22 || strings.ContainsAny(base, "+/=") {
		t.Errorf("token %q: want at least 128 bits, base64url without padding", base)
	}
	if got := tok(s, "p1", "author.family", "DUPONT"); got != base {
		t.Errorf("same input: token %s, want %s", got, base)
	}
	if got := tok(New(kr, keys), "p1", "author.family", "DUPONT"); got != base {
		t.Errorf("another Sealer (cold cache): token %s, want %s", got, base)
	}
	differ := []struct {
		name         string
		p            carnet.PatientKey
		field, value string
	}{
		{"other patient", "p2", "author.family", "DUPONT"},
		{"other field", "p1", "author.given", "DUPONT"},
		{"other value", "p1", "author.family", "DUPOND"},
		{"field/value boundary", "p1", "author.famil", "yDUPONT"},
	}
	seen := map[string]string{base: "base"}
	for _, d := range differ {
		got := tok(s, d.p, d.field, d.value)
		if prev, ok := seen[got]; ok {
			t.Errorf("%s: token equals that of %s", d.name, prev)
		}
		seen[got] = d.name
	}
	id, err := s.IdentityToken("author.family", "DUPONT")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := seen[id]; ok {
		t.Errorf("IdentityToken equals a patient Token")
	}
}

func TestIdentityToken(t *testing.T) {
	k1, k2 := testKEK(t), testKEK(t)
	tok := func(kr *Keyring, field, value string) string {
		t.Helper()
		v, err := New(kr, NewMemoryKeys()).IdentityToken(field, value)
		if err != nil {
			t.Fatalf("IdentityToken: %v", err)
		}
		return v
	}
	base := tok(testKeyring(t, k1), "ins", "1800175123456")
	if got := tok(testKeyring(t, k1, k2), "ins", "1800175123456"); got != base {
		t.Errorf("adding a newer KEK changed IdentityToken: %s, want %s", got, base)
	}
	if got := tok(testKeyring(t, k2, k1), "ins", "1800175123456"); got == base {
		t.Errorf("IdentityToken does not depend on the first KEK")
	}
	if got := tok(testKeyring(t, k1), "ins", "1800175123457"); got == base {
		t.Errorf("other value, same IdentityToken")
	}
	if got := tok(testKeyring(t, k1), "ins-nia", "1800175123456"); got == base {
		t.Errorf("other field, same IdentityToken")
	}
}

func TestHotPathReadsNoStore(t *testing.T) {
	ctx := context.Background()
	keys := &countingKeys{KeyStore: NewMemoryKeys()}
	s := New(testKeyring(t), keys)
	ct := mustSeal(t, s, "p1", docBinding, []byte("x"))
	if keys.writes.Load() != 1 {
		t.Fatalf("first Seal wrote %d data keys, want 1", keys.writes.Load())
	}
	reads := keys.reads.Load()
	for range 1000 {
		mustSeal(t, s, "p1", docBinding, []byte("y"))
		mustOpen(t, s, "p1", docBinding, ct, []byte("x"))
		if _, err := s.Token(ctx, "p1", "type", "11488-4"); err != nil {
			t.Fatal(err)
		}
	}
	if got := keys.reads.Load() - reads; got != 0 {
		t.Errorf("3000 warm operations read the key store %d times, want 0", got)
	}
}

func TestCacheIsBounded(t *testing.T) {
	keys := &countingKeys{KeyStore: NewMemoryKeys()}
	s := New(testKeyring(t), keys, WithCacheSize(2))
	cts := map[carnet.PatientKey][]byte{}
	for i := range 5 {
		p := carnet.PatientKey(fmt.Sprintf("p%d", i))
		cts[p] = mustSeal(t, s, p, docBinding, []byte(p))
	}
	if n := s.cache.len(); n > 2 {
		t.Errorf("cache holds %d patients, want at most 2", n)
	}
	reads := keys.reads.Load()
	for p, ct := range cts {
		mustOpen(t, s, p, docBinding, ct, []byte(p))
	}
	if keys.reads.Load() == reads {
		t.Errorf("evicted patients opened without reading the key store")
	}
}

func TestCryptoShredding(t *testing.T) {
	ctx := context.Background()
	s, kr, keys := newTestSealer(t)
	ct := mustSeal(t, s, "p1", docBinding, []byte("to be forgotten"))
	tok, _ := s.Token(ctx, "p1", "author.family", "DUPONT")
	other := mustSeal(t, s, "p2", docBinding, []byte("kept"))

	keys.DeleteDataKeys("p1")
	s.Forget("p1")
	for _, s := range []*Sealer{s, New(kr, keys)} {
		got, err := s.Open(ctx, "p1", docBinding, ct)
		wantKind(t, "Open after shredding", err, carnet.KindInternal)
		if got != nil {
			t.Errorf("Open after shredding returned %q", got)
		}
	}
	if again, _ := s.Token(ctx, "p1", "author.family", "DUPONT"); again == tok {
		t.Errorf("Token after shredding still matches the old tokens")
	}
	mustOpen(t, s, "p2", docBinding, other, []byte("kept"))
}

func BenchmarkSeal(b *testing.B) {
	s, _, _ := newTestSealer(b)
	plaintext := bytes.Repeat([]byte{'a'}, 32<<10)
	mustSeal(b, s, "p1", docBinding, plaintext) // creates the data key
	b.SetBytes(int64(len(plaintext)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Seal(context.Background(), "p1", docBinding, plaintext); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	s, _, _ := newTestSealer(b)
	plaintext := bytes.Repeat([]byte{'a'}, 32<<10)
	ct := mustSeal(b, s, "p1", docBinding, plaintext)
	b.SetBytes(int64(len(plaintext)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Open(context.Background(), "p1", docBinding, ct); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkToken(b *testing.B) {
	s, _, _ := newTestSealer(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := s.Token(ctx, "p1", "author.family", "DUPONT"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestEnsureDataKey(t *testing.T) {
	ctx := context.Background()
	mem := NewMemoryKeys()
	keys := &countingKeys{KeyStore: mem}
	kr := testKeyring(t)
	s := New(kr, keys)
	if err := s.EnsureDataKey(ctx, "p1"); err != nil {
		t.Fatalf("EnsureDataKey: %v", err)
	}
	if err := s.EnsureDataKey(ctx, "p1"); err != nil {
		t.Fatalf("EnsureDataKey again: %v", err)
	}
	reads, writes := keys.reads.Load(), keys.writes.Load()
	mustSeal(t, s, "p1", docBinding, []byte("x"))
	if _, err := s.Token(ctx, "p1", "type", "11488-4"); err != nil {
		t.Fatal(err)
	}
	if keys.reads.Load() != reads || keys.writes.Load() != writes || writes != 1 {
		t.Errorf("after EnsureDataKey: %d writes in all, and Seal+Token made %d reads, %d writes; want 1 write, then none",
			writes, keys.reads.Load()-reads, keys.writes.Load()-writes)
	}
	err := New(testKeyring(t), mem).EnsureDataKey(ctx, "p1")
	wantKind(t, "EnsureDataKey under a wrong KEK", err, carnet.KindUnavailable)
	err = s.EnsureDataKey(ctx, "")
	wantKind(t, "EnsureDataKey without patient", err, carnet.KindInternal)
}
