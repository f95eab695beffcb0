// Package auth authenticates callers from OpenID Connect bearer tokens and
// checks SMART App Launch v2 scopes.
//
// A Verifier accepts JWS compact tokens (JWTs) signed by configured issuers
// only: the issuer's keys come from its JWKS, found by OIDC discovery,
// cached and refreshed on an unknown key id (rate-limited) and
// periodically, so that key rotation needs no restart. Verification is
// deliberately narrow: RS256, ES256 and EdDSA only ("none" and HMAC are
// never accepted, and the key's type must match the algorithm), exact
// issuer, audience, a mandatory expiry, bounded sizes and strict JSON (no
// duplicate or case-folded member names). Every refusal is a
// *carnet.Error of KindUnauthenticated with one generic message; the
// precise reason is the error's cause, for the server log only.
//
// Verified claims become a carnet.Actor: a professional (RPPS, TRE_G15
// profession, specialty), a patient (INS) or a system (client
// credentials). Allows checks SMART v2 scopes (patient/, user/, system/
// with cruds permissions, and the v1 read/write forms) for one resource
// and action.
//
// DemoIssuer is a built-in identity provider for `carnet serve --demo` and
// `carnet token`: an Ed25519 key kept in a 0600 file, discovery and JWKS
// served as an http.Handler, and tokens minted for the fixed demo users of
// package synth. Nothing in this package starts it: it exists only when a
// caller constructs it. See docs/AUTH.md.
package auth
