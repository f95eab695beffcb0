package mhd

import (
	"reflect"
	"strings"
	"testing"

	carnet "github.com/carnet-sante/carnet"
)

// fpOp writes one FHIRPath Patch operation as a Parameters parameter.
func fpOp(typ, path string, extra ...string) string {
	parts := []string{`{"name":"type","valueCode":"` + typ + `"}`, `{"name":"path","valueString":"` + path + `"}`}
	parts = append(parts, extra...)
	return `{"name":"operation","part":[` + strings.Join(parts, ",") + `]}`
}

func fpPatch(ops ...string) string {
	return `{"resourceType":"Parameters","parameter":[` + strings.Join(ops, ",") + `]}`
}

const (
	fpMasque  = `{"name":"value","valueCodeableConcept":{"coding":[{"system":"urn:oid:1.2.250.1.213.1.1.4.13","code":"MASQUE_PS"}]}}`
	fpArchive = `{"name":"value","part":[{"name":"url","valueUri":"https://carnet-sante.fr/fhir/StructureDefinition/availability-status"},{"name":"valueCode","valueCode":"archived"}]}`
)

func TestParsePatchFHIRPath(t *testing.T) {
	vis := func(code string) []carnet.Coding { return []carnet.Coding{{System: SystemVisibility, Code: code}} }
	tests := []struct {
		name string
		body string
		want carnet.DocumentChange
	}{
		{"superseded", fpPatch(fpOp("replace", "DocumentReference.status", `{"name":"value","valueCode":"superseded"}`)),
			carnet.DocumentChange{Status: carnet.StatusSuperseded}},
		{"logical deletion", fpPatch(fpOp("replace", "DocumentReference.status", `{"name":"value","valueCode":"entered-in-error"}`)),
			carnet.DocumentChange{Status: carnet.StatusDeleted}},
		{"mask", fpPatch(fpOp("add", "DocumentReference", `{"name":"name","valueString":"securityLabel"}`, fpMasque)),
			carnet.DocumentChange{AddLabels: vis("MASQUE_PS")}},
		{"mask given as a Coding", fpPatch(fpOp("add", "DocumentReference", `{"name":"name","valueString":"securityLabel"}`,
			`{"name":"value","valueCoding":{"system":"urn:oid:1.2.250.1.213.1.1.4.13","code":"INVISIBLE_REPRESENTANTS_LEGAUX"}}`)),
			carnet.DocumentChange{AddLabels: vis("INVISIBLE_REPRESENTANTS_LEGAUX")}},
		{"unmask by code", fpPatch(fpOp("delete", "DocumentReference.securityLabel.where(coding.code='MASQUE_PS')")),
			carnet.DocumentChange{RemoveLabels: []string{"MASQUE_PS"}}},
		{"unhide with system and code", fpPatch(fpOp("delete", "DocumentReference.securityLabel.where(coding.where(system='urn:oid:1.2.250.1.213.1.1.4.13' and code='INVISIBLE_PATIENT').exists())")),
			carnet.DocumentChange{RemoveLabels: []string{"INVISIBLE_PATIENT"}}},
		{"archive", fpPatch(fpOp("add", "DocumentReference", `{"name":"name","valueString":"extension"}`, fpArchive)),
			carnet.DocumentChange{Status: carnet.StatusArchived}},
		{"unarchive by deleting the extension", fpPatch(fpOp("delete", "DocumentReference.extension.where(url='https://carnet-sante.fr/fhir/StructureDefinition/availability-status')")),
			carnet.DocumentChange{Status: carnet.StatusCurrent}},
		{"archive by replacing the value", fpPatch(fpOp("replace", "DocumentReference.extension.where(url='https://carnet-sante.fr/fhir/StructureDefinition/availability-status').value", `{"name":"value","valueCode":"archived"}`)),
			carnet.DocumentChange{Status: carnet.StatusArchived}},
		{"mask and hide together", fpPatch(
			fpOp("add", "DocumentReference", `{"name":"name","valueString":"securityLabel"}`, fpMasque),
			fpOp("delete", "DocumentReference.securityLabel.where(coding.code='INVISIBLE_PATIENT')")),
			carnet.DocumentChange{AddLabels: vis("MASQUE_PS"), RemoveLabels: []string{"INVISIBLE_PATIENT"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePatch([]byte(tt.body), "application/fhir+json; charset=utf-8")
			if err != nil {
				t.Fatalf("ParsePatch: %v%s", err, formatIssues(carnet.ErrorIssues(err)))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParsePatchJSONPatch(t *testing.T) {
	tests := []struct {
		name string
		body string
		want carnet.DocumentChange
	}{
		{"status", `[{"op":"replace","path":"/status","value":"superseded"}]`, carnet.DocumentChange{Status: carnet.StatusSuperseded}},
		{"mask", `[{"op":"add","path":"/securityLabel/-","value":{"coding":[{"system":"urn:oid:1.2.250.1.213.1.1.4.13","code":"MASQUE_PS"}]}}]`,
			carnet.DocumentChange{AddLabels: []carnet.Coding{{System: SystemVisibility, Code: "MASQUE_PS"}}}},
		{"unmask after a test", `[{"op":"test","path":"/securityLabel/1/coding/0/code","value":"MASQUE_PS"},{"op":"remove","path":"/securityLabel/1"}]`,
			carnet.DocumentChange{RemoveLabels: []string{"MASQUE_PS"}}},
		{"archive", `[{"op":"add","path":"/extension/-","value":{"url":"https://carnet-sante.fr/fhir/StructureDefinition/availability-status","valueCode":"archived"}}]`,
			carnet.DocumentChange{Status: carnet.StatusArchived}},
		{"unarchive after a test", `[{"op":"test","path":"/extension/0/url","value":"https://carnet-sante.fr/fhir/StructureDefinition/availability-status"},{"op":"remove","path":"/extension/0"}]`,
			carnet.DocumentChange{Status: carnet.StatusCurrent}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePatch([]byte(tt.body), MediaJSONPatch)
			if err != nil {
				t.Fatalf("ParsePatch: %v%s", err, formatIssues(carnet.ErrorIssues(err)))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParsePatchRefused(t *testing.T) {
	tests := []struct {
		name, body, ct string
		kind           carnet.Kind
		code, expr     string
	}{
		{"another media type", `{}`, "application/xml", carnet.KindUnsupported, "", ""},
		{"malformed JSON", `{"resourceType":"Parameters",`, MediaFHIRJSON, carnet.KindInvalid, "invalid", "Parameters"},
		{"not Parameters", `{"resourceType":"Binary"}`, MediaFHIRJSON, carnet.KindInvalid, "invalid", "Parameters.resourceType"},
		{"no operation", `{"resourceType":"Parameters"}`, MediaFHIRJSON, carnet.KindInvalid, "required", "Parameters.parameter"},
		{"change the type", fpPatch(fpOp("replace", "DocumentReference.type", `{"name":"value","valueString":"x"}`)), MediaFHIRJSON,
			carnet.KindUnprocessable, "not-supported", "Parameters.parameter[0]"},
		{"status archived is an extension", fpPatch(fpOp("replace", "DocumentReference.status", `{"name":"value","valueCode":"archived"}`)), MediaFHIRJSON,
			carnet.KindUnprocessable, "code-invalid", "Parameters.parameter[0]"},
		{"add label N", fpPatch(fpOp("add", "DocumentReference", `{"name":"name","valueString":"securityLabel"}`,
			`{"name":"value","valueCodeableConcept":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"N"}]}}`)), MediaFHIRJSON,
			carnet.KindUnprocessable, "not-supported", "Parameters.parameter[0]"},
		{"label without its system", fpPatch(fpOp("add", "DocumentReference", `{"name":"name","valueString":"securityLabel"}`,
			`{"name":"value","valueCodeableConcept":{"coding":[{"code":"MASQUE_PS"}]}}`)), MediaFHIRJSON,
			carnet.KindUnprocessable, "code-invalid", "Parameters.parameter[0]"},
		{"delete a label by position", fpPatch(fpOp("delete", "DocumentReference.securityLabel[1]")), MediaFHIRJSON,
			carnet.KindUnprocessable, "not-supported", "Parameters.parameter[0]"},
		{"another extension", fpPatch(fpOp("add", "DocumentReference", `{"name":"name","valueString":"extension"}`,
			`{"name":"value","part":[{"name":"url","valueUri":"http://example.org/x"},{"name":"valueCode","valueCode":"y"}]}`)), MediaFHIRJSON,
			carnet.KindUnprocessable, "not-supported", "Parameters.parameter[0]"},
		{"two statuses", fpPatch(
			fpOp("replace", "DocumentReference.status", `{"name":"value","valueCode":"superseded"}`),
			fpOp("add", "DocumentReference", `{"name":"name","valueString":"extension"}`, fpArchive)), MediaFHIRJSON,
			carnet.KindUnprocessable, "invalid", "Parameters.parameter[1]"},
		{"the same label added and removed", fpPatch(
			fpOp("add", "DocumentReference", `{"name":"name","valueString":"securityLabel"}`, fpMasque),
			fpOp("delete", "DocumentReference.securityLabel.where(coding.code='MASQUE_PS')")), MediaFHIRJSON,
			carnet.KindUnprocessable, "invalid", "Parameters.parameter[1]"},
		{"JSON Patch remove without test", `[{"op":"remove","path":"/securityLabel/0"}]`, MediaJSONPatch,
			carnet.KindUnprocessable, "not-supported", "JSONPatch[0]"},
		{"JSON Patch on the subject", `[{"op":"replace","path":"/subject/reference","value":"Patient/2"}]`, MediaJSONPatch,
			carnet.KindUnprocessable, "not-supported", "JSONPatch[0]"},
		{"JSON Patch test of something else", `[{"op":"test","path":"/status","value":"current"}]`, MediaJSONPatch,
			carnet.KindUnprocessable, "not-supported", "JSONPatch[0]"},
		{"JSON Patch bad status", `[{"op":"replace","path":"/status","value":"draft"}]`, MediaJSONPatch,
			carnet.KindUnprocessable, "code-invalid", "JSONPatch[0].value"},
		{"JSON Patch move", `[{"op":"move","from":"/securityLabel/0","path":"/securityLabel/1"}]`, MediaJSONPatch,
			carnet.KindUnprocessable, "not-supported", "JSONPatch[0]"},
		{"JSON Patch not an array", `{"op":"replace"}`, MediaJSONPatch, carnet.KindInvalid, "value", "JSONPatch"},
		{"JSON Patch wrong field type", `[{"op":"replace","path":3}]`, MediaJSONPatch, carnet.KindInvalid, "value", "JSONPatch[0].path"},
		{"empty JSON Patch", `[]`, MediaJSONPatch, carnet.KindInvalid, "required", "JSONPatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePatch([]byte(tt.body), tt.ct)
			if k := carnet.ErrorKind(err); err == nil || k != tt.kind {
				t.Fatalf("got %v (kind %v), want kind %v", err, k, tt.kind)
			}
			if tt.code == "" {
				return
			}
			if issues := issuesOf(t, err); !hasIssue(issues, tt.code, tt.expr) {
				t.Errorf("issues lack %s @ %s; got:%s", tt.code, tt.expr, formatIssues(issues))
			}
		})
	}
	if _, err := ParsePatch(make([]byte, MaxPatchBytes+1), MediaJSONPatch); !carnet.IsKind(err, carnet.KindTooLarge) {
		t.Errorf("oversized patch: %v, want too large", err)
	}
}
