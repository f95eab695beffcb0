package conformance_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/internal/testenv"
	. "github.com/carnet-sante/carnet/internal/xdsclient"
)

// The third hostile review (docs/SECURITY-REVIEW-3.md) tried the XDS.b
// paths as an attacker would. Each TestReview3… reproduces one finding: it
// fails on the code the review was run on (main at eefcc3d).

// colleague is a second general practitioner, who joins the care team by
// filing.
var colleague = carnet.Author{ID: carnet.Identifier{System: "urn:oid:1.2.250.1.71.4.2.1", Value: "810001111111"}, Family: "DURAND", Given: []string{"Paul"},
	Profession: carnet.Coding{System: "urn:oid:1.2.250.1.71.1.2.7", Code: "G15_10"}, Specialty: carnet.Coding{System: "urn:oid:1.2.250.1.71.1.2.7", Code: "G15_10/SM54"},
	Org: "Cabinet", OrgID: carnet.Identifier{System: "urn:oid:1.2.250.1.71.4.2.2", Value: "1750000002"}}

// docBy is doc authored by a.
func docBy(a carnet.Author, id, uid, text string) Entry {
	e := doc(id, uid, text)
	s := AuthorSlots(a)
	e.AuthorPerson, e.AuthorInst, e.AuthorSpecialty = s[0], s[1], s[3]
	return e
}

// Finding 1 (medium): GetAssociations on a document the caller may see
// listed its RPLC/APND/XFRM associations whatever their target: a
// colleague in the care team, to whom a document is masked (MASQUE_PS),
// learnt from the addendum's associations that the masked document exists
// and its entryUUID — what GetRelatedDocuments, FindDocuments and ITI-43
// all hide.
func TestReview3AssociationsRevealMaskedTarget(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{})
		c := New(t, env.URL, env.ProfessionalToken(t, author, ""))
		if r := c.Provide(set("S1", "1.2.250.1.999.3.1", doc("D1", "1.2.250.1.999.4.1", "un"), doc("D2", "1.2.250.1.999.4.2", "deux"))); r.ResponseStatus() != "Success" {
			t.Fatalf("ITI-41: %v", r.ErrorCodes())
		}
		e2 := findDocuments(c, "LeafClass", "('"+approved+"')").Entries()["1.2.250.1.999.4.2"]
		// The author masks D2 to the other professionals.
		masked := doc("D2v2", "1.2.250.1.999.4.2", "")
		masked.Confidentiality = append(masked.Confidentiality, [3]string{"MASQUE_PS", "1.2.250.1.213.1.1.4.13", "Masqué aux professionnels"})
		body := strings.Replace(masked.Extrinsic(), `<rim:ExtrinsicObject id="D2v2"`, `<rim:ExtrinsicObject id="D2v2" lid="`+e2.Attr("lid")+`"`, 1)
		body += updateSet("SU1", "1.2.250.1.999.3.91") +
			`<rim:Association id="up1" associationType="urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember" sourceObject="SU1" targetObject="D2v2">` + SlotXML("SubmissionSetStatus", "Original") + SlotXML("PreviousVersion", "1") + `</rim:Association>`
		if r := c.Update(body); r.ResponseStatus() != "Success" {
			t.Fatalf("ITI-57 mask: %v", r.ErrorCodes())
		}
		// and files an addendum to it (APND), which is not masked.
		s3 := set("S3", "1.2.250.1.999.3.3", doc("D3", "1.2.250.1.999.4.3", "addendum"))
		s3.Associations = [][3]string{{"APND", "D3", e2.Attr("id")}}
		if r := c.Provide(s3); r.ResponseStatus() != "Success" {
			t.Fatalf("APND: %v", r.ErrorCodes())
		}
		e3 := findDocuments(c, "LeafClass", "('"+approved+"')").Entries()["1.2.250.1.999.4.3"]

		// A colleague joins the care team by filing, and reads the record.
		col := New(t, env.URL, env.ProfessionalToken(t, colleague, ""))
		if r := col.Provide(set("S4", "1.2.250.1.999.3.4", docBy(colleague, "D4", "1.2.250.1.999.4.4", "quatre"))); r.ResponseStatus() != "Success" {
			t.Fatalf("the colleague files: %v", r.ErrorCodes())
		}
		seen := string(findDocuments(col, "ObjectRef", "('"+approved+"')").Raw)
		if strings.Contains(seen, e2.Attr("id")) || !strings.Contains(seen, e3.Attr("id")) {
			t.Fatalf("setup: the colleague should see the addendum and not the masked document: %s", seen)
		}
		for _, rt := range []string{"ObjectRef", "LeafClass"} {
			r := col.Query(getAssocs, rt, [2]string{"$uuid", "('" + e3.Attr("id") + "')"})
			if r.ResponseStatus() != "Success" {
				t.Fatalf("GetAssociations: %v", r.ErrorCodes())
			}
			if strings.Contains(string(r.Raw), e2.Attr("id")) {
				t.Errorf("GetAssociations (%s) of the addendum names the document masked to the colleague: %s", rt, r.Raw)
			}
			if n := len(r.Env.Find("Association")) + len(r.Env.Find("ObjectRef")); n != 1 {
				t.Errorf("GetAssociations (%s) of the addendum: want only its HasMember, got %d associations", rt, n)
			}
		}
		// The author, who sees both, still gets the APND association.
		if r := c.Query(getAssocs, "LeafClass", [2]string{"$uuid", "('" + e3.Attr("id") + "')"}); !strings.Contains(string(r.Raw), "AssociationType:APND") || !strings.Contains(string(r.Raw), e2.Attr("id")) {
			t.Errorf("the author lost the APND association: %s", r.Raw)
		}
	})
}

// Finding 3 (low): an ebRIM element with an attribute given twice is not
// well-formed XML, but was read (the first value kept): a gateway in front
// of Carnet that keeps the last — or checks the patient against the
// caller's rights — saw another patientId than the one Carnet filed under.
func TestReview3DuplicateAttributeRefused(t *testing.T) {
	env := testenv.New(t, testenv.SQLite, testenv.Options{})
	const otherCX = "190017512345603^^^&1.2.250.1.213.1.4.10&ISO^NH"
	// A proxy that doubles every patientId value attribute.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		esc := func(s string) string { return strings.ReplaceAll(s, "&", "&amp;") }
		b = []byte(strings.ReplaceAll(string(b), `value="`+esc(testCX)+`"`, `value="`+esc(testCX)+`" value="`+esc(otherCX)+`"`))
		req, _ := http.NewRequest(r.Method, env.URL+r.URL.Path, bytes.NewReader(b))
		req.Header = r.Header.Clone()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.StatusCode)
		io.Copy(w, res.Body)
	}))
	defer proxy.Close()
	c := New(t, proxy.URL, env.ProfessionalToken(t, author, ""))
	d := doc("D1", "1.2.250.1.999.4.1", "un")
	d.Inline = true
	r := c.Provide(set("S1", "1.2.250.1.999.3.1", d))
	if r.Status != http.StatusBadRequest {
		t.Errorf("ITI-41 with patientId value=A value=B: %d %s %v", r.Status, r.ResponseStatus(), r.ErrorCodes())
	}
	if es := findDocuments(New(t, env.URL, env.ProfessionalToken(t, author, "")), "ObjectRef", "('"+approved+"')"); len(es.Env.Find("ObjectRef")) != 0 {
		t.Errorf("the document was filed")
	}
}

// Finding 4 (low): ITI-57 read the SubmissionSet's patientId and did not
// compare it with the record of the document it changes: an update
// "for" patient B changed (masked, archived, deleted) a document of
// patient A. What the change is allowed to do is still the policy's, but
// the request lies about whose record it touches, which ITI-57 forbids
// (XDSPatientIdDoesNotMatch) and which a gateway authorising by the
// submission's patient (an XUA resource-id) trusts.
func TestReview3UpdateOfAnotherPatientsDocument(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{})
		c := New(t, env.URL, env.ProfessionalToken(t, author, ""))
		if r := c.Provide(set("S1", "1.2.250.1.999.3.1", doc("D1", "1.2.250.1.999.4.1", "un"))); r.ResponseStatus() != "Success" {
			t.Fatalf("ITI-41: %v", r.ErrorCodes())
		}
		e1 := findDocuments(c, "LeafClass", "('"+approved+"')").Entries()["1.2.250.1.999.4.1"]
		const otherCX = "190017512345603^^^&1.2.250.1.213.1.4.10&ISO^NH"
		other := func(s string) string { return strings.ReplaceAll(s, xmlEscape(testCX), xmlEscape(otherCX)) }
		archive := other(updateSet("SU1", "1.2.250.1.999.3.91")) +
			`<rim:Association id="up1" associationType="urn:ihe:iti:2010:AssociationType:UpdateAvailabilityStatus" sourceObject="SU1" targetObject="` + e1.Attr("id") + `">` +
			SlotXML("OriginalStatus", approved) + SlotXML("NewStatus", archivedXDS) + `</rim:Association>`
		if r := c.Update(archive); r.ResponseStatus() != "Failure" || !r.HasError("XDSPatientIdDoesNotMatch") {
			t.Errorf("ITI-57 status change naming another patient: %s %v", r.ResponseStatus(), r.ErrorCodes())
		}
		masked := doc("D1v2", "1.2.250.1.999.4.1", "")
		masked.PatientCX = otherCX
		masked.Confidentiality = append(masked.Confidentiality, [3]string{"MASQUE_PS", "1.2.250.1.213.1.1.4.13", "Masqué aux professionnels"})
		body := strings.Replace(masked.Extrinsic(), `<rim:ExtrinsicObject id="D1v2"`, `<rim:ExtrinsicObject id="D1v2" lid="`+e1.Attr("lid")+`"`, 1)
		body += other(updateSet("SU2", "1.2.250.1.999.3.92")) +
			`<rim:Association id="up2" associationType="urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember" sourceObject="SU2" targetObject="D1v2">` + SlotXML("SubmissionSetStatus", "Original") + SlotXML("PreviousVersion", "1") + `</rim:Association>`
		if r := c.Update(body); r.ResponseStatus() != "Failure" || !r.HasError("XDSPatientIdDoesNotMatch") {
			t.Errorf("ITI-57 new version naming another patient: %s %v", r.ResponseStatus(), r.ErrorCodes())
		}
		e1 = findDocuments(c, "LeafClass", "('"+approved+"')").Entries()["1.2.250.1.999.4.1"]
		if e1 == nil || len(Codes(e1, schemeConf)) != 1 {
			t.Errorf("the document was changed by requests naming another patient")
		}
		// The same requests naming the document's patient pass.
		if r := c.Update(strings.ReplaceAll(archive, xmlEscape(otherCX), xmlEscape(testCX))); r.ResponseStatus() != "Success" {
			t.Errorf("ITI-57 archive naming the right patient: %v", r.ErrorCodes())
		}
	})
}

func xmlEscape(s string) string { return strings.ReplaceAll(s, "&", "&amp;") }

// Finding 5 (medium): the XDS.b endpoints read the whole body (up to
// 64 MiB) into memory before authenticating the caller: anyone able to
// reach the port held 64 MiB of the server's memory per connection, for as
// long as they took to send it. The FHIR API authenticates first.
func TestReview3UnauthenticatedBodyNotRead(t *testing.T) {
	env := testenv.New(t, testenv.SQLite, testenv.Options{})
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() {
		// A first kilobyte, then nothing: the rest of a large body that a
		// slow sender has not sent yet.
		pw.Write(bytes.Repeat([]byte("<"), 1024))
	}()
	req, _ := http.NewRequest("POST", env.URL+"/xds/repository", pr)
	req.Header.Set("Content-Type", `application/soap+xml; charset=UTF-8; action="urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"`)
	req.ContentLength = 60 << 20
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		res.Body.Close()
		done <- result{status: res.StatusCode}
	}()
	select {
	case r := <-done:
		if r.err != nil || r.status != http.StatusUnauthorized {
			t.Errorf("unauthenticated ITI-41: %d %v, want 401", r.status, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("the server waits for the body of an unauthenticated caller instead of answering 401")
	}
}
