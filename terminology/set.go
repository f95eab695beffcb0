package terminology

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/carnet-sante/carnet"
)

// MaxFiles bounds the number of *.xml files LoadDir reads; the ANS
// publishes about 520.
const MaxFiles = 10_000

// Set is the value sets of one directory, indexed for lookups. It is
// immutable once loaded and safe for concurrent use.
type Set struct {
	byName   map[string]*valueSet // file base name, e.g. JDV_J07_XdsTypeCode_CISIS
	byOID    map[string]*valueSet // ValueSet id, e.g. 1.2.250.1.213.1.1.5.471
	warnings []string
}

var _ carnet.Terminology = (*Set)(nil)

// valueSet is one value set indexed by (code system OID, code).
type valueSet struct {
	concepts []Concept // in file order
	index    map[conceptKey]int
}

type conceptKey struct{ system, code string }

func newValueSet() *valueSet {
	return &valueSet{index: make(map[conceptKey]int)}
}

// add adds c unless the value set already has its (system, code): the
// first occurrence wins (the ANS repeats some placeholders).
func (v *valueSet) add(c Concept) {
	k := conceptKey{c.System, c.Code}
	if _, dup := v.index[k]; dup {
		return
	}
	v.index[k] = len(v.concepts)
	v.concepts = append(v.concepts, c)
}

// LoadDir parses every *.xml IHE SVS file of dir (not its subdirectories)
// and indexes each value set under its file base name and under its
// ValueSet id (OID).
//
// A malformed file fails the whole load with an error naming the file: a
// server validating against half its value sets would refuse codes at
// random. Empty files (the ANS publishes a few) are skipped and reported by
// Warnings, as are OIDs claimed by several files; such an OID then names
// the union of those files' concepts, the first file in name order winning
// for a concept present in several.
func LoadDir(dir string) (*Set, error) {
	const op = "terminology.LoadDir"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, &carnet.Error{Kind: carnet.KindUnavailable, Op: op, Msg: "cannot read the value set directory", Err: err}
	}
	var files []string
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".xml") {
			continue
		}
		files = append(files, e.Name())
	}
	if len(files) > MaxFiles {
		return nil, &carnet.Error{Kind: carnet.KindTooLarge, Op: op, Msg: fmt.Sprintf("more than %d value set files", MaxFiles)}
	}
	sort.Strings(files) // os.ReadDir sorts already; the OID merge order depends on it

	s := &Set{byName: make(map[string]*valueSet), byOID: make(map[string]*valueSet)}
	owners := make(map[string][]string) // OID -> file names, to report sharing
	parsed := parseFiles(dir, files)
	for i, file := range files {
		p, err := parsed[i].vs, parsed[i].err
		if err != nil {
			return nil, fileError(op, file, err)
		}
		if p == nil {
			s.warnings = append(s.warnings, fmt.Sprintf("%s: empty file skipped", file))
			continue
		}
		name := strings.TrimSuffix(file, ".xml")
		v := newValueSet()
		for _, c := range p.Concepts {
			v.add(c)
		}
		s.byName[name] = v
		owners[p.OID] = append(owners[p.OID], file)
		if prev, ok := s.byOID[p.OID]; !ok {
			s.byOID[p.OID] = v
		} else {
			if len(owners[p.OID]) == 2 {
				// Copy before merging: prev is also indexed by its name.
				merged := newValueSet()
				for _, c := range prev.concepts {
					merged.add(c)
				}
				prev = merged
				s.byOID[p.OID] = merged
			}
			for _, c := range v.concepts {
				prev.add(c)
			}
		}
	}
	if len(s.byName) == 0 {
		return nil, &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "no value set in the value set directory (no non-empty *.xml file)"}
	}
	oids := make([]string, 0, len(owners))
	for oid, fs := range owners {
		if len(fs) > 1 {
			oids = append(oids, oid)
		}
	}
	sort.Strings(oids)
	for _, oid := range oids {
		s.warnings = append(s.warnings, fmt.Sprintf("value set %s is published by %d files (%s): by-OID lookups use the union of their concepts",
			oid, len(owners[oid]), strings.Join(owners[oid], ", ")))
	}
	return s, nil
}

type parsedFile struct {
	vs  *parsedValueSet // nil for an empty file
	err error
}

// parseFiles reads and parses files on all CPUs (encoding/xml is most of
// the start-up time); results come back in the order of files so that the
// indexing, and the error reported, do not depend on scheduling.
func parseFiles(dir string, files []string) []parsedFile {
	out := make([]parsedFile, len(files))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(files)) {
		wg.Go(func() {
			for i := range next {
				out[i] = parseFile(filepath.Join(dir, files[i]))
			}
		})
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

func parseFile(path string) parsedFile {
	data, err := readBounded(path)
	if err != nil {
		return parsedFile{err: err}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return parsedFile{}
	}
	vs, err := parseSVS(data)
	return parsedFile{vs: vs, err: err}
}

// readBounded reads a regular file of at most MaxFileSize bytes.
func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file")
	}
	if fi.Size() > MaxFileSize {
		return nil, errTooLarge
	}
	// The file may grow between Stat and read: bound the read itself too.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, errTooLarge
	}
	return data, nil
}

var errTooLarge = fmt.Errorf("file larger than %d bytes", MaxFileSize)

func fileError(op, file string, err error) error {
	kind := carnet.KindInvalid
	if err == errTooLarge {
		kind = carnet.KindTooLarge
	}
	return &carnet.Error{
		Kind: kind,
		Op:   op,
		Msg:  fmt.Sprintf("value set file %s is not a valid IHE SVS file", file),
		Err:  fmt.Errorf("%s: %w", file, err),
	}
}

// Warnings lists what the load skipped or merged, for the server to log.
func (s *Set) Warnings() []string {
	if s == nil {
		return nil
	}
	return append([]string(nil), s.warnings...)
}

// Len returns the number of value sets loaded (files, not OIDs).
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.byName)
}

// Names returns the names of the value sets loaded, sorted.
func (s *Set) Names() []string {
	if s == nil {
		return nil
	}
	names := make([]string, 0, len(s.byName))
	for n := range s.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Has reports whether valueSet (a name or an OID, see Lookup) is loaded.
// Validators use it to tell "this value set was not provided by the
// operator" from "this code is not in the value set".
func (s *Set) Has(valueSet string) bool {
	return s.valueSet(valueSet) != nil
}

// Concepts returns the concepts of valueSet in file order, retired ones
// included, or nil when the value set is not loaded.
func (s *Set) Concepts(valueSet string) []Concept {
	v := s.valueSet(valueSet)
	if v == nil {
		return nil
	}
	return append([]Concept(nil), v.concepts...)
}

// Lookup implements carnet.Terminology.
//
// valueSet is a file base name (JDV_J07_XdsTypeCode_CISIS; the ANS
// spelling with hyphens, JDV_J07-XdsTypeCode-CISIS, is accepted too) or the
// ValueSet OID, bare or as urn:oid:. system is an OID, bare or as urn:oid:,
// or one of the URIs of the table in systemURIs (http://loinc.org,
// http://snomed.info/sct). An empty system or code is never known.
//
// The Coding returned names its system as FHIR does: the URI for LOINC and
// SNOMED CT, urn:oid: for any other OID, and as written in the file for the
// rare non-OID system (J07's "ASTM"). valid is false when at is before the
// concept's dateValid or at or after its dateFin (or its value set's):
// retired codes stay readable but are refused for new submissions.
//
// A nil *Set knows no value set.
func (s *Set) Lookup(valueSet, system, code string, at time.Time) (c carnet.Coding, known, valid bool) {
	if system == "" || code == "" {
		return carnet.Coding{}, false, false
	}
	v := s.valueSet(valueSet)
	if v == nil {
		return carnet.Coding{}, false, false
	}
	i, ok := v.index[conceptKey{systemKey(system), code}]
	if !ok {
		return carnet.Coding{}, false, false
	}
	con := v.concepts[i]
	return carnet.Coding{System: fhirSystem(con.System), Code: con.Code, Display: con.Display}, true, con.ValidAt(at)
}

func (s *Set) valueSet(name string) *valueSet {
	if s == nil || name == "" {
		return nil
	}
	if v := s.byName[name]; v != nil {
		return v
	}
	if v := s.byOID[strings.TrimPrefix(name, "urn:oid:")]; v != nil {
		return v
	}
	// The ANS writes JDV_J07-XdsTypeCode-CISIS in its documents and URLs,
	// JDV_J07_XdsTypeCode_CISIS in its file names.
	return s.byName[strings.ReplaceAll(name, "-", "_")]
}
