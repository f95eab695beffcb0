package terminology

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Bounds on one SVS file. The operator chooses the directory, but the files
// come from outside (downloaded from the ANS): a damaged or hostile file
// must fail the load, not exhaust the server.
const (
	// MaxFileSize is the largest SVS file accepted. The largest published
	// value set (JDV_CodesDocumentImagerie_CISIS) is about 1.6 MB.
	MaxFileSize = 16 << 20
	// MaxConcepts is the largest number of concepts in one file. The largest
	// published value set holds 6,343.
	MaxConcepts = 100_000
	// maxDepth bounds element nesting; SVS needs 4 levels.
	maxDepth = 32
)

// svsNamespace is the IHE SVS namespace every element we read must carry.
const svsNamespace = "urn:ihe:iti:svs:2008"

// dateLayout is the CI-SIS dateValid/dateFin format.
const dateLayout = "20060102150405"

// svsZone is the time zone of dateValid and dateFin. The files carry no
// zone in those attributes; their effectiveDate and revisionDate are always
// written with +01:00, summer and winter alike, so the ANS means a fixed
// UTC+1 rather than Europe/Paris.
var svsZone = time.FixedZone("UTC+01:00", 3600)

// parsedValueSet is one SVS file's ValueSet, with the value-set-level
// validity already folded into each concept.
type parsedValueSet struct {
	OID         string
	DisplayName string
	Description string
	Concepts    []Concept
}

// Concept is one entry of a value set, with the interval in which it may
// be used: From is inclusive, Until exclusive; a zero end is open. The
// interval is the intersection of the concept's own dateValid/dateFin and
// those of its value set.
type Concept struct {
	System  string // the code system: a bare OID, or rarely a name such as "ASTM"
	Code    string
	Display string
	From    time.Time
	Until   time.Time
}

// ValidAt reports whether c may be used at t.
func (c Concept) ValidAt(t time.Time) bool {
	if !c.From.IsZero() && t.Before(c.From) {
		return false
	}
	if !c.Until.IsZero() && !t.Before(c.Until) {
		return false
	}
	return true
}

// parseSVS reads one IHE SVS RetrieveValueSetResponse. It refuses any
// DOCTYPE or other directive (so no entity can be declared), documents
// nested deeper than maxDepth, more than MaxConcepts concepts, encodings
// other than UTF-8, and more or fewer than one ValueSet. Concepts with an
// empty code (the ANS publishes "à compléter" placeholders) are skipped;
// surrounding white space, including no-break spaces found in a few
// published codes, is trimmed.
func parseSVS(data []byte) (*parsedValueSet, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("file larger than %d bytes", MaxFileSize)
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	// No CharsetReader: a declared encoding other than UTF-8 is an error.

	var (
		stack    []string // local names of the open SVS elements ("" for foreign ones)
		sawRoot  bool
		vs       *parsedValueSet
		vsFrom   time.Time
		vsUntil  time.Time
		concepts []Concept
		count    int
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			line, _ := dec.InputPos()
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			line, _ := dec.InputPos()
			return nil, fmt.Errorf("line %d: DOCTYPE and other directives are not allowed", line)
		case xml.StartElement:
			if len(stack) >= maxDepth {
				line, _ := dec.InputPos()
				return nil, fmt.Errorf("line %d: elements nested deeper than %d", line, maxDepth)
			}
			name := ""
			if t.Name.Space == svsNamespace {
				name = t.Name.Local
			}
			parent := ""
			if len(stack) > 0 {
				parent = stack[len(stack)-1]
			}
			switch {
			case len(stack) == 0:
				if name != "RetrieveValueSetResponse" {
					return nil, fmt.Errorf("root element is {%s}%s, want {%s}RetrieveValueSetResponse", t.Name.Space, t.Name.Local, svsNamespace)
				}
				sawRoot = true
			case len(stack) == 1 && name == "ValueSet":
				if vs != nil {
					return nil, errors.New("more than one ValueSet")
				}
				a := attrs(t.Attr)
				vs = &parsedValueSet{
					OID:         strings.TrimSpace(a["id"]),
					DisplayName: strings.TrimSpace(a["displayName"]),
					Description: strings.TrimSpace(a["description"]),
				}
				if vs.OID == "" {
					return nil, errors.New("ValueSet has no id")
				}
				if vsFrom, err = parseDate(a["dateValid"]); err != nil {
					return nil, fmt.Errorf("ValueSet dateValid: %w", err)
				}
				if vsUntil, err = parseDate(a["dateFin"]); err != nil {
					return nil, fmt.Errorf("ValueSet dateFin: %w", err)
				}
			case len(stack) == 3 && name == "Concept" && parent == "ConceptList" && stack[1] == "ValueSet":
				count++
				if count > MaxConcepts {
					return nil, fmt.Errorf("more than %d concepts", MaxConcepts)
				}
				c, skip, err := concept(attrs(t.Attr))
				if err != nil {
					line, _ := dec.InputPos()
					return nil, fmt.Errorf("line %d: %w", line, err)
				}
				if !skip {
					concepts = append(concepts, c)
				}
			}
			stack = append(stack, name)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if !sawRoot {
		return nil, errors.New("no root element")
	}
	if vs == nil {
		return nil, errors.New("no ValueSet")
	}
	for i := range concepts {
		c := &concepts[i]
		if c.From.IsZero() || vsFrom.After(c.From) {
			c.From = vsFrom
		}
		if c.Until.IsZero() || (!vsUntil.IsZero() && vsUntil.Before(c.Until)) {
			c.Until = vsUntil
		}
	}
	vs.Concepts = concepts
	return vs, nil
}

// concept reads one Concept's attributes. skip is true for placeholders
// without a code.
func concept(a map[string]string) (c Concept, skip bool, err error) {
	c = Concept{
		System:  systemKey(strings.TrimSpace(a["codeSystem"])),
		Code:    strings.TrimSpace(a["code"]),
		Display: strings.TrimSpace(a["displayName"]),
	}
	if c.Code == "" {
		return Concept{}, true, nil
	}
	if c.System == "" {
		return Concept{}, false, fmt.Errorf("concept %q has no codeSystem", c.Code)
	}
	if c.From, err = parseDate(a["dateValid"]); err != nil {
		return Concept{}, false, fmt.Errorf("concept %q dateValid: %w", c.Code, err)
	}
	if c.Until, err = parseDate(a["dateFin"]); err != nil {
		return Concept{}, false, fmt.Errorf("concept %q dateFin: %w", c.Code, err)
	}
	return c, false, nil
}

// attrs returns the unqualified attributes of an element; qualified ones
// (xsi:schemaLocation, xml:lang) are not SVS data.
func attrs(list []xml.Attr) map[string]string {
	m := make(map[string]string, len(list))
	for _, a := range list {
		if a.Name.Space == "" {
			m[a.Name.Local] = a.Value
		}
	}
	return m
}

// parseDate reads a CI-SIS date (YYYYMMDDhhmmss); empty means open.
func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation(dateLayout, s, svsZone)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date of the form YYYYMMDDhhmmss", s)
	}
	return t, nil
}
