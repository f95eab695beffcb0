package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/httpapi"
	"github.com/carnet-sante/carnet/mhd"
	"github.com/carnet-sante/carnet/postgres/pgtest"
	"github.com/carnet-sante/carnet/synth"
)

// webServer starts `carnet serve --demo` on a backend: SQLite in a fresh
// directory, or a fresh PostgreSQL schema.
func webServer(t *testing.T, backend string) (*server, string) {
	t.Helper()
	data := t.TempDir()
	// The four demo patients are all the scenario needs.
	args := []string{"--demo", "--demo-patients", "4", "--data", data}
	if backend == "postgres" {
		args = append(args, "--postgres", pgtest.DSN(t), "--init-key")
	}
	return startServe(t, args...), data
}

// The web spaces in a real browser, on both backends: every point of
// issue 11's "Checked by", and axe-core in each main page.
func TestWebSpaces(t *testing.T) {
	b := newBrowser(t)
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			s, data := webServer(t, backend)
			t.Logf("server started in %v", time.Since(start))
			// Accessibility does not depend on the backend: axe-core runs
			// on the first one only, which keeps the suite short.
			webScenario(t, b, s, data, backend == "sqlite")
		})
	}
}

var countRE = regexp.MustCompile(`(\d+) lignes?`)

// openRecord has a professional open a record by INS (posted).
func (tb *tab) openRecord(ins carnet.Identifier, action string) {
	tb.t.Helper()
	tb.open("/pro")
	tb.fill("#systeme", strings.TrimPrefix(ins.System, "urn:oid:"))
	tb.fill("#ins", ins.Value)
	tb.click(fmt.Sprintf(`button[value=%q]`, action))
}

func (tb *tab) lines() int {
	tb.t.Helper()
	m := countRE.FindStringSubmatch(tb.text())
	if m == nil {
		tb.t.Fatalf("no count of lines on the page:\n%s", tb.snippet())
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// verification waits for the history page's check and returns its state.
func (tb *tab) verification() (state, text string) {
	tb.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		state = eval[string](tb, `document.getElementById("verification").getAttribute("data-state")`)
		if state != "en-cours" {
			return state, eval[string](tb, `document.getElementById("verification").innerText`)
		}
		time.Sleep(100 * time.Millisecond)
	}
	tb.t.Fatalf("the history was not verified in 30 s:\n%s", tb.snippet())
	return "", ""
}

// tamperProofs makes the browser receive, for every inclusion proof it
// asks for, the real proof with one bit of its first hash flipped: what a
// server rewriting a history line would have to serve.
func (tb *tab) tamperProofs(on bool) {
	tb.t.Helper()
	ctx := tb.ctx
	if !on {
		if _, err := chromedp.Call(ctx, fetch.Disable, struct{}{}); err != nil {
			tb.t.Fatal(err)
		}
		return
	}
	tb.mu.Lock()
	first := tb.tamper == nil
	tb.tamper = &sync.Once{}
	tb.mu.Unlock()
	if first {
		if err := chromedp.Listen(ctx, func(ev any) {
			e, ok := ev.(*fetch.EventRequestPaused)
			if !ok {
				return
			}
			go func() {
				body, err := forgedProof(e.Request.URL)
				if err != nil {
					_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: e.RequestID})
					return
				}
				_, _ = chromedp.Call(ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: e.RequestID, ResponseCode: 200,
					ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "application/json"}}, Body: body})
			}()
		}); err != nil {
			tb.t.Fatal(err)
		}
	}
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/log/proof/inclusion*"}}}); err != nil {
		tb.t.Fatal(err)
	}
}

func forgedProof(u string) ([]byte, error) {
	res, err := http.Get(u)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var p httpapi.Proof
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
		return nil, err
	}
	if len(p.Hashes) > 0 {
		h, _ := base64.StdEncoding.DecodeString(p.Hashes[0])
		h[0] ^= 1
		p.Hashes[0] = base64.StdEncoding.EncodeToString(h)
	}
	return json.Marshal(p)
}

// file files documents for patient0 as the demo software, over the API.
func file(t *testing.T, s *server, data string, sub carnet.Submission) {
	t.Helper()
	body, _ := json.Marshal(mhd.ProvideBundle(sub))
	req, _ := http.NewRequest("POST", s.URL+"/", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+demoSoftwareToken(t, s, data, sub))
	req.Header.Set("Content-Type", "application/fhir+json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("filing: %d %s", res.StatusCode, b)
	}
}

// newDocuments are n documents of patient0 dated now, new to everyone.
func newDocuments(seed uint64, n int, title string) carnet.Submission {
	ds := synth.Generate(synth.Options{Seed: seed, Patients: 1, DocsPerPatient: n, Base: time.Now().UTC()})
	p := ds.Patients[0]
	sub := carnet.Submission{Patient: p.INS, Set: carnet.SubmissionSet{UniqueID: fmt.Sprintf("1.2.250.1.999.77.%d", seed), SourceID: "1.2.250.1.999.2"}}
	for i, d := range ds.Documents {
		if title != "" {
			d.Meta.Title = title
		}
		sub.Set.ContentType = d.Meta.Type
		sub.Documents = append(sub.Documents, carnet.SubmittedDocument{UniqueID: d.UniqueID, Meta: d.Meta, Content: d.Content, Path: fmt.Sprintf("doc[%d]", i)})
	}
	return sub
}

// cardLink asks the pastille (CDS Hooks) for a professional's card, as
// their software would, and returns its link.
func cardLink(t *testing.T, s *server, data, user string, ins carnet.Identifier) (summary, link string) {
	t.Helper()
	var out strings.Builder
	if err := run(context.Background(), []string{"token", "--cds-client", "--url", s.URL}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	_, pros := synth.Options{Patients: 1, Professionals: len(synth.RosterLogins())}.People()
	rpps := ""
	for _, p := range pros {
		if p.Login == user {
			rpps = p.Author.ID.Value
		}
	}
	hook := map[string]any{"hook": "patient-view", "hookInstance": "h1",
		"fhirAuthorization": map[string]string{"access_token": demoToken(t, s, user), "token_type": "Bearer"},
		"context":           map[string]string{"userId": "Practitioner/" + rpps, "patientId": ins.System + "|" + ins.Value}}
	body, _ := json.Marshal(hook)
	req, _ := http.NewRequest("POST", s.URL+"/cds-services/"+httpapi.PastilleService, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(out.String()))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var cards struct {
		Cards []struct {
			Summary string
			Links   []struct{ URL, Type string }
		}
	}
	if err := json.NewDecoder(res.Body).Decode(&cards); err != nil || len(cards.Cards) != 1 || len(cards.Cards[0].Links) != 1 {
		t.Fatalf("pastille card: %d %v %+v", res.StatusCode, err, cards)
	}
	return cards.Cards[0].Summary, cards.Cards[0].Links[0].URL
}

func webScenario(t *testing.T, b *browser, s *server, data string, a11y bool) {
	ins := synth.Generate(demoOptions).Patients[0].INS
	last := time.Now()
	step := func(name string) {
		t.Logf("%-40s %v", name, time.Since(last).Round(time.Millisecond))
		last = time.Now()
	}
	mustContain := func(tb *tab, what string, want ...string) {
		t.Helper()
		txt := tb.text()
		for _, w := range want {
			if !strings.Contains(txt, w) {
				t.Fatalf("%s: the page does not say %q:\n%s", what, w, tb.snippet())
			}
		}
	}

	// Signed out: the home page and the demo issuer's page.
	visitor := b.person(t, s.URL, a11y)
	visitor.open("/")
	visitor.axe("home page")
	visitor.open("/connexion")
	visitor.axe("demo login page")

	step("visitor")
	// The GP opens patient0's record: the access the patient will see.
	gp := b.person(t, s.URL, a11y)
	gp.login("gp")
	if gp.path() != "/pro" {
		t.Fatalf("the GP landed on %s, want /pro", gp.path())
	}
	gp.axe("professional home")
	gp.openRecord(ins, "ouvrir")
	if !strings.HasPrefix(gp.path(), "/pro/dossier/") {
		t.Fatalf("the GP could not open patient0's record:\n%s", gp.snippet())
	}
	key := strings.TrimPrefix(gp.path(), "/pro/dossier/")
	gp.axe("pastille view")
	before := gp.lines()

	step("gp opens")
	// patient0 signs in, finds a lab report with the filters, opens it.
	pt := b.person(t, s.URL, a11y)
	pt.login("patient0")
	if pt.path() != "/patient" {
		t.Fatalf("patient0 landed on %s, want /patient", pt.path())
	}
	sessionCookie := pt.cookie()
	pt.axe("patient documents")
	pt.fill("#type", "11502-2")
	pt.click(`form.filtres button[type="submit"]`)
	mustContain(pt, "filter", "correspondant à votre recherche")
	if n := eval[int](pt, `document.querySelectorAll("ul.documents li").length`); n == 0 {
		t.Fatalf("no lab report for patient0:\n%s", pt.snippet())
	}
	pt.click(`ul.documents li h2 a`)
	labID := strings.TrimPrefix(pt.path(), "/patient/documents/")
	mustContain(pt, "lab report", "Compte rendu de biologie", "Qui peut voir ce document")
	if !eval[bool](pt, `!!document.querySelector(".narratif, iframe.pdf")`) {
		t.Errorf("the viewer shows neither the narrative nor the PDF:\n%s", pt.snippet())
	}
	pt.axe("document viewer (patient)")

	step("patient lab")
	// The GP reads it before it is masked.
	gp.open("/pro/dossier/" + key + "/documents/" + labID)
	mustContain(gp, "GP reading the lab report", "Compte rendu de biologie")
	gp.axe("document viewer (professional)")

	step("gp reads")
	// The patient masks it: the GP no longer sees it, in the web space…
	pt.click(`button[value="masquer"]`)
	mustContain(pt, "masking", "Le document est masqué aux professionnels")
	maskedID := strings.TrimPrefix(pt.path(), "/patient/documents/")
	for _, id := range []string{labID, maskedID} {
		gp.open("/pro/dossier/" + key + "/documents/" + id)
		mustContain(gp, "GP after the mask", "Introuvable")
	}
	gp.open("/pro/dossier/" + key)
	if after := gp.lines(); after != before-1 {
		t.Errorf("the GP's list has %d lines after the mask, want %d", after, before-1)
	}
	// … and over the API.
	gpToken := demoToken(t, s, "gp")
	for _, id := range []string{labID, maskedID} {
		if code, _ := get(t, s.URL+"/DocumentReference/"+id, gpToken); code != 404 {
			t.Errorf("GET /DocumentReference/%s as the GP after the mask: %d, want 404", id, code)
		}
	}
	if code, body := get(t, s.URL+"/DocumentReference?patient.identifier="+url.QueryEscape(ins.System+"|"+ins.Value)+"&_count=200", gpToken); code != 200 || strings.Contains(fmt.Sprint(body), maskedID) {
		t.Errorf("the GP's ITI-67 search after the mask: %d, lists the masked document: %v", code, strings.Contains(fmt.Sprint(body), maskedID))
	}

	step("mask checks")
	// The history: the GP's access is there, verified in the browser.
	pt.open("/patient/historique")
	vstart := time.Now()
	state, text := pt.verification()
	t.Logf("history verified in %v", time.Since(vstart))
	if state != "verifie" || !strings.Contains(text, "✓ Vérifié") {
		t.Fatalf("history not verified: %s\n%s", state, text)
	}
	mustContain(pt, "history", "Hélène", "✓ vérifié")
	if !strings.Contains(text, "Première vérification") {
		t.Errorf("first check: %s", text)
	}
	pt.axe("access history")
	// Another visit, after more accesses: checked consistent with the first.
	gp.open("/pro/dossier/" + key)
	pt.open("/patient/historique")
	if state, text := pt.verification(); state != "verifie" || !strings.Contains(text, "prolonge celui que ce navigateur a vérifié") {
		t.Errorf("second visit: %s\n%s", state, text)
	}
	// A tampered proof shows as not verified.
	pt.tamperProofs(true)
	pt.open("/patient/historique")
	state, text = pt.verification()
	if state != "non-verifie" || !strings.Contains(text, "Non vérifié") || strings.Contains(text, "✓ Vérifié") {
		t.Errorf("with tampered proofs the page says %s:\n%s", state, text)
	}
	if !strings.Contains(pt.text(), "✗ non vérifié") {
		t.Errorf("with tampered proofs no line says non vérifié:\n%s", pt.snippet())
	}
	pt.tamperProofs(false)

	step("history")
	// A cardiologist: the pastille view puts the new documents first, with
	// reasons; the card's link works in the browser and keeps since=.
	cardio := b.person(t, s.URL, a11y)
	cardio.login("cardio")
	cardio.openRecord(ins, "ouvrir")
	if !strings.HasPrefix(cardio.path(), "/pro/dossier/") {
		cardio.fill("#systeme", strings.TrimPrefix(ins.System, "urn:oid:"))
		cardio.fill("#ins", ins.Value)
		eval[bool](cardio, `document.querySelector('input[name="attestation"]').checked = true`)
		cardio.click(`button[value="relation"]`)
		mustContain(cardio, "care relationship", "La relation de soins est déclarée")
	}
	file(t, s, data, newDocuments(501, 2, ""))
	summary, link := cardLink(t, s, data, "cardio", ins)
	if !strings.HasPrefix(link, s.URL+"/pro/dossier/"+key+"?since=") || !strings.Contains(summary, "2 nouveaux documents") {
		t.Fatalf("the card: %q, link %q", summary, link)
	}
	cardio.open(strings.TrimPrefix(link, s.URL))
	newLines := eval[[]string](cardio, `Array.from(document.querySelectorAll("#h-nouveaux + ol > li")).map(li => li.innerText)`)
	if len(newLines) != 2 {
		t.Fatalf("the card's link shows %d new documents, want 2:\n%s", len(newLines), cardio.snippet())
	}
	for _, l := range newLines {
		if !strings.Contains(l, "nouveau depuis votre dernière visite") {
			t.Errorf("a new document without its reason: %q", l)
		}
	}
	if first := eval[string](cardio, `document.querySelector("ol.documents > li").innerText`); first != newLines[0] {
		t.Errorf("the first line is not a new document: %q", first)
	}
	cardio.axe("pastille view with new documents")
	cardio.open("/pro/dossier/" + key + "/tendances")
	if !eval[bool](cardio, `document.querySelectorAll("svg.graphe").length > 0`) {
		t.Errorf("no trend chart:\n%s", cardio.snippet())
	}
	mustContain(cardio, "trends", "valeurs de référence")
	cardio.axe("lab trends")

	step("cardio")
	// Bris de glace: refused without a reason, saying one is required; with
	// one, a banner for the whole emergency access.
	dentist := b.person(t, s.URL, a11y)
	dentist.login("dentist")
	dentist.openRecord(ins, "urgence")
	mustContain(dentist, "bris de glace without a reason", "Un motif est obligatoire")
	if dentist.path() != "/pro" {
		t.Errorf("bris de glace without a reason opened %s", dentist.path())
	}
	reason := "Patient inconscient aux urgences, recherche des antécédents"
	dentist.fill("#motif", reason)
	dentist.click(`button[value="urgence"]`)
	if !strings.HasPrefix(dentist.path(), "/pro/dossier/") {
		t.Fatalf("bris de glace with a reason: %s", dentist.snippet())
	}
	banner := func(where string) {
		t.Helper()
		txt := eval[string](dentist, `(document.getElementById("bandeau-urgence") || {innerText: ""}).innerText`)
		if !strings.Contains(txt, "bris de glace") || !strings.Contains(txt, reason) {
			t.Errorf("%s: emergency banner %q", where, txt)
		}
	}
	banner("the record")
	dentist.axe("emergency access")
	dentist.click(`ol.documents li h3 a`)
	banner("a document")
	pt.open("/patient/notifications")
	mustContain(pt, "notifications", "bris de glace", reason)
	pt.axe("notifications")
	pt.open("/patient/historique")
	mustContain(pt, "history", "URGENCE : bris de glace", reason)

	step("btg")
	// CSRF: a form posted without its token, or with another, changes
	// nothing.
	pt.open("/patient/choix")
	pt.axe("choices")
	for _, token := range []string{"", "jeton-d-une-autre-session"} {
		eval[bool](pt, fmt.Sprintf(`(() => { window.__carnetOld = true; const f = document.createElement("form"); f.method = "post"; f.action = "/patient/choix";
			for (const [k, v] of [["action", "secondaire"], ["opposition", "true"], ["csrf", %q]]) { if (k === "csrf" && !v) continue; const i = document.createElement("input"); i.type = "hidden"; i.name = k; i.value = v; f.appendChild(i); }
			document.body.appendChild(f); f.submit(); return true; })()`, token))
		pt.waitLoaded("forged form")
		mustContain(pt, "form without its CSRF token", "Formulaire refusé")
	}
	pt.open("/patient/choix")
	if eval[bool](pt, `document.querySelector('input[name="opposition"][value="true"]').checked`) {
		t.Error("a form without its CSRF token changed the secondary-use choice")
	}

	step("csrf")
	// A document whose title carries a script: shown as text, never run.
	payload := `<script>alert("titre")</script><img src=x onerror="alert('img')">`
	file(t, s, data, newDocuments(502, 1, payload))
	pt.open("/patient")
	mustContain(pt, "injected title", payload)
	id := eval[string](pt, fmt.Sprintf(`(() => { const a = Array.from(document.querySelectorAll("ul.documents a")).find(a => a.textContent === %q); return a ? a.getAttribute("href") : ""; })()`, payload))
	if id == "" {
		t.Fatalf("no link titled with the payload:\n%s", pt.snippet())
	}
	pt.open(id)
	mustContain(pt, "injected title", payload)
	time.Sleep(300 * time.Millisecond)
	pt.mu.Lock()
	if len(pt.dialogs) > 0 {
		t.Errorf("a script from a document title ran: %v", pt.dialogs)
	}
	pt.mu.Unlock()

	step("xss")
	// The legal representative of the minor acts for her.
	parent := b.person(t, s.URL, a11y)
	parent.login("parent2")
	mustContain(parent, "legal representative", "Représentant légal", "documents")
	if eval[int](parent, `document.querySelectorAll("ul.documents li").length`) == 0 {
		t.Errorf("the legal representative sees no document of the minor")
	}
	parent.click(`ul.documents li h2 a`)
	if eval[bool](parent, `!!document.querySelector('button[value="cacher-rl"]')`) {
		t.Error("a legal representative is offered to hide a document from legal representatives")
	}

	step("parent")
	// An auditor reads a history with the policy's reasons.
	auditor := b.person(t, s.URL, a11y)
	auditor.login("auditor")
	auditor.fill("#systeme", strings.TrimPrefix(ins.System, "urn:oid:"))
	auditor.fill("#ins", ins.Value)
	auditor.click(`form.formulaire button[type="submit"]`)
	mustContain(auditor, "auditor", "Hélène", "bris de glace")
	auditor.axe("auditor")

	step("auditor")
	// Logout ends the session: the old cookie no longer works.
	pt.click(`form[action="/deconnexion"] button`)
	mustContain(pt, "logout", "Vous êtes déconnecté")
	req, _ := http.NewRequest("GET", s.URL+"/patient", nil)
	req.AddCookie(&http.Cookie{Name: "carnet_session", Value: sessionCookie})
	res, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == 200 || !strings.Contains(res.Header.Get("Location"), "/demo-idp/authorize") {
		t.Errorf("the cookie of a logged-out session: %d, Location %q; want a redirect to the login", res.StatusCode, res.Header.Get("Location"))
	}
}

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
