package auditlog

import (
	"context"
	"fmt"
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

// KeyRecord is the reserved record under which the log's signing key is
// sealed in the database (AuditLogKey.Signer).
const KeyRecord carnet.PatientKey = "carnet-audit-log"

var signerBinding = carnet.Binding{Kind: "audit-log-key", ID: "signer", Version: 1}

// OpenDeployment assembles the log of store. Its key is the deployment's,
// recorded once in the store (AuditLogKey): every node signs with it.
//   - A node holding the key files (keyDir) checks them against the
//     recorded key; another key is KindConflict: the node must not start
//     (its checkpoints would split the log).
//   - A node without the files signs with the recorded key, unsealed with
//     the deployment's keys (sealer): only the key-encryption key is shared
//     by hand.
//   - Before any key is recorded, the node records its files' key, or with
//     create a new one (written to keyDir); of nodes starting together the
//     first to record wins and the others take its key.
//
// Without a usable key it is KindUnavailable: the server starts and refuses
// every data request. origin names a new key (its checkpoints' first line).
func OpenDeployment(ctx context.Context, store carnet.Store, sealer carnet.Sealer, keyDir, origin string, create bool, clock carnet.Clock) (*Deployment, error) {
	const op = "auditlog.OpenDeployment"
	skPath, vkPath := filepath.Join(keyDir, SigningKeyFile), filepath.Join(keyDir, VerifierKeyFile)
	recorded, err := store.AuditLogKey(ctx)
	if err != nil && !carnet.IsKind(err, carnet.KindNotFound) {
		return nil, err
	}
	haveRecord := err == nil
	_, statErr := os.Stat(skPath)
	haveFile := statErr == nil

	var signer note.Signer
	var vkey string
	switch {
	case haveFile:
		if signer, vkey, err = loadKeyFiles(skPath, vkPath); err != nil {
			return nil, err
		}
		if !haveRecord {
			if recorded, err = store.InitAuditLogKey(ctx, carnet.AuditLogKey{Verifier: vkey, Signer: sealSigner(ctx, sealer, readKey(skPath))}); err != nil {
				return nil, err
			}
		}
		if recorded.Verifier != vkey {
			return nil, &carnet.Error{Kind: carnet.KindConflict, Op: op, Msg: fmt.Sprintf(
				"this node's audit log key (%s, in %s) is not the one the deployment's log is signed with (%s): remove this node's key files to use the deployment's, or start it on its own database", vkey, keyDir, recorded.Verifier)}
		}
	case haveRecord:
		if signer, err = openSigner(ctx, sealer, recorded); err != nil {
			return nil, err
		}
		vkey = recorded.Verifier
	case create:
		skey, newVkey, err := GenerateKey(origin)
		if err != nil {
			return nil, err
		}
		if recorded, err = store.InitAuditLogKey(ctx, carnet.AuditLogKey{Verifier: newVkey, Signer: sealSigner(ctx, sealer, skey)}); err != nil {
			return nil, err
		}
		if recorded.Verifier == newVkey {
			// This node made the deployment's key: its files are the copy
			// the operator keeps apart (docs/BACKUP.md).
			if err := WriteKeyFile(skPath, skey); err != nil {
				return nil, err
			}
			if err := os.WriteFile(vkPath, []byte(newVkey+"\n"), 0o644); err != nil {
				return nil, carnet.WrapError(carnet.KindInternal, op, err)
			}
			if signer, err = note.NewSigner(skey); err != nil {
				return nil, carnet.WrapError(carnet.KindInternal, op, err)
			}
		} else if signer, err = openSigner(ctx, sealer, recorded); err != nil {
			return nil, err // another node started first: its key
		}
		vkey = recorded.Verifier
	default:
		return nil, carnet.WrapError(carnet.KindUnavailable, op, fmt.Errorf("no audit log key: %s is missing and the database records none", skPath))
	}
	v, err := NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	if v.Name() != signer.Name() || v.KeyHash() != signer.KeyHash() {
		return nil, &carnet.Error{Kind: carnet.KindUnavailable, Op: op, Msg: "the audit log's verifier key does not match its signing key"}
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

// loadKeyFiles reads a node's key files: the signing key and its verifier.
func loadKeyFiles(skPath, vkPath string) (note.Signer, string, error) {
	signer, err := LoadSigner(skPath)
	if err != nil {
		return nil, "", err
	}
	vb, err := os.ReadFile(vkPath)
	if err != nil {
		return nil, "", carnet.WrapError(carnet.KindUnavailable, "auditlog.OpenDeployment", err)
	}
	return signer, strings.TrimSpace(string(vb)), nil
}

// readKey returns the signing key file's text ("" if unreadable: then only
// the verifier is recorded).
func readKey(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// sealSigner seals the signing key for the database; nil when it cannot
// (no key-encryption key: nodes then need the key file).
func sealSigner(ctx context.Context, sealer carnet.Sealer, skey string) []byte {
	if sealer == nil || skey == "" {
		return nil
	}
	sealed, err := sealer.Seal(ctx, KeyRecord, signerBinding, []byte(skey))
	if err != nil {
		return nil
	}
	return sealed
}

// openSigner unseals the deployment's recorded signing key.
func openSigner(ctx context.Context, sealer carnet.Sealer, k carnet.AuditLogKey) (note.Signer, error) {
	const op = "auditlog.OpenDeployment"
	if k.Signer == nil || sealer == nil {
		return nil, &carnet.Error{Kind: carnet.KindUnavailable, Op: op, Msg: "the deployment's audit log key is not in the database: copy audit-log.key and audit-log.pub from the node that made it"}
	}
	b, err := sealer.Open(ctx, KeyRecord, signerBinding, k.Signer)
	if err != nil {
		return nil, carnet.WrapError(carnet.KindUnavailable, op, err)
	}
	s, err := note.NewSigner(string(b))
	if err != nil {
		return nil, &carnet.Error{Kind: carnet.KindUnavailable, Op: op, Msg: "the recorded audit log key is not a note signing key"}
	}
	return s, nil
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
