package webhook_test

import (
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/synth"
	"github.com/carnet-sante/carnet/webhook"
)

// receiver is a notification gateway: it checks signatures and can be
// told to fail.
type receiver struct {
	secret []byte
	mu     sync.Mutex
	got    []webhook.Payload
	fail   bool
	bad    int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	sig := r.Header.Get(webhook.SignatureHeader)
	ts, _, _ := strings.Cut(strings.TrimPrefix(sig, "t="), ",")
	sec, _ := strconv.ParseInt(ts, 10, 64)
	if !hmac.Equal([]byte(sig), []byte(webhook.Sign(rc.secret, body, time.Unix(sec, 0)))) {
		rc.bad++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if rc.fail {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	var p webhook.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.got = append(rc.got, p)
}

// Notifications reach the gateway signed, in order, once each, and survive
// the gateway being down.
func TestDeliver(t *testing.T) {
	env := testenv.New(t, testenv.SQLite, testenv.Options{})
	ctx := testenv.Context(t, time.Minute)
	ds := synth.Generate(synth.Options{Seed: 51, Patients: 2, DocsPerPatient: 2})
	lgc := carnet.Request{Actor: carnet.Actor{Kind: carnet.ActorSystem, ID: carnet.Identifier{System: "urn:test", Value: "lgc"}}, RequestID: "t"}
	for i, d := range ds.Documents {
		p := ds.Patients[d.Patient]
		sub := carnet.Submission{Patient: p.INS, Set: carnet.SubmissionSet{UniqueID: d.UniqueID + ".set", SourceID: "1.2.250.1.999.2", ContentType: d.Meta.Type},
			Documents: []carnet.SubmittedDocument{{UniqueID: d.UniqueID, Meta: d.Meta, Content: d.Content, Path: "Bundle.entry[" + strconv.Itoa(i) + "]"}}}
		req := lgc // the software of the document's author's organisation
		req.Actor.Orgs = []carnet.Identifier{d.Meta.Authors[0].OrgID}
		if _, err := env.Service.Provide(ctx, req, sub); err != nil {
			t.Fatal(err)
		}
	}
	rc := &receiver{secret: []byte(strings.Repeat("k", 32)), fail: true}
	ts := httptest.NewServer(rc)
	defer ts.Close()
	s := &webhook.Sender{URL: ts.URL, Secret: rc.secret, Source: env.Service}
	if n, err := s.Deliver(ctx); err == nil || n != 0 {
		t.Fatalf("gateway down: delivered %d, err %v; want an error and none delivered", n, err)
	}
	rc.mu.Lock()
	rc.fail = false
	rc.mu.Unlock()
	// Each filing tells the patient of its document and of its author
	// joining the care team.
	n, err := s.Deliver(ctx)
	if err != nil || n != 2*len(ds.Documents) {
		t.Fatalf("delivered %d (err %v), want %d", n, err, 2*len(ds.Documents))
	}
	if n, err := s.Deliver(ctx); err != nil || n != 0 {
		t.Errorf("second round delivered %d again (err %v), want 0", n, err)
	}
	if rc.bad != 0 {
		t.Errorf("%d deliveries with a bad signature", rc.bad)
	}
	kinds := map[carnet.NotificationKind]int{}
	for i, p := range rc.got {
		kinds[p.Kind]++
		switch {
		case p.Patient.Value == "":
			t.Errorf("delivery %d names no patient: %+v", i, p)
		case p.Kind == carnet.NotifyNewDocument && !strings.Contains(p.Text, "nouveau document"):
			t.Errorf("delivery %d: %+v", i, p)
		case p.Kind == carnet.NotifyCareTeam && !strings.Contains(p.Text, "a rejoint votre équipe de soins"):
			t.Errorf("delivery %d: %+v", i, p)
		}
		if i > 0 && p.Time.Before(rc.got[i-1].Time) {
			t.Errorf("deliveries out of order at %d", i)
		}
		for _, d := range ds.Documents {
			if strings.Contains(p.Text, d.Meta.Title) {
				t.Errorf("a delivery carries a document title: %q", p.Text)
			}
		}
	}
	if kinds[carnet.NotifyNewDocument] != len(ds.Documents) || kinds[carnet.NotifyCareTeam] != len(ds.Documents) {
		t.Errorf("deliveries by kind %v, want %d new-document and %d care-team", kinds, len(ds.Documents), len(ds.Documents))
	}
}
