package main

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// The hardened exposure, end to end on a real `carnet serve`: TLS 1.2+
// with AEAD suites only, secure headers and HSTS on every answer (errors
// included), software authenticated by its client certificate through the
// map (an unmapped certificate refused), per-client budgets answered 429
// with an OperationOutcome and Retry-After, /healthz and /readyz, metrics
// on their own listener by route pattern with no id, INS or query in them,
// and a JSON access log that carries none either.
func TestHardenedExposure(t *testing.T) {
	pki := newPKI(t)
	idp := newIdP(t)
	data := t.TempDir()
	clients := filepath.Join(t.TempDir(), "clients.csv")
	// The certificate's software is that of the organisation whose
	// document it files below.
	org := carnet.OrgKey(filingsFor(4, 1, false)[0].author.OrgID)
	os.WriteFile(clients, []byte("# software certificates\n"+pki.clientKeyID+",lgc-cabinet-dupont,"+org+",system/DocumentReference.crus system/Binary.cr system/Patient.cru system/List.crs\n"), 0o600)
	metricsLn, _ := net.Listen("tcp", "127.0.0.1:0")
	metricsAddr := metricsLn.Addr().String()
	metricsLn.Close()
	logFile := filepath.Join(t.TempDir(), "carnet.log")
	s := startServe(t, append([]string{"--data", data, "--allow-test-ins",
		"--tls-cert", pki.certFile, "--tls-key", pki.keyFile, "--tls-client-ca", pki.caFile, "--tls-clients", clients,
		"--rate-limit", "5", "--rate-burst", "30", "--metrics-addr", metricsAddr, "--log-format", "json", "--log-file", logFile}, idp.args(t)...)...)
	cl := pki.client(false)

	// Only modern TLS.
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		c, err := tls.Dial("tcp", strings.TrimPrefix(s.URL, "https://"), &tls.Config{RootCAs: pki.pool, MaxVersion: v})
		if err == nil {
			c.Close()
			t.Errorf("TLS version %x accepted", v)
		}
	}
	c, err := tls.Dial("tcp", strings.TrimPrefix(s.URL, "https://"), &tls.Config{RootCAs: pki.pool, MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}})
	if err == nil {
		c.Close()
		t.Error("a CBC suite was accepted")
	}

	// Secure headers on every answer, an error included.
	f := filingsFor(4, 1, false)[0]
	q := url.Values{"patient.identifier": {f.ins.System + "|" + f.ins.Value}}
	res, _ := do(t, cl, "GET", s.URL+"/DocumentReference?"+q.Encode(), "", "", nil)
	if res.StatusCode != 401 {
		t.Fatalf("no token: %d", res.StatusCode)
	}
	for h, want := range map[string]string{"Strict-Transport-Security": "max-age=63072000", "X-Content-Type-Options": "nosniff",
		"X-Frame-Options": "DENY", "Content-Security-Policy": "default-src 'none'", "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"} {
		if !strings.Contains(res.Header.Get(h), want) {
			t.Errorf("header %s = %q, want %q", h, res.Header.Get(h), want)
		}
	}

	// Software by certificate: it files without a token.
	soft := pki.client(true)
	if res, b := do(t, soft, "POST", s.URL+"/", "", "application/fhir+json", f.body); res.StatusCode != 200 {
		t.Fatalf("filing by certificate: %d %s", res.StatusCode, b)
	}
	// A certificate of the right CA but not in the map is nobody.
	os.WriteFile(clients, []byte(""), 0o600) // the map is read at start: use another server
	other := startServe(t, append([]string{"--data", t.TempDir(), "--allow-test-ins", "--tls-cert", pki.certFile, "--tls-key", pki.keyFile,
		"--tls-client-ca", pki.caFile, "--tls-clients", clients}, idp.args(t)...)...)
	if res, _ := do(t, soft, "POST", other.URL+"/", "", "application/fhir+json", f.body); res.StatusCode != 401 {
		t.Errorf("an unmapped certificate filed: %d", res.StatusCode)
	}
	other.stop()

	// Health.
	if res, _ := do(t, cl, "GET", s.URL+"/healthz", "", "", nil); res.StatusCode != 200 {
		t.Errorf("/healthz: %d", res.StatusCode)
	}
	if res, b := do(t, cl, "GET", s.URL+"/readyz", "", "", nil); res.StatusCode != 200 || !strings.Contains(string(b), `"audit_log":"ok"`) {
		t.Errorf("/readyz: %d %s", res.StatusCode, b)
	}

	// Budgets: a burst over the limit is answered 429 with Retry-After.
	limited := 0
	for range 60 {
		res, b := do(t, cl, "GET", s.URL+"/metadata", "", "", nil)
		if res.StatusCode == 429 {
			limited++
			if res.Header.Get("Retry-After") == "" || !bytes.Contains(b, []byte(`"OperationOutcome"`)) || !bytes.Contains(b, []byte("throttled")) {
				t.Fatalf("429 without Retry-After or OperationOutcome: %v %s", res.Header, b)
			}
		}
	}
	if limited == 0 {
		t.Error("60 requests at once from one client were never limited (burst 30)")
	}

	// Metrics: on their own listener only, by route pattern, no ids.
	if res, _ := do(t, cl, "GET", s.URL+"/metrics", "", "", nil); res.StatusCode == 200 {
		t.Error("/metrics served on the public listener")
	}
	mres, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(mres.Body)
	mres.Body.Close()
	metrics := string(mb)
	for _, want := range []string{`carnet_http_requests_total{route="/DocumentReference",method="GET",code="401"}`, `route="/{$}",method="POST",code="200"`,
		"carnet_http_request_duration_seconds_bucket", "carnet_audit_append_lag_seconds", "carnet_sqlite_wal_bytes"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s:\n%s", want, metrics)
		}
	}
	time.Sleep(100 * time.Millisecond)
	logs, _ := os.ReadFile(logFile)
	for name, text := range map[string]string{"metrics": metrics, "log": string(logs)} {
		for _, secret := range []string{f.ins.Value, f.uid, "patient.identifier"} {
			if strings.Contains(text, secret) {
				t.Errorf("the %s carry %q", name, secret)
			}
		}
	}
	if !strings.Contains(string(logs), `"route":"/DocumentReference"`) {
		t.Errorf("no JSON access log line with its route pattern:\n%.2000s", logs)
	}
}
