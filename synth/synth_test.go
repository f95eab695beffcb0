package synth

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	carnet "github.com/carnet-sante/carnet"
)

func TestSameSeedSameBytes(t *testing.T) {
	for _, large := range []bool{false, true} {
		o := Options{Seed: 42, Patients: 15, DocsPerPatient: 6, LargeDocs: large}
		a, b := Generate(o), Generate(o)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("LargeDocs=%v: two runs with the same options differ", large)
		}
		// Streaming gives the same documents as Generate.
		var streamed []Document
		if err := o.EachDocument(func(d Document) error { streamed = append(streamed, d); return nil }); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(streamed, a.Documents) {
			t.Errorf("LargeDocs=%v: EachDocument differs from Generate", large)
		}
		// From skips the documents of the first patients, not their
		// identities: the later patients' documents are the same.
		from := o
		from.From = 11
		var later []Document
		if err := from.EachDocument(func(d Document) error { later = append(later, d); return nil }); err != nil {
			t.Fatal(err)
		}
		if want := a.Documents[11*6:]; len(later) != len(want) || !reflect.DeepEqual(later, want) {
			t.Errorf("LargeDocs=%v: EachDocument from patient 11 gives %d documents, not the %d of the whole dataset's patients 11…", large, len(later), len(want))
		}
		pats, pros := o.People()
		if !reflect.DeepEqual(pats, a.Patients) || !reflect.DeepEqual(pros, a.Professionals) {
			t.Errorf("LargeDocs=%v: People differs from Generate", large)
		}
	}
}

func TestOtherSeedOtherBytes(t *testing.T) {
	a := Generate(Options{Seed: 1, Patients: 10})
	b := Generate(Options{Seed: 2, Patients: 10})
	same := 0
	for i := range a.Documents {
		if bytes.Equal(a.Documents[i].Content, b.Documents[i].Content) {
			same++
		}
	}
	if same != 0 {
		t.Errorf("%d of %d documents are byte-identical across seeds 1 and 2", same, len(a.Documents))
	}
	if reflect.DeepEqual(a.Patients[len(demoPatients):], b.Patients[len(demoPatients):]) {
		t.Error("seeds 1 and 2 give the same random patients")
	}
	// The base date moves the documents, not only their dates.
	c := Generate(Options{Seed: 1, Patients: 10, Base: DefaultBase.AddDate(1, 0, 0)})
	if bytes.Equal(a.Documents[0].Content, c.Documents[0].Content) {
		t.Error("another base date gives the same first document")
	}
}

func TestDefaults(t *testing.T) {
	d := Generate(Options{})
	if got, want := len(d.Patients), DefaultPatients; got != want {
		t.Errorf("patients: got %d, want %d", got, want)
	}
	if got, want := len(d.Professionals), DefaultProfessionals; got != want {
		t.Errorf("professionals: got %d, want %d", got, want)
	}
	if got, want := len(d.Documents), DefaultPatients*DefaultDocsPerPatient; got != want {
		t.Errorf("documents: got %d, want %d", got, want)
	}
	// Fewer professionals than the fixed roster still gives the roster.
	_, pros := Options{Professionals: 2}.People()
	if got, want := len(pros), len(roster); got != want {
		t.Errorf("Professionals: 2 gave %d professionals, want the roster's %d", got, want)
	}
}

func TestEachDocumentStopsAtError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := Options{Patients: 5}.EachDocument(func(Document) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("got error %v, want %v", err, stop)
	}
	if n != 3 {
		t.Errorf("fn called %d times after returning an error at the 3rd, want 3", n)
	}
}

func TestDocumentsAreWellFormedAndCarryTheirIdentities(t *testing.T) {
	small, large := testData()
	for _, ds := range []Dataset{small, large} {
		for _, doc := range ds.Documents {
			if err := wellFormed(doc.Content); err != nil {
				t.Fatalf("%s (%s) is not well-formed XML: %v", doc.UniqueID, doc.Kind, err)
			}
			if !utf8.Valid(doc.Content) {
				t.Fatalf("%s is not valid UTF-8", doc.UniqueID)
			}
			d := parseCDA(t, doc.Content)
			if d.XMLName.Space != "urn:hl7-org:v3" || d.XMLName.Local != "ClinicalDocument" {
				t.Fatalf("%s: root is %v", doc.UniqueID, d.XMLName)
			}
			pat := ds.Patients[doc.Patient]
			if !slices.Contains(d.PatientIDs, cdaII{carnet.OIDInsTestNIR, pat.INS.Value}) {
				t.Errorf("%s: patientRole ids %v lack the INS %s", doc.UniqueID, d.PatientIDs, pat.INS.Value)
			}
			pro := ds.Professionals[doc.Author]
			if got, want := d.Author.ID, (cdaII{carnet.OIDRPPS, pro.Author.ID.Value}); got != want {
				t.Errorf("%s: author id %v, want %v", doc.UniqueID, got, want)
			}
			if d.LegalAuthenticator != d.Author.ID {
				t.Errorf("%s: legal authenticator %v differs from author %v", doc.UniqueID, d.LegalAuthenticator, d.Author.ID)
			}
			if d.ID.Root != doc.UniqueID {
				t.Errorf("%s: ClinicalDocument/id root is %q", doc.UniqueID, d.ID.Root)
			}
		}
	}
}

// TestMetaIsWhatTheHeaderSays checks that the metadata equals a reading of
// the CDA header, so that other packages can test their extraction
// against it.
func TestMetaIsWhatTheHeaderSays(t *testing.T) {
	small, large := testData()
	for _, ds := range []Dataset{small, large} {
		for _, doc := range ds.Documents {
			m, d := doc.Meta, parseCDA(t, doc.Content)
			id := doc.UniqueID
			if got, want := m.Size, int64(len(doc.Content)); got != want {
				t.Errorf("%s: Size %d, content has %d bytes", id, got, want)
			}
			if s := sha1.Sum(doc.Content); !bytes.Equal(m.SHA1, s[:]) {
				t.Errorf("%s: SHA1 does not match the content", id)
			}
			if s := sha256.Sum256(doc.Content); !bytes.Equal(m.SHA256, s[:]) {
				t.Errorf("%s: SHA256 does not match the content", id)
			}
			if m.ContentType != "text/xml" || m.Language != "fr-FR" || d.Language.Code != "fr-FR" {
				t.Errorf("%s: content type %q, language %q / %q", id, m.ContentType, m.Language, d.Language.Code)
			}
			if m.Title != d.Title {
				t.Errorf("%s: Title %q, CDA title %q", id, m.Title, d.Title)
			}
			if m.Type != (carnet.Coding{System: SystemLOINC, Code: d.Code.Code, Display: d.Code.DisplayName}) || d.Code.CodeSystem != oidLOINC {
				t.Errorf("%s: Type %+v, CDA code %+v", id, m.Type, d.Code)
			}
			if got := parseTS(t, d.EffectiveTime.Value); !got.Equal(m.Created) {
				t.Errorf("%s: Created %v, effectiveTime %v", id, m.Created, got)
			}
			if len(m.Confidentiality) == 0 || m.Confidentiality[0].Code != d.Confidentiality.Code || d.Confidentiality.Code != "N" {
				t.Errorf("%s: Confidentiality %+v, CDA %+v", id, m.Confidentiality, d.Confidentiality)
			}
			if m.Facility != (carnet.Coding{System: "urn:oid:" + d.Facility.CodeSystem, Code: d.Facility.Code, Display: d.Facility.DisplayName}) {
				t.Errorf("%s: Facility %+v, CDA %+v", id, m.Facility, d.Facility)
			}
			s := d.Author.Org.Setting
			if m.PracticeSetting != (carnet.Coding{System: "urn:oid:" + s.CodeSystem, Code: s.Code, Display: s.DisplayName}) {
				t.Errorf("%s: PracticeSetting %+v, CDA %+v", id, m.PracticeSetting, s)
			}
			var events []carnet.Coding
			for _, ev := range d.Events {
				if ev.Code.Code != "" {
					events = append(events, carnet.Coding{System: systemURI(ev.Code.CodeSystem), Code: ev.Code.Code, Display: ev.Code.DisplayName})
				}
			}
			if !reflect.DeepEqual(m.Events, events) {
				t.Errorf("%s: Events %+v, CDA %+v", id, m.Events, events)
			}
			if len(d.Events) == 0 {
				t.Fatalf("%s: no serviceEvent", id)
			}
			if got, want := m.ServicePeriod, (carnet.Period{Start: parseTS(t, d.Events[0].Low.Value), End: parseTS(t, d.Events[0].High.Value)}); !got.Start.Equal(want.Start) || !got.End.Equal(want.End) {
				t.Errorf("%s: ServicePeriod %v, CDA %v", id, got, want)
			}
			pro := ds.Professionals[doc.Author]
			if len(m.Authors) != 1 || !reflect.DeepEqual(m.Authors[0], pro.Author) {
				t.Errorf("%s: Authors %+v, want the professional's %+v", id, m.Authors, pro.Author)
			}
			if m.Authors[0].OrgID.Value != d.Author.Org.ID.Extension || m.Authors[0].Org != d.Author.Org.Name {
				t.Errorf("%s: author organisation %q %q, CDA %q %q", id, m.Authors[0].Org, m.Authors[0].OrgID.Value, d.Author.Org.Name, d.Author.Org.ID.Extension)
			}
			if c := m.Authors[0].Specialty; c.Code != "" && c.Code != d.Author.Code.Code {
				t.Errorf("%s: author specialty %q, CDA %q", id, c.Code, d.Author.Code.Code)
			}
			if m.Class.Code == "" || m.Format.Code == "" {
				t.Errorf("%s: class %+v, format %+v", id, m.Class, m.Format)
			}
		}
	}
}

func TestINSAndRPPSAreValid(t *testing.T) {
	pats, pros := Options{Seed: 3, Patients: 3000, Professionals: 300}.People()
	nir := regexp.MustCompile(`^[12][0-9]{12}[0-9]{2}$`)
	seen := map[string]bool{}
	for _, p := range pats {
		v := p.INS.Value
		if p.INS.System != "urn:oid:"+carnet.OIDInsTestNIR {
			t.Fatalf("patient %d: INS system %q", p.Index, p.INS.System)
		}
		if !nir.MatchString(v) {
			t.Fatalf("patient %d: INS %q is not 15 digits", p.Index, v)
		}
		if ins, test := p.INS.IsINS(); !ins || !test {
			t.Fatalf("patient %d: INS %v is not a test INS", p.Index, p.INS)
		}
		n, _ := strconv.ParseUint(v[:13], 10, 64)
		if key, _ := strconv.Atoi(v[13:]); key != 97-int(n%97) {
			t.Errorf("patient %d: NIR %s has key %d, want %d", p.Index, v, key, 97-int(n%97))
		}
		if seen[v] {
			t.Errorf("patient %d: INS %s given twice", p.Index, v)
		}
		seen[v] = true
		sex := "1"
		if p.Identity.Gender == "female" {
			sex = "2"
		}
		want := sex + p.Identity.BirthDate[2:4] + p.Identity.BirthDate[5:7] + p.Identity.BirthPlace
		if v[:10] != want {
			t.Errorf("patient %d: NIR %s does not start with sex, birth year and month, and place %s", p.Index, v, want)
		}
		for _, s := range append([]string{p.Identity.Family}, p.Identity.Given...) {
			if s != insForm(s) {
				t.Errorf("patient %d: INS trait %q is not in INS form", p.Index, s)
			}
		}
	}
	ids := map[string]bool{}
	for _, p := range pros {
		v := p.Author.ID.Value
		if p.Author.ID.System != "urn:oid:"+carnet.OIDRPPS {
			t.Fatalf("%s: id system %q", p.Login, p.Author.ID.System)
		}
		if len(v) != 12 || v[0] != '8' || !luhnValid(v[1:]) {
			t.Errorf("%s: RPPS id %q is not 8 + an 11-digit Luhn-valid RPPS number", p.Login, v)
		}
		if ids[v] {
			t.Errorf("%s: RPPS id %s given twice", p.Login, v)
		}
		ids[v] = true
	}
}

func TestLuhnAndNIRKey(t *testing.T) {
	tests := []struct {
		digits string
		valid  bool
	}{
		{"79927398713", true}, // the textbook example
		{"79927398710", false},
		{"10100001006", true}, // the demo GP's RPPS number
		{"10100001007", false},
		{"1", false},
		{"1000319351a", false},
	}
	for _, tt := range tests {
		if got := luhnValid(tt.digits); got != tt.valid {
			t.Errorf("luhnValid(%q) = %v, want %v", tt.digits, got, tt.valid)
		}
	}
	// The test NIR of the ANS examples: 2 79 03 51 215 189 key 89.
	if got := nirKey("2790351215189"); got != 89 {
		t.Errorf("nirKey(2790351215189) = %d, want 89", got)
	}
}

func TestRosterIsStable(t *testing.T) {
	_, a := Options{Seed: 1}.People()
	_, b := Options{Seed: 99, Professionals: 40}.People()
	want := []string{"gp", "cardio", "nurse", "dentist", "samu", "pharma", "bio", "radio"}
	if got := RosterLogins(); !slices.Equal(got, want) {
		t.Fatalf("RosterLogins() = %v, want %v", got, want)
	}
	for i, login := range want {
		if a[i].Login != login || !reflect.DeepEqual(a[i], b[i]) {
			t.Errorf("roster %d: %+v vs %+v", i, a[i], b[i])
		}
	}
	logins := map[string]bool{}
	for _, p := range b {
		if logins[p.Login] {
			t.Errorf("login %q given twice", p.Login)
		}
		logins[p.Login] = true
	}
	pa, _ := Options{Seed: 1}.People()
	pb, _ := Options{Seed: 99}.People()
	for i := range demoPatients {
		if !reflect.DeepEqual(pa[i].Identity, pb[i].Identity) || pa[i].INS != pb[i].INS {
			t.Errorf("demo patient %d differs across seeds: %+v vs %+v", i, pa[i], pb[i])
		}
	}
}

func TestLargeDocsSizes(t *testing.T) {
	_, large := testData()
	for _, seed := range []uint64{1, 2} {
		docs := large.Documents
		if seed == 2 {
			docs = Generate(Options{Seed: seed, Patients: 30, LargeDocs: true}).Documents
		}
		for _, doc := range docs {
			if n := len(doc.Content); n < 20_000 || n > 50_000 {
				t.Errorf("seed %d: %s (%s) is %d bytes, want 20–50 KB", seed, doc.UniqueID, doc.Kind, n)
			}
		}
	}
}

var b64PDF = regexp.MustCompile(`mediaType="application/pdf" representation="B64">([A-Za-z0-9+/=]+)<`)

// checkPDF verifies the structure a PDF reader relies on: header, objects
// where the cross-reference table says, trailer, startxref, EOF marker.
func checkPDF(t *testing.T, id string, pdf []byte) {
	t.Helper()
	if !bytes.HasPrefix(pdf, []byte("%PDF-1.4\n")) {
		t.Fatalf("%s: PDF starts with %q", id, pdf[:min(len(pdf), 10)])
	}
	if !bytes.HasSuffix(pdf, []byte("%%EOF\n")) {
		t.Fatalf("%s: PDF does not end with %%%%EOF", id)
	}
	i := bytes.LastIndex(pdf, []byte("startxref\n"))
	if i < 0 || !bytes.Contains(pdf, []byte("trailer\n<< /Size ")) {
		t.Fatalf("%s: PDF has no trailer or startxref", id)
	}
	xref, err := strconv.Atoi(strings.Fields(string(pdf[i+len("startxref\n"):]))[0])
	if err != nil || !bytes.HasPrefix(pdf[xref:], []byte("xref\n0 ")) {
		t.Fatalf("%s: startxref %d does not point at the xref table", id, xref)
	}
	lines := strings.Split(string(pdf[xref:]), "\n")
	n, _ := strconv.Atoi(strings.Fields(lines[1])[1])
	if n < 6 {
		t.Fatalf("%s: xref has %d entries", id, n)
	}
	for obj := 1; obj < n; obj++ {
		entry := lines[2+obj]
		if len(entry) != 19 || !strings.HasSuffix(entry, " 00000 n ") {
			t.Fatalf("%s: xref entry %d is %q", id, obj, entry)
		}
		off, _ := strconv.Atoi(entry[:10])
		if want := strconv.Itoa(obj) + " 0 obj\n"; !bytes.HasPrefix(pdf[off:], []byte(want)) {
			t.Fatalf("%s: xref says object %d is at %d, found %q", id, obj, off, pdf[off:off+12])
		}
	}
}

func TestPDFs(t *testing.T) {
	small, large := testData()
	counted := map[Kind]int{}
	for _, doc := range append(slices.Clone(small.Documents), large.Documents...) {
		m := b64PDF.FindSubmatch(doc.Content)
		switch {
		case doc.Meta.Format.Code == formatPDF.code && m == nil:
			t.Fatalf("%s: N1 document without a base64 PDF", doc.UniqueID)
		case m == nil:
			continue
		}
		pdf, err := base64.StdEncoding.DecodeString(string(m[1]))
		if err != nil {
			t.Fatalf("%s: base64: %v", doc.UniqueID, err)
		}
		checkPDF(t, doc.UniqueID, pdf)
		// The patient's INS is in the text a reader shows.
		if ins := small.Patients[0].INS.Value; doc.Patient == 0 && doc.UniqueID[:18] == "1.2.250.1.999.1.7." && !bytes.Contains(pdf, []byte("INS "+ins)) {
			t.Errorf("%s: PDF text lacks the patient's INS", doc.UniqueID)
		}
		counted[doc.Kind]++
	}
	for _, k := range []Kind{KindLabN1, KindImaging, KindConsultation, KindEmergency, KindLabN3, KindPrescription} {
		if counted[k] == 0 {
			t.Errorf("no PDF checked in %s documents", k)
		}
	}
}

func TestPDFText(t *testing.T) {
	pdf := renderPDF("Titre — é", "Dr Zoé", DefaultBase, []string{"RÉSULTATS", "Potassium (kaliémie) : 4.2 mmol/L", strings.Repeat("long ", 300)})
	checkPDF(t, "renderPDF", pdf)
	for _, want := range [][]byte{
		[]byte("(R\xc9SULTATS) Tj"),                             // É in WinAnsiEncoding
		[]byte("(Potassium \\(kali\xe9mie\\) : 4.2 mmol/L) Tj"), // parentheses escaped
		[]byte("/Title <FEFF005400690074"),                      // UTF-16 document information
	} {
		if !bytes.Contains(pdf, want) {
			t.Errorf("PDF lacks %q", want)
		}
	}
	if got := bytes.Count(pdf, []byte("/Type /Page ")); got != 1 {
		t.Errorf("got %d pages, want 1", got)
	}
	many := make([]string, 150)
	for i := range many {
		many[i] = "ligne"
	}
	if got := bytes.Count(renderPDF("t", "a", DefaultBase, many), []byte("/Type /Page ")); got != 3 {
		t.Errorf("150 lines: got %d pages, want 3", got)
	}
}

func TestLabResultsAreWhatTheCDACarries(t *testing.T) {
	small, large := testData()
	n := 0
	flags := map[string]int{}
	loincs := map[string]bool{}
	for _, doc := range append(slices.Clone(small.Documents), large.Documents...) {
		obs := observations(t, doc.Content)
		if doc.Kind != KindLabN3 {
			if doc.Results != nil || len(obs) != 0 {
				t.Fatalf("%s (%s): %d results, %d lab observations", doc.UniqueID, doc.Kind, len(doc.Results), len(obs))
			}
			continue
		}
		if len(doc.Results) == 0 || len(doc.Results) != len(obs) {
			t.Fatalf("%s: %d results, %d observations in the CDA", doc.UniqueID, len(doc.Results), len(obs))
		}
		for i, r := range doc.Results {
			o := obs[i]
			got := LabResult{o.Code.Code, o.Code.DisplayName, o.Value.Value, o.Value.Unit, o.Range.Low.Value, o.Range.High.Value, o.Interpretation.Code}
			if got != r {
				t.Fatalf("%s result %d: Results say %+v, CDA says %+v", doc.UniqueID, i, r, got)
			}
			v, err := strconv.ParseFloat(r.Value, 64)
			if err != nil {
				t.Fatalf("%s: value %q", doc.UniqueID, r.Value)
			}
			want := "N"
			if low, err := strconv.ParseFloat(r.Low, 64); err == nil && v < low {
				want = "L"
			}
			if high, err := strconv.ParseFloat(r.High, 64); err == nil && v > high {
				want = "H"
			}
			if r.Interpretation != want {
				t.Errorf("%s: %s = %s [%s, %s] interpreted %s, want %s", doc.UniqueID, r.LOINC, r.Value, r.Low, r.High, r.Interpretation, want)
			}
			if r.Low == "" && r.High == "" || r.Unit == "" {
				t.Errorf("%s: %s has no reference range or no unit: %+v", doc.UniqueID, r.LOINC, r)
			}
			n++
			flags[r.Interpretation]++
			loincs[r.LOINC] = true
		}
	}
	if share := float64(flags["H"]+flags["L"]) / float64(n); share < 0.03 || share > 0.4 || flags["H"] == 0 || flags["L"] == 0 {
		t.Errorf("interpretations %v of %d results, want some high, some low, a majority normal", flags, n)
	}
	for _, l := range []string{"2823-3", "2951-2", "2160-0", "718-7", "2345-7", "4548-4", "3016-3", "13457-7", "89579-7", "33762-6", "1988-5"} {
		if !loincs[l] {
			t.Errorf("no result with LOINC %s in %d results", l, n)
		}
	}
}

func TestKindsAndDates(t *testing.T) {
	small, _ := testData()
	o := Options{Seed: 7}.withDefaults()
	count := map[Kind]int{}
	labels := map[string]int{}
	var last time.Time
	for i, doc := range small.Documents {
		count[doc.Kind]++
		m := doc.Meta
		if !m.Created.Before(o.Base) || m.Created.Before(o.Base.AddDate(-7, 0, 0)) {
			t.Errorf("%s: created %v, want within the six years before %v", doc.UniqueID, m.Created, o.Base)
		}
		birth, _ := time.Parse(time.DateOnly, small.Patients[doc.Patient].Identity.BirthDate)
		if m.Created.Before(birth) {
			t.Errorf("%s: created %v before the patient's birth %v", doc.UniqueID, m.Created, birth)
		}
		if i > 0 && small.Documents[i-1].Patient == doc.Patient && m.Created.Before(last) {
			t.Errorf("%s: documents of patient %d are not in chronological order", doc.UniqueID, doc.Patient)
		}
		last = m.Created
		for _, c := range m.Confidentiality[1:] {
			labels[c.Code]++
		}
	}
	for _, k := range kindOrder {
		if count[k] == 0 {
			t.Errorf("no %s document in %d", k, len(small.Documents))
		}
	}
	if count[KindLabN3] <= count[KindConsultation] || count[KindLabN3] <= count[KindSummary] {
		t.Errorf("lab reports should be the most frequent: %v", count)
	}
	if labels[carnet.LabelMasquePS] == 0 {
		t.Errorf("no masked document among %d: %v", len(small.Documents), labels)
	}
}

func TestFrenchNarratives(t *testing.T) {
	small, _ := testData()
	for _, doc := range small.Documents {
		if doc.Meta.Format.Code == formatPDF.code {
			continue // the narrative is in the PDF
		}
		if !bytes.ContainsAny(doc.Content, "éèàç") {
			t.Errorf("%s (%s): no accented letter in the narrative", doc.UniqueID, doc.Kind)
		}
	}
}

func TestXMLWriterEscapes(t *testing.T) {
	var w xw
	w.open("root", "a", `"Lefèvre" & <fils>`, "skipped", "")
	w.elem("t", "R&D <b> \"ok\" é")
	w.close("root")
	var got struct {
		A       string  `xml:"a,attr"`
		Skipped *string `xml:"skipped,attr"`
		T       string  `xml:"t"`
	}
	if err := xml.Unmarshal(w.b, &got); err != nil {
		t.Fatalf("%s: %v", w.b, err)
	}
	if got.A != `"Lefèvre" & <fils>` || got.T != `R&D <b> "ok" é` || got.Skipped != nil {
		t.Errorf("read back %+v from %s", got, w.b)
	}
}

func TestParisTime(t *testing.T) {
	tests := []struct {
		utc  time.Time
		want string
	}{
		{time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC), "20260115130000+0100"},
		{time.Date(2026, 7, 15, 12, 0, 0, 0, time.UTC), "20260715140000+0200"},
		{time.Date(2026, 3, 29, 0, 59, 0, 0, time.UTC), "20260329015900+0100"}, // last Sunday of March, before 01:00 UTC
		{time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC), "20260329030000+0200"},
		{time.Date(2026, 10, 25, 0, 59, 0, 0, time.UTC), "20261025025900+0200"},
		{time.Date(2026, 10, 25, 1, 0, 0, 0, time.UTC), "20261025020000+0100"},
	}
	for _, tt := range tests {
		if got := ts(tt.utc); got != tt.want {
			t.Errorf("ts(%v) = %s, want %s", tt.utc, got, tt.want)
		}
	}
}
