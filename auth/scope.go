package auth

import (
	"errors"
	"fmt"
	"strings"

	carnet "github.com/carnet-sante/carnet"
)

// Perm is a set of SMART v2 permissions: c, r, u, d, s.
type Perm uint8

const (
	PermCreate Perm = 1 << iota
	PermRead
	PermUpdate
	PermDelete
	PermSearch
)

// permLetters is in the order SMART v2 requires inside a scope.
var permLetters = []struct {
	letter byte
	perm   Perm
}{{'c', PermCreate}, {'r', PermRead}, {'u', PermUpdate}, {'d', PermDelete}, {'s', PermSearch}}

// PermOf is the permission an action needs.
func PermOf(a carnet.Action) Perm {
	switch a {
	case carnet.ActionCreate:
		return PermCreate
	case carnet.ActionRead:
		return PermRead
	case carnet.ActionUpdate:
		return PermUpdate
	case carnet.ActionDelete:
		return PermDelete
	case carnet.ActionSearch:
		return PermSearch
	}
	return 0
}

// Scope is one parsed SMART resource scope, e.g. "patient/Observation.rs".
type Scope struct {
	Context  string // "patient", "user" or "system"
	Resource string // a FHIR resource type, or "*"
	Perms    Perm
	// Query is the v2 fine-grained constraint after '?', e.g.
	// "category=laboratory". Allows does not evaluate constraints, so a
	// constrained scope grants nothing there (deny by default).
	Query string
}

// ParseScope parses a SMART App Launch resource scope: v2
// "context/Resource.cruds[?query]" with the letters in order, or v1
// "context/Resource.read|write|*" (read is rs, write is cud, * is cruds).
// Other scopes (openid, launch, fhirUser, …) are errors: they grant no
// access to resources.
func ParseScope(s string) (Scope, error) {
	var sc Scope
	ctx, rest, ok := strings.Cut(s, "/")
	if !ok {
		return sc, errors.New("not a resource scope")
	}
	switch ctx {
	case "patient", "user", "system":
	default:
		return sc, fmt.Errorf("scope context %q", ctx)
	}
	rest, query, hasQuery := strings.Cut(rest, "?")
	if hasQuery && query == "" {
		return sc, errors.New("empty scope query")
	}
	dot := strings.LastIndexByte(rest, '.')
	if dot < 0 {
		return sc, errors.New("scope has no permissions")
	}
	res, perms := rest[:dot], rest[dot+1:]
	if !validResource(res) {
		return sc, fmt.Errorf("scope resource %q", res)
	}
	sc.Context, sc.Resource, sc.Query = ctx, res, query
	switch perms {
	case "read":
		sc.Perms = PermRead | PermSearch
	case "write":
		sc.Perms = PermCreate | PermUpdate | PermDelete
	case "*":
		sc.Perms = PermCreate | PermRead | PermUpdate | PermDelete | PermSearch
	default:
		i := 0
		for _, pl := range permLetters {
			if i < len(perms) && perms[i] == pl.letter {
				sc.Perms |= pl.perm
				i++
			}
		}
		if perms == "" || i != len(perms) {
			return Scope{}, fmt.Errorf("scope permissions %q", perms)
		}
	}
	if hasQuery && (perms == "read" || perms == "write" || perms == "*") {
		return Scope{}, errors.New("v1 scope with a query")
	}
	return sc, nil
}

// validResource accepts "*" or a FHIR resource type name: an upper-case
// ASCII letter then ASCII letters.
func validResource(r string) bool {
	if r == "*" {
		return true
	}
	if r == "" || len(r) > 64 || r[0] < 'A' || r[0] > 'Z' {
		return false
	}
	for i := 1; i < len(r); i++ {
		c := r[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// contextsFor says which scope contexts an actor kind may use. patient/
// scopes mean "the patient in context": for a patient that is themself;
// a professional would need a SMART launch context, which Carnet does
// not offer, so patient/ scopes grant professionals nothing. system/
// scopes are for client-credentials systems only.
func contextsFor(kind carnet.ActorKind) []string {
	switch kind {
	case carnet.ActorPatient:
		return []string{"patient", "user"}
	case carnet.ActorProfessional:
		return []string{"user"}
	case carnet.ActorSystem:
		return []string{"system"}
	}
	return nil
}

// Allows reports whether scopes let an actor of kind perform action on
// resource (a FHIR resource type). Unparseable scopes, scopes of a context
// the kind may not use and scopes with a query constraint grant nothing.
// Scopes only cap what a client may do: the access policy still decides.
func Allows(scopes []string, kind carnet.ActorKind, resource string, action carnet.Action) bool {
	need := PermOf(action)
	if need == 0 || resource == "" || resource == "*" {
		return false
	}
	ctxs := contextsFor(kind)
	for _, s := range scopes {
		sc, err := ParseScope(s)
		if err != nil || sc.Query != "" || sc.Perms&need == 0 {
			continue
		}
		if sc.Resource != "*" && sc.Resource != resource {
			continue
		}
		for _, c := range ctxs {
			if sc.Context == c {
				return true
			}
		}
	}
	return false
}
