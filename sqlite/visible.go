package sqlite

import (
	"database/sql/driver"
	"encoding/binary"
	"strings"

	"github.com/carnet-sante/carnet"
	sqlite "modernc.org/sqlite"
)

// A carnet.Cond (the caller's access condition) becomes a WHERE clause.
// Token conditions are answered from the row's own encoded token list by
// carnet_has, a function of this package: the row is read anyway, and
// deciding on it costs no other lookup (a suffix match, "system|code",
// could not use document_tokens' key either).

const hasFunc = "carnet_has"

func init() {
	sqlite.MustRegisterFunction(hasFunc, &sqlite.FunctionImpl{
		NArgs: 4, Deterministic: true,
		// The arguments are read during the call only.
		VolatileArgs: true,
		Scalar:       carnetHas,
	})
}

// carnetHas(tokens, kind, values, suffix) is 1 when the encoded token list
// holds a token of kind whose value is one of the encoded values (or ends
// with "|" + one of them, when suffix is 1), else 0. A malformed list
// matches nothing.
func carnetHas(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	tokens, _ := args[0].([]byte)
	kind, _ := args[1].(string)
	values, _ := args[2].([]byte)
	suffix, _ := args[3].(int64)
	if hasToken(tokens, kind, values, suffix == 1) {
		return int64(1), nil
	}
	return int64(0), nil
}

// nextString returns the first length-prefixed string of b and the rest;
// ok is false on a malformed list.
func nextString(b []byte) (s, rest []byte, ok bool) {
	l, k := binary.Uvarint(b)
	if k <= 0 || l > uint64(len(b)-k) {
		return nil, nil, false
	}
	return b[k : k+int(l)], b[k+int(l):], true
}

func hasToken(tokens []byte, kind string, values []byte, suffix bool) bool {
	if len(tokens) == 0 || tokens[0] != listFormat || len(values) == 0 || values[0] != listFormat {
		return false
	}
	for rest := tokens[1:]; len(rest) > 0; {
		k, r, ok := nextString(rest)
		if !ok {
			return false
		}
		v, r, ok := nextString(r)
		if !ok {
			return false
		}
		rest = r
		if string(k) != kind {
			continue
		}
		for vs := values[1:]; len(vs) > 0; {
			w, r, ok := nextString(vs)
			if !ok {
				return false
			}
			vs = r
			if string(v) == string(w) {
				return true
			}
			if suffix && len(v) > len(w) && v[len(v)-len(w)-1] == '|' && string(v[len(v)-len(w):]) == string(w) {
				return true
			}
		}
	}
	return false
}

// cond appends c to q as one condition on the documents table's columns
// (named with q.alias).
func (q *query) cond(c carnet.Cond) {
	var b strings.Builder
	q.condSQL(&b, c)
	q.add(b.String())
}

func (q *query) condSQL(b *strings.Builder, c carnet.Cond) {
	join := func(op string) {
		b.WriteByte('(')
		for i, a := range c.Args {
			if i > 0 {
				b.WriteString(op)
			}
			q.condSQL(b, a)
		}
		b.WriteByte(')')
	}
	switch c.Op {
	case carnet.CondTrue:
		b.WriteString("1")
	case carnet.CondAnd:
		if len(c.Args) == 0 {
			b.WriteString("1")
			return
		}
		join(" AND ")
	case carnet.CondOr:
		if len(c.Args) == 0 {
			b.WriteString("0")
			return
		}
		join(" OR ")
	case carnet.CondNot:
		if len(c.Args) != 1 {
			b.WriteString("0")
			return
		}
		b.WriteString("NOT ")
		q.condSQL(b, c.Args[0])
	case carnet.CondHas:
		suffix := 0
		if c.Suffix {
			suffix = 1
		}
		b.WriteString(hasFunc + "(" + q.alias + "tokens, ?, ?, ?)")
		q.args = append(q.args, c.Kind, encodeStrings(c.Values), suffix)
	case carnet.CondStatus, carnet.CondLogicalID:
		if len(c.Values) == 0 {
			b.WriteString("0")
			return
		}
		col := q.alias + "status"
		if c.Op == carnet.CondLogicalID {
			col = q.alias + "logical_id"
		}
		b.WriteString(col + " IN " + in(len(c.Values)))
		for _, v := range c.Values {
			q.args = append(q.args, v)
		}
	default: // CondFalse, and what this store does not know: nothing
		b.WriteString("0")
	}
}
