package terminology

import (
	"time"

	"github.com/carnet-sante/carnet"
)

// Unchecked is a carnet.Terminology that checks NOTHING.
//
// WARNING: with Unchecked, no value-set validation happens at all. Any
// non-empty code in any system is reported known and valid, so documents
// with misspelt, invented or retired type, class, format or
// confidentiality codes are accepted and filed as sent. It exists only for
// a server started without a value set directory (no --valuesets flag, no
// CARNET_VALUESETS); the server must log a warning saying so at start-up.
// Never use it where the national value sets are available: load them with
// LoadDir.
type Unchecked struct{}

var _ carnet.Terminology = Unchecked{}

// Lookup reports any non-empty code as known and valid, with no display.
// The system is returned in the same form as Set.Lookup returns it.
func (Unchecked) Lookup(valueSet, system, code string, at time.Time) (c carnet.Coding, known, valid bool) {
	if code == "" {
		return carnet.Coding{}, false, false
	}
	return carnet.Coding{System: fhirSystem(systemKey(system)), Code: code}, true, true
}
