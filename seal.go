package carnet

import "context"

// Binding is what a ciphertext is bound to besides its patient: the kind of
// object ("document", "content", "patient", "submissionset"), its id and its
// version. Opening a ciphertext under another binding fails.
type Binding struct {
	Kind    string
	ID      string
	Version int
}

// Sealer encrypts at rest. Implementations keep a data key per patient,
// wrapped by a key-encryption key, and write self-describing ciphertexts.
//
// Every method returns an *Error of KindUnavailable when keys are missing or
// wrong: a server without its keys refuses to serve, never serves garbage.
// Open returns KindInternal-wrapped authentication failures for tampered or
// misplaced ciphertexts (never the plaintext of something else).
type Sealer interface {
	Seal(ctx context.Context, p PatientKey, b Binding, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, p PatientKey, b Binding, ciphertext []byte) ([]byte, error)
	// Token returns a blind-index token of value for field, keyed per
	// patient: equal inputs give equal tokens for the same patient only.
	Token(ctx context.Context, p PatientKey, field, value string) (string, error)
	// IdentityToken returns a blind-index token used to find a record by an
	// identifier (INS) before its patient key is known.
	IdentityToken(field, value string) (string, error)
}
