package qedm

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	carnet "github.com/carnet-sante/carnet"
)

// msView is a served MedicationStatement, as a consumer reads it.
type msView struct {
	ResourceType string `json:"resourceType"`
	Contained    []struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
		Status       string `json:"status"`
		Quantity     *struct {
			Value  json.Number `json:"value"`
			Unit   string      `json:"unit"`
			System string      `json:"system"`
			Code   string      `json:"code"`
		} `json:"quantity"`
		WhenHandedOver string `json:"whenHandedOver"`
		Performer      []struct {
			Actor struct{ Display string } `json:"actor"`
		} `json:"performer"`
	} `json:"contained"`
	Status                    string `json:"status"`
	MedicationCodeableConcept struct {
		Coding []struct{ System, Code, Display string } `json:"coding"`
		Text   string                                   `json:"text"`
	} `json:"medicationCodeableConcept"`
	Subject           struct{ Reference string }   `json:"subject"`
	EffectiveDateTime string                       `json:"effectiveDateTime"`
	EffectivePeriod   *struct{ Start, End string } `json:"effectivePeriod"`
	DateAsserted      string                       `json:"dateAsserted"`
	DerivedFrom       []struct{ Reference string } `json:"derivedFrom"`
	Dosage            []struct {
		Text  string `json:"text"`
		Route *struct {
			Coding []struct{ Code string } `json:"coding"`
		} `json:"route"`
	} `json:"dosage"`
}

func served[T any](t *testing.T, it carnet.Item) T {
	t.Helper()
	it.ID, it.Patient = "it-1", "p1"
	return serveAs[T](t, it)
}

func hasToken(it carnet.Item, kind, value string) bool {
	return slices.Contains(it.Tokens, carnet.Token{Kind: kind, Value: value})
}

// TestCorpusReimbursedProcedures: the CNAM-HR reimbursement history gives
// each of its 15 reimbursed acts as a Procedure (6 NGAP consultations and
// fees, 5 CCAM acts, 4 NABM lab acts), dated, with its code.
func TestCorpusReimbursedProcedures(t *testing.T) {
	x := corpusFile(t, "CNAM-HR_2021.01.xml")
	procs := itemsOf(x, carnet.ItemProcedure)
	var got []string
	for _, it := range procs {
		got = append(got, strings.TrimPrefix(it.Code.System, "urn:oid:1.2.250.1.215.200.")+"|"+it.Code.Code+"@"+it.Effective.Format("2006-01-02"))
	}
	want := []string{
		"3.3|G@2019-07-11", "3.3|G@2019-07-08", "3.3|G@2019-06-26", "3.3|FTR@2019-05-25", "3.3|G@2019-03-11", "3.3|G@2019-03-08",
		"3.4|HBMD053@2019-02-08", "3.4|BJQP002@2019-01-21", "3.4|YYYY300@2019-05-15", "3.4|QEQJ001@2019-04-30", "3.4|YYYY600@2019-04-30",
		"4.1|1208@2019-06-11", "4.1|9105@2019-06-11", "4.1|552@2019-05-15", "4.1|1208@2019-05-15",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("procedures\n got %q\nwant %q", got, want)
	}
	p := served[struct {
		ResourceType string `json:"resourceType"`
		Status       string `json:"status"`
		Code         struct {
			Coding []struct{ System, Code, Display string }
		} `json:"code"`
		Subject           struct{ Reference string } `json:"subject"`
		PerformedDateTime string                     `json:"performedDateTime"`
	}](t, procs[7])
	if p.ResourceType != "Procedure" || p.Status != "completed" || p.Subject.Reference != "Patient/p1" || p.PerformedDateTime != "2019-01-21" {
		t.Errorf("BJQP002 served as %+v", p)
	}
	if len(p.Code.Coding) != 1 || p.Code.Coding[0].System != "urn:oid:1.2.250.1.215.200.3.4" || p.Code.Coding[0].Display != "exam. fct motricité oculaire" {
		t.Errorf("BJQP002 code %+v", p.Code)
	}
	if !hasToken(procs[7], TokCode, "BJQP002") || !hasToken(procs[7], TokCode, "urn:oid:1.2.250.1.215.200.3.4|BJQP002") {
		t.Errorf("BJQP002 tokens %+v", procs[7].Tokens)
	}
}

// TestCorpusReimbursedMedications: the three medications the CNAM-HR
// history says were dispensed and reimbursed are MedicationStatements with
// their CIP or UCD code, the dispensation date and the quantity handed
// over (a contained MedicationDispense), and the CNAM's ATC group as a
// code they are found by.
func TestCorpusReimbursedMedications(t *testing.T) {
	x := corpusFile(t, "CNAM-HR_2021.01.xml")
	meds := itemsOf(x, carnet.ItemMedicationStatement)
	type want struct{ code, name, qty, handed, by, atc string }
	wants := []want{
		{"urn:oid:1.2.250.1.215.200.1.1.1|3400935673220", "LUDEAL CPR3/21", "1", "2019-05-26", "CLINIQUE SAINTE GENEVIEVE", "G03"},
		{"urn:oid:1.2.250.1.215.200.1.1.1|3400939169002", "CRESTOR 5MG CPR9/10", "1", "2019-03-11", "HARMACIE COMPAIN", "C10"},
		{"urn:oid:1.2.250.1.215.200.1.1.2|9064295", "PRODUIT HOMEOPATHIQUE", "4", "2019-03-08", "HARMACIE COMPAIN", "W99"},
	}
	if len(meds) != len(wants) {
		t.Fatalf("%d MedicationStatements, want %d", len(meds), len(wants))
	}
	for i, w := range wants {
		it := meds[i]
		if got := it.Code.System + "|" + it.Code.Code; got != w.code {
			t.Errorf("medication %d: code %s, want %s", i, got, w.code)
		}
		if !hasToken(it, TokCode, "urn:oid:1.2.250.1.215.200.1.2.1|"+w.atc) {
			t.Errorf("medication %d: not found by its ATC group %s: %+v", i, w.atc, it.Tokens)
		}
		ms := served[msView](t, it)
		if ms.ResourceType != "MedicationStatement" || ms.Status != "completed" || ms.Subject.Reference != "Patient/p1" {
			t.Errorf("medication %d: %s status %q subject %q", i, ms.ResourceType, ms.Status, ms.Subject.Reference)
		}
		if ms.MedicationCodeableConcept.Coding[0].Display != w.name && ms.MedicationCodeableConcept.Text != w.name {
			t.Errorf("medication %d: named %+v, want %s", i, ms.MedicationCodeableConcept, w.name)
		}
		if ms.EffectiveDateTime != w.handed || ms.EffectivePeriod != nil {
			t.Errorf("medication %d: effective %q %+v, want the dispensation date %s", i, ms.EffectiveDateTime, ms.EffectivePeriod, w.handed)
		}
		if len(ms.Contained) != 1 || len(ms.DerivedFrom) != 1 || ms.DerivedFrom[0].Reference != "#"+ms.Contained[0].ID {
			t.Fatalf("medication %d: dispensation %+v derivedFrom %+v", i, ms.Contained, ms.DerivedFrom)
		}
		d := ms.Contained[0]
		if d.ResourceType != "MedicationDispense" || d.Quantity == nil || d.Quantity.Value.String() != w.qty || d.Quantity.Unit != "" ||
			d.WhenHandedOver != w.handed || len(d.Performer) != 1 || d.Performer[0].Actor.Display != w.by {
			t.Errorf("medication %d: dispensation %+v, want %s on %s by %s", i, d, w.qty, w.handed, w.by)
		}
	}
}

// TestCorpusReimbursementWithoutInformation: the CNAM-HR "sans info"
// example codes each list as HL7 absent-unknown ("no known procedures",
// "no known medications"): nothing is extracted from it.
func TestCorpusReimbursementWithoutInformation(t *testing.T) {
	x := corpusFile(t, "CNAM-HR_2021.01_sans-info.xml")
	for _, it := range x.Items {
		t.Errorf("item extracted from a history that states none: %s %s|%s", it.Kind, it.Code.System, it.Code.Code)
	}
}

// TestCorpusDispensation_MagistralPreparationUnnamedInANSExample: the
// eDISP example dispenses two boxes of paracetamol 500 mg (CIP
// 3400933516390, ATC N02BE01), 2 tablets every 16 h from 25 to 27
// January 2023, by mouth. Its second dispensation, a magistral
// preparation, has no code and its originalText points to "#med-002",
// an ID the narrative does not have (it has med-002-delivre): with no
// code nor name it is not extracted.
func TestCorpusDispensation_MagistralPreparationUnnamedInANSExample(t *testing.T) {
	x := corpusFile(t, "eDISP-MED_2024.01.xml")
	if n := len(itemsOf(x, carnet.ItemMedicationRequest)); n != 0 {
		t.Errorf("%d MedicationRequests from a dispensation", n)
	}
	meds := itemsOf(x, carnet.ItemMedicationStatement)
	if len(meds) != 1 {
		t.Fatalf("%d MedicationStatements, want 1", len(meds))
	}
	it := meds[0]
	if it.Code.System != "urn:oid:1.2.250.1.213.2.3.2" || it.Code.Code != "3400933516390" {
		t.Errorf("dispensed product %+v", it.Code)
	}
	if !hasToken(it, TokCode, "urn:oid:2.16.840.1.113883.6.73|N02BE01") {
		t.Errorf("not found by its ATC class N02BE01: %+v", it.Tokens)
	}
	ms := served[msView](t, it)
	// The dosage ended (27 January 2023) before the document's date (25
	// December 2024).
	if ms.Status != "completed" {
		t.Errorf("status %q, want completed", ms.Status)
	}
	if ms.EffectivePeriod == nil || ms.EffectivePeriod.Start != "2023-01-25" || ms.EffectivePeriod.End != "2023-01-27" {
		t.Errorf("effectivePeriod %+v, want 2023-01-25 to 2023-01-27", ms.EffectivePeriod)
	}
	if len(ms.Dosage) == 0 || ms.Dosage[0].Route == nil || ms.Dosage[0].Route.Coding[0].Code != "20053000" {
		t.Errorf("dosage %+v, want the oral route (EDQM 20053000)", ms.Dosage)
	}
	if len(ms.Contained) != 1 {
		t.Fatalf("contained %+v", ms.Contained)
	}
	q := ms.Contained[0].Quantity
	if q == nil || q.Value.String() != "2" || q.Unit != "Boîte" || q.System != "urn:oid:0.4.0.127.0.16.1.1.2.1" || q.Code != "30009000" {
		t.Errorf("quantity %+v, want 2 Boîte (EDQM 30009000)", q)
	}
	if ms.Contained[0].WhenHandedOver != "2024-12-25T08:30:00Z" {
		t.Errorf("whenHandedOver %q, want the document's date", ms.Contained[0].WhenHandedOver)
	}
}

// TestCorpusMedicationHistory: the treatments a VSM and an IPS state
// (substanceAdministration moodCode EVN, open periods) are active
// MedicationStatements since their start; the amoxicillin the IPS names
// as the cause of an allergy is not a treatment.
func TestCorpusMedicationHistory(t *testing.T) {
	for _, c := range []struct {
		file string
		want []string
	}{
		{"VSM_1.4_2022.01.xml", []string{"63564053 since 2019-08-11", "63245753 since 2019-08-11"}},
		{"IPS-FR_2024.01_DLU.xml", []string{"62080626 since 2022-02-11", "63245753 since 2022-02-11"}},
	} {
		x := corpusFile(t, c.file)
		var got []string
		for _, it := range itemsOf(x, carnet.ItemMedicationStatement) {
			ms := served[msView](t, it)
			if ms.Status != "active" || ms.EffectivePeriod == nil || ms.EffectivePeriod.End != "" || len(ms.Contained) != 0 {
				t.Errorf("%s %s: status %q period %+v contained %d", c.file, it.Code.Code, ms.Status, ms.EffectivePeriod, len(ms.Contained))
				continue
			}
			got = append(got, it.Code.Code+" since "+ms.EffectivePeriod.Start)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, want %q", c.file, got, c.want)
		}
	}
}

// TestCorpusSimpleObservations: the FR simple observations a child
// health certificate and a discharge letter state as entries are
// Observations with their values (boolean, quantity, coded, text); those
// qualifying another entry (the CS24's accident kinds under a problem)
// and the document's own status are not.
func TestCorpusSimpleObservations(t *testing.T) {
	type simple struct {
		Category     []json.RawMessage `json:"category"`
		ValueBoolean *bool             `json:"valueBoolean"`
		ValueQty     *struct {
			Value json.Number `json:"value"`
			Unit  string      `json:"unit"`
		} `json:"valueQuantity"`
		ValueCC *struct {
			Coding []struct{ Code string } `json:"coding"`
		} `json:"valueCodeableConcept"`
		ValueString       string `json:"valueString"`
		EffectiveDateTime string `json:"effectiveDateTime"`
	}
	value := func(o simple) string {
		switch {
		case o.ValueBoolean != nil:
			return fmt.Sprint(*o.ValueBoolean)
		case o.ValueQty != nil:
			return o.ValueQty.Value.String() + " " + o.ValueQty.Unit
		case o.ValueCC != nil:
			return o.ValueCC.Coding[0].Code
		}
		return o.ValueString
	}
	for _, c := range []struct {
		file string
		want []string
	}{
		{"CSE-CS24_2024.01.xml", []string{"MED-1274=ORG-197@2021-02-11", "MED-200=true@2021-08-03", "MED-201=12 m@2021-08-03"}},
		{"LDL-SES_2022.01.xml", []string{
			"ORG-070=107724000@2018-10-29", "ORG-074=GEN-092.06.01@2018-12-03", "MED-142=Infection respiratoire aigüe@2018-12-03",
			"MED-143=Aucun@2018-12-03", "MED-309=true@2018-12-03", "MED-144=Streptococcus pneumoniae@2018-12-03",
			"MED-145=false@2018-12-03", "MED-146=Aucun@2018-12-03", "MED-147=false@2018-12-03", "MED-148=Aucun@2018-12-03",
		}},
	} {
		x := corpusFile(t, c.file)
		var got []string
		for _, it := range itemsOf(x, carnet.ItemObservation) {
			if it.Category != "" {
				continue // vital signs, results
			}
			o := served[simple](t, it)
			if len(o.Category) != 0 {
				t.Errorf("%s %s: category %s", c.file, it.Code.Code, o.Category)
			}
			got = append(got, it.Code.Code+"="+value(o)+"@"+o.EffectiveDateTime)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s simple observations\n got %q\nwant %q", c.file, got, c.want)
		}
	}
}

// TestCorpusRapidTests: a TROD's results are laboratory Observations
// whose interpretation is the one their screening value states (the
// document gives no interpretationCode): the influenza A test positive,
// SARS-CoV-2 and influenza B negative. Positive is not "abnormal" (no
// range), but the pastille finds it by its interpretation token.
func TestCorpusRapidTests(t *testing.T) {
	x := corpusFile(t, "BIO-TROD_2024.01_COVID-19_Grippe-A_Grippe-B.xml")
	obs := itemsOf(x, carnet.ItemObservation)
	want := map[string]string{"94558-4": "NEG", "80382-5": "POS", "80383-3": "NEG"}
	if len(obs) != len(want) {
		t.Fatalf("%d observations, want %d", len(obs), len(want))
	}
	for _, it := range obs {
		w := want[it.Code.Code]
		if it.Category != "laboratory" || it.Interpretation != w || it.Abnormal || !hasToken(it, TokInterpretation, w) {
			t.Errorf("%s: category %q interpretation %q abnormal %v tokens %+v, want laboratory %s", it.Code.Code, it.Category, it.Interpretation, it.Abnormal, it.Tokens, w)
		}
		o := served[obsView](t, it)
		if len(o.Interpretation) != 1 || o.Interpretation[0].Coding[0].Code != w || o.Interpretation[0].Coding[0].System != SystemInterpretation {
			t.Errorf("%s: served interpretation %+v, want %s", it.Code.Code, o.Interpretation, w)
		}
	}
}

// edgeView is what TestHistoryEdgeCases reads of a served item.
type edgeView struct {
	Status            string
	EffectiveDateTime string                       `json:"effectiveDateTime"`
	PerformedPeriod   *struct{ Start, End string } `json:"performedPeriod"`
	ValueQuantity     *struct{ Value json.Number } `json:"valueQuantity"`
	ValueBoolean      *bool                        `json:"valueBoolean"`
	Contained         []struct {
		Quantity *struct {
			Value              json.Number
			Unit, System, Code string
		}
		WhenHandedOver string `json:"whenHandedOver"`
	}
}

// historyDoc is a minimal N3 document dated 1 June 2024 with body as
// its one section's entries.
func historyDoc(body string) []byte {
	return []byte(`<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:pharm="urn:ihe:pharm">
 <id root="1.2.250.1.999.77" extension="h1"/><code code="60591-5" codeSystem="2.16.840.1.113883.6.1"/>
 <effectiveTime value="20240601120000+0200"/>
 <component><structuredBody><component><section>` + body + `</section></component></structuredBody></component>
</ClinicalDocument>`)
}

// TestHistoryEdgeCases pins what the corpus does not show: statuses a
// taken medication may state, a dispensed quantity in an EDQM unit the
// product does not name, a procedure over a period, planned procedures,
// simple observations without a usable value or qualifying another entry.
func TestHistoryEdgeCases(t *testing.T) {
	const sbadm = `<entry><substanceAdministration classCode="SBADM" moodCode="EVN"><statusCode code="%s"/>%s
 <consumable><manufacturedProduct><manufacturedMaterial><code code="%s" codeSystem="1.2.250.1.213.2.3.1"/><name>Produit</name></manufacturedMaterial></manufacturedProduct></consumable>
 %s</substanceAdministration></entry>`
	cases := []struct {
		name, body string
		want       []string // kind code status/value
	}{
		{"statuses", fmt.Sprintf(sbadm, "aborted", "", "1", "") + fmt.Sprintf(sbadm, "suspended", "", "2", "") +
			fmt.Sprintf(sbadm, "completed", `<effectiveTime xsi:type="IVL_TS"><low value="20240101"/><high value="20240301"/></effectiveTime>`, "3", "") +
			fmt.Sprintf(sbadm, "completed", `<effectiveTime xsi:type="IVL_TS"><low value="20240101"/><high value="20241231"/></effectiveTime>`, "4", "") +
			fmt.Sprintf(sbadm, "", "", "5", ""),
			[]string{"MedicationStatement 1 stopped", "MedicationStatement 2 on-hold", "MedicationStatement 3 completed", "MedicationStatement 4 active", "MedicationStatement 5 unknown"}},
		{"dispensed in an unnamed EDQM unit", fmt.Sprintf(sbadm, "completed", "", "6",
			`<entryRelationship typeCode="REFR"><supply classCode="SPLY" moodCode="EVN"><effectiveTime value="20240510"/><quantity value="3" unit="30009000"/></supply></entryRelationship>`),
			[]string{"MedicationStatement 6 completed 3 30009000 urn:oid:0.4.0.127.0.16.1.1.2.1 2024-05-10"}},
		{"a prescribed supply is no dispensation", `<entry><supply classCode="SPLY" moodCode="INT"><quantity value="1"/><product><manufacturedProduct><manufacturedMaterial><code code="7" codeSystem="1.2.250.1.213.2.3.1"/></manufacturedMaterial></manufacturedProduct></product></supply></entry>`,
			nil},
		{"procedures", `<entry><procedure classCode="PROC" moodCode="EVN"><templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.19"/><code code="A1" codeSystem="1.2.250.1.215.300.1"/><effectiveTime><low value="20240101"/><high value="20240105"/></effectiveTime></procedure></entry>
 <entry><procedure classCode="PROC" moodCode="INT"><templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.19"/><code code="A2" codeSystem="1.2.250.1.215.300.1"/><effectiveTime value="20241201"/></procedure></entry>
 <entry><procedure classCode="PROC" moodCode="EVN"><templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.19"/><statusCode code="cancelled"/><code code="A3" codeSystem="1.2.250.1.215.300.1"/></procedure></entry>`,
			[]string{"Procedure A1 completed 2024-01-01..2024-01-05", "Procedure A3 not-done"}},
		{"simple observations", `<entry><observation classCode="OBS" moodCode="EVN"><templateId root="1.2.250.1.213.1.1.3.48"/><code code="O1" codeSystem="1.2.250.1.213.1.1.4.322"/><value xsi:type="BL" value="maybe"/></observation></entry>
 <entry><observation classCode="OBS" moodCode="EVN"><templateId root="1.2.250.1.213.1.1.3.48"/><code nullFlavor="NA"/><value xsi:type="BL" value="true"/></observation></entry>
 <entry><observation classCode="OBS" moodCode="EVN"><templateId root="1.2.250.1.213.1.1.3.48"/><code code="O3" codeSystem="1.2.250.1.213.1.1.4.322"/><value xsi:type="INT" value="7"/>
  <entryRelationship typeCode="COMP"><observation classCode="OBS" moodCode="EVN"><templateId root="1.2.250.1.213.1.1.3.48"/><code code="O4" codeSystem="1.2.250.1.213.1.1.4.322"/><value xsi:type="BL" value="false"/></observation></entryRelationship></observation></entry>
 <entry><organizer classCode="BATTERY" moodCode="EVN"><effectiveTime value="20240202"/><component><observation classCode="OBS" moodCode="EVN"><templateId root="1.2.250.1.213.1.1.3.48"/><code code="O5" codeSystem="1.2.250.1.213.1.1.4.322"/><value xsi:type="BL" value="false"/></observation></component></organizer></entry>`,
			[]string{"Observation O3 7", "Observation O5 false 2024-02-02"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := extract(t, "text/xml", historyDoc(c.body))
			var got []string
			for _, it := range x.Items {
				v := served[edgeView](t, it)
				s := string(it.Kind) + " " + it.Code.Code
				switch {
				case it.Kind == carnet.ItemObservation && v.ValueQuantity != nil:
					s += " " + v.ValueQuantity.Value.String()
				case it.Kind == carnet.ItemObservation && v.ValueBoolean != nil:
					s += fmt.Sprint(" ", *v.ValueBoolean)
				default:
					s += " " + v.Status
				}
				if len(v.Contained) == 1 && v.Contained[0].Quantity != nil {
					q := v.Contained[0].Quantity
					s += fmt.Sprintf(" %s %s %s %s", q.Value, q.Unit, q.System, v.Contained[0].WhenHandedOver)
				}
				if v.PerformedPeriod != nil {
					s += " " + v.PerformedPeriod.Start + ".." + v.PerformedPeriod.End
				}
				if it.Kind == carnet.ItemObservation && v.EffectiveDateTime != "" {
					s += " " + v.EffectiveDateTime
				}
				got = append(got, s)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("\n got %q\nwant %q", got, c.want)
			}
		})
	}
}
