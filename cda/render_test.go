package cda

import (
	"strings"
	"testing"
)

func TestRenderHTMLIsSafe(t *testing.T) {
	doc := cdaOpen + `<id root="1.2.3"/><title>T &lt;b&gt;</title><component><structuredBody><component><section>
<title>Résultats</title>
<text><paragraph>Kaliémie <content styleCode="Bold" onclick="x()">5.9</content> mmol/L<br/>à contrôler</paragraph>
<table border="1"><tbody><tr><td colspan="2" style="background:url(http://evil/)">a</td><td rowspan="x">b</td></tr></tbody></table>
<list listType="ordered"><item>un</item><item><linkHtml href="javascript:alert(1)">lien</linkHtml></item></list>
<renderMultiMedia referencedObject="img1"/>
<script xmlns="http://www.w3.org/1999/xhtml">alert(1)</script>
<paragraph>&lt;script&gt;alert(2)&lt;/script&gt;</paragraph>
<unknownTag>gardé</unknownTag>
</text></section></component></structuredBody></component></ClinicalDocument>`
	d, err := Parse([]byte(doc), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got := string(RenderHTML(d))
	for _, bad := range []string{"<script", "onclick", "style=", "url(", "href", "javascript:", "img1", "alert(1)", "border"} {
		if strings.Contains(got, bad) {
			t.Errorf("output contains %q:\n%s", bad, got)
		}
	}
	for _, want := range []string{
		"<h1>T &lt;b&gt;</h1>",
		"<h2>Résultats</h2>",
		"<p>Kaliémie <span>5.9</span> mmol/L<br>à contrôler</p>",
		`<td colspan="2">a</td><td>b</td>`,
		"<ol><li>un</li><li><span>lien</span></li></ol>",
		"&lt;script&gt;alert(2)&lt;/script&gt;",
		"gardé",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestRenderCorpus(t *testing.T) {
	d := parseCorpus(t, "BIO-CR-BIO_2024.01_TSH_1.xml")
	got := string(RenderHTML(d))
	for _, want := range []string{"<h2>BIOCHIMIE</h2>", "Thyréostimuline (TSH)", "<td>1.950 mUI/l</td>"} {
		if !strings.Contains(got, want) {
			t.Errorf("rendered TSH report lacks %q", want)
		}
	}
}

func TestPDFText(t *testing.T) {
	// The N1 examples carry real PDFs; at least one has extractable text.
	found := false
	for _, f := range []string{"DOC_NON_STRUCTURE_CDA-R2-N1.xml", "BIO-CR-BIO_2021.01_CDA-R2-Niveau-1.xml", "IMG_CR_IMG_2024.01_CDA-R2-Niveau-1.xml"} {
		d := parseCorpus(t, f)
		txt := PDFText(d.Attachment.Data)
		t.Logf("%s: %d bytes of text: %.80q", f, len(txt), txt)
		if len(txt) > 20 {
			found = true
		}
	}
	if !found {
		t.Error("no text extracted from any N1 PDF")
	}
	for _, in := range []string{"", "%PDF-1.4", "stream\nBT (unterminated", "<< /Filter /FlateDecode >> stream\nnot zlib\nendstream"} {
		_ = PDFText([]byte(in)) // must not panic
	}
	simple := "%PDF-1.4\n1 0 obj << /Length 44 >> stream\nBT /F1 12 Tf 72 712 Td (Kali\\351mie 4.1) Tj ET\nendstream\nendobj"
	if got := PDFText([]byte(simple)); got != "Kaliémie 4.1" {
		t.Errorf("PDFText(simple) = %q", got)
	}
}
