package httpapi_test

import (
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/qedm"
)

// The ANS reimbursement history (CNAM-HR) filed through ITI-65 gives its
// reimbursed acts as QEDm Procedures and its reimbursed medications as
// MedicationStatements, searched by code and date like the other kinds,
// each with its Provenance; another patient is refused and the refusal is
// in the patient's access history.
func TestReimbursementHistoryThroughQEDm(t *testing.T) {
	content, err := os.ReadFile(testenv.Shared(t, "corpus", "ans-cda", "CNAM-HR_2021.01.xml"))
	if err != nil {
		t.Fatal(err)
	}
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{})
		c := newClient(t, env)
		x, ok, err := qedm.Extractor{}.Extract("text/xml", content)
		if err != nil || !ok {
			t.Fatalf("header not read: %v", err)
		}
		ins, meta := x.Patient, x.Derived
		meta.ContentType = "text/xml"
		meta.Format = carnet.Coding{System: "urn:oid:1.2.250.1.213.1.1.4.2.282", Code: "urn:asip:ci-sis:hr:2019"}
		if len(meta.Confidentiality) == 0 {
			meta.Confidentiality = []carnet.Coding{{System: "urn:oid:2.16.840.1.113883.5.25", Code: "N"}}
		}
		uid := strings.NewReplacer("^", ".").Replace(x.UniqueID)
		r := c.provide(carnet.Submission{Patient: ins, Set: carnet.SubmissionSet{UniqueID: uid + ".1", SourceID: "1.2.250.1.999.3", ContentType: meta.Type},
			Documents: []carnet.SubmittedDocument{{UniqueID: uid, Meta: meta, Content: content}}})
		if r.Status != 200 {
			t.Fatalf("ITI-65: %d %s", r.Status, r.Body)
		}
		docID := idFromLocation(decode[fhir.Bundle](t, r).Entry[1].Response.Location)
		patient := c.as(env.PatientToken(t, ins, false))
		who := insQuery(ins)

		// By code (CCAM, as the CNAM codes it), with the Provenance.
		procs, provs := patient.searchItems("/Procedure?" + who + "&code=" + url.QueryEscape("urn:oid:1.2.250.1.215.200.3.4|BJQP002") + "&_revinclude=Provenance:target")
		if len(procs) != 1 || procs[0].ResourceType != "Procedure" || len(provs) != 1 ||
			len(provs[0].Entity) != 1 || provs[0].Entity[0].What.Reference != "DocumentReference/"+docID {
			t.Fatalf("Procedure by code: %+v, Provenance %+v", procs, provs)
		}
		// By date: the acts of June and July 2019 (three consultations,
		// two lab acts), newest first.
		procs, _ = patient.searchItems("/Procedure?" + who + "&date=ge2019-06-01&_count=50")
		var codes []string
		for _, p := range procs {
			codes = append(codes, p.Code.Coding[0].Code)
		}
		if want := []string{"G", "G", "G", "1208", "9105"}; !slices.Equal(codes, want) && !slices.Equal(codes, []string{"G", "G", "G", "9105", "1208"}) {
			t.Errorf("Procedures from June 2019: %q, want %q", codes, want)
		}
		// MedicationStatement by date (date or, as R4 names it, effective):
		// the two dispensed in March 2019.
		for _, param := range []string{"date", "effective"} {
			meds, _ := patient.searchItems(fmt.Sprintf("/MedicationStatement?%s&%s=ge2019-03-01&%s=lt2019-04-01", who, param, param))
			if len(meds) != 2 {
				t.Errorf("MedicationStatements dispensed in March 2019 (%s): %d, want 2", param, len(meds))
			}
		}
		all, _ := patient.searchItems("/MedicationStatement?" + who)
		if len(all) != 3 {
			t.Fatalf("%d MedicationStatements, want 3", len(all))
		}
		if r := patient.get("/MedicationStatement/" + all[0].ID); r.Status != 200 || decode[served](t, r).ID != all[0].ID {
			t.Errorf("read MedicationStatement/%s: %d", all[0].ID, r.Status)
		}
		// A MedicationStatement is not a Procedure.
		if r := patient.get("/Procedure/" + all[0].ID); r.Status != 404 {
			t.Errorf("MedicationStatement read as a Procedure: %d", r.Status)
		}

		// Another patient sees none of them, and the patient sees that
		// refused search in their access history.
		other := c.as(env.Token(t, "patient1"))
		if got, _ := other.searchItems("/Procedure?" + who); len(got) != 0 {
			t.Errorf("another patient finds %d Procedures", len(got))
		}
		events := auditEvents(t, patient.get("/AuditEvent?_count=10"))
		if len(events) == 0 || events[0].Outcome != "4" || events[0].Action != "E" {
			t.Fatalf("the newest access is %+v, want the refused search", events[0])
		}
	})
}
