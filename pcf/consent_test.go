package pcf

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/ci"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/mhd"
)

const maxBody = 64 << 10

var (
	testINS  = carnet.Identifier{System: "urn:oid:" + carnet.OIDInsTestNIR, Value: "248039912345678"}
	testRPPS = carnet.Identifier{System: "urn:oid:" + carnet.OIDRPPS, Value: "810100000016"}
)

// stored is a consent of kind k as the Service keeps it: every field set
// that kind has.
func stored(k carnet.ConsentKind, permit bool) carnet.Consent {
	c := carnet.Consent{ID: "c-" + string(k), Kind: k, Permit: permit,
		Date:     time.Date(2026, 3, 15, 10, 30, 5, 0, time.UTC),
		Recorder: carnet.ActorPatient}
	if k.NamesProfessional() {
		c.Professional, c.ProfessionalName = testRPPS, "Dr Jeanne Martin"
	}
	if k == carnet.ConsentRestrict {
		c.Document = "L-7f3a"
	}
	return c
}

// permits are the provision types kind k admits.
func permits(k carnet.ConsentKind) []bool {
	switch k {
	case carnet.ConsentCareTeam, carnet.ConsentAccess, carnet.ConsentDesignate:
		return []bool{true}
	case carnet.ConsentBlock, carnet.ConsentRestrict:
		return []bool{false}
	}
	return []bool{true, false}
}

func marshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}

func TestRoundTripEveryKind(t *testing.T) {
	for _, k := range carnet.ConsentKinds {
		for _, permit := range permits(k) {
			want := stored(k, permit)
			if issues := want.Check("Consent"); len(issues) > 0 {
				t.Fatalf("test consent %s is not valid: %v", k, issues)
			}
			body := marshal(t, Resource(want, testINS))
			got, patient, err := ParseConsent(body, maxBody)
			if err != nil {
				t.Errorf("%s permit=%v: ParseConsent(Resource) = %v\n%s", k, permit, err, body)
				continue
			}
			if patient != testINS {
				t.Errorf("%s: patient = %v, want %v", k, patient, testINS)
			}
			if got.Kind != want.Kind || got.Permit != want.Permit || got.Professional != want.Professional ||
				got.ProfessionalName != want.ProfessionalName || got.Document != want.Document {
				t.Errorf("%s permit=%v: got %+v, want the choice of %+v", k, permit, got, want)
			}
			// The Service sets these; a client cannot.
			if got.ID != "" || !got.Date.IsZero() || got.Recorder != "" {
				t.Errorf("%s: ParseConsent set server fields: %+v", k, got)
			}
		}
	}
}

func TestRoundTripWithoutPatient(t *testing.T) {
	body := marshal(t, Resource(stored(carnet.ConsentBTG, false), carnet.Identifier{}))
	if strings.Contains(string(body), `"patient":`) {
		t.Errorf("a Consent rendered without INS names a patient: %s", body)
	}
	c, patient, err := ParseConsent(body, maxBody)
	if err != nil {
		t.Fatal(err)
	}
	if patient != (carnet.Identifier{}) || c.Kind != carnet.ConsentBTG || c.Permit {
		t.Errorf("got %+v for patient %v, want a btg deny for the caller's own record", c, patient)
	}
}

// TestResourceJSON checks the PCF elements a FHIR client reads.
func TestResourceJSON(t *testing.T) {
	for _, tc := range []struct {
		c    carnet.Consent
		want []string
		not  []string
	}{
		{stored(carnet.ConsentDesignate, true), []string{
			`"resourceType":"Consent"`, `"id":"c-designate"`, `"status":"active"`,
			`"scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"`,
			`"category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"`,
			`"patient":{"identifier":{"system":"urn:oid:1.2.250.1.213.1.4.10","value":"248039912345678"}}`,
			`"dateTime":"2026-03-15T10:30:05Z"`,
			`"performer":[{"type":"Patient","identifier":{"system":"urn:oid:1.2.250.1.213.1.4.10","value":"248039912345678"},"display":"patient"}]`,
			`"policyRule":{"coding":[{"system":"https://carnet-sante.fr/fhir/CodeSystem/consent-rule","code":"designate"`,
			`"type":"permit"`,
			`"actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"`,
			`"reference":{"type":"Practitioner","identifier":{"system":"urn:oid:1.2.250.1.71.4.2.1","value":"810100000016"},"display":"Dr Jeanne Martin"}`,
			`"securityLabel":[{"system":"urn:oid:1.2.250.1.213.1.1.4.13","code":"MASQUE_PS"`,
		}, []string{`"purpose"`, `"data"`}},
		{stored(carnet.ConsentBTG, false), []string{
			`"code":"btg","display":"bris de glace"`, `"type":"deny"`,
			`"purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"BTG"`,
		}, []string{`"actor"`, `"securityLabel"`, `"data"`}},
		{stored(carnet.ConsentCentre15, true), []string{`"code":"ETREAT"`}, nil},
		{stored(carnet.ConsentSecondaryUse, false), []string{`"code":"HRESCH"`}, nil},
		{stored(carnet.ConsentRestrict, false), []string{
			`"data":[{"meaning":"instance","reference":{"type":"DocumentReference","identifier":{"system":"` + mhd.SystemLogicalID + `","value":"L-7f3a"}}}]`,
		}, []string{`"actor"`, `"purpose"`, `"securityLabel"`}},
		{func() carnet.Consent {
			c := stored(carnet.ConsentAccess, true)
			c.RecorderLegal = true
			return c
		}(), []string{`"performer":[{"type":"RelatedPerson","display":"représentant légal"}]`}, nil},
		{func() carnet.Consent {
			c := stored(carnet.ConsentCareTeam, true)
			c.Recorder = carnet.ActorProfessional
			return c
		}(), []string{`"performer":[{"type":"Practitioner","display":"professionnel de santé"}]`}, nil},
	} {
		got := string(marshal(t, Resource(tc.c, testINS)))
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: the Consent lacks %s\n%s", tc.c.Kind, w, got)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(got, n) {
				t.Errorf("%s: the Consent has %s\n%s", tc.c.Kind, n, got)
			}
		}
	}
}

// base is a valid POST: the patient's explicit consent to a professional.
const base = `{
  "resourceType": "Consent",
  "status": "active",
  "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
  "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
  "patient": {"identifier": {"system": "urn:oid:1.2.250.1.213.1.4.10", "value": "248039912345678"}},
  "policyRule": {"coding": [{"system": "https://carnet-sante.fr/fhir/CodeSystem/consent-rule", "code": "access"}]},
  "provision": {
    "type": "permit",
    "actor": [{"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]},
               "reference": {"identifier": {"system": "urn:oid:1.2.250.1.71.4.2.1", "value": "810100000016"}, "display": "Dr Jeanne Martin"}}]
  }
}`

// edit returns base changed by f, which gets the Consent as a generic map.
func edit(t testing.TB, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(base), &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	return marshal(t, m)
}

func provision(m map[string]any) map[string]any { return m["provision"].(map[string]any) }

func rule(kind string) map[string]any {
	return map[string]any{"coding": []any{map[string]any{"system": RuleSystem, "code": kind}}}
}

func coding(system, code string) map[string]any {
	return map[string]any{"system": system, "code": code}
}

// asKind makes the base a consent of a kind that names no professional.
func asKind(m map[string]any, kind, typ string) {
	m["policyRule"] = rule(kind)
	delete(provision(m), "actor")
	provision(m)["type"] = typ
}

func TestParseConsentAccepts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    []byte
		want    carnet.Consent
		patient carnet.Identifier
	}{
		{"the base", []byte(base),
			carnet.Consent{Kind: carnet.ConsentAccess, Permit: true, Professional: testRPPS, ProfessionalName: "Dr Jeanne Martin"}, testINS},
		{"no scope, category nor patient", edit(t, func(m map[string]any) {
			delete(m, "scope")
			delete(m, "category")
			delete(m, "patient")
		}), carnet.Consent{Kind: carnet.ConsentAccess, Permit: true, Professional: testRPPS, ProfessionalName: "Dr Jeanne Martin"}, carnet.Identifier{}},
		{"other policyRule codings beside the rule", edit(t, func(m map[string]any) {
			m["policyRule"] = map[string]any{"coding": []any{coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "OPTIN"), coding(RuleSystem, "block")}}
			provision(m)["type"] = "deny"
		}), carnet.Consent{Kind: carnet.ConsentBlock, Professional: testRPPS, ProfessionalName: "Dr Jeanne Martin"}, testINS},
		{"restriction by DocumentReference id", edit(t, func(m map[string]any) {
			asKind(m, "restrict", "deny")
			provision(m)["data"] = []any{map[string]any{"meaning": "instance", "reference": map[string]any{"reference": "DocumentReference/D-1"}}}
		}), carnet.Consent{Kind: carnet.ConsentRestrict, Document: "D-1"}, testINS},
		{"btg with its purpose", edit(t, func(m map[string]any) {
			asKind(m, "btg", "deny")
			provision(m)["purpose"] = []any{coding(systemActReason, "BTG")}
		}), carnet.Consent{Kind: carnet.ConsentBTG}, testINS},
		{"mask-new with MASQUE_PS", edit(t, func(m map[string]any) {
			asKind(m, "mask-new", "deny")
			provision(m)["securityLabel"] = []any{coding(systemVisibility, "MASQUE_PS")}
		}), carnet.Consent{Kind: carnet.ConsentMaskNew}, testINS},
		{"unknown elements are ignored", edit(t, func(m map[string]any) {
			m["extension"] = []any{map[string]any{"url": "https://example.org/x", "valueString": "y"}}
			m["id"] = "client-chosen"
			m["dateTime"] = "2020-01-01"
		}), carnet.Consent{Kind: carnet.ConsentAccess, Permit: true, Professional: testRPPS, ProfessionalName: "Dr Jeanne Martin"}, testINS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, patient, err := ParseConsent(tc.body, maxBody)
			if err != nil {
				t.Fatalf("ParseConsent: %v", err)
			}
			if got != tc.want || patient != tc.patient {
				t.Errorf("got %+v for %v, want %+v for %v", got, patient, tc.want, tc.patient)
			}
		})
	}
}

func TestParseConsentRefuses(t *testing.T) {
	const (
		invalid = carnet.KindInvalid
		unproc  = carnet.KindUnprocessable
	)
	for _, tc := range []struct {
		name string
		body []byte
		kind carnet.Kind
		want []string // the expressions of the issues, in order
	}{
		{"not JSON", []byte(`{"resourceType":"Consent",`), invalid, []string{"Consent"}},
		{"another resource", []byte(`{"resourceType":"Patient","active":true}`), invalid, []string{"Consent.resourceType"}},
		{"another resource that does not decode as a Consent", []byte(`{"resourceType":"Observation","status":{"x":1}}`), invalid, []string{"Consent.resourceType"}},
		{"no resourceType", edit(t, func(m map[string]any) { delete(m, "resourceType") }), invalid, []string{"Consent.resourceType"}},
		{"a wrong type", edit(t, func(m map[string]any) { provision(m)["actor"] = map[string]any{} }), invalid, []string{"Consent.provision.actor"}},
		{"no status", edit(t, func(m map[string]any) { delete(m, "status") }), invalid, []string{"Consent.status"}},
		{"a draft", edit(t, func(m map[string]any) { m["status"] = "draft" }), unproc, []string{"Consent.status"}},
		{"another scope", edit(t, func(m map[string]any) {
			m["scope"] = map[string]any{"coding": []any{coding(systemConsentScope, "treatment")}}
		}), unproc, []string{"Consent.scope"}},
		{"a category without 59284-0", edit(t, func(m map[string]any) {
			m["category"] = []any{map[string]any{"coding": []any{coding(systemLOINC, "64292-6")}}}
		}), unproc, []string{"Consent.category"}},
		{"the patient by reference", edit(t, func(m map[string]any) {
			m["patient"] = map[string]any{"reference": "Patient/123"}
		}), invalid, []string{"Consent.patient.identifier"}},
		{"the patient's identifier without value", edit(t, func(m map[string]any) {
			m["patient"] = map[string]any{"identifier": map[string]any{"system": testINS.System}}
		}), invalid, []string{"Consent.patient.identifier.value"}},
		{"no policyRule", edit(t, func(m map[string]any) { delete(m, "policyRule") }), invalid, []string{"Consent.policyRule"}},
		{"a policyRule of another system", edit(t, func(m map[string]any) {
			m["policyRule"] = map[string]any{"coding": []any{coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "OPTIN")}}
		}), invalid, []string{"Consent.policyRule.coding"}},
		{"two rules", edit(t, func(m map[string]any) {
			m["policyRule"] = map[string]any{"coding": []any{coding(RuleSystem, "access"), coding(RuleSystem, "block")}}
		}), invalid, []string{"Consent.policyRule.coding[1]"}},
		{"an unknown rule", edit(t, func(m map[string]any) { m["policyRule"] = rule("everything") }), unproc, []string{"Consent.policyRule"}},
		{"no provision", edit(t, func(m map[string]any) { delete(m, "provision") }), invalid,
			[]string{"Consent.provision.type", "Consent.provision.actor"}},
		{"a provision type of neither", edit(t, func(m map[string]any) { provision(m)["type"] = "maybe" }), unproc, []string{"Consent.provision.type"}},
		{"a denied access", edit(t, func(m map[string]any) { provision(m)["type"] = "deny" }), unproc, []string{"Consent.provision.type"}},
		{"an access without professional", edit(t, func(m map[string]any) { delete(provision(m), "actor") }), invalid, []string{"Consent.provision.actor"}},
		{"two professionals", edit(t, func(m map[string]any) {
			a := provision(m)["actor"].([]any)
			provision(m)["actor"] = append(a, a[0])
		}), unproc, []string{"Consent.provision.actor[1]"}},
		{"a professional by reference", edit(t, func(m map[string]any) {
			provision(m)["actor"] = []any{map[string]any{"role": map[string]any{}, "reference": map[string]any{"reference": "Practitioner/1"}}}
		}), invalid, []string{"Consent.provision.actor[0].reference.identifier"}},
		{"a professional by another identifier", edit(t, func(m map[string]any) {
			provision(m)["actor"] = []any{map[string]any{"reference": map[string]any{"identifier": map[string]any{"system": "urn:oid:1.2.250.1.71.4.2.2", "value": "x"}}}}
		}), invalid, []string{"Consent.provision.actor[0].reference.identifier.system"}},
		{"a professional without RPPS value", edit(t, func(m map[string]any) {
			provision(m)["actor"] = []any{map[string]any{"reference": map[string]any{"identifier": map[string]any{"system": testRPPS.System}}}}
		}), invalid, []string{"Consent.provision.actor[0].reference.identifier.value"}},
		{"a btg naming a professional", edit(t, func(m map[string]any) {
			m["policyRule"] = rule("btg")
		}), unproc, []string{"Consent.provision.actor"}},
		{"a restriction without document", edit(t, func(m map[string]any) { asKind(m, "restrict", "deny") }), invalid, []string{"Consent.provision.data"}},
		{"a restriction of a Binary", edit(t, func(m map[string]any) {
			asKind(m, "restrict", "deny")
			provision(m)["data"] = []any{map[string]any{"meaning": "instance", "reference": map[string]any{"reference": "Binary/1"}}}
		}), invalid, []string{"Consent.provision.data[0].reference.reference"}},
		{"a restriction by another identifier", edit(t, func(m map[string]any) {
			asKind(m, "restrict", "deny")
			provision(m)["data"] = []any{map[string]any{"reference": map[string]any{"identifier": map[string]any{"system": "urn:ietf:rfc:3986", "value": "urn:oid:1.2.3"}}}}
		}), invalid, []string{"Consent.provision.data[0].reference.identifier"}},
		{"a restriction of related data", edit(t, func(m map[string]any) {
			asKind(m, "restrict", "deny")
			provision(m)["data"] = []any{map[string]any{"meaning": "related", "reference": map[string]any{"reference": "DocumentReference/D-1"}}}
		}), invalid, []string{"Consent.provision.data[0].meaning"}},
		{"two restricted documents", edit(t, func(m map[string]any) {
			asKind(m, "restrict", "deny")
			d := map[string]any{"reference": map[string]any{"reference": "DocumentReference/D-1"}}
			provision(m)["data"] = []any{d, d}
		}), unproc, []string{"Consent.provision.data[1]"}},
		{"an access naming a document", edit(t, func(m map[string]any) {
			provision(m)["data"] = []any{map[string]any{"reference": map[string]any{"reference": "DocumentReference/D-1"}}}
		}), unproc, []string{"Consent.provision.data"}},
		{"a btg for the wrong purpose", edit(t, func(m map[string]any) {
			asKind(m, "btg", "deny")
			provision(m)["purpose"] = []any{coding(systemActReason, "BTG"), coding(systemActReason, "ETREAT")}
		}), unproc, []string{"Consent.provision.purpose[1]"}},
		{"an access with a purpose", edit(t, func(m map[string]any) {
			provision(m)["purpose"] = []any{coding(systemActReason, "TREAT")}
		}), unproc, []string{"Consent.provision.purpose"}},
		{"a btg with a security label", edit(t, func(m map[string]any) {
			asKind(m, "btg", "permit")
			provision(m)["securityLabel"] = []any{coding(systemVisibility, "MASQUE_PS")}
		}), unproc, []string{"Consent.provision.securityLabel"}},
		{"a designation with another label", edit(t, func(m map[string]any) {
			m["policyRule"] = rule("designate")
			provision(m)["securityLabel"] = []any{coding("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "R")}
		}), unproc, []string{"Consent.provision.securityLabel[0]"}},
		{"a period", edit(t, func(m map[string]any) {
			provision(m)["period"] = map[string]any{"end": "2027-01-01"}
		}), invalid, []string{"Consent.provision.period"}},
		{"nested provisions", edit(t, func(m map[string]any) {
			provision(m)["provision"] = []any{map[string]any{"type": "deny"}}
		}), invalid, []string{"Consent.provision.provision"}},
		{"narrowing elements", edit(t, func(m map[string]any) {
			provision(m)["action"] = []any{map[string]any{"coding": []any{coding("http://terminology.hl7.org/CodeSystem/consentaction", "access")}}}
			provision(m)["class"] = []any{coding("http://hl7.org/fhir/resource-types", "DocumentReference")}
			provision(m)["code"] = []any{map[string]any{"coding": []any{coding(systemLOINC, "11488-4")}}}
			provision(m)["dataPeriod"] = map[string]any{"start": "2025-01-01"}
		}), invalid, []string{"Consent.provision.action", "Consent.provision.class", "Consent.provision.code", "Consent.provision.dataPeriod"}},
		{"every problem at once", edit(t, func(m map[string]any) {
			m["status"] = "inactive"
			m["patient"] = map[string]any{"reference": "Patient/123"}
			m["policyRule"] = rule("restrict")
			provision(m)["type"] = "permit"
		}), unproc, []string{"Consent.status", "Consent.patient.identifier", "Consent.provision.actor",
			"Consent.provision.type", "Consent.provision.data"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, patient, err := ParseConsent(tc.body, maxBody)
			if err == nil {
				t.Fatalf("accepted as %+v for %v\n%s", c, patient, tc.body)
			}
			if k := carnet.ErrorKind(err); k != tc.kind {
				t.Errorf("kind %v, want %v (%v)", k, tc.kind, err)
			}
			var got []string
			for _, is := range carnet.ErrorIssues(err) {
				got = append(got, is.Expression)
				if is.Diagnostics == "" {
					t.Errorf("issue at %s has no diagnostics", is.Expression)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("issues at %q, want %q (%v)", got, tc.want, err)
			}
			if c != (carnet.Consent{}) || patient != (carnet.Identifier{}) {
				t.Errorf("a refused Consent returned %+v for %v", c, patient)
			}
		})
	}
}

func TestParseConsentBounds(t *testing.T) {
	body := []byte(base)
	if _, _, err := ParseConsent(body, int64(len(body))-1); carnet.ErrorKind(err) != carnet.KindTooLarge {
		t.Errorf("a body one byte over the limit: %v, want too-large", err)
	}
	if _, _, err := ParseConsent(body, int64(len(body))); err != nil {
		t.Errorf("a body at the limit: %v", err)
	}
	// A hostile body of many wrong purposes gets a bounded answer.
	many := edit(t, func(m map[string]any) {
		asKind(m, "btg", "deny")
		p := make([]any, 5000)
		for i := range p {
			p[i] = coding(systemActReason, "TREAT")
		}
		provision(m)["purpose"] = p
	})
	_, _, err := ParseConsent(many, 1<<20)
	if n := len(carnet.ErrorIssues(err)); n == 0 || n > maxIssues+1 {
		t.Errorf("%d issues for 5000 wrong purposes, want 1..%d", n, maxIssues+1)
	}
}

// TestParseConsentHL7Examples feeds the official FHIR R4 Consent examples:
// none is a Carnet choice (no RuleSystem policyRule), each is refused with
// issues, never a panic.
func TestParseConsentHL7Examples(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "shared", "corpus", "fhir-r4", "Consent-*.json"))
	if len(files) == 0 {
		if ci.Enforced() {
			t.Fatal("../shared/corpus/fhir-r4 is missing")
		}
		t.Skip("../shared/corpus/fhir-r4 is absent")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = ParseConsent(b, 1<<20)
		if err == nil {
			t.Errorf("%s: accepted", filepath.Base(f))
			continue
		}
		exprs := make([]string, 0)
		for _, is := range carnet.ErrorIssues(err) {
			exprs = append(exprs, is.Expression)
		}
		if !slices.Contains(exprs, "Consent.policyRule.coding") && !slices.Contains(exprs, "Consent.policyRule") {
			t.Errorf("%s: refused at %q, want the policyRule among them", filepath.Base(f), exprs)
		}
	}
}

func TestCommunication(t *testing.T) {
	at := time.Date(2026, 3, 15, 22, 4, 0, 0, time.UTC)
	emergency := carnet.Notification{ID: "n1", Kind: carnet.NotifyEmergency, Time: at,
		Actor: carnet.Actor{Kind: carnet.ActorProfessional, ID: testRPPS, Name: "Dr Paul Durand"},
		Mode:  carnet.ModeBreakGlass, Reason: "patient inconscient", Documents: []string{"D-1", "D-2"},
		Text: "Le Dr Paul Durand a consulté votre dossier en urgence (bris de glace)."}
	got := string(marshal(t, Communication(emergency, testINS)))
	for _, w := range []string{
		`"resourceType":"Communication"`, `"id":"n1"`, `"status":"completed"`,
		`"category":[{"coding":[{"system":"https://carnet-sante.fr/fhir/CodeSystem/notification","code":"emergency-access","display":"accès en urgence"}]}]`,
		`"subject":{"identifier":{"system":"urn:oid:1.2.250.1.213.1.4.10","value":"248039912345678"}}`,
		`"recipient":[{"identifier":{"system":"urn:oid:1.2.250.1.213.1.4.10","value":"248039912345678"}}]`,
		`"sent":"2026-03-15T22:04:00Z"`,
		`"sender":{"type":"Practitioner","identifier":{"system":"urn:oid:1.2.250.1.71.4.2.1","value":"810100000016"},"display":"Dr Paul Durand"}`,
		`"payload":[{"contentString":"Le Dr Paul Durand a consulté votre dossier en urgence (bris de glace)."}]`,
		`"about":[{"reference":"DocumentReference/D-1"},{"reference":"DocumentReference/D-2"}]`,
		`"reasonCode":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"BTG","display":"break the glass"}],"text":"patient inconscient"}]`,
	} {
		if !strings.Contains(got, w) {
			t.Errorf("the Communication lacks %s\n%s", w, got)
		}
	}

	centre15 := emergency
	centre15.Mode = carnet.ModeCentre15
	if got := string(marshal(t, Communication(centre15, testINS))); !strings.Contains(got, `"code":"ETREAT"`) {
		t.Errorf("a centre 15 access lacks ETREAT: %s", got)
	}

	first := carnet.Notification{ID: "n2", Kind: carnet.NotifyFirstAccess, Time: at, Mode: carnet.ModeNormal,
		Actor: emergency.Actor, Text: "Premier accès."}
	got = string(marshal(t, Communication(first, testINS)))
	if !strings.Contains(got, `"display":"premier accès"`) {
		t.Errorf("a first access lacks its category: %s", got)
	}
	for _, n := range []string{`"reasonCode"`, `"about"`} {
		if strings.Contains(got, n) {
			t.Errorf("a first access in normal mode has %s: %s", n, got)
		}
	}
	newDoc := carnet.Notification{ID: "n3", Kind: carnet.NotifyNewDocument, Time: at, Documents: []string{"D-3"},
		Actor: carnet.Actor{Kind: carnet.ActorSystem, ID: carnet.Identifier{Value: "lgc-1"}}, Text: "Un nouveau document."}
	got = string(marshal(t, Communication(newDoc, testINS)))
	for _, w := range []string{`"display":"nouveau document"`, `"sender":{"type":"Device","identifier":{"value":"lgc-1"}}`, `"about":[{"reference":"DocumentReference/D-3"}]`} {
		if !strings.Contains(got, w) {
			t.Errorf("a new-document notification lacks %s\n%s", w, got)
		}
	}
}

// TestDocExamples parses every Consent of docs/PCF.md: one per kind, each
// accepted as the kind it illustrates.
func TestDocExamples(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "PCF.md"))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[carnet.ConsentKind]bool{}
	blocks := strings.Split(string(doc), "```json\n")[1:]
	for i, b := range blocks {
		body, _, ok := strings.Cut(b, "```")
		if !ok {
			t.Fatalf("block %d is not closed", i)
		}
		c, _, err := ParseConsent([]byte(body), maxBody)
		if err != nil {
			t.Errorf("example %d is refused: %v\n%s", i, err, body)
			continue
		}
		if !strings.Contains(body, `"code": "`+string(c.Kind)+`"`) {
			t.Errorf("example %d parses as %s, which it does not name", i, c.Kind)
		}
		kinds[c.Kind] = true
	}
	for _, k := range carnet.ConsentKinds {
		if !kinds[k] {
			t.Errorf("docs/PCF.md has no example of %s", k)
		}
	}
}
