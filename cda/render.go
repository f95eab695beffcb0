package cda

import (
	"bytes"
	"html"
	"strconv"
)

// narrativeTags maps CDA narrative elements to the HTML element written
// for them. Anything else is dropped with its markup, its text kept;
// renderMultiMedia is dropped entirely (no external or embedded resource
// is ever loaded), and linkHtml becomes plain text (no active link).
var narrativeTags = map[string]string{
	"paragraph": "p",
	"list":      "ul", // "ol" when listType="ordered"
	"item":      "li",
	"table":     "table",
	"thead":     "thead",
	"tbody":     "tbody",
	"tfoot":     "tfoot",
	"tr":        "tr",
	"th":        "th",
	"td":        "td",
	"caption":   "caption",
	"content":   "span",
	"sub":       "sub",
	"sup":       "sup",
	"br":        "br",
	"linkHtml":  "span",
	"footnote":  "small",
}

// RenderHTML returns the narrative of every section as an HTML fragment
// built from an allow-list: section titles as headings, the narrative
// elements above, no attribute but colspan and rowspan (as numbers), all
// text escaped. The output contains no script, style, URL or event
// handler whatever the input; it is meant to be embedded in a page whose
// Content-Security-Policy forbids them anyway.
func RenderHTML(d *Document) []byte {
	var b bytes.Buffer
	if d == nil {
		return nil
	}
	if d.Title != "" {
		b.WriteString("<h1>")
		b.WriteString(html.EscapeString(d.Title))
		b.WriteString("</h1>\n")
	}
	for _, s := range d.Sections {
		level := 2 + s.Depth
		if level > 6 {
			level = 6
		}
		h := "h" + strconv.Itoa(level)
		b.WriteString("<section>")
		if s.Title != "" {
			b.WriteString("<" + h + ">")
			b.WriteString(html.EscapeString(s.Title))
			b.WriteString("</" + h + ">")
		}
		if s.narrative != nil {
			b.WriteString("<div>")
			renderChildren(&b, s.narrative, 0)
			b.WriteString("</div>")
		}
		b.WriteString("</section>\n")
	}
	return b.Bytes()
}

// maxRenderDepth stops rendering absurdly nested narrative; Parse's depth
// limit is the real bound, this one keeps the recursion small.
const maxRenderDepth = 64

func renderChildren(b *bytes.Buffer, n *node, depth int) {
	for _, k := range n.kids {
		renderNode(b, k, depth)
	}
}

func renderNode(b *bytes.Buffer, n *node, depth int) {
	if n.name == "" {
		b.WriteString(html.EscapeString(n.text))
		return
	}
	if !n.hl7 || n.name == "renderMultiMedia" || depth > maxRenderDepth {
		return
	}
	tag, ok := narrativeTags[n.name]
	if !ok {
		renderChildren(b, n, depth+1) // unknown markup: keep the text only
		return
	}
	if n.name == "list" && n.attr("listType") == "ordered" {
		tag = "ol"
	}
	if tag == "br" {
		b.WriteString("<br>")
		return
	}
	b.WriteString("<" + tag)
	if tag == "td" || tag == "th" {
		for _, a := range []string{"colspan", "rowspan"} {
			if v, err := strconv.Atoi(n.attr(a)); err == nil && v > 0 && v <= 1000 {
				b.WriteString(" " + a + `="` + strconv.Itoa(v) + `"`)
			}
		}
	}
	b.WriteString(">")
	renderChildren(b, n, depth+1)
	b.WriteString("</" + tag + ">")
}
