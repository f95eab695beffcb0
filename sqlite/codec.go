package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"strings"
	"time"

	"github.com/carnet-sante/carnet"
	sqlite "modernc.org/sqlite"
)

// Times are stored as microseconds since the Unix epoch (UTC); the zero time
// is NULL. Microseconds keep every instant from year -290000 to 290000 and
// match PostgreSQL's timestamptz precision.
func dbTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func goTime(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64).UTC()
}

// The token lists kept with their rows are encoded as a format byte followed
// by length-prefixed strings (kind, value for tokens): compact, and decoded
// without a parser.
const listFormat = 1

func encodeTokens(ts []carnet.Token) []byte {
	b := []byte{listFormat}
	for _, t := range ts {
		b = appendString(b, t.Kind)
		b = appendString(b, t.Value)
	}
	return b
}

func encodeStrings(ss []string) []byte {
	b := []byte{listFormat}
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errBadList = errors.New("sqlite: malformed encoded list")

// decodeStrings decodes a list; every string shares one allocation (a
// search decodes a dozen tokens for each of hundreds of rows).
func decodeStrings(b []byte) ([]string, error) {
	all, n, err := checkList(b)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	out := make([]string, 0, n)
	for rest := all; len(rest) > 0; {
		l, k := uvarintString(rest)
		out = append(out, rest[k:k+int(l)])
		rest = rest[k+int(l):]
	}
	return out, nil
}

// checkList validates an encoded list and returns its body (one string,
// so that decoded items share one allocation) and how many items it holds.
func checkList(b []byte) (string, int, error) {
	if len(b) == 0 || b[0] != listFormat {
		return "", 0, errBadList
	}
	all := string(b[1:])
	n := 0
	for rest := all; len(rest) > 0; n++ {
		l, k := uvarintString(rest)
		if k <= 0 || l > uint64(len(rest)-k) {
			return "", 0, errBadList
		}
		rest = rest[k+int(l):]
	}
	return all, n, nil
}

func uvarintString(s string) (uint64, int) {
	// Lengths below 128 (nearly all) take one byte: no copy to decode them.
	if len(s) > 0 && s[0] < 0x80 {
		return uint64(s[0]), 1
	}
	var b [binary.MaxVarintLen64]byte
	return binary.Uvarint(b[:copy(b[:], s)])
}

// decodeTokens decodes a token list straight into its Tokens: a search
// decodes the list of every matching row, and going through a []string
// first cost a third of the time of reading a row.
func decodeTokens(b []byte) ([]carnet.Token, error) {
	all, n, err := checkList(b)
	if err != nil {
		return nil, err
	}
	if n%2 != 0 {
		return nil, errBadList
	}
	if n == 0 {
		return nil, nil
	}
	out := make([]carnet.Token, n/2)
	rest := all
	next := func() string {
		l, k := uvarintString(rest)
		s := rest[k : k+int(l)]
		rest = rest[k+int(l):]
		return s
	}
	for i := range out {
		out[i].Kind = next()
		out[i].Value = next()
	}
	return out, nil
}

// nonNil keeps NOT NULL blob columns satisfied by an empty sealed value.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// SQLite result codes (primary code in the low byte).
const (
	codeIOErr      = 10
	codeCorrupt    = 11
	codeFull       = 13
	codeNotADB     = 26
	codeConstraint = 19
	// Extended codes of constraint failures that mean "already there".
	codeConstraintPrimaryKey = 1555
	codeConstraintUnique     = 2067
)

func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// isDuplicate reports whether err is a primary key or unique violation.
func isDuplicate(err error) bool {
	switch sqliteCode(err) {
	case codeConstraintPrimaryKey, codeConstraintUnique:
		return true
	}
	return false
}

// isStorageFailure reports whether err says the file or the disk failed:
// after such an error the store must not acknowledge writes any more.
func isStorageFailure(err error) bool {
	switch sqliteCode(err) & 0xff {
	case codeIOErr, codeCorrupt, codeFull, codeNotADB:
		return true
	}
	return false
}

var errClosed = errors.New("sqlite: store closed")

// wrap turns a driver error into a *carnet.Error for operation op. The
// driver's text (SQL, constraint names, file paths) stays in the cause.
func wrap(op string, err error) error {
	var ce *carnet.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		return err
	case errors.Is(err, sql.ErrNoRows):
		return &carnet.Error{Kind: carnet.KindNotFound, Op: op, Msg: "not found"}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &carnet.Error{Kind: carnet.KindUnavailable, Op: op, Msg: "request canceled", Err: err}
	case errors.Is(err, errClosed), errors.Is(err, sql.ErrConnDone), strings.Contains(err.Error(), "database is closed"):
		return &carnet.Error{Kind: carnet.KindUnavailable, Op: op, Msg: "store closed", Err: err}
	case isStorageFailure(err):
		return &carnet.Error{Kind: carnet.KindUnavailable, Op: op, Msg: "storage failure", Err: err}
	}
	return carnet.WrapError(carnet.KindInternal, op, err)
}

func conflict(op, msg string, cause error) error {
	return &carnet.Error{Kind: carnet.KindConflict, Op: op, Msg: msg, Err: cause}
}
