package qedm

import (
	"testing"

	carnet "github.com/carnet-sante/carnet"
)

// A US C-CDA's entries are read where they match the PCC ones Carnet
// knows: results, vital signs, an intended medication, immunization,
// allergy and problem, each one item with its code.
func TestCCDAEntries(t *testing.T) {
	doc := []byte(`<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <templateId root="2.16.840.1.113883.10.20.22.1.1" extension="2015-08-01"/>
 <id root="2.16.840.1.113883.19.5.99999.1" extension="ccda-2"/>
 <code code="34133-9" codeSystem="2.16.840.1.113883.6.1"/>
 <title>CCD</title><effectiveTime value="20240301120000+0000"/>
 <recordTarget><patientRole><id root="1.2.250.1.213.1.4.10" extension="279035121518989"/></patientRole></recordTarget>
 <component><structuredBody>
  <component><section><templateId root="2.16.840.1.113883.10.20.22.2.3.1"/><title>Results</title>
   <entry><organizer classCode="BATTERY" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.1"/>
    <effectiveTime value="20240228"/>
    <component><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.2" extension="2015-08-01"/>
     <code code="2345-7" codeSystem="2.16.840.1.113883.6.1"/><statusCode code="completed"/>
     <value xsi:type="PQ" value="182" unit="mg/dL"/><interpretationCode code="H" codeSystem="2.16.840.1.113883.5.83"/></observation></component>
   </organizer></entry></section></component>
  <component><section><title>Vital signs</title>
   <entry><organizer classCode="CLUSTER" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.26"/><effectiveTime value="20240301"/>
    <component><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.27" extension="2014-06-09"/>
     <code code="8480-6" codeSystem="2.16.840.1.113883.6.1"/><value xsi:type="PQ" value="142" unit="mm[Hg]"/></observation></component>
   </organizer></entry></section></component>
  <component><section><title>Plan of treatment</title>
   <entry><substanceAdministration classCode="SBADM" moodCode="INT"><templateId root="2.16.840.1.113883.10.20.22.4.16" extension="2014-06-09"/>
    <effectiveTime xsi:type="IVL_TS"><low value="20240301"/></effectiveTime>
    <effectiveTime xsi:type="PIVL_TS" operator="A"><period value="12" unit="h"/></effectiveTime>
    <consumable><manufacturedProduct><manufacturedMaterial><code code="197361" codeSystem="2.16.840.1.113883.6.88" displayName="Amlodipine 5 MG Oral Tablet"/></manufacturedMaterial></manufacturedProduct></consumable>
   </substanceAdministration></entry></section></component>
  <component><section><title>Immunizations</title>
   <entry><substanceAdministration classCode="SBADM" moodCode="EVN" negationInd="false"><templateId root="2.16.840.1.113883.10.20.22.4.52" extension="2015-08-01"/>
    <effectiveTime value="20231015"/>
    <consumable><manufacturedProduct><manufacturedMaterial><code code="140" codeSystem="2.16.840.1.113883.12.292" displayName="Influenza, seasonal"/></manufacturedMaterial></manufacturedProduct></consumable>
   </substanceAdministration></entry></section></component>
  <component><section><title>Allergies</title>
   <entry><act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.30"/>
    <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.7" extension="2014-06-09"/>
     <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/><value xsi:type="CD" code="419511003" codeSystem="2.16.840.1.113883.6.96" displayName="Propensity to adverse reactions to drug"/>
     <participant typeCode="CSM"><participantRole classCode="MANU"><playingEntity classCode="MMAT"><code code="7980" codeSystem="2.16.840.1.113883.6.88" displayName="Penicillin G"/></playingEntity></participantRole></participant>
    </observation></entryRelationship></act></entry></section></component>
  <component><section><title>Problems</title>
   <entry><act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.3"/>
    <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.4" extension="2015-08-01"/>
     <code code="55607006" codeSystem="2.16.840.1.113883.6.96"/><effectiveTime><low value="20190101"/></effectiveTime>
     <value xsi:type="CD" code="38341003" codeSystem="2.16.840.1.113883.6.96" displayName="Hypertension"/></observation></entryRelationship></act></entry></section></component>
 </structuredBody></component>
</ClinicalDocument>`)
	x := extract(t, "text/xml", doc)
	got := map[carnet.ItemKind][]string{}
	for _, it := range x.Items {
		got[it.Kind] = append(got[it.Kind], it.Category+" "+it.Code.Code)
	}
	want := map[carnet.ItemKind][]string{
		carnet.ItemObservation:       {"laboratory 2345-7", "vital-signs 8480-6"},
		carnet.ItemMedicationRequest: {" 197361"},
		carnet.ItemImmunization:      {" 140"},
		carnet.ItemAllergy:           {" 7980"},
		carnet.ItemCondition:         {" 38341003"},
	}
	for k, w := range want {
		if len(got[k]) != len(w) {
			t.Errorf("%s: %q, want %q", k, got[k], w)
			continue
		}
		for i := range w {
			if got[k][i] != w[i] {
				t.Errorf("%s: %q, want %q", k, got[k], w)
			}
		}
	}
	if len(x.Items) != 6 {
		t.Errorf("%d items, want 6", len(x.Items))
	}
	// A C-CDA is not a CI-SIS document: no format is derived, and the
	// note says why.
	if x.Derived.Format.Code != "" || len(x.Notes) != 1 || x.Notes[0].Severity != "information" {
		t.Errorf("format %v, notes %+v", x.Derived.Format, x.Notes)
	}
}
