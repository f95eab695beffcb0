package main

import (
	"log/slog"
	"os"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auth"
	"github.com/carnet-sante/carnet/record"
	"github.com/carnet-sante/carnet/web"
)

// webRedirectURI is where the issuers send people back after signing in.
func webRedirectURI(c serverConfig) string { return publicBase(c) + "/connexion/retour" }

// webSpaces builds the espace patient and espace professionnel: a relying
// party at each issuer the API trusts, sessions in the Store.
func webSpaces(c serverConfig, svc *record.Service, store carnet.Store, sealer carnet.Sealer, as *authSetup, auditLog bool, logger *slog.Logger) (*web.Server, error) {
	sessions, ok := store.(carnet.SessionStore)
	if !ok {
		logger.Warn("the store keeps no web sessions: the web spaces are off")
		return nil, nil
	}
	var login []*auth.RelyingParty
	if as.Users != nil {
		// The demo issuer is the last one trusted: put it first for the
		// login when it is the only one, else keep the operator's order.
		for _, is := range as.Issuers {
			rp, err := auth.NewRelyingParty(auth.RPConfig{Issuer: is.URL, ClientID: c.WebClientID,
				ClientSecret: os.Getenv("CARNET_WEB_CLIENT_SECRET"), RedirectURI: webRedirectURI(c),
				Users: as.Users, HTTPClient: as.Client, AllowTestINS: c.Demo || c.AllowTestINS})
			if err != nil {
				return nil, err
			}
			login = append(login, rp)
		}
	}
	return web.New(web.Config{Service: svc, Sessions: sessions, Sealer: sealer, Login: login, BaseURL: c.BaseURL,
		Logger: logger, Demo: c.Demo, HasAuditLog: auditLog})
}
