package record

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// Service is the one place through which every read and write of patient
// data passes: validate, decide (Policy), seal (Sealer), store (Store),
// audit (Auditor), in that order. Transports (httpapi, web) only translate.
type Service struct {
	Store       carnet.Store
	Sealer      carnet.Sealer
	Policy      carnet.Policy
	Audit       carnet.Auditor
	Clock       carnet.Clock
	Terminology carnet.Terminology
	// Index analyses text for the full-text index; nil indexes nothing.
	Index carnet.TextIndexer
	// Extractor reads document content: metadata stated by CDA headers,
	// checked against what producers declare, and structured items. Nil
	// reads nothing.
	Extractor carnet.Extractor
	// Concepts reads, at filing, what the point-of-care ranking needs from
	// a document's text and items (pastille.ConceptReader); nil reads
	// nothing.
	Concepts carnet.ConceptReader
	// WarmOnChange reads a record's point-of-care view again in the
	// background after each filing or metadata change, so that the next
	// card finds it current (the server sets it; tests need not).
	WarmOnChange bool
	Logger       *slog.Logger
	// AllowTestINS accepts the test INS OIDs (demo and test mode only).
	AllowTestINS bool
	// DefaultCount and MaxCount bound search pages.
	DefaultCount, MaxCount int

	care    careCache   // the point-of-care view's clear fields, per record
	latest  latestCache // each document version's latest row, per record
	decoded docMemo     // search pages' decoded metadata, by version and plaintext
	// warming are the records whose point-of-care view is read again
	// after a change (WarmOnChange).
	warming warmQueue
	// noAuditTx is set once a filing's transaction could not append its
	// event (PostgreSQL): later filings do not seal an event for it.
	noAuditTx atomic.Bool
	// forms are the records' point-of-care forms waiting to be written.
	forms formQueue
}

func (s *Service) now() time.Time {
	if s.Clock == nil {
		return time.Now().UTC()
	}
	return s.Clock.Now().UTC()
}

func (s *Service) log() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// errRetry asks Provide to prepare again: the record was created meanwhile
// by a concurrent submission, under another key.
var errRetry = errors.New("patient record created concurrently")

// audit records a successful access; it must succeed before anything is served.
func (s *Service) audit(ctx context.Context, r carnet.Request, act carnet.Action, p carnet.PatientKey, docs []string) error {
	if err := s.Audit.Record(ctx, s.successEvent(r, act, p, docs)); err != nil {
		return auditUnavailable(err)
	}
	return nil
}

// successEvent is the event of a successful access.
func (s *Service) successEvent(r carnet.Request, act carnet.Action, p carnet.PatientKey, docs []string) carnet.AuditEvent {
	return carnet.AuditEvent{Time: s.now(), RequestID: r.RequestID, Actor: r.Actor, Action: act, Mode: r.Mode, Reason: r.Reason, Patient: p, Documents: docs, Outcome: "success"}
}

// auditUnavailable is the error of a request whose event could not be
// recorded: nothing is served.
func auditUnavailable(err error) error {
	return carnet.WrapError(carnet.KindUnavailable, "audit", err)
}
