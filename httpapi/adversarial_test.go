package httpapi_test

// The adversarial suite: no write path grants or reveals access.
//
// What it generates. From a fixed seed, a sequence of writes against a real
// server over HTTP (internal/testenv, on SQLite and on PostgreSQL), by every
// kind of actor of docs/ACCESS.md: the patient, a legal representative,
// another patient, professionals of each profession of the demo (GP,
// cardiologist, nurse, dentist, SAMU physician, pharmacist, and the
// biologist whose lab reports his laboratory files), a centre-15
// regulator (token claim "centre15": true), software by client credentials
// with and without an organisation (finess claim), and professionals in
// bris de glace. The writes cover every endpoint that writes: ITI-65
// (POST /), ITI-105 (POST /DocumentReference), ITI-106
// ($generate-metadata), PATCH /DocumentReference/{id} (FHIRPath Patch and
// JSON Patch), POST and DELETE /Consent, PUT /Patient, CDS feedback, and
// emergency searches (which write notifications). Honest writes are mixed
// with hostile ones: forged authors (in the metadata and in a CDA header),
// replacements of others' documents, labels the actor may not set, status
// changes, replays of someone else's filing, declarations after a
// withdrawal or a block, ETREAT by non-regulators, reused uniqueIds,
// restrictions of hidden documents, reasons with control characters.
//
// What it checks, after every write:
//   - the write's outcome against docs/ACCESS.md, "Writes: who may file,
//     change and declare", written again as an independent function of its
//     tables (adversarial_rules_test.go): every accepted write is allowed,
//     every refused one is refused, with the answer the rules fix (403,
//     404, 409, 410, 400), and a refusal about a document the actor may not
//     read is answered exactly like the same write naming an absent id;
//   - what the write changed in the true state (read from the Store with
//     the Sealer, adversarial_truth_test.go): documents, labels, statuses,
//     the care team, consents, notifications, extracted items; a refused
//     write changes nothing;
//   - what the other actors see afterwards (adversarial_observe_test.go):
//     ITI-67 searches, reads by id (every version id), ITI-68 content,
//     ITI-66 lists, QEDm Observations, $relevant, the CDS card,
//     GET /Communication, GET /AuditEvent and the webhook's payloads
//     (webhook.Sender against a local receiver) are exactly what
//     policy.Engine, with the server's matrix, permits on the true state:
//     nothing the actor may not see, by id or by the canary word each
//     document's title and text carry, and nothing missing that they may
//     see; plus the rules of "What each person is told". After each write
//     everyone searches and reads the latest version of what it touched,
//     the patient side reads its notifications and history, and one
//     observer in turn looks at everything it touched on every path; at
//     the end every observer reads everything.
//
// Every broken rule fails the test once, listing what showed it, the step
// that first did and how often it recurred; the test logs the whole step
// sequence and the command that replays it. TestAdversarialCases runs,
// through the same checks, a curated sequence of short cases (issue 10's
// findings and the generator's), each failure naming its case.
//
// Running it longer: CARNET_ADVERSARIAL_STEPS=400 (default 45 steps after a
// prelude of 6, per backend) and CARNET_ADVERSARIAL_SEED=N (default 1):
//
//	CARNET_ADVERSARIAL_SEED=7 CARNET_ADVERSARIAL_STEPS=400 go test ./httpapi -run TestAdversarialWrites -v
//
// Under the race detector (CI), where a request costs about ten times more,
// the default is 12 steps with fewer observers ("lean"); setting
// CARNET_ADVERSARIAL_STEPS runs the full observation. PostgreSQL runs when
// CARNET_TEST_POSTGRES is set (always under CI=true).

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/policy"
	"github.com/carnet-sante/carnet/synth"
)

func TestAdversarialWrites(t *testing.T) {
	seed := advEnv(t, "CARNET_ADVERSARIAL_SEED", 1)
	steps, lean := advEnv(t, "CARNET_ADVERSARIAL_STEPS", 45), false
	if advRaceBuild && os.Getenv("CARNET_ADVERSARIAL_STEPS") == "" {
		steps, lean = 12, true
	}
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		r := newAdvRun(t, b, uint64(seed))
		r.lean = lean
		r.prelude()
		for range steps {
			r.run(r.draw(r.truth))
		}
		r.sweep()
		r.report(fmt.Sprintf("CARNET_ADVERSARIAL_SEED=%d CARNET_ADVERSARIAL_STEPS=%d go test ./httpapi -run 'TestAdversarialWrites/%s' -v", seed, steps, b.Name))
	})
}

func advEnv(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a number", name, v)
	}
	return n
}

// advRun is one run: a server, the cast, the steps so far and what they
// showed.
type advRun struct {
	t         *testing.T
	env       *testenv.Env
	ctx       context.Context
	seed      uint64
	rnd       *rand.Rand
	cast      *advCast
	oracle    *policy.Engine
	templates advTemplates

	handles, uids int
	specs         map[string]*advDocSpec // by handle
	handleOf      map[string]string      // logicalId -> handle
	filer         map[string]string      // logicalId -> cast name of who filed it
	replaced      map[string]bool        // logicalIds superseded by a replacement
	// withdrawn are the RPPS the patient side withdrew from the care team
	// and has not granted access again since (docs/CONSENT.md): filing or
	// declaring does not put them back.
	withdrawn map[string]bool
	filedUIDs map[string]map[string]bool
	log       []*advLogEntry
	truth     *advTruth // after the last step
	deep      int       // the next observer looked at in depth

	openedDocs  map[string]carnet.Document
	openedItems map[string]carnet.Item
	openedNotes map[string]carnet.Notification

	// cases: a curated sequence, whose steps each show one case; a broken
	// rule is reported for each case that breaks it (writeNote is the
	// case of the write being checked).
	cases     bool
	writeNote string
	// lean: fewer observers, the full look every other step (a race
	// build, where each request costs ten times more).
	lean bool

	hook   *advHook
	absent map[string]advAbsentAnswer // the not-found answer each observer gets, by path
	fails  []*advFailure
}

type advAbsentAnswer struct {
	id   string
	resp response
}

// advLogEntry is a step as run.
type advLogEntry struct {
	step     advStep
	req      advRequest
	status   int
	accepted bool
	filer    string // the actor's filer key
}

func newAdvRun(t *testing.T, b testenv.Backend, seed uint64) *advRun {
	t.Helper()
	// The national matrix when ../shared is there (always in CI), as the
	// access tests do; the oracle decides with the same one.
	shared := testenv.HasShared(t)
	env := testenv.New(t, b, testenv.Options{AccessMatrix: shared})
	matrix := &policy.Matrix{}
	if shared {
		matrix = testenv.LoadMatrix(t)
	}
	r := &advRun{
		t: t, env: env, ctx: testenv.Context(t, 10*time.Minute), seed: seed,
		rnd: rand.New(rand.NewPCG(seed, 0x6164766572736172)), oracle: &policy.Engine{Matrix: matrix}, templates: newAdvTemplates(),
		specs: map[string]*advDocSpec{}, handleOf: map[string]string{}, filer: map[string]string{}, replaced: map[string]bool{}, withdrawn: map[string]bool{},
		filedUIDs: map[string]map[string]bool{}, absent: map[string]advAbsentAnswer{},
		openedDocs: map[string]carnet.Document{}, openedItems: map[string]carnet.Item{}, openedNotes: map[string]carnet.Notification{},
	}
	r.cast = newAdvCast(t, env)
	r.hook = newAdvHook(t, r)
	r.truth = r.readTruth()
	return r
}

// prelude files the record every sequence starts from: a lab report by
// the laboratory's software, the GP's consultation and psychiatric
// synthesis, a discharge letter hidden from the patient, a consultation
// hidden from the legal representatives, and a document of the patient.
func (r *advRun) prelude() {
	lab := r.cda("bio", synth.KindLabN3)
	consult := r.plain("11488-4", "10", []string{"gp"})
	psy := r.plain("68599-0", "10", []string{"gp"})
	letter := r.cda("cardio", synth.KindDischarge)
	letter.Labels = []string{carnet.LabelInvisiblePatient}
	minor := r.plain("11488-4", "10", []string{"gp"}, carnet.LabelInvisibleLegalRep)
	own := r.patientDocument(r.rnd)
	for _, s := range []*advStep{
		{Actor: "logiciel-labo", Kind: advFile, Docs: []*advDocSpec{lab}, Note: "prelude"},
		{Actor: "gp", Kind: advPublish, Docs: []*advDocSpec{consult}, Note: "prelude"},
		{Actor: "gp", Kind: advFile, Docs: []*advDocSpec{psy}, Note: "prelude"},
		{Actor: "logiciel-hôpital", Kind: advFile, Docs: []*advDocSpec{letter}, Note: "prelude"},
		{Actor: "gp", Kind: advFile, Docs: []*advDocSpec{minor}, Note: "prelude"},
		{Actor: "patient", Kind: advPublish, Docs: []*advDocSpec{own}, Note: "prelude"},
	} {
		r.run(s)
	}
}

// run sends one step and checks everything it may have changed.
func (r *advRun) run(s *advStep) {
	r.t.Helper()
	s.N = len(r.log) + 1
	for _, d := range s.Docs {
		r.specs[d.Handle] = d
	}
	before := r.readTruth()
	m := r.cast.get(s.Actor)
	var replayOf *advLogEntry
	var req advRequest
	if s.Kind == advReplay {
		replayOf = r.log[s.ReplayOf-1]
		req = replayOf.req
	} else {
		req = r.request(s, before)
	}
	v := r.verdict(s, m, replayOf, before)
	started := time.Now().UTC()
	resp := r.send(m, s, req)
	e := &advLogEntry{step: *s, req: req, status: resp.Status, accepted: resp.Status >= 200 && resp.Status < 300, filer: m.filerKey()}
	r.log = append(r.log, e)
	after := r.readTruth()

	if r.cases {
		r.writeNote = s.Note
	}
	r.checkOutcome(e, v, resp)
	if !e.accepted && v.Hidden {
		r.checkLikeAbsent(e, m, before, resp)
	}
	touched := r.checkEffects(e, m, v, replayOf, before, after, resp, started)
	r.writeNote = ""
	r.bookkeep(e, m, before, after)
	r.truth = after
	r.checkDerived(e, after)
	r.observe(e, after, touched)
	r.hook.deliver(e, after)
}

// verdict asks the write oracle.
func (r *advRun) verdict(s *advStep, m *advMember, replayOf *advLogEntry, tr *advTruth) advVerdict {
	switch s.Kind {
	case advFile, advPublish, advGenerate:
		return r.fileVerdict(m, s.Docs, s.Kind, nil, tr)
	case advReplay:
		return r.fileVerdict(m, replayOf.step.Docs, replayOf.step.Kind, replayOf, tr)
	case advPatch:
		return r.patchVerdict(m, s, tr)
	case advConsent:
		return r.consentVerdict(m, s.Consent, tr)
	case advRevoke:
		return r.revokeVerdict(m, s.Revoke, tr)
	case advFeed:
		return r.feedVerdict(m)
	case advEmergency:
		return r.emergencyVerdict(s)
	case advFeedback:
		return allow("CDS feedback is taken and changes nothing")
	}
	panic("adversarial: no verdict for " + string(s.Kind))
}

// send sends a request as m (CDS feedback: as a CDS Client, by its JWT).
func (r *advRun) send(m *advMember, s *advStep, req advRequest) response {
	tok := m.Token
	if s.Kind == advFeedback {
		tok = clientJWT(r.t, r.env)
	}
	return r.do(tok, req)
}

// do sends req with a bearer token.
func (r *advRun) do(token string, req advRequest) response {
	r.t.Helper()
	hr, err := http.NewRequestWithContext(r.ctx, req.Method, r.env.URL+req.Path, bytes.NewReader(req.Body))
	if err != nil {
		r.t.Fatal(err)
	}
	if req.ContentType != "" {
		hr.Header.Set("Content-Type", req.ContentType)
	}
	hr.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(req.Headers); i += 2 {
		hr.Header.Set(req.Headers[i], req.Headers[i+1])
	}
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		r.t.Fatalf("%s %s: %v", req.Method, req.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, b}
}

// bookkeep remembers who filed what and whom the patient withdrew, for
// the rules of later steps.
func (r *advRun) bookkeep(e *advLogEntry, m *advMember, before, after *advTruth) {
	if !e.accepted {
		return
	}
	s := &e.step
	switch {
	case s.Kind == advRevoke && m.patientSide() && s.Revoke.Kind == carnet.ConsentCareTeam:
		r.withdrawn[r.cast.get(s.Revoke.Pro).rpps()] = true
	case s.Kind == advConsent && m.patientSide() && (s.Consent.Kind == carnet.ConsentAccess || s.Consent.Kind == carnet.ConsentCareTeam):
		delete(r.withdrawn, r.cast.get(s.Consent.Pro).rpps())
	}
	for _, d := range after.Docs {
		if before.byID[d.Logical] != nil {
			continue
		}
		r.filer[d.Logical] = m.Name
		if r.filedUIDs[m.filerKey()] == nil {
			r.filedUIDs[m.filerKey()] = map[string]bool{}
		}
		r.filedUIDs[m.filerKey()][d.Versions[0].UniqueID] = true
		for _, rel := range d.Doc.Meta.RelatesTo {
			if t := before.doc(rel.Target); rel.Code == "replaces" && t != nil {
				r.replaced[t.Logical] = true
			}
		}
	}
}

// handle names a document the first time the truth shows it: by the
// canary of its title, with a suffix for a second copy (a replayed filing
// by another filer carries the same title).
func (r *advRun) handle(logical, title string) string {
	if h, ok := r.handleOf[logical]; ok {
		return h
	}
	m := advCanaryRE.FindString(title)
	if m == "" {
		return ""
	}
	n := 0
	for _, c := range m[3:] {
		n = n*26 + int(c-'a')
	}
	h := fmt.Sprintf("D%d", n)
	used := func(h string) bool {
		for _, x := range r.handleOf {
			if x == h {
				return true
			}
		}
		return false
	}
	for k := 2; used(h); k++ {
		h = fmt.Sprintf("D%d#%d", n, k)
	}
	r.handleOf[logical] = h
	return h
}

var advCanaryRE = regexp.MustCompile(`zkq[a-z]{4}`)

// canaryOf is the canary word of a handle ("D7#2" shares D7's).
func (r *advRun) canaryOf(h string) string {
	if h == "" {
		return ""
	}
	base, _, _ := strings.Cut(h, "#")
	return advCanary(base)
}

// ---- failures ----

// advFailure is one rule broken, at the first step that showed it.
type advFailure struct {
	key    string // what is broken, without the step's particulars
	rule   string
	step   int
	detail string
	count  int
}

// fail records a broken rule; the same key at a later step only counts.
func (r *advRun) fail(step int, rule, key, format string, args ...any) {
	if r.writeNote != "" {
		key += " [" + r.writeNote + "]" // each case of a curated sequence on its own
	}
	for _, f := range r.fails {
		if f.key == key {
			f.count++
			return
		}
	}
	r.fails = append(r.fails, &advFailure{key: key, rule: rule, step: step, detail: fmt.Sprintf(format, args...), count: 1})
}

// report fails the test once per broken rule, listing what showed it,
// and logs the sequence.
func (r *advRun) report(replay string) {
	t := r.t
	var seq strings.Builder
	for _, e := range r.log {
		fmt.Fprintf(&seq, "  %s → %d\n", e.step.String(), e.status)
	}
	if len(r.fails) == 0 {
		t.Logf("%d steps, no rule broken. Sequence:\n%s", len(r.log), seq.String())
		return
	}
	var rules []string
	byRule := map[string][]*advFailure{}
	for _, f := range r.fails {
		if byRule[f.rule] == nil {
			rules = append(rules, f.rule)
		}
		byRule[f.rule] = append(byRule[f.rule], f)
	}
	for _, rule := range rules {
		var b strings.Builder
		fmt.Fprintf(&b, "RULE: %s", rule)
		for _, f := range byRule[rule] {
			fmt.Fprintf(&b, "\n  - %s\n    first at step %d (%d time(s)): %s", f.key, f.step, f.count, f.detail)
		}
		t.Error(b.String())
	}
	t.Logf("%d failures of %d rules over %d steps. Replay: %s\nSequence:\n%s", len(r.fails), len(rules), len(r.log), replay, seq.String())
}

// ---- the outcome of a write ----

func (r *advRun) checkOutcome(e *advLogEntry, v advVerdict, resp response) {
	s := &e.step
	what := fmt.Sprintf("%s by %s", s.Kind, r.cast.get(s.Actor).kindName())
	if s.Kind == advPatch {
		what = "PATCH " + s.Change.String() + " by " + r.cast.get(s.Actor).kindName()
	}
	switch {
	case resp.Status >= 500:
		r.fail(s.N, "no write fails with a server error", "5xx: "+what, "%s: %d %s", s, resp.Status, clip(resp.Body))
	case v.Allowed && !e.accepted && !(v.Conflict && resp.Status == 409):
		r.fail(s.N, v.Rule, "refused, the rules allow: "+what, "%s: %d %s", s, resp.Status, clip(resp.Body))
	case !v.Allowed && e.accepted:
		r.fail(s.N, v.Rule, "accepted, the rules refuse: "+what, "%s: %d %s", s, resp.Status, clip(resp.Body))
	case !v.Allowed && v.Status != 0 && resp.Status != v.Status:
		r.fail(s.N, v.StatusRule, fmt.Sprintf("refused with %d, the rules say %d: %s", resp.Status, v.Status, what), "%s: %d %s", s, resp.Status, clip(resp.Body))
	case v.Replay && resp.Status != 200:
		r.fail(s.N, v.Rule, "an identical retry is not answered 200: "+what, "%s: %d", s, resp.Status)
	}
	if !e.accepted && resp.Status < 500 {
		// The ids the request named itself tell the caller nothing new.
		body := resp.Body
		for _, id := range uuidRE.FindAll(append([]byte(e.req.Path), e.req.Body...), -1) {
			body = bytes.ReplaceAll(body, id, []byte("<sent>"))
		}
		r.checkNoSecret(s.N, advObserver{Who: r.cast.get(s.Actor), Mode: s.Mode}, r.truth, "the refusal of "+string(s.Kind), body)
	}
}

// kindName says what sort of actor m is, for grouping failures.
func (m *advMember) kindName() string {
	switch {
	case m.Rep:
		return "a legal representative"
	case m.patientSide() && m.Name == "patient":
		return "the patient"
	case m.patientSide():
		return "another patient"
	case m.Centre15:
		return "a centre-15 regulator"
	case m.professional():
		return "a professional (" + m.Name + ")"
	case m.FINESS == "":
		return "software without organisation"
	}
	return "software"
}

// checkLikeAbsent: a refused write naming a document the actor may not
// read is answered exactly like the same write naming an id that does
// not exist. The probe is sent and must change nothing.
func (r *advRun) checkLikeAbsent(e *advLogEntry, m *advMember, before *advTruth, resp response) {
	s := &e.step
	var ids []string
	switch {
	case s.Kind == advPatch:
		if d := before.byHandle(s.Target); d != nil {
			ids = d.versionIDs()
		}
	case s.Kind == advConsent && s.Consent.Doc != "":
		if d := before.byHandle(s.Consent.Doc); d != nil {
			ids = d.versionIDs()
		}
	default:
		for _, d := range s.Docs {
			if t := before.byHandle(d.Replaces); t != nil {
				ids = append(ids, t.versionIDs()...)
			}
		}
	}
	if len(ids) == 0 {
		return
	}
	probe := e.req
	absent := carnet.NewID()
	for _, id := range ids {
		probe.Path = strings.ReplaceAll(probe.Path, id, absent)
		probe.Body = bytes.ReplaceAll(probe.Body, []byte(id), []byte(absent))
	}
	got := r.send(m, s, probe)
	if diff := sameAnswer(resp, got, ids, absent); diff != "" {
		r.fail(s.N, "a refusal about a document the actor may not read is answered like one about an absent id",
			"the refusal of "+string(s.Kind)+" by "+m.kindName()+" differs from the answer for an absent id",
			"%s: %s", s, diff)
	}
	if after := r.readTruth(); advFingerprint(after) != advFingerprint(before) {
		r.fail(s.N, "a write naming an absent document changes nothing", "the absent-id probe of "+string(s.Kind)+" changed the record", "%s", s)
	}
}

// sameAnswer compares two answers, the ids named replaced by a mark;
// "" when they are the same but for the request id and date.
func sameAnswer(a, b response, ids []string, absent string) string {
	norm := func(body []byte) []byte {
		for _, id := range append(slices.Clone(ids), absent) {
			body = bytes.ReplaceAll(body, []byte(id), []byte("<id>"))
		}
		return body
	}
	if a.Status != b.Status {
		return fmt.Sprintf("status %d, for an absent id %d (%s | %s)", a.Status, b.Status, clip(a.Body), clip(b.Body))
	}
	if !bytes.Equal(norm(a.Body), norm(b.Body)) {
		return fmt.Sprintf("body %s, for an absent id %s", clip(a.Body), clip(b.Body))
	}
	for k := range b.Header {
		if k != "X-Request-Id" && k != "Date" && k != "Location" && a.Header.Get(k) != b.Header.Get(k) {
			return fmt.Sprintf("header %s %q, for an absent id %q", k, a.Header.Get(k), b.Header.Get(k))
		}
	}
	return ""
}

func clip(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// ---- what a write changed ----

// advFingerprint is what a refused write must leave as it was: every
// document's versions, status and labels, the consents and withdrawals,
// and whether U got a record.
func advFingerprint(tr *advTruth) string {
	var b strings.Builder
	fmt.Fprintf(&b, "exists=%v u=%v\n", tr.Exists, tr.UExists)
	for _, d := range tr.Docs {
		fmt.Fprintf(&b, "%s v%d %s %v\n", d.Logical, len(d.Versions), d.Latest.Status, d.labels())
	}
	var cs []string
	for _, c := range tr.Patient.Consents {
		cs = append(cs, fmt.Sprintf("%s|%v|%s|%s", c.Kind, c.Permit, c.Professional.Value, c.Document))
	}
	sort.Strings(cs)
	fmt.Fprintf(&b, "consents %v", cs)
	return b.String()
}

// checkEffects compares what the write changed with what the rules say it
// must; it returns the documents the write touched, which every observer
// then reads.
func (r *advRun) checkEffects(e *advLogEntry, m *advMember, v advVerdict, replayOf *advLogEntry, before, after *advTruth, resp response, started time.Time) []*advTrueDoc {
	s := &e.step
	var touched []*advTrueDoc
	if e.accepted && !v.Allowed {
		// Already reported; what it changed follows from no rule. The
		// observers still look at what it filed.
		return newDocs(before, after)
	}
	if !e.accepted || v.Replay || s.Kind == advEmergency || s.Kind == advFeedback {
		if advFingerprint(after) != advFingerprint(before) {
			why := "a refused write changes nothing"
			switch {
			case e.accepted && v.Replay:
				why = "an identical retry changes nothing"
			case e.accepted:
				why = string(s.Kind) + " changes no document or consent"
			}
			r.fail(s.N, why, why+" ("+string(s.Kind)+" by "+m.kindName()+")", "%s: before %s\nafter %s", s, advFingerprint(before), advFingerprint(after))
		}
		if e.accepted && v.Replay && len(after.Notes) != len(before.Notes) {
			r.fail(s.N, v.Rule, "an identical retry notifies the patient again", "%s", s)
		}
		if !e.accepted && strings.Contains(v.Rule, "duplicate") {
			r.checkRecordedDenial(s, started, after)
		}
		if s.Kind == advEmergency && e.accepted {
			r.checkEmergency(e, m, before, after, resp)
		}
		return touched
	}
	switch s.Kind {
	case advFile, advPublish, advGenerate, advReplay:
		docs := s.Docs
		if replayOf != nil {
			docs = replayOf.step.Docs
		}
		touched = r.checkFiling(s, m, v, docs, before, after)
	case advPatch:
		touched = r.checkPatch(s, m, before, after, resp)
	case advConsent:
		touched = r.checkConsent(s, m, v, before, after)
	case advRevoke:
		r.checkRevoke(s, before, after)
	case advFeed:
		if s.Unknown && !after.UExists {
			r.fail(s.N, v.Rule, "an accepted identity feed created no record", "%s", s)
		}
	}
	return touched
}

func newDocs(before, after *advTruth) []*advTrueDoc {
	var out []*advTrueDoc
	for _, d := range after.Docs {
		if before.byID[d.Logical] == nil {
			out = append(out, d)
		}
	}
	return out
}

func (r *advRun) checkFiling(s *advStep, m *advMember, v advVerdict, docs []*advDocSpec, before, after *advTruth) []*advTrueDoc {
	filed := newDocs(before, after)
	if len(filed) == 0 && s.Kind == advReplay && len(docs) > 0 {
		r.fail(s.N, v.Rule, "another filer's identical filing is answered as a retry of theirs (nothing filed)", "%s", s)
		return nil
	}
	if len(filed) != len(docs) {
		r.fail(s.N, "a filing files its documents, all or nothing", "a filing made another number of documents than it sent",
			"%s: %d new documents, %d sent", s, len(filed), len(docs))
		return filed
	}
	touched := slices.Clone(filed)
	settings := before.settings()
	for i, d := range filed {
		spec := docs[i]
		want := slices.Clone(spec.Labels)
		if settings.MaskNew {
			want = append(want, carnet.LabelMasquePS)
		}
		if target := before.byHandle(spec.Replaces); target != nil {
			// The patient's choices on the target carry over.
			for _, l := range []string{carnet.LabelMasquePS, carnet.LabelInvisibleLegalRep} {
				if target.hasLabel(l) {
					want = append(want, l)
				}
			}
			if slices.Contains(settings.Restricted, target.Logical) && !slices.Contains(after.settings().Restricted, d.Logical) {
				r.fail(s.N, "the patient's choices on a document carry over to its replacements", "a replacement of a restricted document is not restricted", "%s: %s replaces %s", s, d.Handle, target.Handle)
			}
			now := after.byHandle(target.Handle)
			if now == nil || now.Latest.Status != carnet.StatusSuperseded {
				r.fail(s.N, "a replacement supersedes its target", "the replaced document is not superseded", "%s", s)
			}
			if now != nil {
				touched = append(touched, now)
			}
		}
		if got, w := d.labels(), sortedCopy(want); !slices.Equal(got, w) {
			rule, key := "a document is filed with the labels sent (and MASQUE_PS under mask-new)", "a filed document's labels are not the ones sent"
			if spec.Replaces != "" {
				rule, key = "the patient's choices on a document carry over to its replacements", "a replacement lost the target's MASQUE_PS or INVISIBLE_REPRESENTANTS_LEGAUX"
			}
			r.fail(s.N, rule, key, "%s: %s has labels %v, want %v", s, d.Handle, got, w)
		}
		if want := advFilerToken(m, r.env.Issuer.IssuerURL()); !slices.Contains(d.Latest.Tokens, carnet.Token{Kind: "filer", Value: want}) {
			r.fail(s.N, "what is filed carries who filed it (a clear filer token)", "no filer token "+strings.SplitN(want, "|", 2)[0]+"|… on a document filed by "+m.kindName(),
				"%s: %s has no token filer=%s", s, d.Handle, want)
		}
	}
	// The care team: exactly who the rules put in it.
	wantTeam := sortedCopy(append(before.careTeam(), v.Joiners...))
	if got := after.careTeam(); !slices.Equal(got, wantTeam) {
		r.fail(s.N, "a filing puts in the care team the professional filing, or the authors software files for; never one blocked or withdrawn",
			"the care team after a filing by "+m.kindName()+" is not what the rules say", "%s: care team %s, want %s", s, r.names(got), r.names(wantTeam))
	}
	// Every professional joining by filing is notified to the patient.
	for _, rpps := range after.careTeam() {
		if !slices.Contains(before.careTeam(), rpps) {
			if a, ok := r.authorOf(rpps); ok && !r.toldOf(a, before, after) {
				r.fail(s.N, "every professional joining the care team by filing is notified to the patient", "a professional joining by a filing of "+m.kindName()+" is not notified", "%s: %s", s, r.names([]string{rpps}))
			}
		}
	}
	// No filing without its notification (by someone else than the
	// patient side, of what the patient may see; one hidden from them is
	// announced when the label is lifted, which the observers check).
	told := map[string]bool{}
	for _, n := range after.Notes {
		if n.Kind == carnet.NotifyNewDocument {
			for _, id := range n.Documents {
				if d := after.doc(id); d != nil {
					told[d.Logical] = true
				}
			}
		}
	}
	patient := advObserver{Who: r.cast.get("patient"), Mode: carnet.ModeNormal}
	for _, d := range filed {
		if !m.patientSide() && r.couldSee(patient, after, d) && !told[d.Logical] {
			r.fail(s.N, "every filing is notified to the patient (written with it)", "a filing has no new-document notification", "%s: %s", s, d.Handle)
		}
	}
	return touched
}

// toldOf: a notification written between before and after names the
// professional (as who acted, or by name in its text).
func (r *advRun) toldOf(a carnet.Author, before, after *advTruth) bool {
	for _, n := range after.Notes {
		if slices.ContainsFunc(before.Notes, func(x carnet.Notification) bool { return x.ID == n.ID }) {
			continue
		}
		if n.Actor.ID.Value == a.ID.Value || strings.Contains(carnet.FoldName(n.Text), carnet.FoldName(a.Family)) {
			return true
		}
	}
	return false
}

// authorOf is the cast's professional with an RPPS.
func (r *advRun) authorOf(rpps string) (carnet.Author, bool) {
	for _, p := range advPros {
		if m := r.cast.get(p); m.rpps() == rpps {
			return m.Author, true
		}
	}
	return carnet.Author{}, false
}

// advFilerToken is the filer token docs/ACCESS.md names.
func advFilerToken(m *advMember, issuer string) string {
	switch {
	case m.professional():
		return "professional|" + m.rpps()
	case m.software():
		return "system|" + issuer + "|" + m.ClientID
	}
	return "patient"
}

// names writes RPPS as cast names.
func (r *advRun) names(rpps []string) string {
	var out []string
	for _, id := range rpps {
		name := id
		for _, p := range advPros {
			if r.cast.get(p).rpps() == id {
				name = p
			}
		}
		out = append(out, name)
	}
	return "[" + strings.Join(out, " ") + "]"
}

func (r *advRun) checkPatch(s *advStep, m *advMember, before, after *advTruth, resp response) []*advTrueDoc {
	b, a := before.byHandle(s.Target), after.byHandle(s.Target)
	if b == nil || a == nil {
		return nil
	}
	if len(a.Versions) != len(b.Versions)+1 {
		r.fail(s.N, "a PDSm change makes one new metadata version", "a change did not make one new version", "%s: %d versions, was %d", s, len(a.Versions), len(b.Versions))
	}
	want := slices.DeleteFunc(b.labels(), func(l string) bool { return slices.Contains(s.Change.Remove, l) })
	want = sortedCopy(append(want, s.Change.Add...))
	if got := a.labels(); !slices.Equal(got, want) {
		r.fail(s.N, "a change changes the labels it names, no others", "the labels after a change are not the ones asked", "%s: %v, want %v", s, got, want)
	}
	wantStatus := b.Latest.Status
	switch s.Change.Status {
	case "archive":
		wantStatus = carnet.StatusArchived
	case "unarchive", "current":
		wantStatus = carnet.StatusCurrent
	case "superseded":
		wantStatus = carnet.StatusSuperseded
	case "delete":
		wantStatus = carnet.StatusDeleted
	}
	if a.Latest.Status != wantStatus {
		r.fail(s.N, "a change sets the status it names", "the status after a change is not the one asked", "%s: %s, want %s", s, a.Latest.Status, wantStatus)
	}
	// The answer carries the new version only if the caller may read it.
	// A deleted document is read by no one: its author may be answered
	// either way.
	o := advObserver{Who: m, Mode: carnet.ModeNormal}
	reads, couldRead := r.sees(o, after, a), r.couldSee(o, after, a)
	isDoc := bytes.Contains(resp.Body, []byte(`"resourceType":"DocumentReference"`))
	if !couldRead && isDoc {
		r.fail(s.N, "the answer to a change carries the new version only if the caller may read it",
			"a change answered with the document to "+m.kindName()+", who may not read it", "%s: %s", s, clip(resp.Body))
	}
	if reads && !isDoc {
		r.fail(s.N, "the answer to a change carries the new version to a caller who may read it", "a change answered without the document to "+m.kindName(), "%s: %s", s, clip(resp.Body))
	}
	return []*advTrueDoc{a}
}

// expectConsents applies a choice to the record's consents the way
// docs/CONSENT.md says: it replaces the same choice made before.
func (r *advRun) expectConsents(cs []carnet.Consent, c carnet.Consent) []string {
	same := func(a carnet.Consent) bool {
		if a.Kind != c.Kind {
			return false
		}
		switch {
		case c.Kind.Toggle():
			return true
		case c.Kind.NamesProfessional():
			return a.Professional.Value == c.Professional.Value
		case c.Kind == carnet.ConsentRestrict:
			return a.Document == c.Document
		}
		return false
	}
	out := []string{consentKey(c)}
	for _, x := range cs {
		if !same(x) {
			out = append(out, consentKey(x))
		}
	}
	sort.Strings(out)
	return out
}

func consentKey(c carnet.Consent) string {
	return fmt.Sprintf("%s|%v|%s|%s", c.Kind, c.Permit, c.Professional.Value, c.Document)
}

func consentKeys(cs []carnet.Consent) []string {
	var out []string
	for _, c := range cs {
		out = append(out, consentKey(c))
	}
	sort.Strings(out)
	return out
}

func (r *advRun) checkConsent(s *advStep, m *advMember, v advVerdict, before, after *advTruth) []*advTrueDoc {
	c := carnet.Consent{Kind: s.Consent.Kind, Permit: s.Consent.Permit}
	if c.Kind.NamesProfessional() {
		c.Permit = c.Kind != carnet.ConsentBlock
	}
	if c.Kind == carnet.ConsentRestrict {
		c.Permit = false
	}
	if s.Consent.Pro != "" {
		c.Professional = r.cast.get(s.Consent.Pro).Author.ID
	}
	var touched []*advTrueDoc
	if d := before.byHandle(s.Consent.Doc); d != nil {
		c.Document = d.Logical
		touched = append(touched, after.byHandle(s.Consent.Doc))
	}
	if m.patientSide() && c.Kind == carnet.ConsentCareTeam {
		c.Kind = carnet.ConsentAccess // the patient's word is explicit consent
	}
	if got, want := consentKeys(after.Patient.Consents), r.expectConsents(before.Patient.Consents, c); !slices.Equal(got, want) {
		r.fail(s.N, "a choice replaces the same choice made before, and nothing else", "the consents after "+string(c.Kind)+" by "+m.kindName()+" are not what was asked",
			"%s: %v, want %v", s, got, want)
	}
	if m.professional() && !slices.Contains(before.careTeam(), m.rpps()) && !r.toldOf(m.Author, before, after) {
		r.fail(s.N, "every declaration is notified to the patient", "a professional joining by declaration is not notified to the patient", "%s", s)
	}
	return touched
}

func (r *advRun) checkRevoke(s *advStep, before, after *advTruth) {
	c := r.consentOf(s.Revoke, before)
	if c == nil {
		return
	}
	if slices.ContainsFunc(after.Patient.Consents, func(x carnet.Consent) bool { return x.ID == c.ID }) {
		r.fail(s.N, "a withdrawn consent is gone", "a consent withdrawn by the patient side is still there", "%s", s)
	}
}

// checkRecordedDenial: a refused duplicate is recorded in the history.
func (r *advRun) checkRecordedDenial(s *advStep, since time.Time, tr *advTruth) {
	rows, err := r.store().FindAudit(r.ctx, tr.Row.Key, carnet.AuditFilter{Time: carnet.TimeRange{From: since.Add(-time.Second)}})
	if err != nil {
		r.t.Fatalf("audit: %v", err)
	}
	for _, row := range rows {
		ev, err := carnet.OpenAuditEvent(r.ctx, r.sealer(), row)
		if err == nil && ev.Outcome == carnet.OutcomeDenied && ev.Action == carnet.ActionCreate && ev.Time.After(since.Add(-time.Second)) {
			return
		}
	}
	r.fail(s.N, "a refused duplicate uniqueId is recorded in the patient's history", "a refused duplicate filing is not in the history", "%s", s)
}

// checkEmergency: an emergency search finds what the oracle permits in
// its mode, and a permitted one is notified to the patient.
func (r *advRun) checkEmergency(e *advLogEntry, m *advMember, before, after *advTruth, resp response) {
	s := &e.step
	o := advObserver{Who: m, Mode: s.Mode, Reason: s.Reason}
	r.checkSearchBody(s.N, o, after, resp)
	if !r.searchable(o, after) {
		return
	}
	for _, n := range after.Notes {
		if n.Kind == carnet.NotifyEmergency && n.Actor.ID.Value == m.rpps() && !slices.ContainsFunc(before.Notes, func(x carnet.Notification) bool { return x.ID == n.ID }) {
			return
		}
	}
	r.fail(s.N, "every emergency access is notified to the patient", "a permitted emergency access is not notified", "%s", s)
}

// checkDerived: what is derived from a document is never destroyed by a
// reversible change: a current or archived document keeps its items.
func (r *advRun) checkDerived(e *advLogEntry, tr *advTruth) {
	for _, d := range tr.Docs {
		spec := r.specs[strings.SplitN(d.Handle, "#", 2)[0]]
		if spec == nil || spec.Results == 0 || r.replaced[d.Logical] {
			continue
		}
		if d.Latest.Status != carnet.StatusCurrent && d.Latest.Status != carnet.StatusArchived {
			continue
		}
		n := 0
		for _, it := range tr.Items {
			if it.SourceLogicalID == d.Logical {
				n++
			}
		}
		if n < spec.Results {
			r.fail(e.step.N, "derived data is never destroyed by a reversible change", "a current document lost its extracted items",
				"after %s: %s (%s) has %d items, its CDA carries %d results", e.step.String(), d.Handle, d.Latest.Status, n, spec.Results)
		}
	}
}
