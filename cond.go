package carnet

import (
	"slices"
	"strings"
	"time"
)

// Cond is a condition on a document row's clear fields (status, logicalId,
// tokens) that a Store evaluates inside its query. It is how the policy's
// decision for one caller over one record reaches the store
// (VisibilityCompiler): a search then reads only what the caller may see,
// and a page costs what it returns, not what the record holds.
//
// Match is the reference meaning; storetest holds both stores to it.
type Cond struct {
	Op CondOp
	// Kind and Values for CondHas: the row has a token of Kind whose value
	// is one of Values (or, with Suffix, ends with "|" + one of them: a
	// code in its "system|code" form). Values for CondStatus (statuses) and
	// CondLogicalID (logicalIds).
	Kind   string
	Values []string
	Suffix bool
	Args   []Cond // CondAnd, CondOr, CondNot (one)
}

// CondOp is what a Cond tests.
type CondOp uint8

const (
	CondFalse     CondOp = iota // nothing matches: the zero Cond shows nothing
	CondTrue                    // everything matches
	CondAnd                     // all of Args (none: true)
	CondOr                      // any of Args (none: false)
	CondNot                     // not Args[0]
	CondHas                     // a token of Kind among Values
	CondStatus                  // the row's status among Values
	CondLogicalID               // the row's logicalId among Values
)

// Constructors fold constants, so that what a Store receives is small.

// True matches every row; False none.
func True() Cond  { return Cond{Op: CondTrue} }
func False() Cond { return Cond{Op: CondFalse} }

// All matches rows matching every c.
func All(cs ...Cond) Cond {
	var args []Cond
	for _, c := range cs {
		switch c.Op {
		case CondFalse:
			return False()
		case CondTrue:
			continue
		case CondAnd:
			args = append(args, c.Args...)
		default:
			args = append(args, c)
		}
	}
	switch len(args) {
	case 0:
		return True()
	case 1:
		return args[0]
	}
	return Cond{Op: CondAnd, Args: args}
}

// Any matches rows matching one c at least.
func Any(cs ...Cond) Cond {
	var args []Cond
	for _, c := range cs {
		switch c.Op {
		case CondTrue:
			return True()
		case CondFalse:
			continue
		case CondOr:
			args = append(args, c.Args...)
		default:
			args = append(args, c)
		}
	}
	switch len(args) {
	case 0:
		return False()
	case 1:
		return args[0]
	}
	return Cond{Op: CondOr, Args: args}
}

// Not matches rows c does not match.
func Not(c Cond) Cond {
	switch c.Op {
	case CondTrue:
		return False()
	case CondFalse:
		return True()
	case CondNot:
		return c.Args[0]
	}
	return Cond{Op: CondNot, Args: []Cond{c}}
}

// Has matches rows with a token of kind whose value is one of values.
func Has(kind string, values ...string) Cond {
	if len(values) == 0 {
		return False()
	}
	return Cond{Op: CondHas, Kind: kind, Values: values}
}

// HasCode matches rows with a token of kind that is one of codes, bare or
// in "system|code" form (any system).
func HasCode(kind string, codes ...string) Cond {
	if len(codes) == 0 {
		return False()
	}
	return Cond{Op: CondHas, Kind: kind, Values: codes, Suffix: true}
}

// StatusIn matches rows whose status is one of ss.
func StatusIn(ss ...DocumentStatus) Cond {
	if len(ss) == 0 {
		return False()
	}
	vs := make([]string, len(ss))
	for i, s := range ss {
		vs[i] = string(s)
	}
	return Cond{Op: CondStatus, Values: vs}
}

// LogicalIDIn matches rows whose logicalId is one of ids.
func LogicalIDIn(ids ...string) Cond {
	if len(ids) == 0 {
		return False()
	}
	return Cond{Op: CondLogicalID, Values: ids}
}

// Match reports whether d meets c. An unknown Op matches nothing.
func (c Cond) Match(d *DocumentRow) bool {
	switch c.Op {
	case CondTrue:
		return true
	case CondAnd:
		for _, a := range c.Args {
			if !a.Match(d) {
				return false
			}
		}
		return true
	case CondOr:
		for _, a := range c.Args {
			if a.Match(d) {
				return true
			}
		}
		return false
	case CondNot:
		return len(c.Args) == 1 && !c.Args[0].Match(d)
	case CondHas:
		for _, t := range d.Tokens {
			if t.Kind == c.Kind && c.hasValue(t.Value) {
				return true
			}
		}
		return false
	case CondStatus:
		return slices.Contains(c.Values, string(d.Status))
	case CondLogicalID:
		return slices.Contains(c.Values, d.LogicalID)
	}
	return false
}

func (c Cond) hasValue(v string) bool {
	for _, w := range c.Values {
		if v == w || (c.Suffix && strings.HasSuffix(v, "|"+w)) {
			return true
		}
	}
	return false
}

// String shows a condition for logs and test failures.
func (c Cond) String() string {
	var b strings.Builder
	c.write(&b)
	return b.String()
}

func (c Cond) write(b *strings.Builder) {
	list := func(name string) {
		b.WriteString(name + "(")
		for i, a := range c.Args {
			if i > 0 {
				b.WriteString(", ")
			}
			a.write(b)
		}
		b.WriteString(")")
	}
	switch c.Op {
	case CondTrue:
		b.WriteString("true")
	case CondFalse:
		b.WriteString("false")
	case CondAnd:
		list("all")
	case CondOr:
		list("any")
	case CondNot:
		list("not")
	case CondHas:
		op := "has"
		if c.Suffix {
			op = "has-code"
		}
		b.WriteString(op + "(" + c.Kind + ": " + strings.Join(c.Values, "|") + ")")
	case CondStatus:
		b.WriteString("status(" + strings.Join(c.Values, ",") + ")")
	case CondLogicalID:
		b.WriteString("logical-id(" + strings.Join(c.Values, ",") + ")")
	default:
		b.WriteString("?")
	}
}

// VisibilityCompiler is a Policy that can compile, for a record-level
// request (Document nil), the condition under which it would permit that
// request on a document: Visibility(req) matches row exactly when
// Decide(req with Document = row).Permit. ok is false when it cannot say
// (the caller then decides every row). A Store evaluates the condition in
// its query; the caller still decides every row it serves in full.
type VisibilityCompiler interface {
	Visibility(req AccessRequest) (c Cond, ok bool)
}

// Position is a place in the documents' search order (newest registration
// date first, then by id): where the next page starts.
type Position struct {
	Date time.Time
	ID   string
}
