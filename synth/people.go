package synth

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// capability says which kinds of documents a professional writes.
type capability uint16

const (
	capLab capability = 1 << iota
	capImaging
	capPrescription
	capDischarge
	capVaccination
	capSummary
	capConsultation
	capEmergency
)

type address struct {
	number int
	street string
	place  commune
}

func (a address) line() string {
	return fmt.Sprintf("%d %s, %s %s", a.number, a.street, a.place.postal, a.place.name)
}

type organisation struct {
	name     string
	id       string // Struct_IdNat: "1" + FINESS
	addr     address
	phone    string
	facility code
	setting  code
}

// pro is a professional with what documents need beyond the exported part.
type pro struct {
	Professional
	index      int
	given      string // prénom d'exercice, with accents
	family     string // nom d'exercice, with accents
	female     bool
	profession code
	specialty  code // zero for professions without one
	org        organisation
	phone      string
	caps       capability
	demo       bool
}

// title is how the professional is named in narratives.
func (p *pro) title() string {
	if p.profession == profPhysician || p.profession == profDentist {
		return "Dr " + p.given + " " + strings.ToUpper(p.family)
	}
	return p.given + " " + strings.ToUpper(p.family)
}

// roleCode is the J01 code written in CDA: specialty when there is one.
func (p *pro) roleCode() code {
	if p.specialty.code != "" {
		return p.specialty
	}
	return p.profession
}

// rosterEntry is one of the fixed demo professionals: the same whatever
// the seed, so that demo logins and docs can name them.
type rosterEntry struct {
	login, given, family string
	female               bool
	profession           code
	specialty            code
	org                  organisation
	caps                 capability
}

var hospitalDeuxRives = organisation{
	name: "Centre hospitalier des Deux-Rives", id: "1750199985",
	addr:     address{12, "boulevard Gambetta", communes[1]},
	phone:    "tel:0143560000",
	facility: facilityPublicHospital, setting: settingHospital,
}

// roster is the fixed part of every dataset's professionals, in this
// order, whatever the seed. The first six are the demo logins.
var roster = []rosterEntry{
	{"gp", "Hélène", "Lefèvre", true, profPhysician, specGP, organisation{
		name: "Cabinet médical du Dr Lefèvre", id: "1750200122",
		addr: address{18, "rue Voltaire", communes[1]}, phone: "tel:0143571122",
		facility: facilitySoloPractice, setting: settingAmbulatory,
	}, capPrescription | capConsultation | capVaccination | capSummary},
	{"cardio", "Antoine", "Garnier", false, profPhysician, specCardiology, hospitalDeuxRives,
		capPrescription | capConsultation | capDischarge},
	{"nurse", "Sophie", "Roux", true, profNurse, code{}, organisation{
		name: "Cabinet infirmier des Lilas", id: "1750201153",
		addr: address{7, "rue des Lilas", communes[5]}, phone: "tel:0143612233",
		facility: facilityGroupPractice, setting: settingAmbulatory,
	}, capVaccination},
	{"dentist", "Julien", "Caron", false, profDentist, code{}, organisation{
		name: "Cabinet dentaire du Dr Caron", id: "1750202110",
		addr: address{41, "avenue de la Libération", communes[3]}, phone: "tel:0145334455",
		facility: facilitySoloPractice, setting: settingAmbulatory,
	}, capPrescription},
	{"samu", "Karim", "Benali", false, profPhysician, specEmergency, organisation{
		name: "SAMU de Paris — Centre hospitalier des Deux-Rives", id: "1750199985",
		addr: hospitalDeuxRives.addr, phone: "tel:0143560015",
		facility: facilityPublicHospital, setting: settingSAMU,
	}, capEmergency | capPrescription},
	{"pharma", "Camille", "Fournier", true, profPharmacist, specPharmacy, organisation{
		name: "Pharmacie du Marché", id: "1750203167",
		addr: address{3, "place de la Mairie", communes[4]}, phone: "tel:0142526677",
		facility: facilityPharmacy, setting: settingAmbulatory,
	}, capVaccination},
	{"bio", "Marc", "Perrin", false, profPhysician, specBiology, organisation{
		name: "Laboratoire de biologie médicale Bio-Seine", id: "1750204108",
		addr: address{25, "rue Pasteur", communes[3]}, phone: "tel:0145308899",
		facility: facilityLab, setting: settingAmbulatory,
	}, capLab},
	{"radio", "Isabelle", "Mercier", true, profPhysician, specRadiology, organisation{
		name: "Centre d'imagerie médicale Pasteur", id: "1750205196",
		addr: address{25, "rue Pasteur", communes[3]}, phone: "tel:0145301020",
		facility: facilityGroupPractice, setting: settingAmbulatory,
	}, capImaging},
}

// RosterLogins returns the logins of the fixed professionals, in the
// order of Dataset.Professionals: the first six are the demo logins.
func RosterLogins() []string {
	out := make([]string, len(roster))
	for i, e := range roster {
		out[i] = e.login
	}
	return out
}

// specialtyKind describes the professionals added after the roster.
type specialtyKind struct {
	weight     int
	profession code
	specialty  code
	caps       capability
	hospital   float64 // share working in a hospital
}

var otherProfessionals = []specialtyKind{
	{30, profPhysician, specGP, capPrescription | capConsultation | capVaccination | capSummary, 0},
	{8, profPhysician, specCardiology, capPrescription | capConsultation | capDischarge, 0.6},
	{4, profPhysician, specPneumology, capPrescription | capConsultation | capDischarge, 0.6},
	{3, profPhysician, specEndocrino, capPrescription | capConsultation | capDischarge, 0.5},
	{3, profPhysician, specGastro, capPrescription | capConsultation | capDischarge, 0.6},
	{2, profPhysician, specNephrology, capPrescription | capConsultation | capDischarge, 0.8},
	{3, profPhysician, specNeurology, capPrescription | capConsultation | capDischarge, 0.7},
	{4, profPhysician, specPaediatrics, capPrescription | capConsultation | capVaccination, 0.3},
	{3, profPhysician, specGeriatrics, capPrescription | capConsultation | capDischarge, 1},
	{2, profPhysician, specRheumato, capPrescription | capConsultation, 0.3},
	{4, profPhysician, specEmergency, capEmergency | capPrescription, 1},
	{5, profPhysician, specBiology, capLab, 0.2},
	{2, profPharmacist, specPharmaBio, capLab, 0},
	{5, profPhysician, specRadiology, capImaging, 0.4},
	{8, profNurse, code{}, capVaccination, 0},
	{5, profPharmacist, specPharmacy, capVaccination, 0},
	{4, profDentist, code{}, capPrescription, 0},
}

func specialtyWeights() []int {
	w := make([]int, len(otherProfessionals))
	for i, s := range otherProfessionals {
		w[i] = s.weight
	}
	return w
}

// makeProfessionals returns the roster followed by generated professionals.
func makeProfessionals(o Options) []*pro {
	pros := make([]*pro, 0, o.Professionals)
	for i, e := range roster {
		p := &pro{
			index: i, given: e.given, family: e.family, female: e.female,
			profession: e.profession, specialty: e.specialty, org: e.org,
			caps: e.caps, demo: true,
		}
		p.phone = e.org.phone
		p.Login = e.login
		p.fill(fmt.Sprintf("1010%06d", 100+i))
		pros = append(pros, p)
	}
	weights := specialtyWeights()
	for i := len(roster); i < o.Professionals; i++ {
		r := newRand(o.Seed, streamProfessional, uint64(i), 0)
		kind := otherProfessionals[weighted(r, weights)]
		p := &pro{index: i, profession: kind.profession, specialty: kind.specialty, caps: kind.caps}
		p.female = chance(r, 0.5)
		if p.female {
			p.given = pick(r, givenFemale)
		} else {
			p.given = pick(r, givenMale)
		}
		p.family = pick(r, familyNames)
		p.org = makeOrganisation(r, p, chance(r, kind.hospital))
		p.phone = p.org.phone
		p.Login = fmt.Sprintf("ps%02d", i)
		// Derived from the seed and the index: distinct within a dataset.
		p.fill(fmt.Sprintf("1%02d%07d", 10+r.IntN(89), i))
		pros = append(pros, p)
	}
	return pros
}

// fill sets the exported Professional from the internal fields; rpps10 is
// the RPPS number without its Luhn key.
func (p *pro) fill(rpps10 string) {
	rpps := rpps10 + string(rune('0'+luhnKey(rpps10)))
	p.Author = carnet.Author{
		ID:         carnet.Identifier{System: systemRPPS, Value: "8" + rpps},
		Family:     insForm(p.family),
		Given:      []string{p.given},
		Profession: p.profession.coding(),
		Specialty:  p.specialty.coding(),
		Org:        p.org.name,
		OrgID:      carnet.Identifier{System: systemStructure, Value: p.org.id},
	}
	p.Facility = p.org.facility.coding()
	p.PracticeSetting = p.org.setting.coding()
}

var hospitalNames = []string{
	"Centre hospitalier de %s", "Centre hospitalier universitaire de %s",
	"Clinique des Tilleuls — %s", "Clinique du Val Fleuri — %s", "Hôpital privé de %s",
}

func makeOrganisation(r *rand.Rand, p *pro, hospital bool) organisation {
	place := pick(r, communes)
	o := organisation{
		addr:  address{between(r, 1, 180), pick(r, streets), place},
		phone: phoneNumber(r, "0"+string(rune('1'+r.IntN(5)))),
	}
	o.id = structureID(r, place)
	if hospital {
		name := pick(r, hospitalNames)
		o.name = fmt.Sprintf(name, place.name)
		o.facility = facilityPublicHospital
		if strings.HasPrefix(name, "Clinique") || strings.HasPrefix(name, "Hôpital privé") {
			o.facility = facilityPrivateHospital
		}
		o.setting = settingHospital
		return o
	}
	o.setting = settingAmbulatory
	switch {
	case p.caps&capLab != 0:
		o.name = "Laboratoire de biologie médicale " + place.name
		o.facility = facilityLab
	case p.caps&capImaging != 0:
		o.name = "Centre d'imagerie médicale " + pick(r, []string{"du Parc", "Pasteur", "Saint-Michel", "des Halles", "de la Gare"})
		o.facility = facilityGroupPractice
	case p.profession == profNurse:
		o.name = "Cabinet infirmier " + pick(r, []string{"du Centre", "des Écoles", "de la Mairie", "du Moulin"})
		o.facility = facilityGroupPractice
	case p.profession == profPharmacist:
		o.name = "Pharmacie " + pick(r, []string{"du Marché", "de la Gare", "Centrale", "des Halles", "du Port", "de l'Église"})
		o.facility = facilityPharmacy
	case p.profession == profDentist:
		o.name = "Cabinet dentaire du Dr " + p.family
		o.facility = facilitySoloPractice
	case p.specialty == specGP:
		switch r.IntN(3) {
		case 0:
			o.name = "Cabinet médical du Dr " + p.family
			o.facility = facilitySoloPractice
		case 1:
			o.name = "Cabinet médical " + o.addr.street
			o.facility = facilityGroupPractice
		default:
			o.name = "Maison de santé pluriprofessionnelle de " + place.name
			o.facility = facilityHealthCentre
		}
	default:
		o.name = "Cabinet de consultations spécialisées du Dr " + p.family
		o.facility = facilityGroupPractice
	}
	return o
}

// structureID returns a Struct_IdNat: "1" + a FINESS-like number (two
// department digits, six digits, a Luhn key).
func structureID(r *rand.Rand, place commune) string {
	f := place.insee[:2] + fmt.Sprintf("%06d", r.IntN(1000000))
	return "1" + f + string(rune('0'+luhnKey(f)))
}

func phoneNumber(r *rand.Rand, prefix string) string {
	return fmt.Sprintf("tel:%s%08d", prefix, r.IntN(100000000))
}

// luhnKey returns the Luhn check digit to append to digits.
func luhnKey(digits string) int {
	sum := 0
	double := true // the rightmost digit of the payload is doubled once the key is appended
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return (10 - sum%10) % 10
}

// luhnValid reports whether digits end with a valid Luhn key.
func luhnValid(digits string) bool {
	if len(digits) < 2 {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return luhnKey(digits[:len(digits)-1]) == int(digits[len(digits)-1]-'0')
}

// nirKey returns the 2-digit key of a 13-digit NIR: 97 - (n mod 97).
func nirKey(nir13 string) int {
	var n uint64
	for _, c := range nir13 {
		n = n*10 + uint64(c-'0')
	}
	return 97 - int(n%97)
}

// person is a patient with what documents need beyond the exported part.
type person struct {
	Patient
	given      string // prénom usuel, with accents
	family     string // nom, with accents
	female     bool
	birth      time.Time
	birthPlace commune
	age        int
	addr       address
	phone      string
	conditions []*condition
	allergy    string // "" for none known
	smoker     bool
	weightKg   int
	heightCm   int
}

func (p *person) has(c *condition) bool {
	for _, x := range p.conditions {
		if x == c {
			return true
		}
	}
	return false
}

func (p *person) civility() string {
	if p.age < 18 {
		return "l'enfant"
	}
	if p.female {
		return "Mme"
	}
	return "M."
}

// displayName is "Mme Marie DURAND".
func (p *person) displayName() string {
	return p.civility() + " " + p.given + " " + strings.ToUpper(p.family)
}

// demoPatient is one of the fixed first patients: stable across seeds so
// that demo scripts can name them.
type demoPatient struct {
	family       string
	given        []string
	female       bool
	birth        string
	place        int // index in communes
	order        int // NIR order number
	conditions   []*condition
	allergy      string
	smoker       bool
	weight, size int
}

var demoPatients = []demoPatient{
	{"Durand", []string{"Marie", "Hélène"}, true, "1954-03-12", 6, 123,
		[]*condition{&condHeartFailure, &condHypertension, &condAtrialFibrillation}, "Pénicillines", false, 68, 162},
	{"Moreau", []string{"Lucas", "Pierre"}, false, "1988-07-21", 12, 45,
		[]*condition{&condAsthma}, "", true, 78, 181},
	{"Martin", []string{"Chloé", "Léa"}, true, "2015-05-04", 2, 302,
		[]*condition{&condAsthma}, "", false, 36, 142},
	{"Rousseau", []string{"Jean", "Michel"}, false, "1961-11-02", 16, 88,
		[]*condition{&condDiabetes, &condDyslipidemia, &condKidney, &condHypertension}, "", true, 92, 174},
}

// nirRegistry hands out distinct NIRs: two random patients could otherwise
// share sex, birth month, place and order number.
type nirRegistry map[string]bool

// makePerson returns patient i. Patients must be made in index order with
// the same registry, so that NIRs are unique.
func makePerson(o Options, i int, pros []*pro, used nirRegistry) *person {
	r := newRand(o.Seed, streamPatient, uint64(i), 0)
	p := &person{}
	p.Index = i
	order := between(r, 1, 999)
	if i < len(demoPatients) {
		d := demoPatients[i]
		p.family, p.female = d.family, d.female
		p.given = d.given[0]
		p.birth, _ = time.Parse(time.DateOnly, d.birth)
		p.birthPlace = communes[d.place]
		order = d.order
		p.conditions = d.conditions
		p.allergy, p.smoker, p.weightKg, p.heightCm = d.allergy, d.smoker, d.weight, d.size
		p.Identity.Given = make([]string, len(d.given))
		for k, g := range d.given {
			p.Identity.Given[k] = insForm(g)
		}
	} else {
		p.female = chance(r, 0.52)
		p.family = pick(r, familyNames)
		n := 1 + weighted(r, []int{45, 40, 15})
		names := givenMale
		if p.female {
			names = givenFemale
		}
		for k := 0; k < n; k++ {
			g := pick(r, names)
			if k == 0 {
				p.given = g
			}
			p.Identity.Given = append(p.Identity.Given, insForm(g))
		}
		ageBand := [][2]int{{0, 17}, {18, 39}, {40, 64}, {65, 79}, {80, 98}}[weighted(r, []int{15, 22, 33, 20, 10})]
		age := between(r, ageBand[0], ageBand[1])
		b := o.Base.AddDate(-age, 0, -1-r.IntN(364))
		p.birth = time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, time.UTC)
		p.birthPlace = pick(r, communes)
	}
	p.age = yearsBetween(p.birth, o.Base)
	if i >= len(demoPatients) {
		p.conditions = drawConditions(r, p)
		if chance(r, 0.12) {
			p.allergy = pick(r, []string{"Pénicillines", "Aspirine", "Iode", "Pollens de graminées", "Arachide", "Latex"})
		}
		p.smoker = p.age >= 16 && chance(r, 0.25)
		p.heightCm, p.weightKg = bodySize(r, p)
	}
	p.Identity.Family = insForm(p.family)
	p.Identity.BirthDate = p.birth.Format(time.DateOnly)
	p.Identity.BirthPlace = p.birthPlace.insee
	p.Identity.Gender = "male"
	sex := "1"
	if p.female {
		p.Identity.Gender = "female"
		sex = "2"
	}
	for {
		nir := fmt.Sprintf("%s%02d%02d%s%03d", sex, p.birth.Year()%100, int(p.birth.Month()), p.birthPlace.insee, order)
		if !used[nir] {
			used[nir] = true
			p.INS = carnet.Identifier{System: systemInsTestNIR, Value: fmt.Sprintf("%s%02d", nir, nirKey(nir))}
			break
		}
		order = order%999 + 1
	}
	p.addr = address{between(r, 1, 150), pick(r, streets), pick(r, communes)}
	p.phone = phoneNumber(r, "0"+string(rune('6'+r.IntN(2))))
	p.GP = chooseGP(r, i, pros)
	return p
}

// chooseGP picks the médecin traitant: the demo GP for the demo patients
// and for two patients in five, so that the demo login has a practice.
func chooseGP(r *rand.Rand, i int, pros []*pro) int {
	if i < len(demoPatients) || chance(r, 0.4) {
		return 0
	}
	var gps []int
	for _, p := range pros {
		if p.specialty == specGP {
			gps = append(gps, p.index)
		}
	}
	return pick(r, gps)
}

func bodySize(r *rand.Rand, p *person) (height, weight int) {
	switch {
	case p.age < 2:
		return 50 + 25*p.age + r.IntN(10), 4 + 6*p.age + r.IntN(3)
	case p.age < 16:
		h := 85 + 6*p.age + r.IntN(10)
		return h, h * h / 700
	}
	h := 175 + r.IntN(20) - 10
	if p.female {
		h -= 12
	}
	bmi := 20 + r.Float64()*10
	return h, int(bmi * float64(h*h) / 10000)
}

func yearsBetween(birth, now time.Time) int {
	y := now.Year() - birth.Year()
	if now.Month() < birth.Month() || now.Month() == birth.Month() && now.Day() < birth.Day() {
		y--
	}
	return max(y, 0)
}
