package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/mhd"
	"github.com/carnet-sante/carnet/synth"
)

const maskFHIRPath = `{"resourceType":"Parameters","parameter":[{"name":"operation","part":[
 {"name":"type","valueCode":"add"},{"name":"path","valueString":"DocumentReference"},
 {"name":"name","valueString":"securityLabel"},
 {"name":"value","valueCodeableConcept":{"coding":[{"system":"urn:oid:1.2.250.1.213.1.1.4.13","code":"MASQUE_PS"}]}}]}]}`

const archiveJSONPatch = `[{"op":"add","path":"/extension/-","value":{"url":"` + mhd.ExtAvailabilityStatus + `","valueCode":"archived"}}]`

const deleteJSONPatch = `[{"op":"replace","path":"/status","value":"entered-in-error"}]`

func identifierOf(dr fhir.DocumentReference, system string) string {
	for _, id := range dr.Identifier {
		if id.System == system {
			return id.Value
		}
	}
	return ""
}

// fileOne files one synthetic document and returns its DocumentReference as served.
func fileOne(t *testing.T, c client, p synth.Patient, d synth.Document, setUID string) fhir.DocumentReference {
	t.Helper()
	r := c.provide(submissionOf(p.INS, setUID, d))
	if r.Status != 200 {
		t.Fatalf("ITI-65: %d %s", r.Status, r.Body)
	}
	id := idFromLocation(decode[fhir.Bundle](t, r).Entry[1].Response.Location)
	return decode[fhir.DocumentReference](t, c.get("/DocumentReference/"+id))
}

// PDSm metadata changes: each makes a new metadata version of the same
// document (the same FHIR id, its logicalId; meta.versionId counts them);
// older versions are read by vread, never as current; masking, archiving
// and deleting show in searches; a deleted document's content is gone.
func TestPatchMetadataVersions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{ValueSets: true})
		c := newClient(t, env)
		ds := synth.Generate(synth.Options{Seed: 21, Patients: 1, DocsPerPatient: 2})
		p := ds.Patients[0]
		v1 := fileOne(t, c, p, ds.Documents[0], "1.2.250.1.999.21.1")
		fileOne(t, c, p, ds.Documents[1], "1.2.250.1.999.21.2")
		logical := identifierOf(v1, mhd.SystemLogicalID)
		if logical == "" || v1.Meta.VersionID != "1" {
			t.Fatalf("filed document: logicalId %q version %q", logical, v1.Meta.VersionID)
		}

		// The author changes the document's metadata (and reads what they
		// changed: the answer carries the new version).
		author := c.as(env.ProfessionalToken(t, ds.Documents[0].Meta.Authors[0], ""))
		// Mask (FHIRPath Patch).
		r := author.do("PATCH", "/DocumentReference/"+v1.ID, "application/fhir+json", []byte(maskFHIRPath))
		if r.Status != 200 {
			t.Fatalf("mask: %d %s", r.Status, r.Body)
		}
		v2 := decode[fhir.DocumentReference](t, r)
		if v2.ID != v1.ID || v2.ID != logical || v2.Meta.VersionID != "2" || !strings.HasSuffix(r.Header.Get("Location"), "/DocumentReference/"+v1.ID+"/_history/2") {
			t.Fatalf("mask made id %s (was %s, logicalId %s), version %s, Location %q", v2.ID, v1.ID, logical, v2.Meta.VersionID, r.Header.Get("Location"))
		}
		masked, _ := c.search(insQuery(p.INS) + "&security-label=MASQUE_PS")
		if len(masked) != 1 || masked[0].ID != v2.ID {
			t.Fatalf("search security-label=MASQUE_PS: %d results, want the new version only", len(masked))
		}
		all, _ := c.search(insQuery(p.INS))
		if len(all) != 2 {
			t.Errorf("search after mask: %d documents, want 2 (old metadata versions are not listed)", len(all))
		}
		// A read is the document as it is now; version 1 is read by vread,
		// and the history lists both, newest first.
		if now := decode[fhir.DocumentReference](t, author.get("/DocumentReference/"+v1.ID)); now.Meta.VersionID != "2" || len(now.SecurityLabel) < 2 {
			t.Errorf("read after the mask: version %s, labels %+v; want version 2, masked", now.Meta.VersionID, now.SecurityLabel)
		}
		if old := decode[fhir.DocumentReference](t, author.get("/DocumentReference/"+v1.ID+"/_history/1")); old.Meta.VersionID != "1" || len(old.SecurityLabel) != len(v1.SecurityLabel) {
			t.Errorf("vread of version 1: version %s, labels %+v", old.Meta.VersionID, old.SecurityLabel)
		}
		hist := decode[fhir.Bundle](t, author.get("/DocumentReference/"+v1.ID+"/_history"))
		if hist.Type != "history" || len(hist.Entry) != 2 || !strings.HasSuffix(hist.Entry[0].FullURL, "/_history/2") {
			t.Errorf("history: %s with %d entries", hist.Type, len(hist.Entry))
		}
		// A change prepared from an older version is refused (If-Match).
		r = author.do("PATCH", "/DocumentReference/"+v1.ID, "application/json-patch+json", []byte(archiveJSONPatch), "If-Match", `W/"1"`)
		if r.Status != 412 {
			t.Errorf("a change made from version 1 while the document is at 2: %d, want 412", r.Status)
		}

		// Archive (JSON Patch): still "current" in FHIR, with the extension.
		r = author.do("PATCH", "/DocumentReference/"+v2.ID, "application/json-patch+json", []byte(archiveJSONPatch))
		if r.Status != 200 {
			t.Fatalf("archive: %d %s", r.Status, r.Body)
		}
		v3 := decode[fhir.DocumentReference](t, r)
		if ext, ok := fhir.FindExtension(v3.Extension, mhd.ExtAvailabilityStatus); !ok || ext.ValueCode == nil || *ext.ValueCode != "archived" {
			t.Errorf("archived document lacks the availability-status extension: %+v", v3.Extension)
		}
		if archived, _ := c.search(insQuery(p.INS) + "&status=archived"); len(archived) != 1 || archived[0].ID != v3.ID {
			t.Errorf("search status=archived: %d results", len(archived))
		}
		if current, _ := c.search(insQuery(p.INS) + "&status=current"); len(current) != 1 {
			t.Errorf("search status=current: %d results, want 1 (the other document)", len(current))
		}

		// Delete: entered-in-error, gone from default searches, content 410.
		r = author.do("PATCH", "/DocumentReference/"+v3.ID, "application/json-patch+json", []byte(deleteJSONPatch))
		if r.Status != 200 {
			t.Fatalf("delete: %d %s", r.Status, r.Body)
		}
		// A deleted document is read by no one, its author included: the
		// answer carries no resource.
		if oo := outcome(t, r); oo.Issue[0].Severity != "information" {
			t.Errorf("delete answered %+v, want an information OperationOutcome (the deleted version is not readable)", oo)
		}
		if left, _ := c.search(insQuery(p.INS)); len(left) != 1 {
			t.Errorf("default search after delete: %d, want 1", len(left))
		}
		if r := c.get(v1.Content[0].Attachment.URL); r.Status != 410 {
			t.Errorf("retrieve deleted document: %d, want 410", r.Status)
		}
		outcome(t, c.get(v1.Content[0].Attachment.URL))

		// Anything else than PDSm changes is refused precisely.
		r = author.do("PATCH", "/DocumentReference/"+ds.Documents[1].UniqueID, "application/json-patch+json", []byte(deleteJSONPatch))
		if r.Status != 404 {
			t.Errorf("PATCH unknown id: %d, want 404", r.Status)
		}
		typePatch := `[{"op":"replace","path":"/type/coding/0/code","value":"11488-4"}]`
		other := all[0].ID
		if other == v2.ID {
			other = all[1].ID
		}
		if r := author.do("PATCH", "/DocumentReference/"+other, "application/json-patch+json", []byte(typePatch)); r.Status != 422 {
			t.Errorf("PATCH of the type: %d, want 422", r.Status)
		} else if oo := outcome(t, r); len(oo.Issue[0].Expression) == 0 {
			t.Errorf("refused PATCH has no expression: %+v", oo.Issue[0])
		}
	})
}

// ITI-105: the document travels inside the DocumentReference.
func TestSimplifiedPublish(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{ValueSets: true})
		c := newClient(t, env)
		ds := synth.Generate(synth.Options{Seed: 22, Patients: 1, DocsPerPatient: 1})
		body := publishBody(t, ds.Patients[0].INS, ds.Documents[0].UniqueID, ds.Documents[0].Meta, ds.Documents[0].Content)
		r := c.do("POST", "/DocumentReference", "application/fhir+json", body)
		if r.Status != 201 {
			t.Fatalf("ITI-105: %d %s", r.Status, r.Body)
		}
		// The software that filed it does not read it: it is told where it
		// is (a vread Location that resolves), not what it is.
		if oo := outcome(t, r); oo.Issue[0].Severity != "information" {
			t.Errorf("the filer is answered %+v, want an information OperationOutcome", oo)
		}
		loc := r.Header.Get("Location")
		patient := c.as(env.PatientToken(t, ds.Patients[0].INS, false))
		dr := decode[fhir.DocumentReference](t, patient.get(loc))
		if !strings.Contains(loc, "/DocumentReference/"+dr.ID+"/_history/1") {
			t.Errorf("Location %q does not resolve to version 1 of %s", loc, dr.ID)
		}
		got := patient.get(dr.Content[0].Attachment.URL)
		if got.Status != 200 || !bytes.Equal(got.Body, ds.Documents[0].Content) {
			t.Fatalf("retrieve: %d, identical=%v", got.Status, bytes.Equal(got.Body, ds.Documents[0].Content))
		}
		// A retry is the same publication, not a second document.
		if r := c.do("POST", "/DocumentReference", "application/fhir+json", body); r.Status != 200 && r.Status != 201 {
			t.Fatalf("retry: %d %s", r.Status, r.Body)
		}
		if found, _ := c.search(insQuery(ds.Patients[0].INS)); len(found) != 1 {
			t.Errorf("after a retried ITI-105: %d documents, want 1", len(found))
		}
	})
}

// publishBody is an ITI-105 DocumentReference with its document inline.
func publishBody(t *testing.T, ins carnet.Identifier, uid string, meta carnet.DocumentMeta, content []byte) []byte {
	t.Helper()
	d := carnet.Document{UniqueID: uid, Status: carnet.StatusCurrent, Meta: meta}
	d.Meta.Size = int64(len(content))
	dr := mhd.DocumentReference(d, "")
	dr.Meta = nil
	dr.Date = ""
	dr.Subject = &fhir.Reference{Identifier: &fhir.Identifier{System: ins.System, Value: ins.Value}}
	dr.Content[0].Attachment.Data = content
	b, err := json.Marshal(dr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Test INS are refused outside demo and test mode.
func TestTestINSRefusedInProduction(t *testing.T) {
	env := testenv.New(t, testenv.SQLite, testenv.Options{})
	env.Service.AllowTestINS = false
	c := newClient(t, env)
	ds := synth.Generate(synth.Options{Seed: 23, Patients: 1, DocsPerPatient: 1})
	r := c.provide(submissionOf(ds.Patients[0].INS, "1.2.250.1.999.23.1", ds.Documents[0]))
	if r.Status < 400 || r.Status >= 500 {
		t.Fatalf("test INS in production mode: %d, want 4xx", r.Status)
	}
	oo := outcome(t, r)
	if len(oo.Issue[0].Expression) == 0 || !strings.Contains(oo.Issue[0].Expression[0], "subject") {
		t.Errorf("issue should point at the subject: %+v", oo.Issue[0])
	}
}

func TestOversizedBodyRefused(t *testing.T) {
	env := testenv.New(t, testenv.SQLite, testenv.Options{})
	c := newClient(t, env)
	big := bytes.Repeat([]byte(" "), 65<<20)
	r := c.do("POST", "/", "application/fhir+json", big)
	if r.Status != 413 {
		t.Fatalf("65 MiB body: %d, want 413", r.Status)
	}
	outcome(t, r)
}

// The identity feed creates a record ahead of documents; documents filed
// later land in that record.
func TestPatientIdentityFeed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{})
		c := newClient(t, env)
		ds := synth.Generate(synth.Options{Seed: 24, Patients: 1, DocsPerPatient: 1})
		p := ds.Patients[0]
		q := "/Patient?identifier=" + url.QueryEscape(p.INS.System+"|"+p.INS.Value)
		body, _ := json.Marshal(fhir.Patient{
			Identifier: []fhir.Identifier{{System: p.INS.System, Value: p.INS.Value}},
			Name:       []fhir.HumanName{{Use: "official", Family: p.Identity.Family, Given: p.Identity.Given}},
			Gender:     p.Identity.Gender, BirthDate: p.Identity.BirthDate,
		})
		r := c.do("PUT", q, "application/fhir+json", body)
		if r.Status != 201 {
			t.Fatalf("first PUT: %d %s", r.Status, r.Body)
		}
		created := decode[fhir.Patient](t, r)
		if r := c.do("PUT", q, "application/fhir+json", body); r.Status != 200 {
			t.Fatalf("second PUT: %d, want 200", r.Status)
		} else if again := decode[fhir.Patient](t, r); again.ID != created.ID || again.Meta.VersionID != "2" {
			t.Errorf("update made %s v%s, want %s v2", again.ID, again.Meta.VersionID, created.ID)
		}
		read := decode[fhir.Patient](t, c.get("/Patient/"+created.ID))
		if len(read.Name) != 1 || read.Name[0].Family != p.Identity.Family || read.BirthDate != p.Identity.BirthDate {
			t.Errorf("read back %+v", read)
		}
		fileOne(t, c, p, ds.Documents[0], "1.2.250.1.999.24.1")
		if found, _ := c.search("patient=Patient/" + created.ID); len(found) != 1 {
			t.Errorf("documents in the fed record: %d, want 1", len(found))
		}
		if r := c.do("PUT", "/Patient?identifier="+url.QueryEscape("urn:oid:1.2.3|42"), "application/fhir+json", body); r.Status < 400 || r.Status >= 500 {
			t.Errorf("PUT with a non-INS identifier: %d, want 4xx", r.Status)
		}
	})
}
