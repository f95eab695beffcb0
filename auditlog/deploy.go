package auditlog

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/carnet-sante/carnet"
	"golang.org/x/mod/sumdb/note"
)

// Key files of a deployment's log, in its key directory.
const (
	SigningKeyFile  = "audit-log.key" // the note signing key, mode 0600
	VerifierKeyFile = "audit-log.pub" // its public verifier key, published at /log/key
)

// Deployment is a server's tamper-evident log, assembled: the Recorder the
// Service audits with, the Log over the Store, and the Checkpointer that
// signs and keeps checkpoints. It serves the API's /log endpoints.
type Deployment struct {
	Log          *Log
	Recorder     *Recorder
	Checkpointer *Checkpointer
	verifierKey  string
	verifier     note.Verifier
}

// OpenDeployment assembles the log of store in keyDir, creating the
// signing key on first use (create true; otherwise a missing key is
// KindUnavailable). origin names the log (its checkpoints' first line).
func OpenDeployment(store carnet.Store, sealer carnet.Sealer, keyDir, origin string, create bool, clock carnet.Clock) (*Deployment, error) {
	skPath, vkPath := filepath.Join(keyDir, SigningKeyFile), filepath.Join(keyDir, VerifierKeyFile)
	if _, err := os.Stat(skPath); errors.Is(err, fs.ErrNotExist) && create {
		skey, vkey, err := GenerateKey(origin)
		if err != nil {
			return nil, err
		}
		if err := WriteKeyFile(skPath, skey); err != nil {
			return nil, err
		}
		if err := os.WriteFile(vkPath, []byte(vkey+"\n"), 0o644); err != nil {
			return nil, carnet.WrapError(carnet.KindInternal, "auditlog.OpenDeployment", err)
		}
	}
	signer, err := LoadSigner(skPath)
	if err != nil {
		return nil, err
	}
	vb, err := os.ReadFile(vkPath)
	if err != nil {
		return nil, carnet.WrapError(carnet.KindUnavailable, "auditlog.OpenDeployment", err)
	}
	vkey := strings.TrimSpace(string(vb))
	v, err := NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	if v.Name() != signer.Name() || v.KeyHash() != signer.KeyHash() {
		return nil, &carnet.Error{Kind: carnet.KindUnavailable, Op: "auditlog.OpenDeployment", Msg: "the audit log's verifier key does not match its signing key"}
	}
	l, err := New(signer.Name(), StoreStorage{Store: store}, signer)
	if err != nil {
		return nil, err
	}
	return &Deployment{
		Log:          l,
		Recorder:     NewRecorder(store, sealer, RecorderOptions{Clock: clock}),
		Checkpointer: NewCheckpointer(l, store, v, CheckpointerOptions{Clock: clock, MinInterval: time.Second}),
		verifierKey:  vkey,
		verifier:     v,
	}, nil
}

// Checkpoint returns the latest signed checkpoint note.
func (d *Deployment) Checkpoint(ctx context.Context) ([]byte, error) {
	_, n, err := d.Checkpointer.Checkpoint(ctx)
	return n, err
}

// InclusionProof implements the API's proof endpoint.
func (d *Deployment) InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	return d.Log.InclusionProof(ctx, index, size)
}

// ConsistencyProof implements the API's proof endpoint.
func (d *Deployment) ConsistencyProof(ctx context.Context, from, to uint64) ([][]byte, error) {
	return d.Log.ConsistencyProof(ctx, from, to)
}

// VerifierKey is the public key checkpoints are signed with.
func (d *Deployment) VerifierKey() string { return d.verifierKey }

// Verifier is the verifier of VerifierKey.
func (d *Deployment) Verifier() note.Verifier { return d.verifier }

// Close stops the Recorder.
func (d *Deployment) Close() error { return d.Recorder.Close() }
