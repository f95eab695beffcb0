package policy

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/carnet-sante/carnet"
)

// Effect is what a matrix rule says.
type Effect string

const (
	Allow Effect = "allow"
	Deny  Effect = "deny"
)

// Rule is one line of the access matrix ("matrice d'habilitation").
type Rule struct {
	Profession string // TRE_G15 code (G15_10), specialty (G15_10/SM04) or another key (DAC)
	Document   string // LOINC type code, or a descriptive key where no code is known
	Label      string // the document kind's name, for people
	Effect     Effect
	Source     string // where the line comes from
	Line       int    // line in the loaded file, for the audit reasons
}

// Matrix is the access matrix: which profession may read which document
// type. Lookups are by the professional's specialty first, then their
// profession; a document type matches a rule by its bare code or its
// "system|code" form.
//
// The partial matrix published so far lists only denials, so what the file
// does not mention is allowed. A full annex that lists allows explicitly can
// set DenyByDefault so that everything it does not mention is denied.
//
// Rules are built into a lookup index by LoadMatrix; appending to Rules
// afterwards changes nothing.
type Matrix struct {
	Rules         []Rule // in file order, for reading
	DenyByDefault bool
	index         map[matrixKey]int // into Rules
}

type matrixKey struct{ profession, document string }

var matrixColumns = []string{"profession", "document", "label", "effect", "source"}

// LoadMatrix reads a matrix in the CSV shape of access-matrix-partial.csv:
// lines starting with # are comments; the first other line is the header
// naming the columns profession, document, label, effect and source (in any
// order, extra columns ignored); effect is allow or deny. Professions and
// document keys are kept as they are, known or not. A malformed line, or two
// lines giving one profession and document different effects, is an error
// naming the line.
func LoadMatrix(r io.Reader) (*Matrix, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, carnet.WrapError(carnet.KindInternal, "policy.LoadMatrix", err)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a BOM from spreadsheet exports
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comment = '#'
	cr.FieldsPerRecord = -1 // checked below, to name the line in our own words
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, carnet.Errorf(carnet.KindInvalid, "access matrix: no header line (want %s)", strings.Join(matrixColumns, ","))
	}
	if err != nil {
		return nil, csvError(err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	hline, _ := cr.FieldPos(0)
	for _, c := range matrixColumns {
		if _, ok := col[c]; !ok {
			return nil, carnet.Errorf(carnet.KindInvalid, "access matrix line %d: header lacks column %q", hline, c)
		}
	}
	m := &Matrix{index: map[matrixKey]int{}}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			return nil, carnet.Errorf(carnet.KindInvalid, "access matrix line %d: %d fields, the header has %d", line, len(rec), len(header))
		}
		field := func(name string) string { return strings.TrimSpace(rec[col[name]]) }
		ru := Rule{
			Profession: field("profession"),
			Document:   field("document"),
			Label:      field("label"),
			Effect:     Effect(strings.ToLower(field("effect"))),
			Source:     field("source"),
			Line:       line,
		}
		switch {
		case ru.Profession == "":
			return nil, carnet.Errorf(carnet.KindInvalid, "access matrix line %d: empty profession", line)
		case ru.Document == "":
			return nil, carnet.Errorf(carnet.KindInvalid, "access matrix line %d: empty document", line)
		case ru.Effect != Allow && ru.Effect != Deny:
			return nil, carnet.Errorf(carnet.KindInvalid, "access matrix line %d: effect %q is neither allow nor deny", line, field("effect"))
		}
		k := matrixKey{ru.Profession, ru.Document}
		if i, dup := m.index[k]; dup {
			if m.Rules[i].Effect != ru.Effect {
				return nil, carnet.Errorf(carnet.KindInvalid, "access matrix line %d: %s × %s contradicts line %d", line, ru.Profession, ru.Document, m.Rules[i].Line)
			}
			continue // a repeated line says nothing new
		}
		m.index[k] = len(m.Rules)
		m.Rules = append(m.Rules, ru)
	}
	return m, nil
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return carnet.Errorf(carnet.KindInvalid, "access matrix line %d: %v", pe.Line, pe.Err)
	}
	return carnet.WrapError(carnet.KindInvalid, "policy.LoadMatrix", err)
}

// Lookup returns the rule deciding whether a professional of profession
// and specialty may read a document of the given type values (the
// document's "type" tokens), and whether one matched. The specialty's rules
// come before the profession's; among the type values, a deny wins.
func (m *Matrix) Lookup(profession, specialty string, types []string) (Rule, bool) {
	if m == nil {
		return Rule{}, false
	}
	for _, p := range []string{specialty, profession} {
		if p == "" {
			continue
		}
		var found Rule
		ok := false
		for _, t := range types {
			i, hit := m.index[matrixKey{p, t}]
			if !hit {
				continue
			}
			if !ok || m.Rules[i].Effect == Deny {
				found, ok = m.Rules[i], true
			}
		}
		if ok {
			return found, true
		}
	}
	return Rule{}, false
}

// String describes a rule for the audit trail.
func (r Rule) String() string {
	return fmt.Sprintf("%s %s × %s (matrix line %d)", r.Effect, r.Profession, r.Document, r.Line)
}
