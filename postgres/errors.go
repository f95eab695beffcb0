package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/carnet-sante/carnet"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// SQLSTATE codes the store reacts to.
const (
	codeUniqueViolation      = "23505"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

// mapError turns a driver error into a *carnet.Error of the kind the caller
// can act on. An error that already is a *carnet.Error passes unchanged. The
// driver's text stays in the cause, never in the caller's message.
func mapError(op string, err error) error {
	if err == nil {
		return nil
	}
	var ce *carnet.Error
	if errors.As(err, &ce) {
		return err
	}
	return carnet.WrapError(errorKind(err), op, err)
}

func errorKind(err error) carnet.Kind {
	if errors.Is(err, pgx.ErrNoRows) {
		return carnet.KindNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == codeUniqueViolation:
			return carnet.KindConflict
		case pe.Code == "22021", pe.Code == "22P05":
			// A string the database cannot hold (a NUL byte, invalid
			// UTF-8): it came from the request.
			return carnet.KindInvalid
		case pe.Code == codeSerializationFailure, pe.Code == codeDeadlockDetected:
			// Only left when Update ran out of retries: try again later.
			return carnet.KindUnavailable
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			strings.HasPrefix(pe.Code, "53"),  // insufficient resources: disk full, too many connections
			strings.HasPrefix(pe.Code, "57P"), // server shutting down or starting
			pe.Code == "25006":                // read-only transaction: a standby after failover
			return carnet.KindUnavailable
		}
		return carnet.KindInternal
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.Is(err, errClosed),
		errors.As(err, &connectErr),
		errors.As(err, &netErr),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		pgconn.Timeout(err),
		pgconn.SafeToRetry(err): // failed before anything reached the server
		return carnet.KindUnavailable
	}
	return carnet.KindInternal
}

// retryable reports whether a transaction failed only because it raced with
// another one: running it again may succeed.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == codeSerializationFailure || pe.Code == codeDeadlockDetected)
}

func notFound(op, what string) error {
	return &carnet.Error{Kind: carnet.KindNotFound, Op: op, Msg: what + " not found"}
}

func conflict(op, msg string) error {
	return &carnet.Error{Kind: carnet.KindConflict, Op: op, Msg: msg}
}
