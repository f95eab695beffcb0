package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auditlog"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/httpapi"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/synth"
)

// injectAuditFailure makes every write to the audit trail fail, in the
// database itself, the way a full disk or a revoked grant would.
func injectAuditFailure(t *testing.T, env *testenv.Env, on bool) {
	t.Helper()
	var stmts []string
	switch {
	case env.Dir != "" && on:
		stmts = []string{`CREATE TRIGGER audit_down BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'injected audit failure'); END`}
	case env.Dir != "":
		stmts = []string{`DROP TRIGGER audit_down`}
	case on:
		stmts = []string{
			`CREATE OR REPLACE FUNCTION audit_down() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected audit failure'; END $$`,
			`CREATE TRIGGER audit_down BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_down()`,
		}
	default:
		stmts = []string{`DROP TRIGGER audit_down ON audit_events`}
	}
	for _, s := range stmts {
		if _, err := env.DB.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// Audit before serving: when the event cannot be written, nothing is
// served, and the caller is told the service is unavailable.
func TestAuditBeforeServing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		rec := newRecord(t, b)
		c, gp := rec.c, rec.env.Token(t, "gp")
		binary := contentID(t, c.as(gp), rec.consult)
		injectAuditFailure(t, rec.env, true)
		patient := rec.env.Token(t, "patient0")
		for _, req := range []struct{ tok, path string }{{gp, rec.search()}, {gp, "/DocumentReference/" + rec.consult}, {gp, "/Binary/" + binary},
			{patient, "/Consent"}, {patient, "/Communication"}, {patient, "/AuditEvent"}, {patient, "/Binary/" + binary}} {
			path := req.path
			r := c.as(req.tok).get(path)
			if r.Status != 503 {
				t.Errorf("%s with the audit trail down: %d, want 503", path, r.Status)
			}
			if bytes.Contains(r.Body, []byte(rec.consult)) || bytes.Contains(r.Body, []byte("texte de test")) || bytes.Contains(r.Body, []byte("injected")) {
				t.Errorf("%s with the audit trail down served something: %s", path, r.Body)
			}
		}
		// A filing whose event cannot be written is not acknowledged; its
		// identical retry, once the trail is back, is.
		base := synth.Generate(synth.Options{Seed: 44, Patients: 1, DocsPerPatient: 1}).Documents[0]
		sub := carnet.Submission{Patient: rec.ins, Set: carnet.SubmissionSet{UniqueID: "1.2.250.1.999.44.1", SourceID: "1.2.250.1.999.2", ContentType: base.Meta.Type},
			Documents: []carnet.SubmittedDocument{plainDocument(base, "1.2.250.1.999.44.1.1", "11488-4", "Compte rendu", rec.pros["gp"])}}
		lgc := c.asSoftware(sub)
		if r := lgc.provide(sub); r.Status != 503 {
			t.Errorf("filing with the audit trail down: %d, want 503", r.Status)
		}
		injectAuditFailure(t, rec.env, false)
		if r := c.as(gp).get("/Binary/" + binary); r.Status != 200 {
			t.Errorf("with the audit trail back: %d", r.Status)
		}
		if r := lgc.provide(sub); r.Status != 200 {
			t.Errorf("the retried filing: %d %s", r.Status, r.Body)
		}
		if got := rec.visible(t, gp); len(got) != 4 {
			t.Errorf("after the retry the GP sees %d documents, want 4", len(got))
		}

		// A card that could not be recorded was not seen: the GP's visit
		// marker is put back, and the next card still counts what is new.
		gpID, patientID := rec.pros["gp"].ID.Value, rec.ins.System+"|"+rec.ins.Value
		if r, _ := callPastille(t, rec, clientJWT(t, rec.env), hookBody(t, "Practitioner/"+gpID, patientID, gp)); r.Status != 200 {
			t.Fatalf("card: %d", r.Status)
		}
		more := plainDocument(base, "1.2.250.1.999.44.2.1", "11488-4", "Compte rendu suivant", rec.pros["gp"])
		if r := lgc.provide(carnet.Submission{Patient: rec.ins, Set: carnet.SubmissionSet{UniqueID: "1.2.250.1.999.44.2", SourceID: "1.2.250.1.999.2", ContentType: more.Meta.Type},
			Documents: []carnet.SubmittedDocument{more}}); r.Status != 200 {
			t.Fatalf("filing: %d", r.Status)
		}
		injectAuditFailure(t, rec.env, true)
		if r, _ := callPastille(t, rec, clientJWT(t, rec.env), hookBody(t, "Practitioner/"+gpID, patientID, gp)); r.Status != 503 {
			t.Errorf("card with the audit trail down: %d, want 503", r.Status)
		}
		injectAuditFailure(t, rec.env, false)
		if _, cards := callPastille(t, rec, clientJWT(t, rec.env), hookBody(t, "Practitioner/"+gpID, patientID, gp)); len(cards) != 1 || !strings.HasPrefix(cards[0].Summary, "1 nouveau document") {
			t.Errorf("the card after the failed one: %+v, want the new document still counted", cards)
		}
	})
}

// Over a run of random mixed requests, the documents served are exactly
// the documents the read and search events name.
func TestServedEqualsLogged(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		rec := newRecord(t, b)
		env, c := rec.env, rec.c
		ctx := testenv.Context(t, time.Minute)
		start, err := env.Store.AuditSize(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tokens := []string{env.Token(t, "gp"), env.Token(t, "patient0"), env.Token(t, "patient1"), env.Token(t, "nurse"), env.Token(t, "samu"), env.PatientToken(t, rec.ins, true)}
		binaries := map[string]string{}
		for _, id := range []string{rec.consult, rec.psy, rec.minor} {
			binaries[id] = contentID(t, c.as(tokens[0]), id)
		}
		// The setup read three documents as the GP.
		served := 3
		docs := []string{rec.consult, rec.psy, rec.minor, carnet.NewID()}
		r := rand.New(rand.NewPCG(5, 5))
		for range 150 {
			tok := tokens[r.IntN(len(tokens))]
			var hdr []string
			if r.IntN(4) == 0 {
				hdr = []string{"X-Purpose-Of-Use", "BTG", "X-Access-Reason", "urgence"}
			}
			switch r.IntN(3) {
			case 0:
				resp := c.as(tok).do("GET", rec.search()+"&_count="+[]string{"1", "2", "10"}[r.IntN(3)], "", nil, hdr...)
				if resp.Status != 200 {
					t.Fatalf("search: %d", resp.Status)
				}
				for _, e := range decode[fhir.Bundle](t, resp).Entry {
					if e.Search != nil && e.Search.Mode == "match" {
						served++
					}
				}
			case 1:
				id := docs[r.IntN(len(docs))]
				if resp := c.as(tok).do("GET", "/DocumentReference/"+id, "", nil, hdr...); resp.Status == 200 {
					served++
				}
			default:
				id := docs[r.IntN(3)]
				if resp := c.as(tok).do("GET", "/Binary/"+binaries[id], "", nil, hdr...); resp.Status == 200 {
					served++
				}
			}
		}
		end, err := env.Store.AuditSize(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := env.Store.AuditEvents(ctx, 0, end)
		if err != nil {
			t.Fatal(err)
		}
		logged, denied := 0, 0
		for _, row := range rows {
			ev, err := carnet.OpenAuditEvent(ctx, env.Service.Sealer, row)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case ev.Outcome == carnet.OutcomeSuccess && (ev.Action == carnet.ActionRead || ev.Action == carnet.ActionSearch):
				logged += len(ev.Documents)
			case ev.Outcome == carnet.OutcomeDenied:
				denied++
			}
		}
		t.Logf("%d events after setup (%d in all), %d documents served, %d named by read and search events, %d denials", end-start, end, served, logged, denied)
		if served != logged {
			t.Errorf("%d documents served, %d logged", served, logged)
		}
		if denied == 0 {
			t.Errorf("no denial recorded over a run with another patient and a nurse: every access was permitted?")
		}
	})
}

// The patient reads who accessed their record, newest first, with filters;
// each event carries its log entry, included in the signed log.
func TestAccessHistory(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		rec := newRecord(t, b)
		env, c := rec.env, rec.c
		samu, patient := env.Token(t, "samu"), env.Token(t, "patient0")
		if r := c.as(samu).do("GET", "/DocumentReference/"+rec.consult, "", nil, "X-Purpose-Of-Use", "BTG", "X-Access-Reason", url.PathEscape("détresse respiratoire")); r.Status != 200 {
			t.Fatalf("bris de glace: %d", r.Status)
		}
		c.as(env.Token(t, "patient1")).get("/DocumentReference/" + rec.consult) // denied
		r := c.as(patient).get("/AuditEvent?_count=100")
		if r.Status != 200 {
			t.Fatalf("history: %d %s", r.Status, r.Body)
		}
		events := auditEvents(t, r)
		if len(events) < 3 {
			t.Fatalf("history of %d events", len(events))
		}
		for i := 1; i < len(events); i++ {
			if events[i].Recorded > events[i-1].Recorded {
				t.Errorf("history not newest first at %d", i)
			}
		}
		newest := events[0]
		if newest.Outcome != "4" || newest.Action != "R" {
			t.Errorf("the newest event is %+v, want the denied read by the other patient", newest)
		}
		btg := events[1]
		if len(btg.PurposeOfEvent) != 1 || btg.PurposeOfEvent[0].Coding[0].Code != "BTG" || btg.PurposeOfEvent[0].Text != "détresse respiratoire" ||
			btg.Agent[0].Who == nil || btg.Agent[0].Who.Identifier.Value != rec.pros["samu"].ID.Value {
			t.Errorf("the bris de glace event: %+v", btg)
		}
		if strings.Contains(string(r.Body), "bris-de-glace") || strings.Contains(string(r.Body), "not-the-patient") {
			t.Errorf("the policy's reasons are shown to the patient")
		}
		// Filter by actor and by period.
		only := auditEvents(t, c.as(patient).get("/AuditEvent?agent.identifier="+url.QueryEscape(rec.pros["samu"].ID.System+"|"+rec.pros["samu"].ID.Value)))
		if len(only) != 1 || only[0].ID != btg.ID {
			t.Errorf("filtered by the SAMU physician: %d events", len(only))
		}
		future := auditEvents(t, c.as(patient).get("/AuditEvent?date=ge"+time.Now().Add(time.Hour).UTC().Format(time.RFC3339)))
		if len(future) != 0 {
			t.Errorf("events in the future: %d", len(future))
		}
		// Nobody else reads it: not another patient, not a professional.
		for _, who := range []string{"patient1", "gp"} {
			if got := auditEvents(t, c.as(env.Token(t, who)).get("/AuditEvent?patient.identifier="+url.QueryEscape(rec.ins.System+"|"+rec.ins.Value))); len(got) != 0 {
				t.Errorf("%s reads %d events of patient0's history", who, len(got))
			}
		}
		// The producing software is no auditor; a system granted
		// system/AuditEvent.rs explicitly is, and sees the policy's reasons.
		if r := c.as(env.Token(t, "lgc")).get("/AuditEvent?patient.identifier=" + url.QueryEscape(rec.ins.System+"|"+rec.ins.Value)); r.Status != 403 {
			t.Errorf("the producing software reads the history: %d", r.Status)
		}
		auditor, err := env.Issuer.Issue(carnet.ActorSystem, map[string]any{"client_id": "dpo-tool", "scope": "system/AuditEvent.rs"}, testenv.Audience, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		r = c.as(auditor).get("/AuditEvent?_count=100&patient.identifier=" + url.QueryEscape(rec.ins.System+"|"+rec.ins.Value))
		if got := auditEvents(t, r); len(got) < len(events) || !strings.Contains(string(r.Body), "not-the-patient") {
			t.Errorf("the auditor sees %d events (want at least %d) and the reasons: %v", len(got), len(events), strings.Contains(string(r.Body), "not-the-patient"))
		}
		// Each event shown is in the signed log.
		cpNote := c.get("/log/checkpoint")
		key := c.get("/log/key")
		v, err := auditlog.NewVerifier(string(key.Body))
		if err != nil {
			t.Fatal(err)
		}
		cp, err := auditlog.OpenCheckpoint(cpNote.Body, v.Name(), v)
		if err != nil {
			t.Fatalf("checkpoint: %v\n%s", err, cpNote.Body)
		}
		for _, e := range events {
			idx, at, digest := logEntry(t, e)
			if idx >= cp.Size {
				continue
			}
			leaf, err := auditlog.Entry{EventID: e.ID, Time: at, RowDigest: digest}.MarshalLeaf()
			if err != nil {
				t.Fatal(err)
			}
			pr := decode[httpapi.Proof](t, c.get("/log/proof/inclusion?index="+itoa(idx)+"&size="+itoa(cp.Size)))
			if err := auditlog.VerifyInclusion(leaf, idx, unb64(t, pr.Hashes), cp); err != nil {
				t.Errorf("event %s (index %d) is not in the log: %v", e.ID, idx, err)
			}
			// A leaf with another digest is not.
			digest[0] ^= 1
			forged, _ := auditlog.Entry{EventID: e.ID, Time: at, RowDigest: digest}.MarshalLeaf()
			if auditlog.VerifyInclusion(forged, idx, unb64(t, pr.Hashes), cp) == nil {
				t.Errorf("a forged leaf verifies")
			}
		}
	})
}

func auditEvents(t *testing.T, r response) []fhir.AuditEvent {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("AuditEvent search: %d %s", r.Status, r.Body)
	}
	var out []fhir.AuditEvent
	for _, e := range decode[fhir.Bundle](t, r).Entry {
		var ae fhir.AuditEvent
		if err := json.Unmarshal(e.Resource, &ae); err != nil {
			t.Fatal(err)
		}
		out = append(out, ae)
	}
	return out
}

func logEntry(t *testing.T, e fhir.AuditEvent) (uint64, time.Time, [32]byte) {
	t.Helper()
	var idx uint64
	var at time.Time
	var digest [32]byte
	for _, x := range e.Extension {
		for _, y := range x.Extension {
			switch {
			case y.URL == "index" && y.ValueInteger != nil:
				idx = uint64(*y.ValueInteger)
			case y.URL == "time" && y.ValueDateTime != nil:
				at, _ = time.Parse(time.RFC3339Nano, *y.ValueDateTime)
			case y.URL == "digest" && y.ValueString != nil:
				b, _ := hex.DecodeString(*y.ValueString)
				copy(digest[:], b)
			}
		}
	}
	return idx, at, digest
}

func unb64(t *testing.T, ss []string) [][]byte {
	t.Helper()
	out := make([][]byte, len(ss))
	for i, s := range ss {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
