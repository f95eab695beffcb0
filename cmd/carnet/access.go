package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auth"
	"github.com/carnet-sante/carnet/httpapi"
	"github.com/carnet-sante/carnet/policy"
	"github.com/carnet-sante/carnet/record"
	"github.com/carnet-sante/carnet/webhook"
	"github.com/carnet-sante/carnet/xua"
)

// demoAudience is the audience of demo tokens: the identifier a --demo
// server is registered under at its own demo issuer.
const demoAudience = "carnet-demo"

// defaultURL is where `carnet serve` answers by default.
const defaultURL = "http://127.0.0.1:8080"

// demoIssuerPath is where a --demo server mounts its built-in issuer.
const demoIssuerPath = "/demo-idp"

// publicBase is the server's public URL: --base-url, else the listen address.
func publicBase(c serverConfig) string {
	if c.BaseURL != "" {
		return strings.TrimSuffix(c.BaseURL, "/")
	}
	return "http://" + c.Addr
}

// loadPolicy builds the access policy from the matrix file. Without one,
// a production server refuses to start; a demo server runs without
// profession restrictions and says so.
func loadPolicy(c serverConfig, logger *slog.Logger) (*policy.Engine, error) {
	if c.AccessMatrix == "" {
		if !c.Demo {
			return nil, errors.New("--access-matrix is required: the access matrix (profession × document type) of the DMP rules, e.g. the national annex as CSV")
		}
		logger.Warn("no --access-matrix: the demo runs WITHOUT profession × document-type restrictions (all other access rules apply)")
		return &policy.Engine{Matrix: &policy.Matrix{}}, nil
	}
	f, err := os.Open(c.AccessMatrix)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := policy.LoadMatrix(f)
	if err != nil {
		return nil, fmt.Errorf("access matrix %s: %w", c.AccessMatrix, err)
	}
	logger.Info("access matrix loaded", "file", c.AccessMatrix)
	return &policy.Engine{Matrix: m}, nil
}

// authentication builds the bearer-token verifier: the configured OpenID
// Connect issuers, and in --demo the built-in demo issuer (mounted on mux).
// Without any issuer every data request is refused (401).
func authentication(c serverConfig, mux *http.ServeMux, logger *slog.Logger, store carnet.Store) (*authSetup, error) {
	var issuers []auth.Issuer
	for _, u := range strings.Split(c.OIDCIssuers, ",") {
		if u = strings.TrimSpace(u); u != "" {
			if c.Audience == "" {
				return nil, errors.New("--oidc-issuer needs --audience: the identifier this deployment is registered under")
			}
			issuers = append(issuers, auth.Issuer{URL: strings.TrimSuffix(u, "/"), Audience: c.Audience})
		}
	}
	var client *http.Client
	var demo *auth.DemoIssuer
	var demoXUA *demoXUAIssuer
	if c.Demo {
		var err error
		if demo, err = demoIssuer(c); err != nil {
			return nil, err
		}
		if err := demo.EnableLogin(demoAudience, auth.DemoClient{ID: c.WebClientID, RedirectURIs: []string{webRedirectURI(c)}}); err != nil {
			return nil, err
		}
		demo.EnableCDSClient(publicBase(c) + "/cds-services/" + httpapi.PastilleService)
		mux.Handle(demoIssuerPath+"/", http.StripPrefix(demoIssuerPath, demo))
		issuers = append(issuers, auth.Issuer{URL: demo.IssuerURL(), Audience: demoAudience})
		if len(issuers) == 1 {
			client = demo.Client()
		} else {
			client = &http.Client{Transport: splitTransport{demo: demo.IssuerURL(), in: demo.Client().Transport, out: http.DefaultTransport}}
		}
		if demoXUA, err = newDemoXUA(demo, publicBase(c)+"/xds"); err != nil {
			return nil, err
		}
		mux.Handle(demoIssuerPath+"/xua", demoXUA)
		logger.Warn("demo identity provider enabled: tokens for demo users are minted by `carnet token --user NAME` and its login page; never enable --demo with real data", "issuer", demo.IssuerURL())
	}
	used, _ := store.(carnet.AssertionStore)
	xv, err := xuaVerifier(c, demoXUA, used)
	if err != nil {
		return nil, err
	}
	if len(issuers) == 0 {
		logger.Warn("no --oidc-issuer configured: every data request is refused (401)")
		return &authSetup{XUA: xv}, nil
	}
	var operators []string
	for _, u := range strings.Split(c.OperatorIssuers, ",") {
		if u = strings.TrimSpace(u); u != "" {
			operators = append(operators, strings.TrimSuffix(u, "/"))
		}
	}
	if demo != nil {
		operators = append(operators, demo.IssuerURL())
	}
	if len(operators) == 0 {
		logger.Info("no --operator-issuer configured: no token may manage data permits")
	}
	v, err := auth.NewVerifier(auth.Config{Issuers: issuers, OperatorIssuers: operators, AllowTestINS: c.Demo || c.AllowTestINS, HTTPClient: client})
	if err != nil {
		return nil, err
	}
	cds, err := cdsClients(c, v, client)
	if err != nil {
		return nil, err
	}
	return &authSetup{Authenticate: v.Authenticate, CDS: cds, Users: v, Issuers: issuers, Client: client, XUA: xv}, nil
}

// authSetup is who the server trusts: the API's bearer tokens, the CDS
// Clients, and the issuers the web spaces sign people in with.
type authSetup struct {
	Authenticate func(*http.Request) (carnet.Actor, error)
	CDS          *httpapi.CDSConfig
	Users        *auth.Verifier // nil without any issuer
	Issuers      []auth.Issuer
	Client       *http.Client  // reaches the issuers (the demo one in process)
	XUA          *xua.Verifier // nil without --xua-issuer-cert or --demo
}

// cdsClients trusts the CDS Clients of --cds-client ISSUER=JWKS_URL (and, in
// --demo, the demo issuer): their JWTs must name the pastille's URL as
// audience. The clinician is the access token the client passes on.
func cdsClients(c serverConfig, users *auth.Verifier, client *http.Client) (*httpapi.CDSConfig, error) {
	aud := publicBase(c) + "/cds-services/" + httpapi.PastilleService
	var issuers []auth.Issuer
	for _, pair := range strings.Split(c.CDSClients, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		iss, jwks, ok := strings.Cut(pair, "=")
		if !ok || iss == "" || jwks == "" {
			return nil, fmt.Errorf("--cds-client takes ISSUER=JWKS_URL, got %q", pair)
		}
		issuers = append(issuers, auth.Issuer{URL: iss, Audience: aud, JWKSURL: jwks})
	}
	if c.Demo {
		issuers = append(issuers, auth.Issuer{URL: publicBase(c) + demoIssuerPath, Audience: aud})
	}
	if len(issuers) == 0 {
		return nil, nil
	}
	v, err := auth.NewVerifier(auth.Config{Issuers: issuers, HTTPClient: client})
	if err != nil {
		return nil, err
	}
	return &httpapi.CDSConfig{Client: v.VerifyClient, User: func(ctx context.Context, raw string) (carnet.Actor, error) {
		p, err := users.Verify(ctx, raw)
		if err != nil {
			return carnet.Actor{}, err
		}
		return p.Actor, nil
	}}, nil
}

// splitTransport reaches the demo issuer in process and others over the
// network.
type splitTransport struct {
	demo    string
	in, out http.RoundTripper
}

func (t splitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasPrefix(r.URL.String(), t.demo+"/") {
		return t.in.RoundTrip(r)
	}
	return t.out.RoundTrip(r)
}

func demoIssuer(c serverConfig) (*auth.DemoIssuer, error) {
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return nil, err
	}
	d, err := auth.NewDemoIssuer(c.Data, time.Now)
	if err != nil {
		return nil, err
	}
	d.SetIssuerURL(publicBase(c) + demoIssuerPath)
	return d, nil
}

// startWebhook starts the notification sender when a webhook is configured.
func startWebhook(ctx context.Context, c serverConfig, svc *record.Service, logger *slog.Logger) error {
	if c.NotifyWebhook == "" {
		return nil
	}
	secret, err := base64.StdEncoding.DecodeString(os.Getenv("CARNET_NOTIFY_WEBHOOK_SECRET"))
	if err != nil || len(secret) < 32 {
		return errors.New("--notify-webhook needs CARNET_NOTIFY_WEBHOOK_SECRET: at least 32 random bytes, base64")
	}
	s := &webhook.Sender{URL: c.NotifyWebhook, Secret: secret, Source: svc, Logger: logger}
	go func() {
		if err := s.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			logger.Error("notification sender stopped", "err", err)
		}
	}()
	logger.Info("notifications delivered to webhook", "url", c.NotifyWebhook)
	return nil
}

// token asks a running --demo server's issuer for a demo user's token (or
// the demo CDS Client's JWT) and prints it. It reads no key and creates
// none: the server signs, for its own audience.
func token(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token", stderr)
	user := fs.String("user", "", "demo user: "+strings.Join(auth.DemoUserNames(), ", "))
	base := fs.String("url", defaultURL, "URL of the running `carnet serve --demo`")
	ttl := fs.Duration("ttl", time.Hour, "lifetime of the token (at most 24h)")
	cdsClient := fs.Bool("cds-client", false, "print instead the JWT a CDS Client (the demo software) signs to call the pastille: audience the service's URL, 5 minutes, a fresh jti")
	if err := fs.parse(args); err != nil {
		return err
	}
	form := url.Values{}
	switch {
	case *cdsClient:
		form.Set("grant_type", auth.GrantDemoCDSClient)
	case *user == "":
		return fmt.Errorf("--user is required: one of %s", strings.Join(auth.DemoUserNames(), ", "))
	case *ttl <= 0 || *ttl > auth.MaxDemoTokenTTL:
		return fmt.Errorf("--ttl %s: a demo token lives from 1s to 24h", *ttl)
	default:
		form.Set("grant_type", auth.GrantDemoUser)
		form.Set("user", *user)
		form.Set("ttl", strconv.Itoa(int(ttl.Seconds())))
	}
	endpoint := strings.TrimSuffix(*base, "/") + demoIssuerPath + "/token"
	client := &http.Client{Timeout: 10 * time.Second}
	res, err := client.PostForm(endpoint, form)
	if err != nil {
		return fmt.Errorf("no Carnet server answers at %s (%v): start one with `carnet serve --demo`, or give its address with --url", *base, err)
	}
	defer res.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	err = json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&body)
	switch {
	case res.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%s has no demo identity provider (%s answered 404): `carnet token` is for a server started with --demo; a production server's tokens come from its identity provider", *base, endpoint)
	case err != nil:
		return fmt.Errorf("%s did not answer like a Carnet --demo server (%s: %s)", *base, endpoint, res.Status)
	case res.StatusCode != http.StatusOK || body.AccessToken == "":
		return fmt.Errorf("%s refused: %s %s", *base, body.Error, body.Description)
	}
	fmt.Fprintln(stdout, body.AccessToken)
	return nil
}
