// Package safexml starts the XML decoders of the SOAP readers (xds, xua)
// the same way: strict (so no entity but XML's five), UTF-8 only.
package safexml

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// NewDecoder returns a strict decoder of b that refuses any declared
// encoding but UTF-8. Callers still refuse directives (DTDs) and bound
// depth and tokens as they read.
func NewDecoder(b []byte) *xml.Decoder {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	d.CharsetReader = func(charset string, r io.Reader) (io.Reader, error) {
		if strings.EqualFold(charset, "utf-8") {
			return r, nil
		}
		return nil, fmt.Errorf("charset %q: only UTF-8 is read", charset)
	}
	return d
}

// DuplicateAttr reports an attribute given twice on one element (the same
// namespace and local name): not well-formed XML, which encoding/xml reads
// anyway, and which another reader would read with the other value.
func DuplicateAttr(attrs []xml.Attr) (string, bool) {
	for i := range attrs {
		for j := range i {
			if attrs[i].Name == attrs[j].Name {
				return attrs[i].Name.Local, true
			}
		}
	}
	return "", false
}
