package qedm

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/ci"

	carnet "github.com/carnet-sante/carnet"
)

func corpusDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("..", "..", "shared", "corpus", "ans-cda")
	if _, err := os.Stat(dir); err != nil {
		if ci.Enforced() {
			t.Fatalf("ANS CDA corpus missing at %s: %v", dir, err)
		}
		t.Skipf("ANS CDA corpus not found at %s", dir)
	}
	return dir
}

func corpusFile(t *testing.T, name string) carnet.Extraction {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpusDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return extract(t, "text/xml", b)
}

func itemsOf(x carnet.Extraction, k carnet.ItemKind) []carnet.Item {
	var out []carnet.Item
	for _, it := range x.Items {
		if it.Kind == k {
			out = append(out, it)
		}
	}
	return out
}

// TestCorpusExtracts: every ANS example extracts, and every item it gives
// serves as FHIR-shaped JSON with its type, id, patient and code.
func TestCorpusExtracts(t *testing.T) {
	dir := corpusDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	if len(files) == 0 {
		t.Fatalf("no .xml file in %s", dir)
	}
	total := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		x, ok, err := extractor(t).Extract("text/xml", b)
		if err != nil || !ok {
			t.Errorf("%s: ok=%v err=%v", filepath.Base(f), ok, err)
			continue
		}
		if x.Derived.Type.Code == "" {
			t.Errorf("%s: no type derived", filepath.Base(f))
		}
		for i, it := range x.Items {
			total++
			it.ID, it.Patient, it.SourceID = "it-1", "pat-1", "doc-1"
			b, err := Serve(it, "https://carnet.example/fhir")
			if err != nil {
				t.Fatalf("%s item %d: Serve: %v", filepath.Base(f), i, err)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("%s item %d: served JSON: %v\n%s", filepath.Base(f), i, err, b)
			}
			var rt string
			_ = json.Unmarshal(m["resourceType"], &rt)
			if rt != string(it.Kind) {
				t.Errorf("%s item %d: resourceType %q, want %q", filepath.Base(f), i, rt, it.Kind)
			}
			if !strings.Contains(string(m[subjectElement(it.Kind)]), `"Patient/pat-1"`) {
				t.Errorf("%s item %d: no patient reference in %s", filepath.Base(f), i, b)
			}
			codeEl := map[carnet.ItemKind]string{
				carnet.ItemObservation: "code", carnet.ItemMedicationRequest: "medicationCodeableConcept",
				carnet.ItemImmunization: "vaccineCode", carnet.ItemAllergy: "code", carnet.ItemCondition: "code",
				carnet.ItemMedicationStatement: "medicationCodeableConcept", carnet.ItemProcedure: "code",
			}[it.Kind]
			if codeEl == "" {
				t.Fatalf("%s item %d: kind %q not checked here", filepath.Base(f), i, it.Kind)
			}
			if it.Code.Code != "" && !strings.Contains(string(m[codeEl]), `"code":"`+it.Code.Code+`"`) {
				t.Errorf("%s item %d: %s %s does not carry code %s", filepath.Base(f), i, codeEl, m[codeEl], it.Code.Code)
			}
		}
	}
	if total == 0 {
		t.Error("the corpus gave no items at all")
	}
}

func TestCorpusTSH(t *testing.T) {
	x := corpusFile(t, "BIO-CR-BIO_2024.01_TSH_1.xml")
	obs := itemsOf(x, carnet.ItemObservation)
	if len(obs) != 2 {
		t.Fatalf("%d observations, want 2 (TSH, free T4)", len(obs))
	}
	tsh := obs[0]
	if tsh.Code.Code != "3016-3" || tsh.Code.System != SystemLOINC || tsh.Abnormal || tsh.Category != "laboratory" {
		t.Errorf("TSH item = %+v", tsh)
	}
	// The file's TSH: 1.950 m[IU]/L, N, range 0.270-4.200, on 2014-04-02 14:55:21+02:00.
	tsh.ID, tsh.Patient = "tsh", "p1"
	o := serveAs[obsView](t, tsh)
	if o.ValueQuantity == nil || o.ValueQuantity.Value.String() != "1.950" || o.ValueQuantity.Unit != "m[IU]/L" {
		t.Errorf("TSH value %+v, want 1.950 m[IU]/L", o.ValueQuantity)
	}
	if len(o.ReferenceRange) != 1 || o.ReferenceRange[0].Low.Value.String() != "0.270" || o.ReferenceRange[0].High.Value.String() != "4.200" {
		t.Errorf("TSH range %+v, want 0.270-4.200", o.ReferenceRange)
	}
	if len(o.Interpretation) != 1 || o.Interpretation[0].Coding[0].Code != "N" {
		t.Errorf("TSH interpretation %+v, want N", o.Interpretation)
	}
	if o.EffectiveDateTime != "2014-04-02T12:55:21Z" {
		t.Errorf("TSH effective %q, want 2014-04-02T12:55:21Z", o.EffectiveDateTime)
	}
	if t4 := obs[1]; t4.Code.Code != "3024-7" || !t4.Abnormal {
		t.Errorf("free T4 item = %+v, want 3024-7 flagged abnormal (L)", t4)
	}
}

func TestCorpusPrescription(t *testing.T) {
	x := corpusFile(t, "eP-MED-DM_2024.01_PosoStruct.xml")
	meds := itemsOf(x, carnet.ItemMedicationRequest)
	if len(meds) == 0 {
		t.Fatal("no MedicationRequest from a prescription")
	}
	for i, it := range meds {
		it.ID, it.Patient = "mr", "p1"
		mr := serveAs[struct {
			ResourceType              string `json:"resourceType"`
			Status, Intent            string
			MedicationCodeableConcept struct {
				Coding []struct{ System, Code string }
				Text   string
			} `json:"medicationCodeableConcept"`
			Subject struct{ Reference string }
		}](t, it)
		if mr.ResourceType != "MedicationRequest" || mr.Intent != "order" || mr.Subject.Reference != "Patient/p1" {
			t.Errorf("medication %d: %+v", i, mr)
		}
		if mr.Status != "active" && mr.Status != "completed" {
			t.Errorf("medication %d: status %q", i, mr.Status)
		}
		if len(mr.MedicationCodeableConcept.Coding) == 0 && mr.MedicationCodeableConcept.Text == "" {
			t.Errorf("medication %d: no product", i)
		}
	}
}

func TestCorpusVaccination(t *testing.T) {
	x := corpusFile(t, "VAC-NOTE_2023.01.xml")
	ims := itemsOf(x, carnet.ItemImmunization)
	if len(ims) == 0 {
		t.Fatal("no Immunization from a vaccination note")
	}
	it := ims[0]
	it.ID, it.Patient = "im", "p1"
	im := serveAs[struct {
		ResourceType       string `json:"resourceType"`
		Status             string
		VaccineCode        struct{ Coding []struct{ Code string } } `json:"vaccineCode"`
		Patient            struct{ Reference string }
		OccurrenceDateTime string `json:"occurrenceDateTime"`
	}](t, it)
	if im.ResourceType != "Immunization" || im.Status != "completed" || im.Patient.Reference != "Patient/p1" || im.OccurrenceDateTime == "" || len(im.VaccineCode.Coding) == 0 {
		t.Errorf("immunization = %+v", im)
	}
}

// TestCorpusStructuredPosology: the eP-MED with a structured posology
// gives each prescribed medication (both, not the first only) with its
// schedule: paracetamol every 8 h for 2 days from 1 December then every
// 12 h for 4 days from 3 December; the magistral ointment once a day.
func TestCorpusStructuredPosology(t *testing.T) {
	x := corpusFile(t, "eP-MED-DM_2024.01_PosoStruct.xml")
	meds := itemsOf(x, carnet.ItemMedicationRequest)
	if len(meds) != 2 {
		t.Fatalf("%d MedicationRequests, want the 2 prescribed", len(meds))
	}
	type repeat struct {
		BoundsPeriod   *struct{ Start, End string } `json:"boundsPeriod"`
		BoundsDuration *struct {
			Value json.Number
			Unit  string
		} `json:"boundsDuration"`
		Frequency  int
		Period     json.Number
		PeriodUnit string `json:"periodUnit"`
	}
	type mr struct {
		DosageInstruction []struct {
			Sequence int
			Text     string
			Timing   *struct{ Repeat repeat }
		} `json:"dosageInstruction"`
	}
	meds[0].ID, meds[0].Patient = "m1", "p"
	m1 := serveAs[mr](t, meds[0])
	var steps []string
	for _, d := range m1.DosageInstruction {
		if d.Sequence == 0 || d.Timing == nil {
			continue
		}
		r := d.Timing.Repeat
		s := fmt.Sprintf("%d/%s%s", r.Frequency, r.Period, r.PeriodUnit)
		if r.BoundsPeriod != nil {
			s += " from " + r.BoundsPeriod.Start
		}
		if r.BoundsDuration != nil {
			s += fmt.Sprintf(" for %s %s", r.BoundsDuration.Value, r.BoundsDuration.Unit)
		}
		steps = append(steps, s)
	}
	if want := []string{"1/8h from 2023-12-01 for 2 d", "1/12h from 2023-12-03 for 4 d"}; !slices.Equal(steps, want) {
		t.Errorf("paracetamol schedule %q, want %q", steps, want)
	}
	meds[1].ID, meds[1].Patient = "m2", "p"
	m2 := serveAs[mr](t, meds[1])
	if len(m2.DosageInstruction) == 0 || m2.DosageInstruction[0].Timing == nil ||
		m2.DosageInstruction[0].Timing.Repeat.Period != "1" || m2.DosageInstruction[0].Timing.Repeat.PeriodUnit != "d" {
		t.Errorf("ointment dosage %+v, want once every 1 d", m2.DosageInstruction)
	}
}

// TestCorpusVitalSigns: the CSE-MDE's weight, height and head
// circumference are vital-signs Observations with their values.
func TestCorpusVitalSigns(t *testing.T) {
	x := corpusFile(t, "CSE-MDE_2023.01.xml")
	obs := itemsOf(x, carnet.ItemObservation)
	want := map[string]string{"29463-7": "3900 g", "8302-2": "52 cm", "8287-5": "35 cm"}
	if len(obs) != len(want) {
		t.Fatalf("%d observations, want %d", len(obs), len(want))
	}
	for _, it := range obs {
		it.ID, it.Patient = "o", "p"
		o := serveAs[obsView](t, it)
		if it.Category != "vital-signs" || len(o.Category) != 1 || o.Category[0].Coding[0].Code != "vital-signs" {
			t.Errorf("%s: category %q %+v, want vital-signs", it.Code.Code, it.Category, o.Category)
		}
		if o.ValueQuantity == nil || o.ValueQuantity.Value.String()+" "+o.ValueQuantity.Unit != want[it.Code.Code] {
			t.Errorf("%s: value %+v, want %s", it.Code.Code, o.ValueQuantity, want[it.Code.Code])
		}
	}
}
