package cda

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sameTree checks that the lean reader, when it answers, builds the tree
// encoding/xml's reader builds, and answers only what encoding/xml accepts.
func sameTree(t *testing.T, b []byte, lim Limits) (lean bool) {
	t.Helper()
	lim = lim.withDefaults()
	got, ok := leanTree(b, lim)
	if !ok {
		return false
	}
	want, err := readTree(b, lim)
	if err != nil {
		t.Fatalf("lean reader accepted what encoding/xml refuses (%v): %.200q", err, b)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("lean tree differs from encoding/xml's for %.200q", b)
	}
	return true
}

// Every document of the ANS corpus is read by the lean reader, into the
// same tree.
func TestLeanTreeCorpus(t *testing.T) {
	files := corpusFiles(t)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !sameTree(t, b, Limits{}) {
			t.Errorf("%s: not read by the lean reader", filepath.Base(f))
		}
	}
}

func TestLeanTreeCases(t *testing.T) {
	open := `<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">`
	for _, c := range []struct {
		name, doc string
		lean      bool // whether the shortcut is expected to answer
	}{
		{"plain", open + `<id root="1.2"/><title>Compte rendu</title></ClinicalDocument>`, true},
		{"declaration and stylesheet", `<?xml version="1.0" encoding="UTF-8"?><?xml-stylesheet type="text/xsl" href="x.xsl"?>` + open + `</ClinicalDocument>`, true},
		{"entities and references", open + `<title a="&lt;&amp;&#233;&#xE9;">a &gt; b &quot;c&apos; &#38;</title></ClinicalDocument>`, true},
		{"CR LF", open + "<text>a\r\nb\rc\r\r\n</text></ClinicalDocument>", true},
		{"CDATA and comments split text", open + `<text>a<!-- x --><![CDATA[<b>]]>c</text></ClinicalDocument>`, true},
		{"wrapped", `<xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform"><x>` + open + `</ClinicalDocument></x></xsl:stylesheet>`, true},
		{"prefixed HL7", `<v3:ClinicalDocument xmlns:v3="urn:hl7-org:v3"><v3:id xsi:type="II" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/></v3:ClinicalDocument>`, true},
		{"xml:lang", open + `<title xml:lang="fr">t</title></ClinicalDocument>`, true},
		{"trailing garbage ignored alike", open + `</ClinicalDocument><<<`, true},
		{"DOCTYPE", `<!DOCTYPE x>` + open + `</ClinicalDocument>`, false},
		{"unknown entity", open + `<title>&nbsp;</title></ClinicalDocument>`, false},
		{"reference to a control character", open + `<title>&#1;</title></ClinicalDocument>`, false},
		{"]]> in text", open + `<title>a]]>b</title></ClinicalDocument>`, false},
		{"unbound prefix", open + `<x:title/></ClinicalDocument>`, false},
		{"unbound attribute prefix", open + `<title x:a="1"/></ClinicalDocument>`, false},
		{"mismatched end", open + `<title></titre></ClinicalDocument>`, false},
		{"not closed", open + `<title>`, false},
		{"latin-1", `<?xml version="1.0" encoding="ISO-8859-1"?>` + open + `</ClinicalDocument>`, false},
		{"invalid UTF-8", open + "<title>\xff</title></ClinicalDocument>", false},
		{"non-ASCII name", open + `<títle/></ClinicalDocument>`, false},
		{"-- in comment", open + `<!-- a -- b --></ClinicalDocument>`, false},
		{"unquoted attribute", open + `<id root=1/></ClinicalDocument>`, false},
		{"< in attribute", open + `<id root="<"/></ClinicalDocument>`, false},
		{"no ClinicalDocument", `<x/>`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := sameTree(t, []byte(c.doc), Limits{}); got != c.lean {
				t.Errorf("lean reader answered: %v, want %v", got, c.lean)
			}
			// Whatever the path, Parse answers as encoding/xml's reader.
			_, err := Parse([]byte(c.doc), Limits{})
			root, werr := readTree([]byte(c.doc), DefaultLimits)
			if werr == nil {
				_, werr = build(root, DefaultLimits)
			}
			if (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
				t.Errorf("Parse: %v, encoding/xml: %v", err, werr)
			}
		})
	}
	// Limits are encoding/xml's reader's to report.
	deep := open + strings.Repeat("<a>", 300) + strings.Repeat("</a>", 300) + `</ClinicalDocument>`
	if sameTree(t, []byte(deep), Limits{}) {
		t.Error("the lean reader answered beyond MaxDepth")
	}
}

// FuzzLeanTree: on any input, the lean reader answers the tree
// encoding/xml's reader builds, or leaves the input to it.
func FuzzLeanTree(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(corpusDir, "BIO-TROD*.xml"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`<?xml version="1.0"?><ClinicalDocument xmlns="urn:hl7-org:v3"><text>a&amp;b<![CDATA[x]]><!--c--></text><id root="1" xml:lang="fr"/></ClinicalDocument>`))
	f.Add([]byte("<v3:ClinicalDocument xmlns:v3=\"urn:hl7-org:v3\"><v3:title>\r\n&#233;</v3:title></v3:ClinicalDocument>"))
	lim := Limits{MaxBytes: 1 << 20, MaxElements: 20_000, MaxDepth: 64}
	f.Fuzz(func(t *testing.T, b []byte) {
		sameTree(t, b, lim)
	})
}
