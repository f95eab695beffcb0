// Package testenv assembles real Carnet parts for end-to-end tests and
// benchmarks: a real SQLite file or PostgreSQL schema, a real key file, the
// national value sets from ../shared when present, the HTTP API on a real
// loopback listener. Nothing here is a mock.
package testenv

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/ci"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auditlog"
	"github.com/carnet-sante/carnet/auth"
	"github.com/carnet-sante/carnet/cda"
	"github.com/carnet-sante/carnet/edge"
	"github.com/carnet-sante/carnet/fulltext"
	"github.com/carnet-sante/carnet/httpapi"
	"github.com/carnet-sante/carnet/pastille"
	"github.com/carnet-sante/carnet/policy"
	"github.com/carnet-sante/carnet/postgres"
	"github.com/carnet-sante/carnet/postgres/pgtest"
	"github.com/carnet-sante/carnet/qedm"
	"github.com/carnet-sante/carnet/record"
	"github.com/carnet-sante/carnet/seal"
	"github.com/carnet-sante/carnet/secondary"
	"github.com/carnet-sante/carnet/sqlite"
	"github.com/carnet-sante/carnet/terminology"
	"github.com/carnet-sante/carnet/xds"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for tampering tests
	_ "modernc.org/sqlite"             // database/sql driver "sqlite", for tampering tests
)

// ModuleRoot returns the directory holding go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// Shared returns a path under ../shared (the corpus and reference data,
// never copied into the repository). Where it is absent the test is skipped
// with a message, except under CI=true where it fails.
func Shared(t testing.TB, rel ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{ModuleRoot(t), "..", "shared"}, rel...)...)
	if _, err := os.Stat(p); err != nil {
		if ci.Enforced() {
			t.Fatalf("%s is missing: CI must run the tests that read ../shared", p)
		}
		t.Skipf("skipped: %s is absent (the shared corpus sits beside the repository in CI)", p)
	}
	return p
}

// NPMPackage returns the directory of an npm package's files
// (node_modules/name/package, as npm pack unpacks them: scripts/fetch-ips-ig.sh
// for the IPS implementation guide). Where it is absent the test is skipped
// with a message, except under CI=true where it fails (.ci/run fetches it).
func NPMPackage(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(ModuleRoot(t), "node_modules", name, "package")
	if _, err := os.Stat(filepath.Join(p, "package.json")); err != nil {
		if ci.Enforced() {
			t.Fatalf("%s is missing: CI fetches it (.ci/run)", p)
		}
		t.Skipf("skipped: %s is absent (run scripts/fetch-ips-ig.sh)", p)
	}
	return p
}

// HasShared reports whether ../shared is there (always under CI=true,
// where its absence fails the tests that read it).
func HasShared(t testing.TB) bool {
	t.Helper()
	_, err := os.Stat(filepath.Join(ModuleRoot(t), "..", "shared"))
	return err == nil || ci.Enforced()
}

// Backend opens a fresh, empty Store. It also returns where its files are
// (SQLite; "" for PostgreSQL) and a direct SQL connection to the same
// database, for tests that tamper with rows behind the Store's back.
type Backend struct {
	Name string
	Open func(t testing.TB) (store carnet.Store, dir string, db *sql.DB)
}

// SQLite is the embedded backend on a fresh file.
var SQLite = Backend{Name: "sqlite", Open: func(t testing.TB) (carnet.Store, string, *sql.DB) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "carnet.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return s, dir, db
}}

// Postgres is the PostgreSQL backend on a fresh schema; it skips (fails in
// CI) without CARNET_TEST_POSTGRES.
var Postgres = Backend{Name: "postgres", Open: func(t testing.TB) (carnet.Store, string, *sql.DB) {
	t.Helper()
	dsn := pgtest.DSN(t)
	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return s, "", db
}}

// Backends are both backends; run end-to-end tests on each as subtests.
var Backends = []Backend{SQLite, Postgres}

// Env is a wired Carnet for one test.
type Env struct {
	Store   carnet.Store
	DB      *sql.DB // the same database, directly
	Dir     string  // the data directory (SQLite file, WAL, key file); "" on PostgreSQL, where only the key file lives in KeyDir
	KeyDir  string
	Keyring *seal.Keyring
	Service *record.Service
	// Secondary is secondary use under data permits (docs/SECONDARY.md).
	Secondary *secondary.Service
	Server    *httptest.Server
	URL       string
	// Issuer is the test identity provider the server trusts (the demo
	// issuer, mounted at URL/demo-idp): tests hold real signed tokens.
	Issuer *auth.DemoIssuer
	// Audit is the tamper-evident log every access is recorded in (nil
	// with Options.NoAudit).
	Audit *auditlog.Deployment
	// Authenticate is the server's authentication (the Issuer's tokens),
	// for tests that mount a second node on the same Service.
	Authenticate func(*http.Request) (carnet.Actor, error)

	cfg      httpapi.Config
	xdsCfg   xds.Config
	api, xds atomic.Pointer[http.Handler]
	// apiServer is the current HTTP API, closed when it is replaced
	// (Restart) or at the end.
	apiServer *httpapi.Server
}

// Restart replaces the Service and the HTTP handlers with new ones on the
// same store, keys and audit log, as a restarted server: nothing a
// process keeps in memory (the point-of-care caches, say) survives.
// Env.Service is the new Service.
func (e *Env) Restart(t testing.TB) {
	t.Helper()
	old := e.Service
	// A new sealer too: its data keys are read again, as after a restart.
	svc := &record.Service{Store: old.Store, Sealer: seal.New(e.Keyring, seal.StoreKeys(e.Store)), Policy: old.Policy, Audit: old.Audit, Clock: old.Clock,
		Terminology: old.Terminology, Index: old.Index, Extractor: old.Extractor, Concepts: old.Concepts,
		WarmOnChange: old.WarmOnChange, Logger: old.Logger, AllowTestINS: old.AllowTestINS,
		DefaultCount: old.DefaultCount, MaxCount: old.MaxCount}
	e.Service = svc
	e.cfg.Service, e.xdsCfg.Service = svc, svc
	api := httpapi.New(e.cfg)
	var h, x http.Handler = api, xds.New(e.xdsCfg)
	e.api.Store(&h)
	e.xds.Store(&x)
	// The old server is gone, as a stopped process: its background form
	// writes land, and nothing keeps its memory (a test restarting many
	// times would otherwise hold every old server's caches).
	old.FlushCareForms()
	e.apiServer.Close()
	e.apiServer = api
}

// Audience is the audience test tokens carry and the server requires.
const Audience = "carnet-test"

// Token returns a signed token for a demo user (gp, cardio, nurse,
// dentist, samu, pharma, patient0…patient3, lgc).
func (e *Env) Token(t testing.TB, user string) string {
	t.Helper()
	tok, err := e.Issuer.Mint(user, Audience, time.Hour)
	if err != nil {
		t.Fatalf("token for %s: %v", user, err)
	}
	return tok
}

// PatientToken returns a signed token for the patient with INS ins (or,
// with representative, for their legal representative).
func (e *Env) PatientToken(t testing.TB, ins carnet.Identifier, representative bool) string {
	t.Helper()
	c := map[string]any{auth.ClaimINS: ins.Value, auth.ClaimINSSystem: ins.System, auth.ClaimName: "Patient de test",
		auth.ClaimScope: "patient/*.cruds"}
	if representative {
		c[auth.ClaimRepresentative] = true
	}
	tok, err := e.Issuer.Issue(carnet.ActorPatient, c, Audience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// ProfessionalToken returns a signed token for professional a (RPPS in
// a.ID, profession and specialty codes from a), with SMART scopes scope
// (default user/*.cruds).
func (e *Env) ProfessionalToken(t testing.TB, a carnet.Author, scope string) string {
	t.Helper()
	if scope == "" {
		scope = "user/*.cruds"
	}
	c := map[string]any{auth.ClaimRPPS: a.ID.Value, auth.ClaimProfession: a.Profession.Code,
		auth.ClaimName: strings.TrimSpace(strings.Join(a.Given, " ") + " " + a.Family), auth.ClaimScope: scope}
	if a.Specialty.Code != "" {
		c[auth.ClaimSpecialty] = a.Specialty.Code
	}
	tok, err := e.Issuer.Issue(carnet.ActorProfessional, c, Audience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// SoftwareToken returns a signed token for producing software (client
// credentials) acting for the organisations of authors: it may file their
// documents (docs/ACCESS.md, "Who may file for whom").
func (e *Env) SoftwareToken(t testing.TB, clientID string, authors ...carnet.Author) string {
	t.Helper()
	var orgs []string
	for _, a := range authors {
		if k := carnet.OrgKey(a.OrgID); k != "" && !slices.Contains(orgs, k) {
			orgs = append(orgs, k)
		}
	}
	tok, err := e.Issuer.Issue(carnet.ActorSystem, map[string]any{auth.ClaimClientID: clientID, auth.ClaimScope: "system/*.cruds",
		auth.ClaimFINESS: orgs}, Audience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// OperatorToken returns a signed token for the deployment operator's
// client, which manages data permits (carnet_operator, system/Permit.cruds).
func (e *Env) OperatorToken(t testing.TB) string {
	t.Helper()
	tok, err := e.Issuer.Issue(carnet.ActorSystem, map[string]any{auth.ClaimClientID: "operateur", auth.ClaimOperator: true,
		auth.ClaimScope: "system/Permit.cruds"}, Audience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// PermitToken returns a signed client-credentials token of clientID with
// the scope of each permit id (permit/<id>): a data permit's recipient.
func (e *Env) PermitToken(t testing.TB, clientID string, permits ...string) string {
	t.Helper()
	var scopes []string
	for _, p := range permits {
		scopes = append(scopes, secondary.ScopePrefix+p)
	}
	tok, err := e.Issuer.Issue(carnet.ActorSystem, map[string]any{auth.ClaimClientID: clientID,
		auth.ClaimScope: strings.Join(scopes, " ")}, Audience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Options adjust a test environment.
type Options struct {
	// ValueSets loads the national value sets from ../shared (skipping the
	// test where they are absent). Without it codes are not checked.
	ValueSets bool
	Clock     carnet.Clock
	// AccessMatrix loads the partial national access matrix from ../shared
	// (skipping the test where it is absent). Without it professions read
	// every document type.
	AccessMatrix bool
	// NoAudit records nothing (carnet.NoAuditor): only for measuring what
	// auditing costs.
	NoAudit bool
	// KeyDir keeps the key files (data keys, audit log, demo issuer) in a
	// directory of the caller's instead of the data directory or a
	// temporary one: a store kept between runs (a benchmark's filled
	// PostgreSQL database) is opened again with its keys.
	KeyDir string
	// Bodies bounds the request bodies the server holds at once (the
	// FHIR API and XDS.b), as `carnet serve --max-body-in-flight` does.
	Bodies *edge.BodyBudget
}

// bodiesOf keeps a nil budget a nil interface.
func bodiesOf(b *edge.BodyBudget) httpapi.BodyReserver {
	if b == nil {
		return nil
	}
	return b
}

// New wires a Service and the HTTP API on a fresh store of backend b, with
// a new key file, in test mode (test INS accepted).
func New(t testing.TB, b Backend, o Options) *Env {
	t.Helper()
	store, dir, db := b.Open(t)
	keyDir := dir
	if o.KeyDir != "" {
		keyDir = o.KeyDir
	} else if keyDir == "" {
		keyDir = t.TempDir()
	}
	kr, err := seal.LoadOrCreateKeyFile(filepath.Join(keyDir, seal.KeyFileName), true)
	if err != nil {
		t.Fatalf("key file: %v", err)
	}
	var terms carnet.Terminology = terminology.Unchecked{}
	if o.ValueSets {
		set, err := terminology.LoadDir(Shared(t, "reference", "ci-sis-jdv"))
		if err != nil {
			t.Fatalf("load value sets: %v", err)
		}
		terms = set
	}
	clock := o.Clock
	if clock == nil {
		clock = carnet.SystemClock{}
	}
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	engine := &policy.Engine{Matrix: &policy.Matrix{}}
	if o.AccessMatrix {
		engine.Matrix = LoadMatrix(t)
	}
	sealer := seal.New(kr, seal.StoreKeys(store))
	svc := &record.Service{
		Store: store, Sealer: sealer,
		Policy: engine, Audit: carnet.NoAuditor{},
		Clock: clock, Terminology: terms, Extractor: qedm.Extractor{Formats: Formats(t)}, Index: fulltext.Indexer{}, Concepts: pastille.ConceptReader{}, Logger: logger, AllowTestINS: true,
	}
	// The point-of-care forms written in the background are written
	// before the store closes.
	var audit *auditlog.Deployment
	if !o.NoAudit {
		audit, err = auditlog.OpenDeployment(context.Background(), store, sealer, keyDir, "carnet.test/audit", true, clock)
		if err != nil {
			t.Fatalf("audit log: %v", err)
		}
		t.Cleanup(func() { audit.Close() })
		svc.Audit = audit.Recorder
	}
	issuer, err := auth.NewDemoIssuer(keyDir, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv := httptest.NewUnstartedServer(mux)
	srv.Start()
	t.Cleanup(srv.Close)
	issuer.SetIssuerURL(srv.URL + "/demo-idp")
	verifier, err := auth.NewVerifier(auth.Config{Issuers: []auth.Issuer{{URL: issuer.IssuerURL(), Audience: Audience}},
		OperatorIssuers: []string{issuer.IssuerURL()}, AllowTestINS: true, HTTPClient: issuer.Client()})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/demo-idp/", http.StripPrefix("/demo-idp", issuer))
	cds, err := auth.NewVerifier(auth.Config{Issuers: []auth.Issuer{{URL: issuer.IssuerURL(), Audience: srv.URL + "/cds-services/" + httpapi.PastilleService}},
		AllowTestINS: true, HTTPClient: issuer.Client()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := httpapi.Config{Service: svc, Logger: logger, Version: "test", Authenticate: verifier.Authenticate, Bodies: bodiesOf(o.Bodies),
		CDS: &httpapi.CDSConfig{Client: cds.VerifyClient, User: func(ctx context.Context, raw string) (carnet.Actor, error) {
			p, err := verifier.Verify(ctx, raw)
			if err != nil {
				return carnet.Actor{}, err
			}
			return p.Actor, nil
		}}}
	if audit != nil {
		cfg.AuditLog = audit
	}
	sec := &secondary.Service{Store: store, Permits: store.(carnet.PermitStore), Sealer: sealer, Audit: svc.Audit, Clock: clock, Logger: logger}
	cfg.Secondary, cfg.BulkDir = sec, t.TempDir()
	api := httpapi.New(cfg)
	xcfg := xds.Config{Service: svc, Logger: logger, Authenticate: verifier.Authenticate}
	if o.Bodies != nil {
		xcfg.Bodies = o.Bodies
	}
	e := &Env{Store: store, DB: db, Dir: dir, KeyDir: keyDir, Keyring: kr, Service: svc, Secondary: sec, Server: srv, URL: srv.URL, Issuer: issuer, Audit: audit,
		Authenticate: verifier.Authenticate, cfg: cfg, xdsCfg: xcfg, apiServer: api}
	// The current server's (after Restart, the last one's) background form
	// writes land before the store closes.
	t.Cleanup(func() {
		e.Service.FlushCareForms()
		e.apiServer.Close()
	})
	var h, x http.Handler = api, xds.New(xcfg)
	e.api.Store(&h)
	e.xds.Store(&x)
	// Through pointers, so that Restart can swap them.
	mux.Handle("/xds/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*e.xds.Load()).ServeHTTP(w, r) }))
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*e.api.Load()).ServeHTTP(w, r) }))
	return e
}

// LoadMatrix returns the partial national access matrix from ../shared.
func LoadMatrix(t testing.TB) *policy.Matrix {
	t.Helper()
	f, err := os.Open(Shared(t, "reference", "access-matrix-partial.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := policy.LoadMatrix(f)
	if err != nil {
		t.Fatalf("access matrix: %v", err)
	}
	return m
}

// Formats returns the CI-SIS volet table from ../shared, as the server
// loads it with --ci-sis-formats; nil where ../shared is absent (outside
// CI), so that CDA formatCodes are then not derived.
func Formats(t testing.TB) *cda.FormatTable {
	t.Helper()
	if !HasShared(t) {
		return nil
	}
	f, err := cda.LoadFormatsFile(Shared(t, "reference", "ci-sis-formats.csv"))
	if err != nil {
		t.Fatalf("CI-SIS format table: %v", err)
	}
	return f
}

// LoadValueSets returns the national value sets from ../shared.
func LoadValueSets(t testing.TB) *terminology.Set {
	t.Helper()
	set, err := terminology.LoadDir(Shared(t, "reference", "ci-sis-jdv"))
	if err != nil {
		t.Fatalf("load value sets: %v", err)
	}
	return set
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// Context returns a context ending with the test, bounded by d.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// SoftwareFiling is the request of producing software acting for the
// organisations of every author of sub: what the write rules let file it
// (docs/ACCESS.md, "Who may file for whom"), for tests calling the Service.
func SoftwareFiling(clientID string, sub carnet.Submission) carnet.Request {
	a := carnet.Actor{Kind: carnet.ActorSystem, ID: carnet.Identifier{System: "urn:carnet:actor", Value: clientID}}
	for _, d := range sub.Documents {
		for _, au := range d.Meta.Authors {
			if k := carnet.OrgKey(au.OrgID); k != "" && !slices.ContainsFunc(a.Orgs, func(o carnet.Identifier) bool { return carnet.OrgKey(o) == k }) {
				a.Orgs = append(a.Orgs, au.OrgID)
			}
		}
	}
	if len(a.Orgs) > 0 {
		a.Org = a.Orgs[0]
	}
	return carnet.Request{Actor: a}
}
