package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet"
)

// Epoch is the reference time of the suite's rows: millisecond precision, UTC.
var Epoch = time.Date(2025, time.March, 14, 9, 26, 53, 589_000_000, time.UTC)

// Token systems and codes the suite's rows use.
const (
	LOINC        = "http://loinc.org"
	TypeCR       = "11488-4" // compte rendu de consultation
	TypeBio      = "11502-2" // compte rendu de biologie
	ConfSystem   = "urn:oid:2.16.840.1.113883.5.25"
	ClassSystem  = "urn:oid:1.2.250.1.213.1.1.4.1"
	ClassCR      = "11"
	FormatSystem = "urn:oid:1.2.250.1.213.1.1.4.2.282"
	FormatPDF    = "urn:ihe:iti:xds-sd:pdf:2008"
)

// NewID returns a random id with the given prefix (128 random bits).
func NewID(prefix string) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return prefix + hex.EncodeToString(b[:])
}

// NewPatientRow returns an open record, version 1, bound to tokens.
func NewPatientRow(p carnet.PatientKey, tokens ...string) carnet.PatientRow {
	return carnet.PatientRow{
		Key:              p,
		State:            carnet.RecordOpen,
		Version:          1,
		IdentifierTokens: tokens,
		Sealed:           []byte("sealed-patient:" + string(p)),
		Created:          Epoch,
		Updated:          Epoch,
	}
}

// NewWrappedKey returns a wrapped data key created at created.
func NewWrappedKey(id string, created time.Time) carnet.WrappedKey {
	return carnet.WrappedKey{
		ID:      id,
		KEKID:   "kek-1",
		Wrapped: []byte("wrapped:" + id),
		Created: created,
	}
}

// TypeTokens returns the tokens of a LOINC type code.
func TypeTokens(code string) []carnet.Token {
	return carnet.CodingTokens("type", carnet.Coding{System: LOINC, Code: code})
}

// LabelTokens returns the tokens of confidentiality codes.
func LabelTokens(codes ...string) []carnet.Token {
	var ts []carnet.Token
	for _, c := range codes {
		ts = append(ts, carnet.CodingTokens("label", carnet.Coding{System: ConfSystem, Code: c})...)
	}
	return ts
}

// NewDocumentRow returns the latest, current, version 1 of a consultation
// report of p, registered at Epoch, with a service period and tokens for its
// type, class, format and the label N. Callers change fields as they need.
func NewDocumentRow(p carnet.PatientKey, id string) carnet.DocumentRow {
	var tokens []carnet.Token
	tokens = append(tokens, TypeTokens(TypeCR)...)
	tokens = append(tokens, carnet.CodingTokens("class", carnet.Coding{System: ClassSystem, Code: ClassCR})...)
	tokens = append(tokens, carnet.CodingTokens("format", carnet.Coding{System: FormatSystem, Code: FormatPDF})...)
	tokens = append(tokens, LabelTokens(carnet.LabelNormal)...)
	tokens = append(tokens, carnet.Token{Kind: "author", Value: "urn:oid:1.2.250.1.71.4.2.1|810000000001"})
	return carnet.DocumentRow{
		Patient:       p,
		ID:            id,
		LogicalID:     "logical-" + id,
		UniqueID:      "1.2.250.1.999.1.1." + id,
		Version:       1,
		Latest:        true,
		Status:        carnet.StatusCurrent,
		SubmissionSet: "set-of-" + id,
		ContentID:     "content-of-" + id,
		Filer:         "system|https://idp.example|lgc-1",
		Date:          Epoch,
		Created:       Epoch.Add(-24 * time.Hour),
		PeriodStart:   Epoch.Add(-48 * time.Hour),
		PeriodEnd:     Epoch.Add(-47 * time.Hour),
		Tokens:        tokens,
		Sealed:        []byte("sealed-document:" + id),
	}
}

// NewSubmissionSetRow returns a submission set of p dated Epoch.
func NewSubmissionSetRow(p carnet.PatientKey, id string) carnet.SubmissionSetRow {
	return carnet.SubmissionSetRow{
		Patient:  p,
		ID:       id,
		UniqueID: "1.2.250.1.999.2.1." + id,
		Filer:    "system|https://idp.example|lgc-1",
		Date:     Epoch,
		Tokens: []carnet.Token{
			{Kind: "source", Value: "urn:oid:1.2.250.1.999.3"},
			{Kind: "author", Value: "urn:oid:1.2.250.1.71.4.2.1|810000000001"},
		},
		Sealed: []byte("sealed-set:" + id),
	}
}

// NewContent returns n random bytes, standing for sealed content.
func NewContent(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

// MustUpdate runs fn in s.Update and fails the test on error.
func MustUpdate(t testing.TB, s carnet.Store, fn func(tx carnet.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// PatientRowDiff describes how got differs from want, or returns "".
func PatientRowDiff(got, want carnet.PatientRow) string {
	var d differ
	d.eq("Key", got.Key, want.Key)
	d.eq("State", got.State, want.State)
	d.eq("Version", got.Version, want.Version)
	d.strings("IdentifierTokens", got.IdentifierTokens, want.IdentifierTokens)
	d.bytes("Sealed", got.Sealed, want.Sealed)
	d.time("Created", got.Created, want.Created)
	d.time("Updated", got.Updated, want.Updated)
	return d.String()
}

// DocumentRowDiff describes how got differs from want, or returns "".
func DocumentRowDiff(got, want carnet.DocumentRow) string {
	var d differ
	d.eq("Patient", got.Patient, want.Patient)
	d.eq("ID", got.ID, want.ID)
	d.eq("LogicalID", got.LogicalID, want.LogicalID)
	d.eq("UniqueID", got.UniqueID, want.UniqueID)
	d.eq("Version", got.Version, want.Version)
	d.eq("Latest", got.Latest, want.Latest)
	d.eq("Status", got.Status, want.Status)
	d.eq("SubmissionSet", got.SubmissionSet, want.SubmissionSet)
	d.eq("ContentID", got.ContentID, want.ContentID)
	d.time("Date", got.Date, want.Date)
	d.time("Created", got.Created, want.Created)
	d.time("PeriodStart", got.PeriodStart, want.PeriodStart)
	d.time("PeriodEnd", got.PeriodEnd, want.PeriodEnd)
	d.tokens("Tokens", got.Tokens, want.Tokens)
	d.bytes("Sealed", got.Sealed, want.Sealed)
	d.eq("Filer", got.Filer, want.Filer)
	return d.String()
}

// SubmissionSetRowDiff describes how got differs from want, or returns "".
func SubmissionSetRowDiff(got, want carnet.SubmissionSetRow) string {
	var d differ
	d.eq("Patient", got.Patient, want.Patient)
	d.eq("ID", got.ID, want.ID)
	d.eq("UniqueID", got.UniqueID, want.UniqueID)
	d.time("Date", got.Date, want.Date)
	d.tokens("Tokens", got.Tokens, want.Tokens)
	d.bytes("Sealed", got.Sealed, want.Sealed)
	d.eq("Filer", got.Filer, want.Filer)
	return d.String()
}

// WrappedKeyDiff describes how got differs from want, or returns "".
func WrappedKeyDiff(got, want carnet.WrappedKey) string {
	var d differ
	d.eq("ID", got.ID, want.ID)
	d.eq("KEKID", got.KEKID, want.KEKID)
	d.bytes("Wrapped", got.Wrapped, want.Wrapped)
	d.time("Created", got.Created, want.Created)
	return d.String()
}

type differ struct{ lines []string }

func (d *differ) String() string { return strings.Join(d.lines, "; ") }

func (d *differ) add(field string, got, want any) {
	d.lines = append(d.lines, fmt.Sprintf("%s: got %v, want %v", field, got, want))
}

func (d *differ) eq(field string, got, want any) {
	if got != want {
		d.add(field, got, want)
	}
}

func (d *differ) bytes(field string, got, want []byte) {
	if !bytes.Equal(got, want) {
		d.add(field, fmt.Sprintf("%d bytes %.16x…", len(got), got), fmt.Sprintf("%d bytes %.16x…", len(want), want))
	}
}

// time compares instants and checks that a non-zero time comes back in UTC.
func (d *differ) time(field string, got, want time.Time) {
	switch {
	case got.IsZero() != want.IsZero() || !got.Equal(want):
		d.add(field, got, want)
	case !got.IsZero() && got.Location() != time.UTC:
		d.add(field+" location", got.Location(), time.UTC)
	}
}

func (d *differ) strings(field string, got, want []string) {
	g, w := setOf(got), setOf(want)
	if !slices.Equal(g, w) {
		d.add(field, g, w)
	}
}

func (d *differ) tokens(field string, got, want []carnet.Token) {
	g, w := tokenSet(got), tokenSet(want)
	if !slices.Equal(g, w) {
		d.add(field, g, w)
	}
}

func setOf(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

func tokenSet(ts []carnet.Token) []string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.Kind + "=" + t.Value
	}
	return setOf(s)
}
