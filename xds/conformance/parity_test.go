package conformance_test

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/internal/testenv"
	. "github.com/carnet-sante/carnet/internal/xdsclient"
	"github.com/carnet-sante/carnet/mhd"
)

// XDS.b and MHD accept and refuse the same documents: each variation of
// one document is filed both ways, with the national value sets loaded,
// and both paths must agree.
func TestXDSAndMHDAcceptTheSame(t *testing.T) {
	env := testenv.New(t, testenv.SQLite, testenv.Options{ValueSets: true})
	gp := author
	gp.Specialty = carnet.Coding{System: "urn:oid:1.2.250.1.213.1.1.4.5", Code: "G15_10/SM54"}
	tok := env.ProfessionalToken(t, gp, "")
	ins := carnet.Identifier{System: "urn:oid:1.2.250.1.213.1.4.10", Value: testINS}
	base := carnet.DocumentMeta{Title: "Consultation", ContentType: "text/plain",
		Class:           carnet.Coding{System: "urn:oid:1.2.250.1.213.1.1.4.1", Code: "10"},
		Type:            carnet.Coding{System: "urn:oid:2.16.840.1.113883.6.1", Code: "11488-4"},
		Format:          carnet.Coding{System: "urn:oid:1.3.6.1.4.1.19376.1.2.3", Code: "urn:ihe:iti:xds-sd:text:2008"},
		Confidentiality: []carnet.Coding{{System: "urn:oid:2.16.840.1.113883.5.25", Code: "N"}},
		Facility:        carnet.Coding{System: "urn:oid:1.2.250.1.71.4.2.4", Code: "SA07"},
		PracticeSetting: carnet.Coding{System: "urn:oid:1.2.250.1.213.1.1.4.9", Code: "AMBULATOIRE"},
		Authors:         []carnet.Author{gp}, Created: time.Date(2024, 3, 5, 10, 0, 0, 0, time.UTC)}
	cases := []struct {
		name   string
		change func(m *carnet.DocumentMeta, p *carnet.Identifier)
		accept bool
	}{
		{"as is", func(*carnet.DocumentMeta, *carnet.Identifier) {}, true},
		{"masked and hidden from the patient", func(m *carnet.DocumentMeta, _ *carnet.Identifier) {
			m.Confidentiality = append(slices.Clone(m.Confidentiality), carnet.Coding{System: "urn:oid:1.2.250.1.213.1.1.4.13", Code: "MASQUE_PS"}, carnet.Coding{System: "urn:oid:1.2.250.1.213.1.1.4.13", Code: "INVISIBLE_PATIENT"})
		}, true},
		{"type outside JDV_J07", func(m *carnet.DocumentMeta, _ *carnet.Identifier) { m.Type.Code = "00000-0" }, false},
		{"confidentiality outside JDV_J08", func(m *carnet.DocumentMeta, _ *carnet.Identifier) {
			m.Confidentiality = []carnet.Coding{{System: "urn:oid:2.16.840.1.113883.5.25", Code: "SECRET"}}
		}, false},
		{"facility outside JDV_J02", func(m *carnet.DocumentMeta, _ *carnet.Identifier) { m.Facility.Code = "ZZ99" }, false},
		{"author specialty outside JDV_J01", func(m *carnet.DocumentMeta, _ *carnet.Identifier) {
			a := m.Authors[0]
			a.Specialty.Code = "G15_10/XX00"
			m.Authors = []carnet.Author{a}
		}, false},
		{"no class", func(m *carnet.DocumentMeta, _ *carnet.Identifier) { m.Class = carnet.Coding{} }, false},
		{"no confidentiality", func(m *carnet.DocumentMeta, _ *carnet.Identifier) { m.Confidentiality = nil }, false},
		{"executable", func(m *carnet.DocumentMeta, _ *carnet.Identifier) { m.ContentType = "application/x-msdownload" }, false},
		{"not an INS", func(_ *carnet.DocumentMeta, p *carnet.Identifier) { p.System = "urn:oid:1.2.250.1.999.9" }, false},
		{"another professional's document", func(m *carnet.DocumentMeta, _ *carnet.Identifier) { m.Authors = []carnet.Author{stranger} }, false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, p := base, ins
			tc.change(&m, &p)
			content := []byte("contenu " + tc.name)
			// XDS.b.
			uid := fmt.Sprintf("1.2.250.1.999.7.%d", i)
			e := EntryFromMeta("Document01", uid+".1", p, m, content)
			r := New(t, env.URL, tok).Provide(SubmissionSet{ID: "SubmissionSet01", UniqueID: uid + ".10", SourceID: "1.2.250.1.999.2", PatientCX: CX(p),
				Time: "20240305101600", ContentType: Code3(m.Type), Entries: []Entry{e}})
			xdsOK := r.ResponseStatus() == "Success"
			// MHD.
			bundle := mhd.ProvideBundle(carnet.Submission{Patient: p, Set: carnet.SubmissionSet{UniqueID: uid + ".20", SourceID: "1.2.250.1.999.2", ContentType: m.Type},
				Documents: []carnet.SubmittedDocument{{UniqueID: uid + ".2", Meta: m, Content: content}}})
			var buf bytes.Buffer
			if err := fhir.Encode(&buf, bundle); err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest("POST", env.URL+"/", &buf)
			req.Header.Set("Content-Type", "application/fhir+json")
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			mhdOK := resp.StatusCode == 200
			if resp.StatusCode >= 500 || r.Status >= 500 {
				t.Fatalf("server error: MHD %d, XDS %d", resp.StatusCode, r.Status)
			}
			if xdsOK != tc.accept || mhdOK != tc.accept {
				t.Errorf("XDS.b accepted: %v %v, MHD accepted: %v (%d); want %v", xdsOK, r.ErrorCodes(), mhdOK, resp.StatusCode, tc.accept)
			}
		})
	}
}
