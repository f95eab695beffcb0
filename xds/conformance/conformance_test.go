package conformance_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/internal/testenv"
	. "github.com/carnet-sante/carnet/internal/xdsclient"
	"github.com/carnet-sante/carnet/mhd"
	"github.com/carnet-sante/carnet/xds"
)

const (
	testINS     = "279035121518989"
	testCX      = testINS + "^^^&1.2.250.1.213.1.4.10&ISO^NH"
	repository  = xds.DefaultRepositoryUniqueID
	findDocs    = "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d"
	findSets    = "urn:uuid:f26abbcb-ac74-4422-8a30-edb644bbc1a9"
	getDocs     = "urn:uuid:5c4f972b-d56b-40ac-a5fc-c8ca9b40b9d4"
	getAssocs   = "urn:uuid:a7ae438b-4bc2-4642-93e9-be891f7bb155"
	getSetAndC  = "urn:uuid:e8e3cb2c-e39c-46b9-99e4-c12f57260b83"
	getRelated  = "urn:uuid:d90e5407-b356-4d91-a89f-873917b4b0e6"
	schemeConf  = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
	approved    = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"
	deprecated  = "urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated"
	archivedXDS = "urn:asip:ci-sis:2010:StatusType:Archived"
)

var author = carnet.Author{ID: carnet.Identifier{System: "urn:oid:1.2.250.1.71.4.2.1", Value: "810002345678"}, Family: "MARTIN", Given: []string{"Jeanne"},
	Profession: carnet.Coding{System: "urn:oid:1.2.250.1.71.1.2.7", Code: "G15_10"}, Specialty: carnet.Coding{System: "urn:oid:1.2.250.1.71.1.2.7", Code: "G15_10/SM54"},
	Org: "Centre de santé", OrgID: carnet.Identifier{System: "urn:oid:1.2.250.1.71.4.2.2", Value: "1750000001"}}

// stranger is a professional who neither wrote nor treats.
var stranger = carnet.Author{ID: carnet.Identifier{System: "urn:oid:1.2.250.1.71.4.2.1", Value: "810009999999"}, Family: "AUTRE", Profession: carnet.Coding{Code: "G15_10"}}

// doc is a plain-text document Entry authored by author.
func doc(id, uid, text string) Entry {
	return Entry{ID: id, UniqueID: uid, MimeType: "text/plain", Title: "Compte rendu " + id, PatientCX: testCX,
		Class:           [3]string{"10", "1.2.250.1.213.1.1.4.1", "Compte rendu"},
		Type:            [3]string{"11488-4", "2.16.840.1.113883.6.1", "Compte rendu de consultation"},
		Format:          [3]string{"urn:ihe:iti:xds-sd:text:2008", "1.3.6.1.4.1.19376.1.2.3", "Document à corps non structuré"},
		Facility:        [3]string{"SA07", "1.2.250.1.71.4.2.4", "Cabinet de médecin"},
		Practice:        [3]string{"ETABLISSEMENT", "1.2.250.1.213.1.1.4.9", "Etablissement de santé"},
		Confidentiality: [][3]string{{"N", "2.16.840.1.113883.5.25", "Normal"}},
		CreationTime:    "20240305101500",
		AuthorPerson:    "810002345678^MARTIN^Jeanne^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS",
		AuthorInst:      "Centre de santé^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^1750000001",
		AuthorRole:      "",
		AuthorSpecialty: "G15_10/SM54^Médecine générale^1.2.250.1.71.1.2.7",
		Content:         []byte(text)}
}

// newVersion is an ITI-57 new version id of the entry doc(of, uid, …):
// the same metadata (title included), for its labels to be changed.
func newVersion(id, uid, of string) Entry {
	e := doc(id, uid, "")
	e.Title = "Compte rendu " + of
	return e
}

func set(id, uid string, entries ...Entry) SubmissionSet {
	return SubmissionSet{ID: id, UniqueID: uid, SourceID: "1.2.250.1.999.2", PatientCX: testCX, Time: "20240305101600",
		ContentType: [3]string{"11488-4", "2.16.840.1.113883.6.1", "Compte rendu"}, Entries: entries}
}

func forEachBackend(t *testing.T, f func(t *testing.T, b testenv.Backend)) {
	for _, b := range testenv.Backends {
		t.Run(b.Name, func(t *testing.T) { f(t, b) })
	}
}

func findDocuments(c *Client, returnType string, statuses string, extra ...[2]string) Reply {
	return c.Query(findDocs, returnType, append([][2]string{{"$XDSDocumentEntryPatientId", "'" + testCX + "'"}, {"$XDSDocumentEntryStatus", statuses}}, extra...)...)
}

// The IHE flow as a producer and a consumer run it: provide (MTOM, several
// parts, and inline base64), query, retrieve, replace, update, on both
// backends; each result is what a user of the client would see.
func TestConformanceProvideQueryRetrieveReplace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{})
		c := New(t, env.URL, env.ProfessionalToken(t, author, ""))

		// ITI-41 with two documents as two MTOM parts.
		r := c.Provide(set("SubmissionSet01", "1.2.250.1.999.3.1", doc("Document01", "1.2.250.1.999.4.1", "premier compte rendu"), doc("Document02", "1.2.250.1.999.4.2", "second compte rendu")))
		if r.Status != 200 || r.ResponseStatus() != "Success" {
			t.Fatalf("ITI-41: %d %s %v\n%s", r.Status, r.ResponseStatus(), r.ErrorCodes(), r.Raw)
		}
		// The same submission again is answered as the first time (idempotent).
		if r := c.Provide(set("SubmissionSet01", "1.2.250.1.999.3.1", doc("Document01", "1.2.250.1.999.4.1", "premier compte rendu"), doc("Document02", "1.2.250.1.999.4.2", "second compte rendu"))); r.ResponseStatus() != "Success" {
			t.Errorf("replayed ITI-41: %s %v", r.ResponseStatus(), r.ErrorCodes())
		}

		// ITI-18 FindDocuments, LeafClass: both, with the DMP metadata.
		r = findDocuments(c, "LeafClass", "('"+approved+"')")
		es := r.Entries()
		if r.ResponseStatus() != "Success" || len(es) != 2 {
			t.Fatalf("FindDocuments: %s %v, %d entries\n%s", r.ResponseStatus(), r.ErrorCodes(), len(es), r.Raw)
		}
		e1 := es["1.2.250.1.999.4.1"]
		if got := Codes(e1, schemeConf); !slices.Equal(got, []string{"N"}) {
			t.Errorf("confidentialityCode %v", got)
		}
		var pid string
		for _, ei := range e1.Find("ExternalIdentifier") {
			if ei.Attr("identificationScheme") == "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427" {
				pid = ei.Attr("value")
			}
		}
		if pid != testCX {
			t.Errorf("patientId %q, want %q", pid, testCX)
		}
		au := ""
		for _, cl := range e1.Find("Classification") {
			if cl.Attr("classificationScheme") == "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d" {
				au = SlotValue(cl, "authorPerson") + "|" + SlotValue(cl, "authorInstitution") + "|" + SlotValue(cl, "authorSpecialty")
			}
		}
		if !strings.HasPrefix(au, "810002345678^MARTIN^Jeanne") || !strings.Contains(au, "IDNST^^^1750000001") || !strings.Contains(au, "G15_10/SM54") {
			t.Errorf("author served as %q", au)
		}
		if SlotValue(e1, "repositoryUniqueId") != repository || SlotValue(e1, "size") != "20" || e1.Attr("status") != approved {
			t.Errorf("Entry slots: repository %q size %q status %q", SlotValue(e1, "repositoryUniqueId"), SlotValue(e1, "size"), e1.Attr("status"))
		}
		entryUUID1 := e1.Attr("id")
		// ObjectRef: ids only.
		if r := findDocuments(c, "ObjectRef", "('"+approved+"')"); len(r.Env.Find("ObjectRef")) != 2 || len(r.Env.Find("ExtrinsicObject")) != 0 {
			t.Errorf("ObjectRef answer: %s", r.Raw)
		}
		// A code filter: a type no document has finds nothing.
		if r := findDocuments(c, "ObjectRef", "('"+approved+"')", [2]string{"$XDSDocumentEntryTypeCode", "('34133-9^^2.16.840.1.113883.6.1')"}); len(r.Env.Find("ObjectRef")) != 0 {
			t.Errorf("type filter ignored: %s", r.Raw)
		}

		// ITI-43: both documents in one MTOM answer, byte-identical.
		r, got := c.Retrieve(repository, "1.2.250.1.999.4.1", "1.2.250.1.999.4.2")
		if r.ResponseStatus() != "Success" || string(got["1.2.250.1.999.4.1"]) != "premier compte rendu" || string(got["1.2.250.1.999.4.2"]) != "second compte rendu" {
			t.Fatalf("ITI-43: %s %v %q", r.ResponseStatus(), r.ErrorCodes(), got)
		}
		// One unknown document among two: PartialSuccess, as IHE allows for ITI-43.
		if r, got := c.Retrieve(repository, "1.2.250.1.999.4.1", "1.2.250.1.999.4.99"); r.ResponseStatus() != "PartialSuccess" || len(got) != 1 || !r.HasError("XDSDocumentUniqueIdError") {
			t.Errorf("partial retrieve: %s %v", r.ResponseStatus(), r.ErrorCodes())
		}
		// Another node (no memory of this caller's queries) finds the
		// documents by uniqueId in the store: ITI-43 and GetDocuments.
		node2 := httptest.NewServer(xds.New(xds.Config{Service: env.Service, Authenticate: env.Authenticate}))
		defer node2.Close()
		c2 := New(t, node2.URL, env.ProfessionalToken(t, author, ""))
		if r, got := c2.Retrieve(repository, "1.2.250.1.999.4.2"); r.ResponseStatus() != "Success" || string(got["1.2.250.1.999.4.2"]) != "second compte rendu" {
			t.Errorf("ITI-43 on another node with no prior query: %s %v %q", r.ResponseStatus(), r.ErrorCodes(), got)
		}
		if r := c2.Query(getDocs, "ObjectRef", [2]string{"$XDSDocumentEntryUniqueId", "('1.2.250.1.999.4.1')"}); len(r.Env.Find("ObjectRef")) != 1 {
			t.Errorf("GetDocuments by uniqueId on another node: %s %v", r.ResponseStatus(), r.ErrorCodes())
		}
		// GetSubmissionSetAndContents by the set's uniqueId alone, on the
		// other node too; a stranger gets what an unknown set gets.
		if r := c2.Query(getSetAndC, "LeafClass", [2]string{"$XDSSubmissionSetUniqueId", "'1.2.250.1.999.3.1'"}); len(r.Env.Find("RegistryPackage")) != 1 || len(r.Entries()) == 0 {
			t.Errorf("GetSubmissionSetAndContents by uniqueId on another node: %s %v\n%s", r.ResponseStatus(), r.ErrorCodes(), r.Raw)
		}
		strangerC := New(t, node2.URL, env.ProfessionalToken(t, stranger, ""))
		for _, uid := range []string{"1.2.250.1.999.3.1", "1.2.250.1.999.3.404"} {
			if r := strangerC.Query(getSetAndC, "LeafClass", [2]string{"$XDSSubmissionSetUniqueId", "'" + uid + "'"}); r.ResponseStatus() != "Success" || len(r.Env.Find("RegistryPackage")) != 0 || len(r.Entries()) != 0 {
				t.Errorf("a professional outside the care team, set %s: %s %v\n%s", uid, r.ResponseStatus(), r.ErrorCodes(), r.Raw)
			}
		}
		if r, got := New(t, node2.URL, env.ProfessionalToken(t, stranger, "")).Retrieve(repository, "1.2.250.1.999.4.2"); len(got) != 0 || !r.HasError("XDSDocumentUniqueIdError") {
			t.Errorf("a professional outside the care team retrieves by uniqueId: %s %v", r.ResponseStatus(), r.ErrorCodes())
		}
		if r, _ := c.Retrieve("1.2.3.4", "1.2.250.1.999.4.1"); r.ResponseStatus() != "Failure" || !r.HasError("XDSUnknownRepositoryId") {
			t.Errorf("unknown repository: %s %v", r.ResponseStatus(), r.ErrorCodes())
		}

		// The same documents through MHD: ITI-67 finds them, ITI-68 gives the same bytes.
		mhdDocs := mhdSearch(t, env, c.Token)
		if len(mhdDocs) != 2 {
			t.Fatalf("ITI-67 finds %d documents filed by ITI-41", len(mhdDocs))
		}
		for _, dr := range mhdDocs {
			if b := mhdGet(t, c.Token, dr.Content[0].Attachment.URL); string(b) != "premier compte rendu" && string(b) != "second compte rendu" {
				t.Errorf("ITI-68 of %s: %q", dr.MasterIdentifier.Value, b)
			}
		}

		// Replacement (RPLC), the document inline in base64.
		repl := doc("Document03", "1.2.250.1.999.4.3", "compte rendu corrigé")
		repl.Inline = true
		s := set("SubmissionSet02", "1.2.250.1.999.3.2", repl)
		s.Associations = [][3]string{{"RPLC", "Document03", entryUUID1}}
		if r := c.Provide(s); r.ResponseStatus() != "Success" {
			t.Fatalf("RPLC: %s %v", r.ResponseStatus(), r.ErrorCodes())
		}
		if es := findDocuments(c, "LeafClass", "('"+approved+"')").Entries(); len(es) != 2 || es["1.2.250.1.999.4.1"] != nil || es["1.2.250.1.999.4.3"] == nil {
			t.Errorf("after RPLC the approved documents are %v", keys(es))
		}
		if es := findDocuments(c, "LeafClass", "('"+deprecated+"')").Entries(); len(es) != 1 || es["1.2.250.1.999.4.1"] == nil {
			t.Errorf("after RPLC the deprecated documents are %v", keys(es))
		}
		// GetRelatedDocuments: the replacement and what it replaces, with the association.
		r = c.Query(getRelated, "LeafClass", [2]string{"$XDSDocumentEntryUniqueId", "'1.2.250.1.999.4.3'"}, [2]string{"$AssociationTypes", "('urn:ihe:iti:2007:AssociationType:RPLC')"})
		if es := r.Entries(); len(es) != 2 || len(r.Env.Find("Association")) != 1 || r.Env.First("Association").Attr("targetObject") != entryUUID1 {
			t.Errorf("GetRelatedDocuments: %s %v\n%s", r.ResponseStatus(), keys(r.Entries()), r.Raw)
		}
		// APND and XFRM of the replacement.
		apnd := doc("Document04", "1.2.250.1.999.4.4", "addendum")
		xfrm := doc("Document05", "1.2.250.1.999.4.5", "transformation")
		s = set("SubmissionSet03", "1.2.250.1.999.3.3", apnd, xfrm)
		uuid3 := findDocuments(c, "LeafClass", "('"+approved+"')").Entries()["1.2.250.1.999.4.3"].Attr("id")
		s.Associations = [][3]string{{"APND", "Document04", uuid3}, {"XFRM", "Document05", uuid3}}
		if r := c.Provide(s); r.ResponseStatus() != "Success" {
			t.Fatalf("APND/XFRM: %s %v", r.ResponseStatus(), r.ErrorCodes())
		}
		r = c.Query(getAssocs, "LeafClass", [2]string{"$uuid", "('" + uuid3 + "')"})
		var types []string
		for _, a := range r.Env.Find("Association") {
			types = append(types, a.Attr("associationType"))
		}
		slices.Sort(types)
		if want := []string{"urn:ihe:iti:2007:AssociationType:APND", "urn:ihe:iti:2007:AssociationType:RPLC", "urn:ihe:iti:2007:AssociationType:XFRM", "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"}; !slices.Equal(types, want) {
			t.Errorf("GetAssociations: %v, want %v", types, want)
		}

		// GetDocuments by uniqueId and by entryUUID.
		if es := c.Query(getDocs, "LeafClass", [2]string{"$XDSDocumentEntryUniqueId", "('1.2.250.1.999.4.2','1.2.250.1.999.4.4')"}).Entries(); len(es) != 2 {
			t.Errorf("GetDocuments by uniqueId: %v", keys(es))
		}
		if es := c.Query(getDocs, "LeafClass", [2]string{"$XDSDocumentEntryEntryUUID", "('" + entryUUID1 + "')"}).Entries(); len(es) != 1 || es["1.2.250.1.999.4.1"].Attr("status") != deprecated {
			t.Errorf("GetDocuments by entryUUID: %v", keys(es))
		}
		// FindSubmissionSets and GetSubmissionSetAndContents.
		r = c.Query(findSets, "LeafClass", [2]string{"$XDSSubmissionSetPatientId", "'" + testCX + "'"}, [2]string{"$XDSSubmissionSetStatus", "('" + approved + "')"})
		if n := len(r.Env.Find("RegistryPackage")); n != 3 {
			t.Errorf("FindSubmissionSets: %d sets\n%s", n, r.Raw)
		}
		r = c.Query(getSetAndC, "LeafClass", [2]string{"$XDSSubmissionSetUniqueId", "'1.2.250.1.999.3.1'"})
		if len(r.Env.Find("RegistryPackage")) != 1 || len(r.Entries()) != 2 || len(r.Env.Find("Association")) != 2 {
			t.Errorf("GetSubmissionSetAndContents: %s", r.Raw)
		}

		// ITI-57: mask the second document (MASQUE_PS), then archive it.
		e2 := findDocuments(c, "LeafClass", "('"+approved+"')").Entries()["1.2.250.1.999.4.2"]
		masked := newVersion("Document02v2", "1.2.250.1.999.4.2", "Document02")
		masked.Confidentiality = append(masked.Confidentiality, [3]string{"MASQUE_PS", "1.2.250.1.213.1.1.4.13", "Masqué aux professionnels"})
		body := strings.Replace(masked.Extrinsic(), `<rim:ExtrinsicObject id="Document02v2"`, `<rim:ExtrinsicObject id="Document02v2" lid="`+e2.Attr("lid")+`"`, 1)
		body += updateSet("SubmissionSet04", "1.2.250.1.999.3.4") +
			`<rim:Association id="up1" associationType="urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember" sourceObject="SubmissionSet04" targetObject="Document02v2">` + SlotXML("SubmissionSetStatus", "Original") + SlotXML("PreviousVersion", "1") + `</rim:Association>`
		if r := c.Update(body); r.ResponseStatus() != "Success" {
			t.Fatalf("ITI-57 mask: %s %v", r.ResponseStatus(), r.ErrorCodes())
		}
		e2 = findDocuments(c, "LeafClass", "('"+approved+"')").Entries()["1.2.250.1.999.4.2"]
		if got := Codes(e2, schemeConf); !slices.Contains(got, "MASQUE_PS") {
			t.Errorf("after ITI-57 the labels are %v", got)
		}
		// A stale PreviousVersion is refused.
		if r := c.Update(body); r.ResponseStatus() != "Failure" || !r.HasError("XDSMetadataVersionError") {
			t.Errorf("stale ITI-57: %s %v", r.ResponseStatus(), r.ErrorCodes())
		}
		archive := updateSet("SubmissionSet05", "1.2.250.1.999.3.5") +
			`<rim:Association id="up2" associationType="urn:ihe:iti:2010:AssociationType:UpdateAvailabilityStatus" sourceObject="SubmissionSet05" targetObject="` + e2.Attr("id") + `">` +
			SlotXML("OriginalStatus", approved) + SlotXML("NewStatus", archivedXDS) + `</rim:Association>`
		if r := c.Update(archive); r.ResponseStatus() != "Success" {
			t.Fatalf("ITI-57 archive: %s %v", r.ResponseStatus(), r.ErrorCodes())
		}
		if es := findDocuments(c, "LeafClass", "('"+archivedXDS+"')").Entries(); len(es) != 1 || es["1.2.250.1.999.4.2"] == nil {
			t.Errorf("archived documents: %v", keys(es))
		}

		// Unmask it (PreviousVersion 3: masking and archiving each made a
		// version): the DMP lets only the patient unmask, not the author.
		patient := New(t, env.URL, env.PatientToken(t, carnet.Identifier{System: "urn:oid:1.2.250.1.213.1.4.10", Value: testINS}, false))
		unmasked := newVersion("Document02v4", "1.2.250.1.999.4.2", "Document02")
		body = strings.Replace(unmasked.Extrinsic(), `<rim:ExtrinsicObject id="Document02v4"`, `<rim:ExtrinsicObject id="Document02v4" lid="`+e2.Attr("lid")+`"`, 1)
		body += updateSet("SubmissionSet06", "1.2.250.1.999.3.6") +
			`<rim:Association id="up3" associationType="urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember" sourceObject="SubmissionSet06" targetObject="Document02v4">` + SlotXML("SubmissionSetStatus", "Original") + SlotXML("PreviousVersion", "3") + `</rim:Association>`
		if r := c.Update(body); r.ResponseStatus() != "Failure" || !r.HasError("XDSRegistryError") {
			t.Errorf("the author unmasked: %s %v", r.ResponseStatus(), r.ErrorCodes())
		}
		if r := patient.Update(body); r.ResponseStatus() != "Success" {
			t.Fatalf("ITI-57 unmask by the patient: %s %v\n%s", r.ResponseStatus(), r.ErrorCodes(), r.Raw)
		}
		if e := findDocuments(c, "LeafClass", "('"+archivedXDS+"')").Entries()["1.2.250.1.999.4.2"]; e == nil || !slices.Equal(Codes(e, schemeConf), []string{"N"}) {
			t.Errorf("after unmasking: %v", e)
		}
		// Hide the replacement from the patient (INVISIBLE_PATIENT): the
		// patient no longer finds it through XDS, the author still does.
		e3 := findDocuments(c, "LeafClass", "('"+approved+"')").Entries()["1.2.250.1.999.4.3"]
		hidden := newVersion("Document03v2", "1.2.250.1.999.4.3", "Document03")
		hidden.Confidentiality = append(hidden.Confidentiality, [3]string{"INVISIBLE_PATIENT", "1.2.250.1.213.1.1.4.13", "Non visible par le patient"})
		body = strings.Replace(hidden.Extrinsic(), `<rim:ExtrinsicObject id="Document03v2"`, `<rim:ExtrinsicObject id="Document03v2" lid="`+e3.Attr("lid")+`"`, 1)
		body += updateSet("SubmissionSet07", "1.2.250.1.999.3.7") +
			`<rim:Association id="up4" associationType="urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember" sourceObject="SubmissionSet07" targetObject="Document03v2">` + SlotXML("SubmissionSetStatus", "Original") + SlotXML("PreviousVersion", "1") + `</rim:Association>`
		if r := c.Update(body); r.ResponseStatus() != "Success" {
			t.Fatalf("ITI-57 INVISIBLE_PATIENT: %s %v", r.ResponseStatus(), r.ErrorCodes())
		}
		if es := findDocuments(patient, "LeafClass", "('"+approved+"')").Entries(); es["1.2.250.1.999.4.3"] != nil || es["1.2.250.1.999.4.4"] == nil {
			t.Errorf("the patient finds %v", keys(es))
		}
		if r, got := patient.Retrieve(repository, "1.2.250.1.999.4.3"); len(got) != 0 || r.ResponseStatus() != "Failure" {
			t.Errorf("the patient retrieves a document hidden from them")
		}
		if es := findDocuments(c, "LeafClass", "('"+approved+"')").Entries(); es["1.2.250.1.999.4.3"] == nil {
			t.Errorf("the author lost their document: %v", keys(es))
		}
		// Delete the addendum (logical deletion by its author).
		e4 := findDocuments(c, "LeafClass", "('"+approved+"')").Entries()["1.2.250.1.999.4.4"]
		del := updateSet("SubmissionSet08", "1.2.250.1.999.3.8") +
			`<rim:Association id="up5" associationType="urn:ihe:iti:2010:AssociationType:UpdateAvailabilityStatus" sourceObject="SubmissionSet08" targetObject="` + e4.Attr("id") + `">` +
			SlotXML("OriginalStatus", approved) + SlotXML("NewStatus", "urn:oasis:names:tc:ebxml-regrep:StatusType:Deleted") + `</rim:Association>`
		if r := c.Update(del); r.ResponseStatus() != "Success" {
			t.Fatalf("ITI-57 delete: %s %v", r.ResponseStatus(), r.ErrorCodes())
		}
		if es := findDocuments(c, "LeafClass", "('"+approved+"')").Entries(); es["1.2.250.1.999.4.4"] != nil {
			t.Errorf("a deleted document is still approved")
		}
		if r, got := c.Retrieve(repository, "1.2.250.1.999.4.4"); len(got) != 0 || !r.HasError("XDSDocumentUniqueIdError") {
			t.Errorf("a deleted document is retrieved: %v", r.ErrorCodes())
		}
		// Only its author deletes a document.
		e5 := findDocuments(c, "LeafClass", "('"+approved+"')").Entries()["1.2.250.1.999.4.5"]
		del = strings.ReplaceAll(strings.ReplaceAll(del, e4.Attr("id"), e5.Attr("id")), "SubmissionSet08", "SubmissionSet09")
		if r := New(t, env.URL, env.ProfessionalToken(t, stranger, "")).Update(del); r.ResponseStatus() != "Failure" {
			t.Errorf("a stranger deleted a document")
		}

		// Another professional, not in the care team, sees none of it.
		other := New(t, env.URL, env.ProfessionalToken(t, stranger, ""))
		if r := findDocuments(other, "ObjectRef", "('"+approved+"','"+deprecated+"')"); r.ResponseStatus() != "Success" || len(r.Env.Find("ObjectRef")) != 0 {
			t.Errorf("an unrelated professional finds %d documents", len(r.Env.Find("ObjectRef")))
		}
		if r, got := other.Retrieve(repository, "1.2.250.1.999.4.3"); len(got) != 0 || r.ResponseStatus() != "Failure" {
			t.Errorf("an unrelated professional retrieves %d documents", len(got))
		}
	})
}

func updateSet(id, uid string) string {
	return `<rim:RegistryPackage id="` + id + `">` + SlotXML("submissionTime", "20240306090000") +
		ExtID("urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8", id, uid, "XDSSubmissionSet.uniqueId") +
		ExtID("urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832", id, "1.2.250.1.999.2", "XDSSubmissionSet.sourceId") +
		ExtID("urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446", id, testCX, "XDSSubmissionSet.patientId") +
		`</rim:RegistryPackage><rim:Classification id="` + id + `-n" classifiedObject="` + id + `" classificationNode="urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"/>`
}

func keys(m map[string]*Node) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func mhdSearch(t *testing.T, env *testenv.Env, token string) []fhir.DocumentReference {
	t.Helper()
	b := mhdGet(t, token, env.URL+"/DocumentReference?patient.identifier="+url.QueryEscape("urn:oid:1.2.250.1.213.1.4.10|"+testINS))
	var bundle fhir.Bundle
	if err := fhir.Decode(bytes.NewReader(b), 64<<20, &bundle); err != nil {
		t.Fatalf("ITI-67 answer: %v", err)
	}
	var out []fhir.DocumentReference
	for _, e := range bundle.Entry {
		var dr fhir.DocumentReference
		if err := fhir.Decode(bytes.NewReader(e.Resource), 64<<20, &dr); err == nil && dr.ResourceType == "DocumentReference" {
			out = append(out, dr)
		}
	}
	return out
}

func mhdGet(t *testing.T, token, u string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return b
}

// A document filed by MHD (ITI-65) is found by ITI-18 and retrieved by
// ITI-43, byte-identical.
func TestMHDFiledFoundByXDS(t *testing.T) {
	env := testenv.New(t, testenv.SQLite, testenv.Options{})
	tok := env.ProfessionalToken(t, author, "")
	content := []byte("document déposé par MHD")
	meta := carnet.DocumentMeta{Title: "MHD", Class: carnet.Coding{System: "urn:oid:1.2.250.1.213.1.1.4.1", Code: "10"}, Type: carnet.Coding{System: "http://loinc.org", Code: "11488-4"},
		Format: carnet.Coding{System: "urn:oid:1.3.6.1.4.1.19376.1.2.3", Code: "urn:ihe:iti:xds-sd:text:2008"}, Confidentiality: []carnet.Coding{{System: "urn:oid:2.16.840.1.113883.5.25", Code: "N"}},
		Authors: []carnet.Author{author}, ContentType: "text/plain", Created: mustTime("2024-03-05T10:00:00Z")}
	bundle := mhd.ProvideBundle(carnet.Submission{Patient: carnet.Identifier{System: "urn:oid:1.2.250.1.213.1.4.10", Value: testINS},
		Set:       carnet.SubmissionSet{UniqueID: "1.2.250.1.999.3.9", SourceID: "1.2.250.1.999.2", ContentType: meta.Type},
		Documents: []carnet.SubmittedDocument{{UniqueID: "1.2.250.1.999.4.9", Meta: meta, Content: content}}})
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
	if resp.StatusCode != 200 {
		t.Fatalf("ITI-65: %d", resp.StatusCode)
	}
	c := New(t, env.URL, tok)
	es := findDocuments(c, "LeafClass", "('"+approved+"')").Entries()
	e := es["1.2.250.1.999.4.9"]
	if e == nil {
		t.Fatalf("ITI-18 does not find the MHD document: %v", keys(es))
	}
	if got := Codes(e, "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"); !slices.Equal(got, []string{"11488-4"}) {
		t.Errorf("typeCode %v", got)
	}
	r, got := c.Retrieve(repository, "1.2.250.1.999.4.9")
	if r.ResponseStatus() != "Success" || !bytes.Equal(got["1.2.250.1.999.4.9"], content) {
		t.Errorf("ITI-43 of an MHD document: %s %v", r.ResponseStatus(), r.ErrorCodes())
	}
	// Replaced through XDS.b (RPLC of its entryUUID): MHD then shows it superseded.
	s := set("SubmissionSet01", "1.2.250.1.999.3.10", doc("Document01", "1.2.250.1.999.4.10", "remplaçant"))
	s.Associations = [][3]string{{"RPLC", "Document01", e.Attr("id")}}
	if r := c.Provide(s); r.ResponseStatus() != "Success" {
		t.Fatalf("RPLC of an MHD document: %v", r.ErrorCodes())
	}
	seen := 0
	for _, dr := range mhdSearch(t, env, tok) {
		switch dr.MasterIdentifier.Value {
		case "urn:oid:1.2.250.1.999.4.9":
			seen++
			if dr.Status != "superseded" {
				t.Errorf("the MHD document replaced by XDS.b is %s", dr.Status)
			}
		case "urn:oid:1.2.250.1.999.4.10":
			seen++
			if len(dr.RelatesTo) != 1 || dr.RelatesTo[0].Code != "replaces" {
				t.Errorf("the XDS.b replacement relates to %+v", dr.RelatesTo)
			}
		}
	}
	if seen != 2 {
		t.Errorf("ITI-67 shows %d of the replaced and the replacing documents", seen)
	}
}

// Every error case answers the IHE error code at the element at fault, or
// a SOAP fault for what is not SOAP; never a 5xx.
func TestConformanceErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{})
		c := New(t, env.URL, env.ProfessionalToken(t, author, ""))
		if r := c.Provide(set("SS", "1.2.250.1.999.3.1", doc("D1", "1.2.250.1.999.4.1", "un"))); r.ResponseStatus() != "Success" {
			t.Fatalf("setup: %v", r.ErrorCodes())
		}
		other := doc("D2", "1.2.250.1.999.4.20", "x")
		other.PatientCX = "180012345678901^^^&1.2.250.1.213.1.4.10&ISO^NH"
		badHash := doc("D3", "1.2.250.1.999.4.30", "x")
		badHash.BadHash = true
		noDoc := doc("D4", "1.2.250.1.999.4.40", "x")
		noDoc.NoDocument = true
		badType := doc("D5", "1.2.250.1.999.4.50", "x")
		badType.MimeType = "application/x-msdownload"
		cases := []struct {
			name, code, location string
			s                    SubmissionSet
		}{
			{"patient mismatch", "XDSPatientIdDoesNotMatch", "ExtrinsicObject[D2].patientId", set("SS2", "1.2.250.1.999.3.2", other)},
			{"duplicate uniqueId", "XDSDuplicateUniqueIdInRegistry", "ExtrinsicObject[D1].uniqueId", set("SS3", "1.2.250.1.999.3.3", doc("D1", "1.2.250.1.999.4.1", "autre contenu"))},
			{"bad hash", "XDSRepositoryMetadataError", "ExtrinsicObject[D3].hash", set("SS4", "1.2.250.1.999.3.4", badHash)},
			{"missing document", "XDSMissingDocument", "ExtrinsicObject[D4]", set("SS5", "1.2.250.1.999.3.5", noDoc)},
			{"media type", "XDSRegistryMetadataError", "ExtrinsicObject[D5].mimeType", set("SS6", "1.2.250.1.999.3.6", badType)},
		}
		for _, tc := range cases {
			r := c.Provide(tc.s)
			if r.Status != 200 || r.ResponseStatus() != "Failure" || !slices.Contains(r.ErrorCodes(), tc.code+"@"+tc.location) {
				t.Errorf("%s: %d %s %v, want %s@%s", tc.name, r.Status, r.ResponseStatus(), r.ErrorCodes(), tc.code, tc.location)
			}
		}
		// Replacing an unknown document.
		s := set("SS7", "1.2.250.1.999.3.7", doc("D7", "1.2.250.1.999.4.70", "x"))
		s.Associations = [][3]string{{"RPLC", "D7", "urn:uuid:00000000-0000-4000-8000-000000000000"}}
		if r := c.Provide(s); r.ResponseStatus() != "Failure" || !r.HasError("UnresolvedReferenceException") {
			t.Errorf("RPLC of an unknown document: %s %v", r.ResponseStatus(), r.ErrorCodes())
		}
		// Replacing a document twice: the second time it is no longer current.
		d1 := findDocuments(c, "LeafClass", "('"+approved+"')").Entries()["1.2.250.1.999.4.1"].Attr("id")
		s = set("SS10", "1.2.250.1.999.3.10", doc("D10", "1.2.250.1.999.4.100", "v2"))
		s.Associations = [][3]string{{"RPLC", "D10", d1}}
		if r := c.Provide(s); r.ResponseStatus() != "Success" {
			t.Fatalf("first RPLC: %v", r.ErrorCodes())
		}
		s = set("SS11", "1.2.250.1.999.3.11", doc("D11", "1.2.250.1.999.4.110", "v3"))
		s.Associations = [][3]string{{"RPLC", "D11", d1}}
		if r := c.Provide(s); r.ResponseStatus() != "Failure" || !slices.Contains(r.ErrorCodes(), "XDSRegistryMetadataError@ExtrinsicObject[D11].association") {
			t.Errorf("second RPLC of the same document: %s %v", r.ResponseStatus(), r.ErrorCodes())
		}
		// Someone who is not the author cannot file in their name.
		intruder := New(t, env.URL, env.ProfessionalToken(t, stranger, ""))
		if r := intruder.Provide(set("SS8", "1.2.250.1.999.3.8", doc("D8", "1.2.250.1.999.4.80", "x"))); r.ResponseStatus() != "Failure" || !r.HasError("XDSRegistryError") {
			t.Errorf("filing for another author: %s %v", r.ResponseStatus(), r.ErrorCodes())
		}
		// Folders are not supported: a submission with one is refused
		// whole, at the folder, and nothing of it is filed.
		s = set("SS12", "1.2.250.1.999.3.12", doc("D12", "1.2.250.1.999.4.120", "dans un classeur"))
		s.Extra = `<rim:RegistryPackage id="F1"><rim:Name><rim:LocalizedString value="Classeur"/></rim:Name>` +
			ExtID("urn:uuid:75df8f67-9973-4fbe-a900-df66cefecc5a", "F1", "1.2.250.1.999.5.1", "XDSFolder.uniqueId") +
			ExtID("urn:uuid:f64ffdf0-4b97-4e06-b79f-a52b38ec2f8a", "F1", testCX, "XDSFolder.patientId") + `</rim:RegistryPackage>` +
			`<rim:Classification id="F1-node" classifiedObject="F1" classificationNode="urn:uuid:d9d542f3-6cc4-48b6-8870-ea235fbc94c2"/>` +
			`<rim:Association id="fm1" associationType="urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember" sourceObject="F1" targetObject="D12"/>`
		if r := c.Provide(s); r.ResponseStatus() != "Failure" || !slices.Contains(r.ErrorCodes(), "XDSRegistryMetadataError@RegistryPackage[F1]") {
			t.Errorf("a submission with a folder: %s %v", r.ResponseStatus(), r.ErrorCodes())
		}
		if es := findDocuments(c, "LeafClass", "('"+approved+"')").Entries(); es["1.2.250.1.999.4.120"] != nil {
			t.Errorf("the document of a refused folder submission was filed")
		}
		// The folder queries and GetAll are unknown stored queries.
		for name, id := range map[string]string{"FindFolders": "urn:uuid:958f3006-baad-4929-a4de-ff1114824431", "GetFolders": "urn:uuid:5737b14c-8a1a-4539-b659-e03a34a5e1e4",
			"GetFolderAndContents": "urn:uuid:b909a503-523d-4517-8acf-8e5834dfc4c7", "GetFoldersForDocument": "urn:uuid:10cae35a-c7f9-4cf5-b61e-fc3278ffb578",
			"GetAll": "urn:uuid:10b545ea-725c-446d-9b95-8aeb444eddf3"} {
			if r := c.Query(id, "LeafClass", [2]string{"$patientId", "'" + testCX + "'"}); r.ResponseStatus() != "Failure" || !slices.Contains(r.ErrorCodes(), "XDSUnknownStoredQuery@AdhocQuery/@id") {
				t.Errorf("%s: %s %v", name, r.ResponseStatus(), r.ErrorCodes())
			}
		}
		if r := c.Query(findDocs, "LeafClass", [2]string{"$XDSDocumentEntryStatus", "('" + approved + "')"}); !r.HasError("XDSStoredQueryParamNumber") {
			t.Errorf("FindDocuments without patient: %v", r.ErrorCodes())
		}
		// Not what it claims: SOAP faults, 4xx.
		faults := []struct {
			name, ct string
			body     string
			status   int
		}{
			{"not XML", `application/soap+xml; action="urn:ihe:iti:2007:RegistryStoredQuery"`, "bonjour", 400},
			{"SOAP 1.1", "text/xml", Envelope("urn:ihe:iti:2007:RegistryStoredQuery", "<x/>"), 400},
			{"action and body disagree", "application/soap+xml", Envelope("urn:ihe:iti:2007:RetrieveDocumentSet", `<query:AdhocQueryRequest xmlns:query="urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0"/>`), 400},
			{"DTD", "application/soap+xml", `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>` + Envelope("urn:ihe:iti:2007:RegistryStoredQuery", "<x/>")[len(`<?xml version="1.0" encoding="UTF-8"?>`):], 400},
			{"MTOM without its part", `multipart/related; type="application/xop+xml"; boundary="b"; start="<root>"`, "--b\r\nContent-ID: <other>\r\n\r\nx\r\n--b--\r\n", 400},
		}
		for _, f := range faults {
			r := c.Send("/xds/registry", f.ct, []byte(f.body))
			if r.Status != f.status || r.Env.First("Fault") == nil {
				t.Errorf("%s: %d, want a SOAP fault with %d\n%s", f.name, r.Status, f.status, r.Raw)
			}
		}
		anon := New(t, env.URL, "")
		if r := anon.Query(findDocs, "LeafClass"); r.Status != 401 || r.Env.First("Fault") == nil {
			t.Errorf("anonymous: %d", r.Status)
		}
		// A provide with a document missing from the MTOM package.
		missing := doc("D9", "1.2.250.1.999.4.90", "x")
		body := `<xdsb:ProvideAndRegisterDocumentSetRequest xmlns:xdsb="urn:ihe:iti:xds-b:2007" xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"><lcm:SubmitObjectsRequest><rim:RegistryObjectList>` +
			missing.Extrinsic() + `</rim:RegistryObjectList></lcm:SubmitObjectsRequest><xdsb:Document id="D9"><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:absent@example.org"/></xdsb:Document></xdsb:ProvideAndRegisterDocumentSetRequest>`
		if r := c.PostMTOM("/xds/repository", "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b", body, map[string][]byte{"x@example.org": []byte("x")}); r.Status != 200 || r.ResponseStatus() != "Failure" {
			t.Errorf("missing attachment: %d %s %v", r.Status, r.ResponseStatus(), r.ErrorCodes())
		}
	})
}

func mustTime(s string) (t0 timeT) {
	t0, err := parseTime(s)
	if err != nil {
		panic(fmt.Sprint(err))
	}
	return t0
}

type timeT = time.Time

func parseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339, s) }
