package edge

import (
	"bufio"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	carnet "github.com/carnet-sante/carnet"
)

// ServerTLS returns the server's TLS configuration: TLS 1.2 and 1.3 only;
// TLS 1.2 with ECDHE and AEAD suites only (AES-GCM, ChaCha20-Poly1305), no
// CBC, no RSA key exchange; X25519 and P-256. With clientCA, client
// certificates chaining to it are verified (required with requireClient,
// else optional, so that bearer-token callers still connect).
func ServerTLS(certFile, keyFile, clientCA string, requireClient bool) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	cfg := &tls.Config{
		MinVersion:       tls.VersionTLS12,
		Certificates:     []tls.Certificate{cert},
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256},
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		},
	}
	if clientCA != "" {
		pem, err := os.ReadFile(clientCA)
		if err != nil {
			return nil, fmt.Errorf("client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("client CA: no PEM certificate in " + clientCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
		if requireClient {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return cfg, nil
}

// KeyID is the SHA-256 of a certificate's SubjectPublicKeyInfo, in hex: a
// renewed certificate with the same key keeps its id.
func KeyID(c *x509.Certificate) string {
	h := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(h[:])
}

// ClientMap maps software certificates (by KeyID) to system actors.
type ClientMap map[string]carnet.Actor

// MTLSSystem is the identifier system of actors authenticated by a client
// certificate.
const MTLSSystem = "urn:carnet:mtls"

// LoadClientMap reads the map file: CSV lines "key id,client id,FINESS,scopes"
// (scopes space-separated; FINESS may be empty); # comments.
func LoadClientMap(r io.Reader) (ClientMap, error) {
	m := ClientMap{}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) != 4 {
			return nil, fmt.Errorf("client map line %d: want key id,client id,FINESS,scopes", n)
		}
		id, client, finess, scopes := strings.ToLower(strings.TrimSpace(f[0])), strings.TrimSpace(f[1]), strings.TrimSpace(f[2]), strings.Fields(f[3])
		if len(id) != 64 || strings.Trim(id, "0123456789abcdef") != "" {
			return nil, fmt.Errorf("client map line %d: the key id is the SHA-256 of the SubjectPublicKeyInfo, 64 hex digits", n)
		}
		if client == "" || len(client) > 128 || strings.ContainsAny(client, " \t") {
			return nil, fmt.Errorf("client map line %d: bad client id", n)
		}
		if _, dup := m[id]; dup {
			return nil, fmt.Errorf("client map line %d: key id listed twice", n)
		}
		for _, s := range scopes {
			if !strings.HasPrefix(s, "system/") {
				return nil, fmt.Errorf("client map line %d: software gets system/ scopes only", n)
			}
		}
		a := carnet.Actor{Kind: carnet.ActorSystem, ID: carnet.Identifier{System: MTLSSystem, Value: client}, Name: client, Scopes: scopes}
		if finess != "" {
			if len(finess) < 9 || len(finess) > 10 || strings.Trim(finess, "0123456789") != "" {
				return nil, fmt.Errorf("client map line %d: bad FINESS", n)
			}
			a.Org = carnet.Identifier{System: "urn:oid:1.2.250.1.71.4.2.2", Value: finess}
		}
		m[id] = a
	}
	return m, sc.Err()
}

// Authenticate returns an authenticator: a request bearing a token is
// authenticated by next (the certificate is then only the transport); one
// without a token but with a verified client certificate is the software
// the map names, and refused when the map does not name it.
func (m ClientMap) Authenticate(next func(*http.Request) (carnet.Actor, error)) func(*http.Request) (carnet.Actor, error) {
	return func(r *http.Request) (carnet.Actor, error) {
		if r.Header.Get("Authorization") != "" || r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			if next == nil {
				return carnet.Actor{}, &carnet.Error{Kind: carnet.KindUnauthenticated, Msg: "invalid or missing bearer token"}
			}
			return next(r)
		}
		a, ok := m[KeyID(r.TLS.VerifiedChains[0][0])]
		if !ok {
			return carnet.Actor{}, &carnet.Error{Kind: carnet.KindUnauthenticated, Msg: "client certificate not registered for any software"}
		}
		a.Scopes = append([]string(nil), a.Scopes...)
		return a, nil
	}
}
