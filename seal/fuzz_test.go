package seal

import (
	"bytes"
	"context"
	"testing"

	"github.com/carnet-sante/carnet"
)

// FuzzOpen feeds arbitrary bytes to Open. It must never panic, never return
// plaintext with an error, and only ever open the ciphertexts Seal made.
func FuzzOpen(f *testing.F) {
	kr, err := NewKeyring(bytes.Repeat([]byte{0x42}, KeySize))
	if err != nil {
		f.Fatal(err)
	}
	s := New(kr, NewMemoryKeys())
	const p = carnet.PatientKey("fuzz-patient")
	plaintext := []byte("résultat: glycémie 5,4 mmol/L")
	valid := mustSeal(f, s, p, docBinding, plaintext)
	empty := mustSeal(f, s, p, docBinding, nil)

	f.Add(valid)
	f.Add(empty)
	f.Add([]byte{})
	f.Add([]byte{formatV1})
	f.Add(valid[:headerSize])
	f.Add(append([]byte{2}, valid[1:]...))
	f.Fuzz(func(t *testing.T, ct []byte) {
		got, err := s.Open(context.Background(), p, docBinding, ct)
		if err != nil {
			if got != nil {
				t.Fatalf("Open returned %d bytes with error %v", len(got), err)
			}
			if !carnet.IsKind(err, carnet.KindInternal) {
				t.Fatalf("Open error kind = %v (%v), want internal", carnet.ErrorKind(err), err)
			}
			return
		}
		switch {
		case bytes.Equal(ct, valid) && bytes.Equal(got, plaintext):
		case bytes.Equal(ct, empty) && len(got) == 0:
		default:
			t.Fatalf("Open accepted a ciphertext Seal never made: %x -> %q", ct, got)
		}
	})
}
