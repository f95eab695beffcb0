package synth

import (
	"crypto/sha1"
	"crypto/sha256"
	"math/rand/v2"
	"slices"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// DefaultBase is the dataset's "now" when Options.Base is zero: every
// document is dated before it.
var DefaultBase = time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)

// Defaults used when the matching Options field is zero or negative.
const (
	DefaultPatients       = 50
	DefaultProfessionals  = 24
	DefaultDocsPerPatient = 8
)

// Options says what to generate. The zero value is usable: every zero field
// takes its default. The same Options always give the same bytes.
type Options struct {
	Seed uint64
	// Base is the dataset's "now"; documents are dated up to about six
	// years before it. Zero means DefaultBase.
	Base time.Time
	// Patients is the number of patients (default 50).
	Patients int
	// Professionals is the number of professionals, at least the eight
	// fixed ones of RosterLogins (default 24).
	Professionals int
	// DocsPerPatient is the exact number of documents of each patient
	// (default 8).
	DocsPerPatient int
	// LargeDocs makes every document 20–50 KB the way real ones are: more
	// results, longer narratives, a bigger PDF or a PDF copy of the report.
	LargeDocs bool
	// From is the first patient whose documents EachDocument generates:
	// the earlier patients are drawn (so that every patient is the one of
	// the whole dataset) but their documents are not, so that a large
	// dataset is generated in parts or resumed cheaply.
	From int
}

func (o Options) withDefaults() Options {
	if o.Base.IsZero() {
		o.Base = DefaultBase
	}
	o.Base = o.Base.UTC()
	if o.Patients <= 0 {
		o.Patients = DefaultPatients
	}
	if o.Professionals < len(roster) {
		if o.Professionals <= 0 {
			o.Professionals = DefaultProfessionals
		} else {
			o.Professionals = len(roster)
		}
	}
	if o.DocsPerPatient <= 0 {
		o.DocsPerPatient = DefaultDocsPerPatient
	}
	return o
}

// Patient is a synthetic patient with a qualified test INS.
type Patient struct {
	// INS is a test INS-NIR (urn:oid:1.2.250.1.213.1.4.10): 13 digits
	// consistent with sex, birth date and birth place, plus the 2-digit key
	// 97 - (n mod 97).
	INS      carnet.Identifier
	Identity carnet.Identity // INS traits: upper case, no diacritics
	Index    int
	// GP is the index in Dataset.Professionals of the patient's médecin
	// traitant (general practitioner).
	GP int
}

// Professional is a synthetic health professional.
type Professional struct {
	// Author carries the RPPS national id (urn:oid:1.2.250.1.71.4.2.1, "8"
	// followed by an 11-digit RPPS number whose last digit is a Luhn key),
	// names, profession and specialty as JDV_J01 codes (G15_10,
	// G15_10/SM04) and the organisation.
	Author carnet.Author
	// Login is a short stable demo login: gp, cardio, nurse, dentist, samu,
	// pharma, bio, radio for the fixed roster, psNN for the others.
	Login string
	// Facility (JDV_J02) and PracticeSetting (JDV_J04) of the
	// professional's organisation, as put on the documents they write.
	Facility        carnet.Coding
	PracticeSetting carnet.Coding
}

// Kind is the kind of a generated document.
type Kind string

const (
	KindLabN3        Kind = "lab-n3"       // CR d'examens biologiques, structured (XD-LAB)
	KindLabN1        Kind = "lab-n1"       // the same as a PDF in a CDA
	KindPrescription Kind = "prescription" // ordonnance de produits de santé
	KindDischarge    Kind = "discharge"    // lettre de liaison à la sortie
	KindImaging      Kind = "imaging"      // CR d'imagerie médicale, PDF in CDA
	KindVaccination  Kind = "vaccination"  // note de vaccination
	KindSummary      Kind = "summary"      // synthèse médicale (VSM)
	KindConsultation Kind = "consultation" // CR de consultation, PDF in CDA
	KindEmergency    Kind = "emergency"    // CR de passage aux urgences, PDF in CDA
)

// Document is one generated CDA R2 document and its XDS metadata.
type Document struct {
	Patient  int // index in Dataset.Patients
	Author   int // index in Dataset.Professionals
	Kind     Kind
	UniqueID string // the CDA ClinicalDocument/id root: 1.2.250.1.999.1.<seed>.<patient>.<n>
	// Meta is what a correct reading of the CDA header gives, plus class
	// and format (derived from type and template), size and hashes. Its
	// Confidentiality may add a DMP visibility label (MASQUE_PS, …) that,
	// as in real submissions, is metadata only.
	Meta    carnet.DocumentMeta
	Content []byte
	// Results are the lab results an N3 lab report carries, in document
	// order; nil for other kinds.
	Results []LabResult
}

// LabResult is one structured lab result, as written in the CDA.
type LabResult struct {
	LOINC, Display, Value, Unit, Low, High, Interpretation string
}

// Dataset is everything Generate makes.
type Dataset struct {
	Patients      []Patient
	Professionals []Professional
	Documents     []Document
}

// Generate builds the whole dataset in memory. For large volumes use
// Options.People and Options.EachDocument, which stream.
func Generate(o Options) Dataset {
	var d Dataset
	d.Patients, d.Professionals = o.People()
	_ = o.EachDocument(func(doc Document) error {
		d.Documents = append(d.Documents, doc)
		return nil
	})
	return d
}

// People returns the patients and professionals of the dataset, the same
// as Generate's, without generating documents.
func (o Options) People() ([]Patient, []Professional) {
	o = o.withDefaults()
	pros := makeProfessionals(o)
	pats := make([]Patient, o.Patients)
	used := nirRegistry{}
	for i := range pats {
		pats[i] = makePerson(o, i, pros, used).Patient
	}
	out := make([]Professional, len(pros))
	for i, p := range pros {
		out[i] = p.Professional
	}
	return pats, out
}

// EachDocument generates the documents one at a time, patient by patient
// and, for each patient, in chronological order, and calls fn with each;
// it stops at the first error fn returns and returns it. Memory use does
// not grow with the number of documents.
func (o Options) EachDocument(fn func(Document) error) error {
	o = o.withDefaults()
	pros := makeProfessionals(o)
	used := nirRegistry{}
	for p := 0; p < o.Patients; p++ {
		per := makePerson(o, p, pros, used)
		if p < o.From {
			continue
		}
		for j, slot := range planDocuments(o, per) {
			doc := makeDocument(o, pros, per, j, slot)
			if err := fn(doc); err != nil {
				return err
			}
		}
	}
	return nil
}

// finish fills the content-derived metadata.
func finish(d *Document) {
	s1 := sha1.Sum(d.Content)
	s256 := sha256.Sum256(d.Content)
	d.Meta.Size = int64(len(d.Content))
	d.Meta.SHA1 = s1[:]
	d.Meta.SHA256 = s256[:]
	d.Meta.ContentType = "text/xml"
	d.Meta.Language = "fr-FR"
}

// Random streams. Each entity draws from its own generator derived from
// (seed, stream, indexes), so that one document does not depend on how
// many random numbers another one used, and any document can be
// regenerated alone.
const (
	streamProfessional uint64 = iota + 1
	streamPatient
	streamPlan
	streamDocument
)

func newRand(seed, stream, a, b uint64) *rand.Rand {
	s1 := splitmix(seed ^ splitmix(stream))
	s2 := splitmix(s1 ^ splitmix(a+0x9e3779b97f4a7c15) ^ splitmix(b*0xbf58476d1ce4e5b9+stream))
	return rand.New(rand.NewPCG(s1, s2))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func chance(r *rand.Rand, p float64) bool { return r.Float64() < p }

// between returns an int in [lo, hi].
func between(r *rand.Rand, lo, hi int) int { return lo + r.IntN(hi-lo+1) }

func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + r.Float64()*(hi-lo) }

// weighted returns an index drawn with the given weights.
func weighted(r *rand.Rand, w []int) int {
	total := 0
	for _, x := range w {
		total += x
	}
	n := r.IntN(total)
	for i, x := range w {
		if n < x {
			return i
		}
		n -= x
	}
	return len(w) - 1
}

// sample returns k distinct indexes of [0, n), sorted.
func sample(r *rand.Rand, n, k int) []int {
	if k > n {
		k = n
	}
	idx := r.Perm(n)[:k]
	slices.Sort(idx)
	return idx
}
