package auth

import (
	"testing"

	carnet "github.com/carnet-sante/carnet"
)

func TestParseScope(t *testing.T) {
	all := PermCreate | PermRead | PermUpdate | PermDelete | PermSearch
	tests := []struct {
		in   string
		want Scope
		ok   bool
	}{
		{"patient/Observation.rs", Scope{"patient", "Observation", PermRead | PermSearch, ""}, true},
		{"user/*.cruds", Scope{"user", "*", all, ""}, true},
		{"system/DocumentReference.cu", Scope{"system", "DocumentReference", PermCreate | PermUpdate, ""}, true},
		{"patient/Observation.rs?category=laboratory", Scope{"patient", "Observation", PermRead | PermSearch, "category=laboratory"}, true},
		{"patient/*.read", Scope{"patient", "*", PermRead | PermSearch, ""}, true},
		{"user/DocumentReference.write", Scope{"user", "DocumentReference", PermCreate | PermUpdate | PermDelete, ""}, true},
		{"system/*.*", Scope{"system", "*", all, ""}, true},
		{"patient/Observation.sr", Scope{}, false},  // v2 letters out of order
		{"patient/Observation.rr", Scope{}, false},  // repeated letter
		{"patient/Observation.x", Scope{}, false},   // unknown letter
		{"patient/Observation.", Scope{}, false},    // no permissions
		{"patient/Observation", Scope{}, false},     // no dot
		{"admin/*.cruds", Scope{}, false},           // unknown context
		{"openid", Scope{}, false},                  // not a resource scope
		{"launch/patient", Scope{}, false},          // not a resource scope
		{"patient/observation.rs", Scope{}, false},  // resource types are capitalised
		{"patient/*.read?x=1", Scope{}, false},      // v1 has no query
		{"patient/Observation.rs?", Scope{}, false}, // empty query
		{"patient/Obs-ervation.rs", Scope{}, false}, // not a type name
	}
	for _, tt := range tests {
		got, err := ParseScope(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseScope(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseScope(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestAllows(t *testing.T) {
	const (
		pro = carnet.ActorProfessional
		pat = carnet.ActorPatient
		sys = carnet.ActorSystem
	)
	tests := []struct {
		scopes   []string
		kind     carnet.ActorKind
		resource string
		action   carnet.Action
		want     bool
	}{
		{[]string{"user/*.cruds"}, pro, "DocumentReference", carnet.ActionDelete, true},
		{[]string{"user/DocumentReference.rs"}, pro, "DocumentReference", carnet.ActionSearch, true},
		{[]string{"user/DocumentReference.rs"}, pro, "DocumentReference", carnet.ActionCreate, false},
		{[]string{"user/DocumentReference.rs"}, pro, "Binary", carnet.ActionRead, false},
		{[]string{"patient/*.cruds"}, pro, "DocumentReference", carnet.ActionRead, false}, // no launch context
		{[]string{"system/*.cruds"}, pro, "DocumentReference", carnet.ActionRead, false},
		{[]string{"patient/*.rs"}, pat, "DocumentReference", carnet.ActionRead, true},
		{[]string{"user/*.rs"}, pat, "DocumentReference", carnet.ActionRead, true},
		{[]string{"patient/*.rs"}, pat, "DocumentReference", carnet.ActionUpdate, false},
		{[]string{"system/*.cruds"}, pat, "DocumentReference", carnet.ActionRead, false},
		{[]string{"system/DocumentReference.c"}, sys, "DocumentReference", carnet.ActionCreate, true},
		{[]string{"system/DocumentReference.c"}, sys, "DocumentReference", carnet.ActionRead, false},
		{[]string{"user/*.cruds"}, sys, "DocumentReference", carnet.ActionCreate, false},
		{[]string{"patient/*.read"}, pat, "Observation", carnet.ActionSearch, true},
		{[]string{"patient/*.read"}, pat, "Observation", carnet.ActionCreate, false},
		{[]string{"user/*.write"}, pro, "DocumentReference", carnet.ActionUpdate, true},
		{[]string{"user/*.write"}, pro, "DocumentReference", carnet.ActionRead, false},
		{[]string{"patient/Observation.rs?category=laboratory"}, pat, "Observation", carnet.ActionRead, false},
		{[]string{"openid", "fhirUser", "user/Observation.r"}, pro, "Observation", carnet.ActionRead, true},
		{[]string{"user/*.cruds"}, pro, "DocumentReference", carnet.Action("purge"), false},
		{[]string{"user/*.cruds"}, pro, "*", carnet.ActionRead, false},
		{nil, pro, "DocumentReference", carnet.ActionRead, false},
		{[]string{"user/*.cruds"}, carnet.ActorKind("robot"), "DocumentReference", carnet.ActionRead, false},
	}
	for _, tt := range tests {
		if got := Allows(tt.scopes, tt.kind, tt.resource, tt.action); got != tt.want {
			t.Errorf("Allows(%q, %s, %s, %s) = %v, want %v", tt.scopes, tt.kind, tt.resource, tt.action, got, tt.want)
		}
	}
}
