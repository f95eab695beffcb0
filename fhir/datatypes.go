package fhir

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"reflect"
)

// Meta is Resource.meta.
type Meta struct {
	VersionID   string   `json:"versionId,omitempty"`
	LastUpdated string   `json:"lastUpdated,omitempty"`
	Source      string   `json:"source,omitempty"`
	Profile     []string `json:"profile,omitempty"`
	Security    []Coding `json:"security,omitempty"`
	Tag         []Coding `json:"tag,omitempty"`
}

// HasProfile reports whether m claims profile p (nil-safe).
func (m *Meta) HasProfile(p string) bool {
	if m == nil {
		return false
	}
	for _, q := range m.Profile {
		if q == p {
			return true
		}
	}
	return false
}

// Narrative is Resource.text. Carnet never renders it; it is kept so that a
// resource read back is the one submitted.
type Narrative struct {
	Status string `json:"status,omitempty"`
	Div    string `json:"div,omitempty"`
}

// Identifier is the FHIR Identifier datatype.
type Identifier struct {
	Use      string           `json:"use,omitempty"`
	Type     *CodeableConcept `json:"type,omitempty"`
	System   string           `json:"system,omitempty"`
	Value    string           `json:"value,omitempty"`
	Period   *Period          `json:"period,omitempty"`
	Assigner *Reference       `json:"assigner,omitempty"`
}

// Coding is the FHIR Coding datatype.
type Coding struct {
	System       string `json:"system,omitempty"`
	Version      string `json:"version,omitempty"`
	Code         string `json:"code,omitempty"`
	Display      string `json:"display,omitempty"`
	UserSelected *bool  `json:"userSelected,omitempty"`
}

// CodeableConcept is the FHIR CodeableConcept datatype.
type CodeableConcept struct {
	Coding []Coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

// First returns the first coding that has a code, if any (nil-safe).
func (c *CodeableConcept) First() (Coding, bool) {
	if c == nil {
		return Coding{}, false
	}
	for _, cd := range c.Coding {
		if cd.Code != "" {
			return cd, true
		}
	}
	return Coding{}, false
}

// Reference is the FHIR Reference datatype.
type Reference struct {
	Reference  string      `json:"reference,omitempty"`
	Type       string      `json:"type,omitempty"`
	Identifier *Identifier `json:"identifier,omitempty"`
	Display    string      `json:"display,omitempty"`
}

// Period is the FHIR Period datatype; ends are dateTime strings.
type Period struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

// Attachment is the FHIR R4 Attachment datatype. Size is an unsignedInt in R4
// (an integer64 only from R5 on); Hash is the SHA-1 of the data.
type Attachment struct {
	ContentType string       `json:"contentType,omitempty"`
	Language    string       `json:"language,omitempty"`
	Data        Base64Binary `json:"data,omitempty"`
	URL         string       `json:"url,omitempty"`
	Size        *int64       `json:"size,omitempty"`
	Hash        Base64Binary `json:"hash,omitempty"`
	Title       string       `json:"title,omitempty"`
	Creation    string       `json:"creation,omitempty"`
}

// HumanName is the FHIR HumanName datatype.
type HumanName struct {
	Use    string   `json:"use,omitempty"`
	Text   string   `json:"text,omitempty"`
	Family string   `json:"family,omitempty"`
	Given  []string `json:"given,omitempty"`
	Prefix []string `json:"prefix,omitempty"`
	Suffix []string `json:"suffix,omitempty"`
	Period *Period  `json:"period,omitempty"`
}

// Extension is the FHIR Extension with the value[x] types Carnet reads or
// writes. An extension with another value type decodes with all values nil
// (the unknown element is ignored), which callers treat as "no value".
type Extension struct {
	URL                  string           `json:"url"`
	Extension            []Extension      `json:"extension,omitempty"`
	ValueString          *string          `json:"valueString,omitempty"`
	ValueCode            *string          `json:"valueCode,omitempty"`
	ValueURI             *string          `json:"valueUri,omitempty"`
	ValueBoolean         *bool            `json:"valueBoolean,omitempty"`
	ValueInteger         *int64           `json:"valueInteger,omitempty"`
	ValueDateTime        *string          `json:"valueDateTime,omitempty"`
	ValueIdentifier      *Identifier      `json:"valueIdentifier,omitempty"`
	ValueCoding          *Coding          `json:"valueCoding,omitempty"`
	ValueCodeableConcept *CodeableConcept `json:"valueCodeableConcept,omitempty"`
	ValueReference       *Reference       `json:"valueReference,omitempty"`
	ValuePeriod          *Period          `json:"valuePeriod,omitempty"`
}

// FindExtension returns the first extension of exts with url.
func FindExtension(exts []Extension, url string) (Extension, bool) {
	for _, e := range exts {
		if e.URL == url {
			return e, true
		}
	}
	return Extension{}, false
}

// Base64Binary is FHIR's base64Binary: standard base64 with padding. FHIR
// allows whitespace inside the value (the official examples wrap lines), so
// decoding ignores it; encoding writes none.
type Base64Binary []byte

func (b Base64Binary) MarshalJSON() ([]byte, error) {
	return json.Marshal(base64.StdEncoding.EncodeToString(b))
}

func (b *Base64Binary) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*b = nil
		return nil
	}
	var src []byte
	if len(data) >= 2 && data[0] == '"' && data[len(data)-1] == '"' && !bytes.ContainsRune(data, '\\') {
		src = data[1 : len(data)-1] // the usual case: no escapes, decode in place
	} else {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		src = []byte(s)
	}
	if bytes.ContainsAny(src, " \t\r\n") {
		src = bytes.Map(func(r rune) rune {
			switch r {
			case ' ', '\t', '\r', '\n':
				return -1
			}
			return r
		}, src)
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(src)))
	n, err := base64.StdEncoding.Decode(out, src)
	if err != nil {
		return &json.UnmarshalTypeError{Value: "string", Type: reflect.TypeFor[Base64Binary]()}
	}
	*b = out[:n]
	return nil
}
