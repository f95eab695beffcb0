package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auditlog"
	"github.com/carnet-sante/carnet/edge"
	"github.com/carnet-sante/carnet/fulltext"
	"github.com/carnet-sante/carnet/httpapi"
	"github.com/carnet-sante/carnet/internal/gctune"
	"github.com/carnet-sante/carnet/pastille"
	"github.com/carnet-sante/carnet/postgres"
	"github.com/carnet-sante/carnet/qedm"
	"github.com/carnet-sante/carnet/record"
	"github.com/carnet-sante/carnet/seal"
	"github.com/carnet-sante/carnet/secondary"
	"github.com/carnet-sante/carnet/sqlite"
	"github.com/carnet-sante/carnet/terminology"
	"github.com/carnet-sante/carnet/web"
	"github.com/carnet-sante/carnet/xds"
)

// serverConfig is what `carnet serve` is told.
type serverConfig struct {
	Addr, Data, Postgres, KeyFile, ValueSets, BaseURL  string
	AccessMatrix, OIDCIssuers, Audience, NotifyWebhook string
	OperatorIssuers                                    string // issuers allowed to grant carnet_operator
	CDSClients, WebClientID                            string
	CISISFormats                                       string // ci-sis-formats.csv: CDA templateId → XDS formatCode
	LogFile                                            string
	XDSRepository                                      string // the XDS.b repositoryUniqueId
	XUAIssuerCerts, XUASAMUCerts, XUAAudience          string // XUA: trusted assertion issuers (PEM files), audience
	XUARequired                                        bool
	XUAAllowNoAudience                                 bool           // XUA: accept assertions naming no audience (the DMP's VIHF)
	Replica                                            string         // SQLite: ship the WAL there (serve only)
	ReplicaInterval                                    time.Duration  // how often
	ClientMap                                          edge.ClientMap // software certificates (mutual TLS)
	AuditRetention, LogRetention                       time.Duration
	Demo, AllowTestINS, InitKey                        bool
	DemoPatients                                       int
	BodiesInFlight                                     int64 // request bodies held at once, bytes (0: no bound)
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "HOST:PORT to listen on")
	data := fs.String("data", "./carnet-data", "directory of the embedded database and the key file")
	pg := fs.String("postgres", "", "PostgreSQL DSN; when set, data lives there instead of the embedded SQLite")
	keyFile := fs.String("key-file", "", "key-encryption key file (default DATA/carnet.keys, created with mode 0600 on first start); CARNET_KEK (base64) takes precedence")
	vs := fs.String("valuesets", "", "directory of the ANS CI-SIS value sets (SVS XML); without it, codes are not checked against national value sets")
	formats := fs.String("ci-sis-formats", "", "the ANS CI-SIS volet table (ci-sis-formats.csv: CDA templateId → XDS formatCode); without it no formatCode is derived from a CDA and producers must declare it")
	base := fs.String("base-url", "", "public base URL (default: from each request's Host)")
	demo := fs.Bool("demo", false, "load deterministic synthetic demo data (test INS accepted); never for real data")
	bodies := fs.String("max-body-in-flight", "512", "MiB of request bodies this node holds at once, over every authenticated client (past it: 503 and Retry-After); 0: no bound")
	demoPatients := fs.String("demo-patients", "20", "with --demo: how many synthetic patients to load (4 to 1000; the first four are the demo logins')")
	testINS := fs.Bool("allow-test-ins", false, "accept test INS OIDs (1.2.250.1.213.1.4.10/.11) outside demo mode: test environments only")
	initKey := fs.Bool("init-key", false, "with --postgres: create the key file if absent (first start of a new database)")
	matrix := fs.String("access-matrix", "", "CSV access matrix (profession × document type) of the DMP rules; required outside --demo")
	issuers := fs.String("oidc-issuer", "", "trusted OpenID Connect issuer URL(s), comma-separated (discovery + JWKS); without one every data request is refused")
	operatorIssuers := fs.String("operator-issuer", "", "the issuer URL(s), comma-separated, among --oidc-issuer, allowed to grant the carnet_operator claim (data permits); without one no token is an operator's (in --demo the demo issuer is)")
	audience := fs.String("audience", "", "the audience tokens must carry: this deployment's identifier at its issuers")
	cdsClients := fs.String("cds-client", "", "CDS Clients trusted to call the pastille, as ISSUER=JWKS_URL, comma-separated")
	webClient := fs.String("web-client-id", "carnet-web", "the web spaces' client id at the OpenID Connect issuers (redirect URI BASE/connexion/retour; CARNET_WEB_CLIENT_SECRET for a confidential client)")
	hook := fs.String("notify-webhook", "", "URL the patients' notifications are POSTed to (HMAC-signed with CARNET_NOTIFY_WEBHOOK_SECRET)")
	auditRet := fs.String("audit-retention", "10y", "how long the patient-facing access history keeps each event (then only its log entry stays); 0 keeps forever")
	xdsRepo := fs.String("xds-repository-id", xds.DefaultRepositoryUniqueID, "the OID of this deployment's XDS.b Document Repository (repositoryUniqueId, docs/XDS.md)")
	xuaCerts := fs.String("xua-issuer-cert", "", "PEM file(s), comma-separated, of the certificates XUA SAML assertions are signed with (a structure's seal certificate): enables XUA on /xds/ (docs/XDS.md)")
	xuaSAMU := fs.String("xua-samu-cert", "", "PEM file(s) of XUA issuers that are SAMU – centre 15 structures (their professionals may use the centre 15 mode)")
	xuaAud := fs.String("xua-audience", "", "the audience XUA assertions must name (default: BASE/xds)")
	xuaReq := fs.Bool("xua-required", false, "refuse XDS.b requests without a XUA assertion")
	xuaNoAud := fs.Bool("xua-allow-no-audience", false, "accept XUA assertions without AudienceRestriction (the DMP's VIHF 4.0 has none); one that has one must still name --xua-audience")
	logFile := fs.String("log-file", "", "technical log file, rotated daily (default: standard error)")
	logRet := fs.String("log-retention", "90d", "how long rotated technical log files are kept")
	exposed := exposureFlags(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	x, err := exposed()
	if err != nil {
		return err
	}
	auditRetention, err := parseRetention(*auditRet)
	if err != nil {
		return err
	}
	logRetention, err := parseRetention(*logRet)
	if err != nil {
		return err
	}
	nDemo, err := strconv.Atoi(*demoPatients)
	if err != nil || nDemo < 4 || nDemo > 1000 {
		return fmt.Errorf("--demo-patients takes a number from 4 to 1000, got %q", *demoPatients)
	}
	nBodies, err := strconv.ParseInt(*bodies, 10, 64)
	if err != nil || nBodies < 0 || nBodies > 1<<20 {
		return fmt.Errorf("--max-body-in-flight takes a number of MiB, got %q", *bodies)
	}
	c := serverConfig{BodiesInFlight: nBodies << 20, Addr: *addr, Data: *data, Postgres: *pg, KeyFile: *keyFile, ValueSets: *vs, CISISFormats: *formats, BaseURL: *base,
		AccessMatrix: *matrix, OIDCIssuers: *issuers, OperatorIssuers: *operatorIssuers, Audience: *audience, NotifyWebhook: *hook, CDSClients: *cdsClients, WebClientID: *webClient,
		LogFile: *logFile, XDSRepository: *xdsRepo, XUAIssuerCerts: *xuaCerts, XUASAMUCerts: *xuaSAMU, XUAAudience: *xuaAud, XUARequired: *xuaReq, XUAAllowNoAudience: *xuaNoAud, AuditRetention: auditRetention, LogRetention: logRetention,
		Demo: *demo, AllowTestINS: *testINS, InitKey: *initKey, DemoPatients: nDemo, Replica: x.Replica, ReplicaInterval: x.ReplicaInterval}
	tlsCfg, err := x.tlsConfig()
	if err != nil {
		return err
	}
	if c.ClientMap, err = x.clientMap(); err != nil {
		return err
	}
	if err := fs.postgresKeys(c); err != nil {
		return err
	}

	logOut := stderr
	if c.LogFile != "" {
		f, err := openRotatingFile(c.LogFile, c.LogRetention)
		if err != nil {
			return fmt.Errorf("technical log: %w", err)
		}
		defer f.Close()
		logOut = f
	}
	logger := x.newLogger(logOut)
	if pct, restore := gctune.Apply(); pct != 0 {
		defer restore()
		logger.Info("garbage collector", "GOGC", pct, "why", "a request allocates far more than the server keeps; set GOGC to choose otherwise")
	}
	// Listen first: the demo issuer's URL is the address actually bound.
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	c.Addr = ln.Addr().String()
	app, err := openApp(ctx, c, logger)
	if err != nil {
		return err
	}
	defer app.Close()

	if c.Demo {
		n, err := loadDemo(ctx, app.svc, logger, c.DemoPatients)
		switch {
		case carnet.IsKind(err, carnet.KindUnavailable):
			// Without its keys the demo serves like any deployment: 503
			// to every data request, until the right keys are given.
			logger.Error("demo data not loaded: the keys are unavailable; every data request is refused with 503", "err", err)
		case err != nil:
			return fmt.Errorf("load demo data: %w", err)
		case n > 0:
			logger.Info("demo data loaded", "documents", n)
		}
	}

	if err := startWebhook(ctx, c, app.svc, logger); err != nil {
		return err
	}
	pruneLoop(ctx, app.store, c.AuditRetention, logger)
	if app.audit != nil {
		go app.audit.Checkpointer.Run(ctx, 10*time.Second)
	}
	if app.web != nil {
		go app.web.RunPruning(ctx, time.Hour)
	}

	health := &edge.Health{}
	handler, err := x.front(ctx, app, logger, health)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		TLSConfig:         tlsCfg,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	scheme := "http"
	if tlsCfg != nil {
		scheme = "https"
	}
	url := scheme + "://" + ln.Addr().String()
	fmt.Fprintf(stdout, "Carnet listens on %s (FHIR base; CapabilityStatement at %s/metadata)\n", url, url)
	if c.Demo {
		printDemoHelp(stdout, url)
	}
	errc := make(chan error, 1)
	go func() {
		if tlsCfg != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Stop accepting, let in-flight requests (a filing being received)
	// finish and be durable; the stores close after (deferred).
	health.Draining.Store(true)
	logger.Info("shutting down: finishing in-flight requests", "timeout", x.ShutdownTimeout)
	shutdown, cancel := context.WithTimeout(context.Background(), x.ShutdownTimeout)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// app is a wired Carnet: store, keys, service and API.
type app struct {
	store   carnet.Store
	sealer  carnet.Sealer
	svc     *record.Service
	handler http.Handler
	audit   *auditlog.Deployment // nil when its key is unavailable
	web     *web.Server          // nil when the store keeps no sessions
	api     *httpapi.Server
}

func (a *app) Close() error {
	if a.svc != nil {
		a.svc.FlushCareForms() // the point-of-care forms being written
	}
	if a.api != nil {
		a.api.Close() // stops running exports, deletes their files
	}
	if a.audit != nil {
		a.audit.Close()
	}
	return a.store.Close()
}

func openApp(ctx context.Context, c serverConfig, logger *slog.Logger) (*app, error) {
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return nil, err
	}
	if err := checkKeyFiles(c); err != nil {
		return nil, err
	}
	store, newDatabase, err := openStore(ctx, c, logger)
	if err != nil {
		return nil, err
	}

	sealer, err := openSealer(ctx, c, store, newDatabase, logger)
	if err != nil {
		store.Close()
		return nil, err
	}

	var terms carnet.Terminology = terminology.Unchecked{}
	if c.ValueSets != "" {
		set, err := terminology.LoadDir(c.ValueSets)
		if err != nil {
			store.Close()
			return nil, fmt.Errorf("load value sets: %w", err)
		}
		terms = set
		logger.Info("national value sets loaded", "dir", c.ValueSets, "value_sets", set.Len())
	} else {
		logger.Warn("no --valuesets directory: type, confidentiality, facility and practice-setting codes are NOT checked against the national value sets")
	}

	formats, err := loadFormats(c, logger)
	if err != nil {
		store.Close()
		return nil, err
	}
	engine, err := loadPolicy(c, logger)
	if err != nil {
		store.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	as, err := authentication(c, mux, logger, store)
	if err != nil {
		store.Close()
		return nil, err
	}
	if c.ClientMap != nil {
		as.Authenticate = c.ClientMap.Authenticate(as.Authenticate)
	}
	audit, auditor, err := openAuditLog(ctx, c, store, sealer, newDatabase, logger)
	if err != nil {
		store.Close()
		return nil, err
	}
	svc := &record.Service{
		Store:        store,
		Sealer:       sealer,
		Policy:       engine,
		Audit:        auditor,
		Clock:        carnet.SystemClock{},
		Terminology:  terms,
		Extractor:    qedm.Extractor{Formats: formats},
		Index:        fulltext.Indexer{},
		Concepts:     pastille.ConceptReader{},
		WarmOnChange: true,
		Logger:       logger,
		AllowTestINS: c.Demo || c.AllowTestINS,
	}
	// One budget of request bodies for the FHIR API and XDS.b: each reserves
	// a body once its caller is authenticated.
	bodies := &edge.BodyBudget{Max: c.BodiesInFlight, PerRequest: xds.DefaultLimits.MaxBytes}
	cfg := httpapi.Config{Service: svc, BaseURL: c.BaseURL, Logger: logger, Version: version, Authenticate: as.Authenticate, CDS: as.CDS, Bodies: bodies}
	if audit != nil {
		cfg.AuditLog = audit
	}
	if ps, ok := store.(carnet.PermitStore); ok {
		// Secondary use: exports are written under the private data
		// directory; a previous process's files are useless (its jobs died
		// with it) and go.
		cfg.BulkDir = filepath.Join(c.Data, "bulk")
		if err := os.RemoveAll(cfg.BulkDir); err != nil {
			store.Close()
			return nil, err
		}
		cfg.Secondary = &secondary.Service{Store: store, Permits: ps, Sealer: sealer, Audit: auditor, Clock: carnet.SystemClock{}, Logger: logger}
	}
	ws, err := webSpaces(c, svc, store, sealer, as, audit != nil, logger)
	if err != nil {
		store.Close()
		return nil, err
	}
	if ws != nil {
		ws.Mount(mux)
		cfg.SignedIn = ws.SignedIn
		if cfg.CDS != nil {
			cfg.CDS.Link = web.CardLink
		}
	}
	mux.Handle("/xds/", xds.New(xds.Config{Service: svc, Logger: logger, Authenticate: as.Authenticate, RepositoryUniqueID: c.XDSRepository, XUA: as.XUA, RequireXUA: c.XUARequired, Bodies: bodies}))
	api := httpapi.New(cfg)
	mux.Handle("/", api)
	return &app{store: store, sealer: sealer, svc: svc, handler: mux, audit: audit, web: ws, api: api}, nil
}

// openStore opens the deployment's Store: PostgreSQL with --postgres, else
// the embedded SQLite file DATA/carnet.db. newDatabase says whether it is a
// new one (SQLite: no file yet; PostgreSQL: --init-key), for whoever creates
// keys with it.
func openStore(ctx context.Context, c serverConfig, logger *slog.Logger) (store carnet.Store, newDatabase bool, err error) {
	if c.Postgres != "" {
		// Decided before anything is created: a first start that cannot
		// make its key leaves the database untouched.
		initialized, err := postgres.Initialized(ctx, c.Postgres)
		if err != nil {
			return nil, false, fmt.Errorf("open PostgreSQL: %w", err)
		}
		switch {
		case !initialized && !c.InitKey && os.Getenv("CARNET_KEK") == "":
			return nil, false, fmt.Errorf("this PostgreSQL database holds no Carnet data yet: on its first start add --init-key, which creates its key file (%s) to keep safe with the backups; nothing was created", keyFilePath(c))
		case initialized && c.InitKey:
			logger.Info("--init-key ignored: the database is already initialised (its key file is never created anew)")
		}
		s, err := postgres.Open(ctx, c.Postgres)
		if err != nil {
			return nil, false, fmt.Errorf("open PostgreSQL: %w", err)
		}
		return s, !initialized && c.InitKey, nil
	}
	path := filepath.Join(c.Data, "carnet.db")
	_, statErr := os.Stat(path)
	opts := []sqlite.Option{sqlite.WithLogger(logger)}
	if c.Replica != "" {
		opts = append(opts, sqlite.WithReplica(c.Replica, c.ReplicaInterval))
	}
	s, err := sqlite.Open(ctx, path, opts...)
	if err != nil {
		return nil, false, fmt.Errorf("open SQLite: %w", err)
	}
	return s, errors.Is(statErr, os.ErrNotExist), nil
}

// keyFilePath is the key-encryption key file: --key-file, else DATA/carnet.keys.
func keyFilePath(c serverConfig) string {
	if c.KeyFile != "" {
		return c.KeyFile
	}
	return filepath.Join(c.Data, seal.KeyFileName)
}

// openSealer loads the key-encryption key. Without it the server still
// starts, but refuses every data request with 503: it never serves garbage
// and never writes data it could not read back.
func openSealer(ctx context.Context, c serverConfig, store carnet.Store, newDatabase bool, logger *slog.Logger) (carnet.Sealer, error) {
	var kr *seal.Keyring
	var err error
	if env := os.Getenv("CARNET_KEK"); env != "" {
		kr, err = seal.KeyringFromEnv(env)
	} else {
		path := keyFilePath(c)
		kr, err = seal.LoadOrCreateKeyFile(path, newDatabase)
		if err == nil && newDatabase {
			logger.Info("key-encryption key ready", "file", path, "kek", kr.CurrentKEK())
		}
	}
	if errors.Is(err, seal.ErrKeyFileMode) {
		return nil, fmt.Errorf("refusing to start: %w", err)
	}
	if err != nil {
		if carnet.IsKind(err, carnet.KindUnavailable) {
			logger.Error("no usable key-encryption key: every data request will be refused with 503 until the right key is given", "err", err)
			return seal.Locked(), nil
		}
		return nil, fmt.Errorf("load key: %w", err)
	}
	s := seal.New(kr, seal.StoreKeys(store))
	// Before any key is cached: rotations and shreddings from here on,
	// through any node, make this one drop what it cached.
	if err := s.MarkKeyChanges(ctx); err != nil {
		return nil, fmt.Errorf("read key changes: %w", err)
	}
	if err := checkKey(ctx, s); err != nil {
		if carnet.IsKind(err, carnet.KindUnavailable) {
			logger.Error("the key-encryption key does not open this database's keys: every data request will be refused with 503 until the right key is given", "kek", kr.CurrentKEK())
			return seal.Locked(), nil
		}
		return nil, fmt.Errorf("check key: %w", err)
	}
	return s, nil
}

// keyCheckRecord is a reserved record key whose data key proves, at every
// start, that the key-encryption key is the one the database was made with.
// Without this check a wrong key would find no record by INS and create new
// ones under itself, instead of refusing to serve.
const keyCheckRecord carnet.PatientKey = "carnet-key-check"

func checkKey(ctx context.Context, s *seal.Sealer) error {
	b := carnet.Binding{Kind: "key-check", ID: string(keyCheckRecord), Version: 1}
	ct, err := s.Seal(ctx, keyCheckRecord, b, []byte("carnet"))
	if err != nil {
		return err
	}
	_, err = s.Open(ctx, keyCheckRecord, b, ct)
	return err
}
