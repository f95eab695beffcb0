package conformance_test

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/internal/testenv"
	. "github.com/carnet-sante/carnet/internal/xdsclient"
	"github.com/carnet-sante/carnet/qedm"
)

// Every ANS CDA example filed through ITI-41 is found by ITI-67 and ITI-18
// and retrieved byte-identical through ITI-68 and ITI-43 (all 55 on
// SQLite; on PostgreSQL a fifth of them, all with CARNET_TEST_LONG=1).
func TestANSExamplesThroughXDS(t *testing.T) {
	dir := testenv.Shared(t, "corpus", "ans-cda")
	files, err := filepath.Glob(filepath.Join(dir, "*.xml"))
	if err != nil || len(files) < 55 {
		t.Fatalf("found %d ANS examples, want 55 (%v)", len(files), err)
	}
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{})
		for i, f := range files {
			// PostgreSQL files every fifth example unless CARNET_TEST_LONG
			// is set (CI time); SQLite files them all.
			if b.Name == "postgres" && i%5 != 0 && os.Getenv("CARNET_TEST_LONG") == "" {
				continue
			}
			name := filepath.Base(f)
			content, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			// Described as a careful producer would: from its own header.
			x, ok, err := qedm.Extractor{}.Extract("text/xml", content)
			if err != nil || !ok {
				t.Fatalf("%s: header not read: %v", name, err)
			}
			ins, meta := x.Patient, x.Derived
			if meta.Format.Code == "" {
				meta.Format = carnet.Coding{System: "urn:oid:1.3.6.1.4.1.19376.1.2.3", Code: "urn:ihe:iti:xds-sd:text:2008"}
			}
			if len(meta.Confidentiality) == 0 {
				meta.Confidentiality = []carnet.Coding{{System: "urn:oid:2.16.840.1.113883.5.25", Code: "N"}}
			}
			uid := fmt.Sprintf("%s.%d", strings.NewReplacer("^", ".").Replace(x.UniqueID), i)
			cxPatient := CX(ins)
			meta.ContentType = "text/xml"
			e := EntryFromMeta("Document01", uid, ins, meta, content)
			e.Inline = i%3 == 0
			s := SubmissionSet{ID: "SubmissionSet01", UniqueID: uid + ".1", SourceID: "1.2.250.1.999.2", PatientCX: cxPatient, Time: "20240305101600",
				ContentType: Code3(meta.Type), Entries: []Entry{e}}
			filer := New(t, env.URL, env.SoftwareToken(t, "lgc-xds", meta.Authors...))
			if r := filer.Provide(s); r.ResponseStatus() != "Success" {
				t.Fatalf("%s via ITI-41: %s %v", name, r.ResponseStatus(), r.ErrorCodes())
			}
			// An author who is a health professional reads what they
			// filed, whatever its labels; else the patient does.
			reader := env.PatientToken(t, ins, false)
			for _, a := range meta.Authors {
				if strings.HasPrefix(a.Profession.Code, "G15_") && a.ID.Value != "" {
					reader = env.ProfessionalToken(t, a, "")
					break
				}
			}
			c := New(t, env.URL, reader)
			q := c.Query(findDocs, "LeafClass", [2]string{"$XDSDocumentEntryPatientId", "'" + cxPatient + "'"}, [2]string{"$XDSDocumentEntryStatus", "('" + approved + "')"})
			if q.Entries()[uid] == nil {
				t.Fatalf("%s: ITI-18 does not find it (%s %v)", name, q.ResponseStatus(), q.ErrorCodes())
			}
			r, got := c.Retrieve(repository, uid)
			if r.ResponseStatus() != "Success" || !bytes.Equal(got[uid], content) {
				t.Errorf("%s: ITI-43 gives %d bytes (%s %v), not the %d filed", name, len(got[uid]), r.ResponseStatus(), r.ErrorCodes(), len(content))
			}
			// ITI-67 and ITI-68.
			body := mhdGet(t, reader, env.URL+"/DocumentReference?patient.identifier="+url.QueryEscape(ins.System+"|"+ins.Value)+"&identifier="+url.QueryEscape(uid))
			var bundle fhir.Bundle
			if err := fhir.Decode(bytes.NewReader(body), 64<<20, &bundle); err != nil {
				t.Fatal(err)
			}
			var dr fhir.DocumentReference
			for _, en := range bundle.Entry {
				var d fhir.DocumentReference
				if fhir.Decode(bytes.NewReader(en.Resource), 64<<20, &d) == nil && d.ResourceType == "DocumentReference" {
					dr = d
				}
			}
			if len(dr.Content) == 0 {
				t.Fatalf("%s: ITI-67 does not find it", name)
			}
			if b := mhdGet(t, reader, dr.Content[0].Attachment.URL); !bytes.Equal(b, content) {
				t.Errorf("%s: ITI-68 gives %d bytes, not the %d filed", name, len(b), len(content))
			}
		}
	})
}
