package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auth"
	"github.com/carnet-sante/carnet/mhd"
)

// Headers by which a professional asks for an emergency access
// (docs/ACCESS.md): the purpose of use, a v3 PurposeOfUse code, and for bris
// de glace the stated reason, percent-encoded UTF-8.
const (
	HeaderPurposeOfUse = "X-Purpose-Of-Use"
	HeaderAccessReason = "X-Access-Reason"
)

// accessMode reads the access mode a request asks for.
func accessMode(r *http.Request) (carnet.Mode, string, error) {
	mode := carnet.ModeNormal
	switch v := r.Header.Get(HeaderPurposeOfUse); strings.ToUpper(strings.TrimSpace(v)) {
	case "", "TREAT":
	case "BTG":
		mode = carnet.ModeBreakGlass
	case "ETREAT":
		mode = carnet.ModeCentre15
	default:
		return "", "", refuse(carnet.KindInvalid, "value", HeaderPurposeOfUse+" must be TREAT, BTG (bris de glace) or ETREAT (centre 15)")
	}
	raw := r.Header.Get(HeaderAccessReason)
	reason, err := url.PathUnescape(raw)
	if err != nil || !carnet.ValidReason(reason) {
		return "", "", refuse(carnet.KindInvalid, "value", fmt.Sprintf("%s must be percent-encoded UTF-8 text of at most %d characters, without control characters (line breaks included)", HeaderAccessReason, carnet.MaxReasonChars))
	}
	reason = strings.TrimSpace(reason)
	if mode == carnet.ModeBreakGlass && reason == "" {
		// Saying so reveals nothing: a reason is the rule of bris de glace.
		return "", "", refuse(carnet.KindInvalid, "required", "bris de glace needs a reason: give it in "+HeaderAccessReason+" (percent-encoded)")
	}
	return mode, reason, nil
}

// allow checks the caller's SMART scopes for one action on one resource
// type. Scopes only cap what a client may ask; the policy decides after.
func allow(a carnet.Actor, resource string, act carnet.Action) error {
	if auth.Allows(a.Scopes, a.Kind, resource, act) {
		return nil
	}
	return refuse(carnet.KindForbidden, "forbidden", "insufficient_scope: the token's scopes do not grant "+string(act)+" on "+resource)
}

// allowEntries checks the scopes for each entry of a Provide Document
// Bundle: creating its List, DocumentReferences and Binaries, updating the
// DocumentReferences it patches.
func allowEntries(a carnet.Actor, m *mhd.EntryMap) error {
	for _, e := range m.Entries {
		var err error
		switch e.Kind {
		case mhd.EntrySubmissionSet:
			err = allow(a, "List", carnet.ActionCreate)
		case mhd.EntryDocument:
			err = allow(a, "DocumentReference", carnet.ActionCreate)
		case mhd.EntryBinary:
			err = allow(a, "Binary", carnet.ActionCreate)
		case mhd.EntryPatch:
			err = allow(a, "DocumentReference", carnet.ActionUpdate)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
