package backup

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auditlog"
	"golang.org/x/mod/sumdb/note"
)

const (
	// ManifestName is the manifest's file name in a backup directory.
	ManifestName = "MANIFEST"
	// Format is the manifest's first line.
	Format = "carnet-backup-v1"
	// maxManifest bounds what Verify reads: a manifest lists a few files.
	maxManifest = 1 << 20
)

// File is one data file of a backup.
type File struct {
	Name   string
	Size   int64
	SHA256 [32]byte
}

// Manifest describes a complete backup.
type Manifest struct {
	Origin     string    // the audit log's origin (and signing key's name)
	Created    time.Time // when the backup was taken, UTC, to the second
	Store      string    // "sqlite" or "postgres"
	Schema     int       // the schema version (highest migration applied)
	LogSize    uint64    // audit events in the backup
	Checkpoint []byte    // signed checkpoint note of the backed-up log, of size LogSize
	Files      []File    // sorted by name
}

// ErrIncomplete is wrapped when a backup directory has no manifest.
var ErrIncomplete = errors.New("incomplete backup: no MANIFEST (interrupted, or not a backup)")

// FileError names the file of a backup that does not match its manifest.
type FileError struct {
	Name   string
	Reason string
}

func (e *FileError) Error() string { return "backup file " + e.Name + ": " + e.Reason }

func validName(n string) bool {
	return n != "" && n != "." && n != ".." && n != ManifestName && !strings.ContainsAny(n, "/\\ \n\r\t")
}

func (m Manifest) text() (string, error) {
	if m.Store != "sqlite" && m.Store != "postgres" {
		return "", fmt.Errorf("unknown store %q", m.Store)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\norigin %s\ncreated %s\nstore %s\nschema %d\nlog-size %d\ncheckpoint %s\n",
		Format, m.Origin, m.Created.UTC().Format(time.RFC3339), m.Store, m.Schema, m.LogSize,
		base64.StdEncoding.EncodeToString(m.Checkpoint))
	files := append([]File(nil), m.Files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	for _, f := range files {
		if !validName(f.Name) {
			return "", fmt.Errorf("invalid file name %q", f.Name)
		}
		fmt.Fprintf(&b, "file %s %d %s\n", hex.EncodeToString(f.SHA256[:]), f.Size, f.Name)
	}
	return b.String(), nil
}

// Sign returns the signed manifest note.
func Sign(m Manifest, s note.Signer) ([]byte, error) {
	t, err := m.text()
	if err != nil {
		return nil, carnet.WrapError(carnet.KindInvalid, "backup.Sign", err)
	}
	return note.Sign(&note.Note{Text: t}, s)
}

// Open checks a signed manifest with the audit log's verifier key and
// parses it; the checkpoint inside must open with the same key, for the
// same origin, and be of size LogSize.
func Open(signed []byte, v note.Verifier) (Manifest, error) {
	const op = "backup.Open"
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return Manifest{}, &carnet.Error{Kind: carnet.KindUnauthenticated, Op: op, Msg: "the backup manifest is not signed by this deployment's audit log key", Err: err}
	}
	m, err := parse(n.Text)
	if err != nil {
		return Manifest{}, carnet.WrapError(carnet.KindInvalid, op, fmt.Errorf("malformed manifest: %w", err))
	}
	if m.Origin != v.Name() {
		return Manifest{}, &carnet.Error{Kind: carnet.KindUnauthenticated, Op: op, Msg: "the backup manifest is for another log"}
	}
	cp, err := auditlog.OpenCheckpoint(m.Checkpoint, m.Origin, v)
	if err != nil {
		return Manifest{}, err
	}
	if cp.Size != m.LogSize {
		return Manifest{}, &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "the manifest's checkpoint is not of its log size"}
	}
	return m, nil
}

func parse(text string) (Manifest, error) {
	var m Manifest
	lines := strings.Split(text, "\n")
	if len(lines) < 8 || lines[len(lines)-1] != "" || lines[0] != Format {
		return m, errors.New("not a " + Format + " manifest")
	}
	field := func(i int, name string) (string, error) {
		v, ok := strings.CutPrefix(lines[i], name+" ")
		if !ok || v == "" {
			return "", fmt.Errorf("line %d: want %q", i+1, name)
		}
		return v, nil
	}
	var err error
	if m.Origin, err = field(1, "origin"); err != nil {
		return m, err
	}
	c, err := field(2, "created")
	if err != nil {
		return m, err
	}
	if m.Created, err = time.Parse(time.RFC3339, c); err != nil {
		return m, fmt.Errorf("line 3: %w", err)
	}
	if m.Store, err = field(3, "store"); err != nil {
		return m, err
	}
	s, err := field(4, "schema")
	if err != nil {
		return m, err
	}
	if m.Schema, err = strconv.Atoi(s); err != nil || m.Schema < 0 {
		return m, errors.New("line 5: bad schema")
	}
	ls, err := field(5, "log-size")
	if err != nil {
		return m, err
	}
	if m.LogSize, err = strconv.ParseUint(ls, 10, 64); err != nil {
		return m, errors.New("line 6: bad log-size")
	}
	cp, err := field(6, "checkpoint")
	if err != nil {
		return m, err
	}
	if m.Checkpoint, err = base64.StdEncoding.Strict().DecodeString(cp); err != nil {
		return m, errors.New("line 7: bad checkpoint")
	}
	seen := map[string]bool{}
	for i, l := range lines[7 : len(lines)-1] {
		f := strings.Fields(l)
		if len(f) != 4 || f[0] != "file" || len(f[1]) != 64 || !validName(f[3]) || seen[f[3]] {
			return m, fmt.Errorf("line %d: want file SHA256 SIZE NAME", i+8)
		}
		var file File
		if _, err := hex.Decode(file.SHA256[:], []byte(f[1])); err != nil {
			return m, fmt.Errorf("line %d: bad SHA-256", i+8)
		}
		if file.Size, err = strconv.ParseInt(f[2], 10, 64); err != nil || file.Size < 0 {
			return m, fmt.Errorf("line %d: bad size", i+8)
		}
		file.Name = f[3]
		seen[file.Name] = true
		m.Files = append(m.Files, file)
	}
	if _, err := m.text(); err != nil {
		return m, err
	}
	return m, nil
}

// Dir is a backup directory being written.
type Dir struct {
	Path string
}

// Create makes a new backup directory under root, named by the time and a
// random suffix; it is incomplete until Finish.
func Create(root string, now time.Time) (*Dir, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	var r [4]byte
	rand.Read(r[:])
	p := filepath.Join(root, fmt.Sprintf("carnet-%s-%s", now.UTC().Format("20060102T150405Z"), hex.EncodeToString(r[:])))
	if err := os.Mkdir(p, 0o700); err != nil {
		return nil, err
	}
	return &Dir{Path: p}, nil
}

// Finish makes the backup complete: it fsyncs and hashes the named data
// files, then writes the signed manifest last (temporary name, fsync,
// rename, directory fsync).
func (d *Dir) Finish(m Manifest, s note.Signer, names ...string) (Manifest, error) {
	m.Files = nil
	for _, n := range names {
		f, err := hashFile(filepath.Join(d.Path, n), true)
		if err != nil {
			return m, err
		}
		f.Name = n
		m.Files = append(m.Files, f)
	}
	signed, err := Sign(m, s)
	if err != nil {
		return m, err
	}
	tmp := filepath.Join(d.Path, "."+ManifestName+".tmp")
	if err := writeSynced(tmp, signed); err != nil {
		return m, err
	}
	if err := os.Rename(tmp, filepath.Join(d.Path, ManifestName)); err != nil {
		return m, err
	}
	return m, syncDir(d.Path)
}

// Verify checks the backup at dir with the audit log's verifier key v: the
// manifest's signature and checkpoint, then every listed file's size and
// SHA-256. A file that differs or is missing is a *FileError naming it.
func Verify(dir string, v note.Verifier) (Manifest, error) {
	const op = "backup.Verify"
	signed, err := readBounded(filepath.Join(dir, ManifestName), maxManifest)
	if errors.Is(err, fs.ErrNotExist) {
		return Manifest{}, carnet.WrapError(carnet.KindInvalid, op, ErrIncomplete)
	}
	if err != nil {
		return Manifest{}, carnet.WrapError(carnet.KindUnavailable, op, err)
	}
	m, err := Open(signed, v)
	if err != nil {
		return Manifest{}, err
	}
	for _, want := range m.Files {
		got, err := hashFile(filepath.Join(dir, want.Name), false)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return m, carnet.WrapError(carnet.KindInvalid, op, &FileError{want.Name, "missing"})
		case err != nil:
			return m, carnet.WrapError(carnet.KindUnavailable, op, err)
		case got.Size != want.Size:
			return m, carnet.WrapError(carnet.KindInvalid, op, &FileError{want.Name, fmt.Sprintf("size %d, the manifest says %d", got.Size, want.Size)})
		case got.SHA256 != want.SHA256:
			return m, carnet.WrapError(carnet.KindInvalid, op, &FileError{want.Name, "SHA-256 does not match the manifest"})
		}
	}
	return m, nil
}

// Latest returns the newest complete backup under root (it has a
// manifest; Verify it before use), or KindNotFound.
func Latest(root string) (string, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return "", carnet.WrapError(carnet.KindNotFound, "backup.Latest", err)
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), "carnet-") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for i := len(names) - 1; i >= 0; i-- {
		p := filepath.Join(root, names[i])
		if _, err := os.Stat(filepath.Join(p, ManifestName)); err == nil {
			return p, nil
		}
	}
	return "", &carnet.Error{Kind: carnet.KindNotFound, Op: "backup.Latest", Msg: "no complete backup in " + root}
}

func hashFile(path string, sync bool) (File, error) {
	f, err := os.Open(path)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	if sync {
		if err := f.Sync(); err != nil {
			return File{}, err
		}
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, err
	}
	var out File
	out.Size = n
	copy(out.SHA256[:], h.Sum(nil))
	return out, nil
}

func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, errors.New("manifest too large")
	}
	return bytes.Clone(b), nil
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
