package balp

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

func TestRenderBreakGlass(t *testing.T) {
	at := time.Date(2026, 11, 28, 17, 4, 36, 553123000, time.UTC)
	e := carnet.AuditEntry{Seq: 41, Digest: []byte{0xab, 0xcd}, Event: carnet.AuditEvent{
		ID: "ev-1", Time: at, RequestID: "req-9", Action: carnet.ActionRead, Mode: carnet.ModeBreakGlass, Reason: "patient inconscient",
		Actor:     carnet.Actor{Kind: carnet.ActorProfessional, ID: carnet.Identifier{System: "urn:oid:1.2.250.1.71.4.2.1", Value: "810100001006"}, Name: "Karim BENALI", Profession: "G15_10"},
		Documents: []string{"doc-1"}, Outcome: carnet.OutcomeSuccess, Detail: []string{"bris-de-glace"}}}
	ins := carnet.Identifier{System: "urn:oid:1.2.250.1.213.1.4.8", Value: "254036938312325"}
	b, err := json.Marshal(Render(e, ins, true))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"resourceType":"AuditEvent"`, `"code":"read"`, `"action":"R"`, `"outcome":"0"`, `"code":"BTG"`,
		`"text":"patient inconscient"`, `"value":"810100001006"`, `"display":"Karim BENALI"`, `"reference":"DocumentReference/doc-1"`,
		`"value":"254036938312325"`, `"value":"req-9"`, `"valueInteger":41`, `"valueDateTime":"2026-11-28T17:04:36.553123Z"`, `"valueString":"abcd"`} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %s in %s", want, s)
		}
	}
	if strings.Contains(s, "bris-de-glace") {
		t.Errorf("the policy's reasons are shown to the patient: %s", s)
	}
	b, _ = json.Marshal(Render(e, ins, false))
	if !strings.Contains(string(b), "bris-de-glace") {
		t.Errorf("an auditor does not see the reasons: %s", b)
	}
}

func TestRenderDeniedAndPruned(t *testing.T) {
	e := carnet.AuditEntry{Event: carnet.AuditEvent{ID: "ev-2", Time: time.Now(), Action: carnet.ActionSearch, Outcome: carnet.OutcomeDenied,
		Actor: carnet.Actor{Kind: carnet.ActorPatient, LegalRepresentative: true}}}
	b, _ := json.Marshal(Render(e, carnet.Identifier{}, true))
	if s := string(b); !strings.Contains(s, `"outcome":"4"`) || !strings.Contains(s, "représentant légal") || strings.Contains(s, "purposeOfEvent") {
		t.Errorf("denied search by a representative: %s", s)
	}
	e.Pruned = true
	b, _ = json.Marshal(Render(e, carnet.Identifier{}, true))
	if s := string(b); !strings.Contains(s, "conservation") || strings.Contains(s, `"outcome"`) {
		t.Errorf("pruned: %s", s)
	}
}
