package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auth"
)

// home is the welcome page; signed in, it leads to the caller's space.
func (s *Server) home(w http.ResponseWriter, r *http.Request, c *call) error {
	data := map[string]any{"Issuers": len(s.cfg.Login)}
	if c.sess.signedIn() {
		data["Space"] = spaceOf(c.req.Actor)
	}
	s.render(w, r, c, http.StatusOK, "home", "Carnet — dossier médical partagé", data)
	return nil
}

// spaceOf is the home of an actor's space.
func spaceOf(a carnet.Actor) string {
	switch {
	case a.Kind == carnet.ActorPatient:
		return "/patient"
	case a.Kind == carnet.ActorProfessional:
		return "/pro"
	case a.Kind == carnet.ActorSystem && auditor(a.Scopes):
		return "/audit"
	}
	return "/"
}

// localPath keeps a return path only when it is a path of this site.
func localPath(p string) string {
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(p, "//") ||
		strings.ContainsAny(p, "\\\r\n") || len(p) > 512 {
		return ""
	}
	return p
}

// redirectToLogin sends a signed-out visitor of a page to the login,
// remembering the page (server-side) to come back to it.
func (s *Server) redirectToLogin(w http.ResponseWriter, r *http.Request, sess *session) {
	if len(s.cfg.Login) == 0 {
		s.errorPage(w, r, nil, userError(carnet.KindUnavailable, "Aucun fournisseur d'identité n'est configuré."))
		return
	}
	ret := localPath(r.URL.RequestURI())
	if len(s.cfg.Login) == 1 {
		s.startLogin(w, r, 0, ret)
		return
	}
	if err := s.setLoginCookie(w, r, loginCookie{Return: ret}); err != nil {
		s.errorPage(w, r, nil, err)
		return
	}
	http.Redirect(w, r, "/connexion", http.StatusSeeOther)
}

// loginStart is /connexion[?fournisseur=N]: with one issuer (or one
// chosen), straight to it; with several, the page to choose.
func (s *Server) loginStart(w http.ResponseWriter, r *http.Request, c *call) error {
	if c.sess.signedIn() {
		http.Redirect(w, r, spaceOf(c.req.Actor), http.StatusSeeOther)
		return nil
	}
	if len(s.cfg.Login) == 0 {
		return userError(carnet.KindUnavailable, "Aucun fournisseur d'identité n'est configuré.")
	}
	ret := ""
	if lc := s.readLoginCookie(r); lc != nil {
		ret = lc.Return
	}
	if v := r.URL.Query().Get("fournisseur"); v != "" || len(s.cfg.Login) == 1 {
		i, err := strconv.Atoi(v)
		if v == "" {
			i, err = 0, nil
		}
		if err != nil || i < 0 || i >= len(s.cfg.Login) {
			return userError(carnet.KindInvalid, "Fournisseur d'identité inconnu.")
		}
		s.startLogin(w, r, i, ret)
		return nil
	}
	var issuers []string
	for _, rp := range s.cfg.Login {
		issuers = append(issuers, rp.Issuer())
	}
	s.render(w, r, c, http.StatusOK, "login", "Connexion", map[string]any{"Issuers": issuers})
	return nil
}

// startLogin keeps the pending login in its sealed cookie (nothing is
// stored for a visitor who has not signed in) and sends the browser to
// issuer i.
func (s *Server) startLogin(w http.ResponseWriter, r *http.Request, i int, ret string) {
	l, err := auth.NewLoginRequest()
	if err != nil {
		s.errorPage(w, r, nil, err)
		return
	}
	target, err := s.cfg.Login[i].AuthorizeURL(r.Context(), l)
	if err != nil {
		s.log.Error("login: issuer discovery failed", "issuer", s.cfg.Login[i].Issuer(), "err", err)
		s.errorPage(w, r, nil, userError(carnet.KindUnavailable, "Le fournisseur d'identité ne répond pas."))
		return
	}
	pending := &pendingLogin{Issuer: i, State: l.State, Nonce: l.Nonce, Verifier: l.Verifier}
	if err := s.setLoginCookie(w, r, loginCookie{Pending: pending, Return: ret}); err != nil {
		s.errorPage(w, r, nil, err)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// loginCallback is where the issuer sends the browser back: the state is
// checked against the pending login's cookie, cleared at once (the code it
// waits for is single-use at the issuer, bound to its PKCE verifier); the
// code is exchanged; a new session (new id) is created for who signed in.
func (s *Server) loginCallback(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	lc := s.readLoginCookie(r)
	s.clearLoginCookie(w, r)
	if lc == nil || lc.Pending == nil {
		return userError(carnet.KindInvalid, "Cette connexion a expiré ou a déjà servi. Recommencez depuis la page d'accueil.")
	}
	p := *lc.Pending
	ret := lc.Return
	if c.sess != nil {
		// A previous session of this browser ends with the new login.
		if err := s.cfg.Sessions.DeleteSession(r.Context(), c.sess.row.ID); err != nil {
			return err
		}
	}
	l := auth.LoginRequest{State: p.State, Nonce: p.Nonce, Verifier: p.Verifier}
	if !l.CheckState(q.Get("state")) {
		return userError(carnet.KindInvalid, "La réponse du fournisseur d'identité ne correspond pas à cette connexion. Recommencez.")
	}
	if q.Get("error") != "" || q.Get("code") == "" || p.Issuer >= len(s.cfg.Login) {
		return userError(carnet.KindUnauthenticated, "La connexion a été refusée ou annulée.")
	}
	principal, err := s.cfg.Login[p.Issuer].Exchange(r.Context(), l, q.Get("code"))
	if err != nil {
		s.log.Warn("login refused", "err", err) // the cause names no person
		if carnet.IsKind(err, carnet.KindUnavailable) {
			return err
		}
		return userError(carnet.KindUnauthenticated, "La connexion n'a pas pu être vérifiée. Recommencez.")
	}
	expires := s.now().Add(AbsoluteTimeout)
	if !principal.Expiry.IsZero() && principal.Expiry.Before(expires) {
		expires = principal.Expiry
	}
	data := sessionData{Actor: principal.Actor, Scopes: principal.Actor.Scopes, Issuer: principal.Issuer}
	data.Actor.Scopes = nil
	if _, err := s.newSession(w, r, data, expires); err != nil {
		return err
	}
	dest := localPath(ret)
	if dest == "" || dest == "/" {
		dest = spaceOf(principal.Actor)
	}
	http.Redirect(w, r, dest, http.StatusSeeOther)
	return nil
}

// logout deletes the session server-side: the cookie is worth nothing
// afterwards.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.endSession(w, r, c.sess); err != nil {
		return err
	}
	http.Redirect(w, r, "/?message=deconnecte", http.StatusSeeOther)
	return nil
}

// smartConfiguration is SMART App Launch discovery of the FHIR base: the
// authorization server of the first issuer, and what Carnet really does
// with its tokens.
func (s *Server) smartConfiguration(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w)
	w.Header().Set("Content-Type", "application/json")
	if len(s.cfg.Login) == 0 {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"no authorization server configured"}`))
		return
	}
	rp := s.cfg.Login[0]
	authz, token, jwks, err := rp.Discovery(r.Context())
	if err != nil {
		s.log.Error("smart-configuration: issuer discovery failed", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"the authorization server cannot be reached"}`))
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"issuer":                                rp.Issuer(),
		"jwks_uri":                              jwks,
		"authorization_endpoint":                authz,
		"token_endpoint":                        token,
		"grant_types_supported":                 []string{"authorization_code"},
		"response_types_supported":              []string{"code"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"none"},
		"scopes_supported":                      []string{"openid", "fhirUser", "patient/*.cruds", "user/*.cruds", "system/*.cruds"},
		// Standalone launch with PKCE by public clients; v1 and v2 scopes
		// are read (docs/AUTH.md). No EHR launch context, no refresh tokens.
		"capabilities": []string{"launch-standalone", "client-public", "sso-openid-connect", "permission-v1", "permission-v2", "permission-patient", "permission-user"},
	})
}
