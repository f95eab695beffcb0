package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/auditlog"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/httpapi"
)

// verifyState is what the client remembers between runs: the log key it
// trusts and the last checkpoint it accepted.
type verifyState struct {
	VerifierKey string `json:"verifierKey"`
	Checkpoint  string `json:"checkpoint"` // signed note
}

// auditVerify is the patient's client-side check: it fetches their access
// history and the log's signed checkpoint, checks that the checkpoint
// extends the one remembered from last time (no line erased, no forked
// history), and that every event shown is in the log (inclusion proofs).
func auditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit verify", stderr)
	base := fs.String("url", "http://127.0.0.1:8080", "Carnet's FHIR base URL")
	token := fs.String("token", "", "bearer token of the patient (or a legal representative, or an auditor)")
	patient := fs.String("patient", "", "the record, as SYSTEM|INS (default: the token's own)")
	statePath := fs.String("state", "", "file remembering the trusted log key and the last checkpoint (default: one per server in the user's configuration directory, e.g. ~/.config/carnet/)")
	logKey := fs.String("log-key", "", "the log's verifier key, if known from elsewhere (default: trusted on first use)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *token == "" {
		return errors.New("--token is required")
	}
	if *statePath == "" {
		p, err := defaultStatePath(*base)
		if err != nil {
			return err
		}
		*statePath = p
	}
	cl := &verifyClient{base: strings.TrimSuffix(*base, "/"), token: *token, http: &http.Client{Timeout: 30 * time.Second}}
	var st verifyState
	if b, err := os.ReadFile(*statePath); err == nil {
		if err := json.Unmarshal(b, &st); err != nil {
			return fmt.Errorf("state %s: %w", *statePath, err)
		}
	}
	served, err := cl.text(ctx, "/log/key")
	if err != nil {
		return err
	}
	served = strings.TrimSpace(served)
	switch {
	case *logKey != "" && strings.TrimSpace(*logKey) != served:
		return fmt.Errorf("the server's log key %q is not the one given", served)
	case st.VerifierKey != "" && st.VerifierKey != served:
		return fmt.Errorf("the server's log key changed since the last check (%q, was %q): refusing it", served, st.VerifierKey)
	case st.VerifierKey == "" && *logKey == "":
		fmt.Fprintf(stdout, "trusting the log key %s on first use\n", served)
	}
	v, err := auditlog.NewVerifier(served)
	if err != nil {
		return err
	}
	var last *auditlog.Checkpoint
	if st.Checkpoint != "" {
		c, err := auditlog.OpenCheckpoint([]byte(st.Checkpoint), v.Name(), v)
		if err != nil {
			return fmt.Errorf("remembered checkpoint: %w", err)
		}
		last = &c
	}
	w := auditlog.NewWitness(v.Name(), v, last)

	// The history first, then a checkpoint that covers it.
	q := url.Values{"_count": {"500"}}
	if *patient != "" {
		q.Set("patient.identifier", *patient)
	}
	events, err := cl.history(ctx, "/AuditEvent?"+q.Encode())
	if err != nil {
		return err
	}
	if len(events) == 0 {
		// Every record's history holds at least its creation: an empty one
		// is a token that may not read it (answered like an unknown
		// record), or the wrong record. Nothing checked is no success.
		return errors.New("nothing to verify: the server showed no event of this history (is the token the patient's, a legal representative's or an auditor's, and --patient the right record?)")
	}
	var cp auditlog.Checkpoint
	var note string
	for attempt := 0; ; attempt++ {
		if note, err = cl.text(ctx, "/log/checkpoint"); err != nil {
			return err
		}
		c, err := auditlog.OpenCheckpoint([]byte(note), v.Name(), v)
		if err != nil {
			return fmt.Errorf("the server's checkpoint does not verify: %w", err)
		}
		cp = c
		if attempt == 3 || maxIndex(events) < cp.Size {
			break
		}
		time.Sleep(1100 * time.Millisecond) // checkpoints are signed at most once a second
	}
	var proof [][]byte
	if last != nil && last.Size > 0 && last.Size <= cp.Size {
		var p httpapi.Proof
		if err := cl.json(ctx, fmt.Sprintf("/log/proof/consistency?from=%d&to=%d", last.Size, cp.Size), &p); err != nil {
			return err
		}
		if proof, err = decodeHashes(p.Hashes); err != nil {
			return err
		}
	}
	if last != nil && last.Size > cp.Size {
		return fmt.Errorf("FORK OR ROLLBACK: the log shrank from %d to %d entries since the last check", last.Size, cp.Size)
	}
	if _, err := w.Update([]byte(note), proof); err != nil {
		return fmt.Errorf("FORK: the log shown now does not extend the one seen on the last check: %w", err)
	}
	verified, pending := 0, 0
	for _, e := range events {
		if e.index >= cp.Size {
			pending++
			continue
		}
		leaf, err := auditlog.Entry{EventID: e.id, Time: e.at, RowDigest: e.digest}.MarshalLeaf()
		if err != nil {
			return fmt.Errorf("event %s: %w", e.id, err)
		}
		var p httpapi.Proof
		if err := cl.json(ctx, fmt.Sprintf("/log/proof/inclusion?index=%d&size=%d", e.index, cp.Size), &p); err != nil {
			return err
		}
		hashes, err := decodeHashes(p.Hashes)
		if err != nil {
			return err
		}
		if err := auditlog.VerifyInclusion(leaf, e.index, hashes, cp); err != nil {
			return fmt.Errorf("NOT IN THE LOG: event %s (%s, index %d): %w", e.id, e.at.Format(time.RFC3339), e.index, err)
		}
		verified++
	}
	if verified == 0 {
		return fmt.Errorf("nothing verified: the %d events shown are newer than the log's latest signed checkpoint (%d entries); try again in a few seconds", pending, cp.Size)
	}
	st = verifyState{VerifierKey: served, Checkpoint: note}
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := os.MkdirAll(filepath.Dir(*statePath), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(*statePath, b, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ok: %d events of the history are in the log %s of %d entries", verified, v.Name(), cp.Size)
	if last != nil {
		fmt.Fprintf(stdout, ", which extends the %d entries seen last time", last.Size)
	}
	if pending > 0 {
		fmt.Fprintf(stdout, "; %d newer events are not yet under a signed checkpoint", pending)
	}
	fmt.Fprintln(stdout)
	return nil
}

type verifyClient struct {
	base, token string
	http        *http.Client
}

// get fetches path, waiting as the server asks when it says the client
// is over its budget (429 Retry-After), a few times at most.
func (c *verifyClient) get(ctx context.Context, path string) ([]byte, error) {
	u := path
	if !strings.HasPrefix(u, "http") {
		u = c.base + path
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+c.token)
		res, err := c.http.Do(req)
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
		res.Body.Close()
		if err != nil {
			return nil, err
		}
		if res.StatusCode == http.StatusTooManyRequests && attempt < 5 {
			wait, _ := strconv.Atoi(res.Header.Get("Retry-After"))
			select {
			case <-time.After(time.Duration(min(max(wait, 1), 10)) * time.Second):
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if res.StatusCode != 200 {
			return nil, fmt.Errorf("GET %s: %s: %s", path, res.Status, strings.TrimSpace(string(b)))
		}
		return b, nil
	}
}

func (c *verifyClient) text(ctx context.Context, path string) (string, error) {
	b, err := c.get(ctx, path)
	return string(b), err
}

func (c *verifyClient) json(ctx context.Context, path string, v any) error {
	b, err := c.get(ctx, path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

type shownEvent struct {
	id     string
	index  uint64
	at     time.Time
	digest [32]byte
}

// history reads every page of the access history.
func (c *verifyClient) history(ctx context.Context, path string) ([]shownEvent, error) {
	var out []shownEvent
	for pages := 0; path != "" && pages < 10000; pages++ {
		var b fhir.Bundle
		if err := c.json(ctx, path, &b); err != nil {
			return nil, err
		}
		path = ""
		for _, l := range b.Link {
			if l.Relation == "next" {
				path = l.URL
			}
		}
		for _, e := range b.Entry {
			var ae fhir.AuditEvent
			if err := json.Unmarshal(e.Resource, &ae); err != nil {
				return nil, err
			}
			ev, err := logEntryOf(ae)
			if err != nil {
				return nil, err
			}
			out = append(out, ev)
		}
	}
	return out, nil
}

func logEntryOf(ae fhir.AuditEvent) (shownEvent, error) {
	ev := shownEvent{id: ae.ID}
	found := 0
	for _, x := range ae.Extension {
		for _, y := range x.Extension {
			switch {
			case y.URL == "index" && y.ValueInteger != nil && *y.ValueInteger >= 0:
				ev.index = uint64(*y.ValueInteger)
				found++
			case y.URL == "time" && y.ValueDateTime != nil:
				t, err := time.Parse(time.RFC3339Nano, *y.ValueDateTime)
				if err != nil {
					return ev, err
				}
				ev.at = t
				found++
			case y.URL == "digest" && y.ValueString != nil:
				b, err := hex.DecodeString(*y.ValueString)
				if err != nil || len(b) != 32 {
					return ev, fmt.Errorf("event %s: bad digest", ae.ID)
				}
				copy(ev.digest[:], b)
				found++
			}
		}
	}
	if found != 3 {
		return ev, fmt.Errorf("event %s carries no log entry", ae.ID)
	}
	return ev, nil
}

func maxIndex(es []shownEvent) uint64 {
	var m uint64
	for _, e := range es {
		m = max(m, e.index+1)
	}
	return m
}

func decodeHashes(ss []string) ([][]byte, error) {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("proof hash %d: %w", i, err)
		}
		out[i] = b
	}
	return out, nil
}

// defaultStatePath is where the check remembers a server's log: one file
// per server (scheme, host and port) under the user's configuration
// directory, never the working directory (a repository checkout).
func defaultStatePath(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("--url %q is not a URL", base)
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no user configuration directory to keep the check's state in (%v): give --state FILE", err)
	}
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, strings.ToLower(u.Scheme+"_"+u.Host))
	return filepath.Join(dir, "carnet", "audit-"+name+".json"), nil
}
