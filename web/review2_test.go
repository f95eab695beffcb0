package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/internal/testenv"
)

// The second hostile review's findings on the web spaces (see
// httpapi/review2_test.go): each test fails on the code reviewed (9786dd2).

// Finding 4 (medium): every anonymous GET of a page that needs a session
// (and every GET /connexion) stores a pending session row — sealed, kept 10
// minutes, pruned hourly — before anyone authenticated. One client at the
// default rate limit (500/s) writes 1.8 million rows an hour; on the demo
// server 3,000 requests made 3,000 rows and 26 MB of WAL in 7 s. Expected:
// what a visitor who has not signed in costs the database is bounded (the
// pending login kept client-side, sealed, or a bounded number per client).
func TestReview2AnonymousVisitsStoreBoundedSessions(t *testing.T) {
	f := newFixture(t, testenv.SQLite, 1)
	const visits = 200
	for i := 0; i < visits; i++ {
		res, err := http.Get(f.srv.URL + "/patient/historique") // a fresh client each time: no cookie
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	// Counting the rows: everything expires by next year.
	far := f.clock.Now().Add(365 * 24 * time.Hour)
	n, err := f.env.Store.(carnet.SessionStore).PruneSessions(context.Background(), far, far)
	if err != nil {
		t.Fatal(err)
	}
	if n > visits/10 {
		t.Errorf("%d anonymous visits stored %d sessions", visits, n)
	}
}

// Finding 8 (low): the web's bris de glace reason accepts what the API's
// X-Access-Reason refuses (400): a right-to-left override (U+202E) and
// zero-width characters, shown as is in the patient's notification
// ("Motif déclaré : urgence ‮detacilpmoc‬ …", read reversed). validReason
// checks unicode.IsControl only, not format characters (Cf).
func TestReview2WebReasonRefusesFormatCharacters(t *testing.T) {
	f := newFixture(t, testenv.SQLite, 1)
	c := f.client(t)
	p := c.login("gp")
	form := url.Values{"csrf": {csrfOf(t, p)}, "systeme": {strings.TrimPrefix(f.ins.System, "urn:oid:")}, "ins": {f.ins.Value},
		"action": {"urgence"}, "motif": {"urgence \u202edetacilpmoc\u202c \u200b fin"}}
	r := c.post("/pro", form)
	if r.status != http.StatusBadRequest {
		t.Errorf("bris de glace with a right-to-left override in its reason: %d %s, want 400 as the API", r.status, r.url.Path)
	}
	notes, err := f.env.Service.Notifications(context.Background(), carnet.Request{Actor: carnet.Actor{Kind: carnet.ActorPatient, ID: f.ins}}, f.ins, carnet.NotificationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range notes {
		if strings.ContainsRune(n.Text, '\u202e') {
			t.Errorf("the patient is shown a reason with a right-to-left override: %q", n.Text)
		}
	}
}
