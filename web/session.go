package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// Cookie names: the __Host- prefix (Secure, Path=/, no Domain) over TLS.
const (
	cookieName       = "carnet_session"
	secureCookieName = "__Host-carnet_session"
	loginName        = "carnet_connexion"
	secureLoginName  = "__Host-carnet_connexion"
)

// loginCookie is a login under way, kept by the browser, sealed: the
// visitor who has not signed in costs the database nothing.
type loginCookie struct {
	Pending *pendingLogin `json:"pending,omitempty"`
	// Return is where to go once signed in (a path of this site).
	Return  string    `json:"return,omitempty"`
	Expires time.Time `json:"expires"`
}

var loginBinding = carnet.Binding{Kind: "web-login", ID: "pending", Version: 1}

func (s *Server) loginCookieName(r *http.Request) string {
	if s.secure(r) {
		return secureLoginName
	}
	return loginName
}

func (s *Server) setLoginCookie(w http.ResponseWriter, r *http.Request, lc loginCookie) error {
	lc.Expires = s.now().Add(loginTimeout)
	b, err := json.Marshal(lc)
	if err != nil {
		return carnet.WrapError(carnet.KindInternal, "login cookie", err)
	}
	sealed, err := s.cfg.Sealer.Seal(r.Context(), carnet.WebKeyRecord, loginBinding, b)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: s.loginCookieName(r), Value: base64.RawURLEncoding.EncodeToString(sealed), Path: "/", HttpOnly: true,
		Secure: s.secure(r), SameSite: http.SameSiteLaxMode, Expires: lc.Expires})
	return nil
}

// readLoginCookie returns the pending login, nil when absent, forged or
// expired.
func (s *Server) readLoginCookie(r *http.Request) *loginCookie {
	ck, err := r.Cookie(s.loginCookieName(r))
	if err != nil || len(ck.Value) > 4096 {
		return nil
	}
	sealed, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil {
		return nil
	}
	b, err := s.cfg.Sealer.Open(r.Context(), carnet.WebKeyRecord, loginBinding, sealed)
	if err != nil {
		return nil
	}
	var lc loginCookie
	if json.Unmarshal(b, &lc) != nil || !s.now().Before(lc.Expires) {
		return nil
	}
	return &lc
}

func (s *Server) clearLoginCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: s.loginCookieName(r), Value: "", Path: "/", HttpOnly: true, Secure: s.secure(r),
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// session is one browser's session: the id it holds (only its hash is
// stored) and the sealed content.
type session struct {
	id   string // the secret the cookie holds
	row  carnet.SessionRow
	data sessionData
}

// sessionData is a session's sealed content.
type sessionData struct {
	Actor  carnet.Actor `json:"actor"`
	Scopes []string     `json:"scopes,omitempty"` // Actor.Scopes is not serialised
	Issuer string       `json:"issuer,omitempty"`
	CSRF   string       `json:"csrf"`
	// Emergency is the professional's emergency access, per record.
	Emergency map[carnet.PatientKey]emergency `json:"emergency,omitempty"`
	// Visits is, per record, the last visit the pastille view counts from
	// for the rest of the session (set at the first opening).
	Visits map[carnet.PatientKey]visit `json:"visits,omitempty"`
}

type pendingLogin struct {
	Issuer   int    `json:"issuer"`
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
}

type emergency struct {
	Mode   carnet.Mode `json:"mode"`
	Reason string      `json:"reason"`
	Since  time.Time   `json:"since"`
}

type visit struct {
	Since time.Time `json:"since"` // zero: first opening of the record
}

func (s *session) signedIn() bool { return s != nil && s.data.Actor.Kind != "" }

func (s *session) actor() carnet.Actor {
	a := s.data.Actor
	a.Scopes = s.data.Scopes
	return a
}

func (s *session) checkCSRF(got string) bool {
	return got != "" && s.data.CSRF != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.data.CSRF)) == 1
}

func randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", carnet.WrapError(carnet.KindUnavailable, "random", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// rowID is what the store keys a session by: the SHA-256 of its id.
func rowID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

func binding(row string) carnet.Binding {
	return carnet.Binding{Kind: "web-session", ID: row, Version: 1}
}

func (s *Server) cookieName(r *http.Request) string {
	if s.secure(r) {
		return secureCookieName
	}
	return cookieName
}

// SignedIn says whether r carries the cookie of a live session of someone
// signed in (httpapi.Config.SignedIn: the history's proofs).
func (s *Server) SignedIn(r *http.Request) bool {
	sess, err := s.loadSession(r)
	return err == nil && sess.signedIn()
}

// loadSession returns the request's session, or nil when it has none that
// is alive. An expired session is deleted.
func (s *Server) loadSession(r *http.Request) (*session, error) {
	ck, err := r.Cookie(s.cookieName(r))
	if err != nil || len(ck.Value) < 40 || len(ck.Value) > 64 {
		return nil, nil
	}
	ctx := r.Context()
	row, err := s.cfg.Sessions.Session(ctx, rowID(ck.Value))
	if carnet.IsKind(err, carnet.KindNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	if !now.Before(row.Expires) || now.Sub(row.Seen) > IdleTimeout {
		_ = s.cfg.Sessions.DeleteSession(ctx, row.ID)
		return nil, nil
	}
	b, err := s.cfg.Sealer.Open(ctx, carnet.WebKeyRecord, binding(row.ID), row.Sealed)
	if err != nil {
		return nil, err
	}
	sess := &session{id: ck.Value, row: row}
	if err := json.Unmarshal(b, &sess.data); err != nil {
		return nil, carnet.WrapError(carnet.KindInternal, "open session", err)
	}
	return sess, nil
}

// newSession creates a session (a fresh id, a fresh CSRF token) expiring at
// expires, and sets its cookie.
func (s *Server) newSession(w http.ResponseWriter, r *http.Request, data sessionData, expires time.Time) (*session, error) {
	id, err := randomToken(32)
	if err != nil {
		return nil, err
	}
	if data.CSRF, err = randomToken(32); err != nil {
		return nil, err
	}
	now := s.now()
	sess := &session{id: id, data: data, row: carnet.SessionRow{ID: rowID(id), Created: now, Seen: now, Expires: expires}}
	if err := s.save(r.Context(), sess); err != nil {
		return nil, err
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(r), Value: id, Path: "/", HttpOnly: true, Secure: s.secure(r),
		SameSite: http.SameSiteLaxMode, Expires: expires})
	return sess, nil
}

// save seals and stores the session's content.
func (s *Server) save(ctx context.Context, sess *session) error {
	b, err := json.Marshal(sess.data)
	if err != nil {
		return carnet.WrapError(carnet.KindInternal, "seal session", err)
	}
	sealed, err := s.cfg.Sealer.Seal(ctx, carnet.WebKeyRecord, binding(sess.row.ID), b)
	if err != nil {
		return err
	}
	sess.row.Sealed = sealed
	return s.cfg.Sessions.PutSession(ctx, sess.row)
}

// touch records the session's use, at most once a minute.
func (s *Server) touch(ctx context.Context, sess *session) {
	now := s.now()
	if now.Sub(sess.row.Seen) < touchEvery {
		return
	}
	sess.row.Seen = now
	if err := s.cfg.Sessions.TouchSession(ctx, sess.row.ID, now); err != nil {
		s.log.Warn("touching a session", "err", err)
	}
}

// endSession deletes the session server-side and clears the cookie.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request, sess *session) error {
	if sess != nil {
		if err := s.cfg.Sessions.DeleteSession(r.Context(), sess.row.ID); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(r), Value: "", Path: "/", HttpOnly: true, Secure: s.secure(r),
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
	return nil
}

// PruneSessions removes expired sessions; cmd/carnet runs it hourly.
func (s *Server) PruneSessions(ctx context.Context) (int, error) {
	now := s.now()
	return s.cfg.Sessions.PruneSessions(ctx, now, now.Add(-IdleTimeout))
}

// RunPruning prunes expired sessions every interval until ctx ends.
func (s *Server) RunPruning(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.PruneSessions(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("pruning web sessions", "err", err)
			}
		}
	}
}
