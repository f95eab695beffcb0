// Package web serves the web spaces of Carnet in French: the espace
// patient (a patient, or a legal representative acting for a minor) and
// the espace professionnel, server-rendered with html/template, templates,
// stylesheet and scripts embedded in the binary.
//
// Every page reads and writes through record.Service, as the API does: the
// policy decides, the access is audited before anything is shown, a denial
// looks like absence. People sign in with the OpenID Connect authorization
// code flow and PKCE (auth.RelyingParty); sessions live server-side in the
// Store (carnet.SessionStore), sealed, behind an HttpOnly SameSite cookie;
// every form carries the session's CSRF token. Pages carry a strict
// Content-Security-Policy (no inline script or style). The access history
// is verified in the patient's browser (static/verify.js). See docs/WEB.md.
package web
