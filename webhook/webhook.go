// Package webhook delivers the patients' notifications (new document, first
// access by a professional, emergency access) to the deployment's
// notification gateway: an HTTPS endpoint that reaches the patient (mobile
// application, e-mail, SMS). Carnet keeps every notification in its store
// (the patient reads them at GET /Communication); the sender pushes the ones
// not yet delivered, oldest first, at least once.
//
// Each delivery is one POST of a JSON object:
//
//	{"id": "…", "kind": "emergency-access", "time": "2026-11-28T17:05:00Z",
//	 "patient": {"system": "urn:oid:1.2.250.1.213.1.4.8", "value": "…"},
//	 "text": "Accès en urgence à votre dossier médical …"}
//
// signed with HMAC-SHA256 over "<unix time>.<body>" in the header
// X-Carnet-Signature: t=<unix time>,v1=<hex>. The receiver checks the
// signature and the time (replays), and deduplicates by id. A 2xx answer marks
// the notification delivered; anything else is retried later with backoff.
// The payload holds the patient's INS and the French text, never a document.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// Source is where the sender finds notifications to deliver: *record.Service.
type Source interface {
	PendingNotifications(ctx context.Context, limit int) ([]carnet.PendingNotification, error)
	NotificationDelivered(ctx context.Context, p carnet.PatientKey, id string) error
}

// Sender pushes notifications to one endpoint.
type Sender struct {
	URL    string
	Secret []byte // HMAC key shared with the receiver; at least 32 bytes
	Source Source
	Client *http.Client
	Logger *slog.Logger
	// Interval between polls when the queue is empty (default 2 s).
	Interval time.Duration
	// Now is the clock for signatures (default time.Now).
	Now func() time.Time
}

// Payload is the JSON body of one delivery.
type Payload struct {
	ID      string                  `json:"id"`
	Kind    carnet.NotificationKind `json:"kind"`
	Time    time.Time               `json:"time"`
	Patient carnet.Identifier       `json:"patient"`
	Text    string                  `json:"text"`
}

// SignatureHeader carries the HMAC of a delivery.
const SignatureHeader = "X-Carnet-Signature"

// Sign returns the signature header value for body at t.
func Sign(secret, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// Run delivers until ctx ends.
func (s *Sender) Run(ctx context.Context) error {
	if len(s.Secret) < 32 {
		return fmt.Errorf("webhook: the secret must have at least 32 bytes")
	}
	interval := s.Interval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	backoff := interval
	for {
		n, err := s.Deliver(ctx)
		wait := interval
		switch {
		case err != nil:
			s.logger().Warn("notification delivery failed; will retry", "err", err, "retry_in", backoff)
			wait = backoff
			backoff = min(backoff*2, 5*time.Minute)
		case n > 0:
			backoff, wait = interval, 0
		default:
			backoff = interval
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

func (s *Sender) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// Deliver sends one batch of pending notifications, in order, stopping at
// the first failure (so that order is kept); it returns how many were
// delivered.
func (s *Sender) Deliver(ctx context.Context) (int, error) {
	pending, err := s.Source.PendingNotifications(ctx, 50)
	if err != nil {
		return 0, err
	}
	client := s.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	now := s.Now
	if now == nil {
		now = time.Now
	}
	for i, n := range pending {
		body, err := json.Marshal(Payload{ID: n.ID, Kind: n.Kind, Time: n.Time, Patient: n.INS, Text: n.Text})
		if err != nil {
			return i, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
		if err != nil {
			return i, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(SignatureHeader, Sign(s.Secret, body, now()))
		resp, err := client.Do(req)
		if err != nil {
			return i, err
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return i, fmt.Errorf("webhook answered %s", resp.Status)
		}
		if err := s.Source.NotificationDelivered(ctx, n.Patient, n.ID); err != nil {
			return i, err
		}
	}
	return len(pending), nil
}
