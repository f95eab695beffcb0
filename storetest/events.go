package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/carnet-sante/carnet"
)

// NewNotificationRow returns an undelivered notification of p at at.
func NewNotificationRow(p carnet.PatientKey, id string, at time.Time) carnet.NotificationRow {
	return carnet.NotificationRow{
		Patient: p,
		ID:      id,
		Time:    at,
		Sealed:  []byte("sealed-notification:" + string(p) + ":" + id),
	}
}

// NewAuditRow returns an audit event of p (or of no record, p == "") by
// actor at at, with its digest and a stand-in leaf hash derived from id.
func NewAuditRow(p carnet.PatientKey, id string, at time.Time, actor string) carnet.AuditRow {
	sealed := []byte("sealed-audit-event:" + id)
	digest := sha256.Sum256(sealed)
	leaf := sha256.Sum256(append([]byte{0}, id...))
	return carnet.AuditRow{
		ID:       id,
		Patient:  p,
		Time:     at,
		Actor:    actor,
		Digest:   digest[:],
		Sealed:   sealed,
		LeafHash: leaf[:],
	}
}

// NotificationRowDiff describes how got differs from want, or returns "".
func NotificationRowDiff(got, want carnet.NotificationRow) string {
	var d differ
	d.eq("Patient", got.Patient, want.Patient)
	d.eq("ID", got.ID, want.ID)
	d.time("Time", got.Time, want.Time)
	d.bytes("Sealed", got.Sealed, want.Sealed)
	d.time("Delivered", got.Delivered, want.Delivered)
	return d.String()
}

// AuditRowDiff describes how got differs from want, or returns "". A nil
// Sealed (pruned) must come back nil.
func AuditRowDiff(got, want carnet.AuditRow) string {
	var d differ
	d.eq("Seq", got.Seq, want.Seq)
	d.eq("ID", got.ID, want.ID)
	d.eq("Patient", got.Patient, want.Patient)
	d.time("Time", got.Time, want.Time)
	d.eq("Actor", got.Actor, want.Actor)
	d.bytes("Digest", got.Digest, want.Digest)
	d.bytes("Sealed", got.Sealed, want.Sealed)
	d.eq("Sealed is nil", got.Sealed == nil, want.Sealed == nil)
	d.bytes("LeafHash", got.LeafHash, want.LeafHash)
	return d.String()
}

func notificationIDs(rows []carnet.NotificationRow) []string {
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.ID)
	}
	return out
}

// queueIDs names undelivered notifications "patient/id".
func queueIDs(rows []carnet.NotificationRow) []string {
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, string(r.Patient)+"/"+r.ID)
	}
	return out
}

func auditIDs(rows []carnet.AuditRow) []string {
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.ID)
	}
	return out
}

func insertNotifications(t *testing.T, s carnet.Store, rows ...carnet.NotificationRow) {
	t.Helper()
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
		for _, r := range rows {
			if err := tx.InsertNotification(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// wantNotifications checks that Notifications(p, f) returns exactly want,
// in order and field by field.
func wantNotifications(t tb, r carnet.Reader, p carnet.PatientKey, f carnet.NotificationFilter, want ...carnet.NotificationRow) {
	t.Helper()
	got, err := r.Notifications(context.Background(), p, f)
	if err != nil {
		t.Fatalf("Notifications(%s, %+v): %v", p, f, err)
	}
	if g, w := notificationIDs(got), notificationIDs(want); !slices.Equal(g, w) {
		t.Fatalf("Notifications(%s, %+v): got %v, want %v", p, f, g, w)
	}
	for i := range want {
		if d := NotificationRowDiff(got[i], want[i]); d != "" {
			t.Fatalf("Notifications(%s)[%d]: %s", p, i, d)
		}
	}
}

// wantQueue checks the ids ("patient/id") Undelivered(limit) returns.
func wantQueue(t tb, r carnet.Reader, limit int, want ...string) {
	t.Helper()
	got, err := r.Undelivered(context.Background(), limit)
	if err != nil {
		t.Fatalf("Undelivered(%d): %v", limit, err)
	}
	if g := queueIDs(got); !slices.Equal(g, want) && len(g)+len(want) > 0 {
		t.Fatalf("Undelivered(%d): got %v, want %v", limit, g, want)
	}
}

func appendAudit(t *testing.T, s carnet.Store, rows ...carnet.AuditRow) uint64 {
	t.Helper()
	first, err := s.AppendAudit(context.Background(), rows)
	if err != nil {
		t.Fatalf("AppendAudit(%v): %v", auditIDs(rows), err)
	}
	return first
}

// wantAuditLog checks that the log holds exactly want (with their Seq set),
// through every read of the AuditStore.
func wantAuditLog(t *testing.T, s carnet.Store, want ...carnet.AuditRow) {
	t.Helper()
	ctx := context.Background()
	size, err := s.AuditSize(ctx)
	if err != nil || size != uint64(len(want)) {
		t.Fatalf("AuditSize: got %d, %v; want %d", size, err, len(want))
	}
	got, err := s.AuditEvents(ctx, 0, size)
	if err != nil {
		t.Fatalf("AuditEvents(0, %d): %v", size, err)
	}
	if g, w := auditIDs(got), auditIDs(want); !slices.Equal(g, w) {
		t.Fatalf("AuditEvents(0, %d): got %v, want %v", size, g, w)
	}
	hashes, err := s.AuditLeafHashes(ctx, 0, size)
	if err != nil || len(hashes) != len(want) {
		t.Fatalf("AuditLeafHashes(0, %d): got %d hashes, %v; want %d", size, len(hashes), err, len(want))
	}
	for i, w := range want {
		if d := AuditRowDiff(got[i], w); d != "" {
			t.Fatalf("AuditEvents[%d]: %s", i, d)
		}
		one, err := s.AuditEvent(ctx, w.ID)
		if err != nil {
			t.Fatalf("AuditEvent(%s): %v", w.ID, err)
		}
		if d := AuditRowDiff(one, w); d != "" {
			t.Fatalf("AuditEvent(%s): %s", w.ID, d)
		}
		if string(hashes[i]) != string(w.LeafHash) {
			t.Fatalf("AuditLeafHashes[%d]: got %x, want %x", i, hashes[i], w.LeafHash)
		}
	}
}

// withSeq returns rows numbered from first, as AppendAudit stores them.
func withSeq(first uint64, rows ...carnet.AuditRow) []carnet.AuditRow {
	out := slices.Clone(rows)
	for i := range out {
		out[i].Seq = first + uint64(i)
	}
	return out
}

func testNotificationRoundTrip(t *testing.T, s carnet.Store) {
	paris := time.FixedZone("Europe/Paris", 3600)
	full := NewNotificationRow("p1", "notif-full", time.Date(2025, 6, 1, 10, 0, 0, 123_000_000, paris))
	full.Sealed = NewContent(16 << 10)
	// Stored already delivered (a backfill, say): it is not in the queue.
	delivered := NewNotificationRow("p1", "notif-delivered", Epoch)
	delivered.Delivered = time.Date(2025, 6, 2, 8, 0, 0, 1_000, paris)
	// The same id under another patient is another notification.
	other := NewNotificationRow("p2", "notif-full", Epoch)
	insertNotifications(t, s, full, delivered, other)

	wantNotifications(t, s, "p1", carnet.NotificationFilter{}, full, delivered)
	wantNotifications(t, s, "p2", carnet.NotificationFilter{}, other)
	wantNotifications(t, s, "p3", carnet.NotificationFilter{})
	wantQueue(t, s, 100, "p2/notif-full", "p1/notif-full")
}

func testNotificationsOrder(t *testing.T, s carnet.Store) {
	// Time descending, then id descending in byte order ("a" after "B").
	mk := func(id string, at time.Time) carnet.NotificationRow { return NewNotificationRow("p1", id, at) }
	early, late := Epoch.Add(-time.Hour), Epoch.Add(time.Millisecond)
	rows := []carnet.NotificationRow{
		mk("n-c", early), mk("n-a", Epoch), mk("n-B", Epoch), mk("n-b", late), mk("n-y", early), mk("n-0", Epoch),
	}
	insertNotifications(t, s, rows...)
	all := []carnet.NotificationRow{rows[3], rows[1], rows[2], rows[5], rows[4], rows[0]}
	wantNotifications(t, s, "p1", carnet.NotificationFilter{}, all...)

	for _, tc := range []struct {
		name string
		f    carnet.NotificationFilter
		want []carnet.NotificationRow
	}{
		{"limit", carnet.NotificationFilter{Limit: 2}, all[:2]},
		{"limit above the count", carnet.NotificationFilter{Limit: 100}, all},
		{"before (strictly)", carnet.NotificationFilter{Before: Epoch}, all[4:]},
		{"before and limit", carnet.NotificationFilter{Before: late, Limit: 2}, all[1:3]},
		{"before everything", carnet.NotificationFilter{Before: early}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantNotifications(t, s, "p1", tc.f, tc.want...)
		})
	}
}

func testNotificationConflict(t *testing.T, s carnet.Store) {
	first := NewNotificationRow("p1", "notif-1", Epoch)
	insertNotifications(t, s, first)

	// Refused, the duplicate changes nothing and the transaction goes on.
	dup := NewNotificationRow("p1", "notif-1", Epoch.Add(time.Hour))
	dup.Sealed = []byte("must not be stored")
	after := NewNotificationRow("p1", "notif-2", Epoch.Add(-time.Hour))
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
		err := tx.InsertNotification(ctx, dup)
		if !carnet.IsKind(err, carnet.KindConflict) {
			return errors.Join(errors.New("InsertNotification(duplicate id): want a conflict"), err)
		}
		if err := checkIn(func(t tb) { wantNotifications(t, tx, "p1", carnet.NotificationFilter{}, first) }); err != nil {
			return err
		}
		return tx.InsertNotification(ctx, after)
	})
	wantNotifications(t, s, "p1", carnet.NotificationFilter{}, first, after)

	// A conflict returned by fn rolls back the whole Update.
	err := update(s, func(ctx context.Context, tx carnet.Tx) error {
		if err := tx.InsertNotification(ctx, NewNotificationRow("p1", "notif-3", Epoch)); err != nil {
			return err
		}
		return tx.InsertNotification(ctx, dup)
	})
	wantKind(t, err, carnet.KindConflict, "Update with a duplicate notification")
	wantNotifications(t, s, "p1", carnet.NotificationFilter{}, first, after)
}

func testNotificationsInUpdate(t *testing.T, s carnet.Store) {
	old := NewNotificationRow("p1", "notif-old", Epoch.Add(-time.Hour))
	insertNotifications(t, s, old)
	fresh := NewNotificationRow("p1", "notif-new", Epoch)
	at := Epoch.Add(time.Minute)
	oldDelivered := old
	oldDelivered.Delivered = at

	// A failing fn leaves nothing: neither the insert nor the delivery.
	err := update(s, func(ctx context.Context, tx carnet.Tx) error {
		if err := tx.InsertNotification(ctx, fresh); err != nil {
			return err
		}
		if err := tx.MarkDelivered(ctx, "p1", old.ID, at); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update: got error %v, want fn's error", err)
	}
	wantNotifications(t, s, "p1", carnet.NotificationFilter{}, old)
	wantQueue(t, s, 100, "p1/notif-old")

	// Reads inside the tx see its writes; the store outside sees none of
	// them before the commit.
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
		if err := tx.InsertNotification(ctx, fresh); err != nil {
			return err
		}
		if err := checkIn(func(t tb) {
			wantNotifications(t, tx, "p1", carnet.NotificationFilter{}, fresh, old)
			wantQueue(t, tx, 100, "p1/notif-old", "p1/notif-new")
		}); err != nil {
			return err
		}
		if err := tx.MarkDelivered(ctx, "p1", old.ID, at); err != nil {
			return err
		}
		return checkIn(func(t tb) {
			wantNotifications(t, tx, "p1", carnet.NotificationFilter{}, fresh, oldDelivered)
			wantQueue(t, tx, 100, "p1/notif-new")
			wantNotifications(t, s, "p1", carnet.NotificationFilter{}, old)
			wantQueue(t, s, 100, "p1/notif-old")
		})
	})
	wantNotifications(t, s, "p1", carnet.NotificationFilter{}, fresh, oldDelivered)
	wantQueue(t, s, 100, "p1/notif-new")
}

func testUndelivered(t *testing.T, s carnet.Store) {
	paris := time.FixedZone("Europe/Paris", 3600)
	// Oldest first across patients, then by patient, then by id.
	insertNotifications(t, s,
		NewNotificationRow("p2", "n-1", Epoch),
		NewNotificationRow("p1", "n-2", Epoch),
		NewNotificationRow("p1", "n-1", Epoch),
		NewNotificationRow("p3", "n-9", Epoch.Add(-time.Hour)),
		NewNotificationRow("p1", "n-3", Epoch.Add(time.Hour)),
	)
	wantQueue(t, s, 100, "p3/n-9", "p1/n-1", "p1/n-2", "p2/n-1", "p1/n-3")
	wantQueue(t, s, 3, "p3/n-9", "p1/n-1", "p1/n-2")

	at := time.Date(2025, 7, 1, 12, 0, 0, 500_000_000, paris)
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
		if err := tx.MarkDelivered(ctx, "p3", "n-9", at); err != nil {
			return err
		}
		return tx.MarkDelivered(ctx, "p1", "n-2", at)
	})
	wantQueue(t, s, 3, "p1/n-1", "p2/n-1", "p1/n-3")
	delivered := NewNotificationRow("p3", "n-9", Epoch.Add(-time.Hour))
	delivered.Delivered = at
	wantNotifications(t, s, "p3", carnet.NotificationFilter{}, delivered)

	// Unknown: an id never used, or used by another patient only.
	for _, tc := range []struct {
		p  carnet.PatientKey
		id string
	}{{"p1", "n-unknown"}, {"p3", "n-1"}, {"p4", "n-1"}} {
		err := update(s, func(ctx context.Context, tx carnet.Tx) error { return tx.MarkDelivered(ctx, tc.p, tc.id, at) })
		wantKind(t, err, carnet.KindNotFound, fmt.Sprintf("MarkDelivered(%s, %s)", tc.p, tc.id))
	}
	// A refused MarkDelivered leaves the transaction usable.
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
		err := tx.MarkDelivered(ctx, "p1", "n-unknown", at)
		if !carnet.IsKind(err, carnet.KindNotFound) {
			return errors.Join(errors.New("MarkDelivered(unknown): want not found"), err)
		}
		return tx.MarkDelivered(ctx, "p1", "n-1", at)
	})
	wantQueue(t, s, 100, "p2/n-1", "p1/n-3")
}

func testNotificationsPatientIsolation(t *testing.T, s carnet.Store) {
	a := NewNotificationRow("p1", "notif-a", Epoch)
	b := NewNotificationRow("p2", "notif-b", Epoch)
	insertNotifications(t, s, a, b)
	wantNotifications(t, s, "p1", carnet.NotificationFilter{}, a)
	wantNotifications(t, s, "p2", carnet.NotificationFilter{}, b)
	// p2 cannot mark p1's notification as delivered.
	err := update(s, func(ctx context.Context, tx carnet.Tx) error { return tx.MarkDelivered(ctx, "p2", "notif-a", Epoch) })
	wantKind(t, err, carnet.KindNotFound, "MarkDelivered(p2, p1's id)")
	wantNotifications(t, s, "p1", carnet.NotificationFilter{}, a)
}

func testAuditAppend(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	wantAuditLog(t, s)
	if hs, err := s.AuditLeafHashes(ctx, 0, 0); err != nil || len(hs) != 0 {
		t.Fatalf("AuditLeafHashes(0, 0) of an empty log: got %d, %v", len(hs), err)
	}

	paris := time.FixedZone("Europe/Paris", 3600)
	a := NewAuditRow("p1", "ev-a", time.Date(2025, 5, 1, 8, 30, 0, 1_000, paris), "actor-1")
	b := NewAuditRow("", "ev-b", Epoch, "actor-2") // names no record
	c := NewAuditRow("p2", "ev-c", Epoch, "actor-1")
	c.Sealed = nil // stored without its sealed event, as after pruning
	if first := appendAudit(t, s, a, b, c); first != 0 {
		t.Fatalf("AppendAudit on an empty log: got first %d, want 0", first)
	}
	d, e := NewAuditRow("p1", "ev-d", Epoch, "actor-3"), NewAuditRow("p1", "ev-e", Epoch, "actor-3")
	if first := appendAudit(t, s, d, e); first != 3 {
		t.Fatalf("second AppendAudit: got first %d, want 3", first)
	}
	// Seq fields given are ignored.
	f := NewAuditRow("p1", "ev-f", Epoch, "actor-3")
	f.Seq = 42
	if first := appendAudit(t, s, f); first != 5 {
		t.Fatalf("third AppendAudit: got first %d, want 5", first)
	}
	f.Seq = 5
	all := append(withSeq(0, a, b, c, d, e), f)
	wantAuditLog(t, s, all...)

	// Nothing to append is no error and appends nothing.
	if first, err := s.AppendAudit(ctx, nil); err != nil || first != 6 {
		t.Fatalf("AppendAudit(nothing): got %d, %v; want 6, nil", first, err)
	}

	for _, tc := range []struct{ from, to uint64 }{{1, 4}, {0, 6}, {6, 6}, {2, 2}} {
		hs, err := s.AuditLeafHashes(ctx, tc.from, tc.to)
		if err != nil || uint64(len(hs)) != tc.to-tc.from {
			t.Fatalf("AuditLeafHashes(%d, %d): got %d hashes, %v", tc.from, tc.to, len(hs), err)
		}
		for i, h := range hs {
			if string(h) != string(all[tc.from+uint64(i)].LeafHash) {
				t.Fatalf("AuditLeafHashes(%d, %d)[%d]: wrong hash", tc.from, tc.to, i)
			}
		}
	}
	for _, tc := range []struct{ from, to uint64 }{{0, 7}, {6, 7}, {4, 3}, {7, 7}, {0, 1 << 63}} {
		_, err := s.AuditLeafHashes(ctx, tc.from, tc.to)
		wantKind(t, err, carnet.KindInvalid, fmt.Sprintf("AuditLeafHashes(%d, %d)", tc.from, tc.to))
	}

	for _, tc := range []struct {
		from, to uint64
		want     []carnet.AuditRow
	}{
		{2, 4, all[2:4]},
		{4, 100, all[4:]},
		{0, 1 << 63, all},
		{3, 3, nil},
		{5, 2, nil},
		{6, 10, nil},
	} {
		got, err := s.AuditEvents(ctx, tc.from, tc.to)
		if err != nil {
			t.Fatalf("AuditEvents(%d, %d): %v", tc.from, tc.to, err)
		}
		if g, w := auditIDs(got), auditIDs(tc.want); !slices.Equal(g, w) {
			t.Fatalf("AuditEvents(%d, %d): got %v, want %v", tc.from, tc.to, g, w)
		}
	}

	_, err := s.AuditEvent(ctx, "ev-unknown")
	wantKind(t, err, carnet.KindNotFound, "AuditEvent(unknown)")
}

func testAuditAppendConflict(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	a, b := NewAuditRow("p1", "ev-a", Epoch, "actor-1"), NewAuditRow("p1", "ev-b", Epoch, "actor-1")
	appendAudit(t, s, a, b)

	for _, tc := range []struct {
		name string
		rows []carnet.AuditRow
	}{
		{"id in the log", []carnet.AuditRow{NewAuditRow("p1", "ev-new-1", Epoch, "x"), NewAuditRow("p2", "ev-b", Epoch, "x")}},
		{"id in the log, first", []carnet.AuditRow{NewAuditRow("p1", "ev-a", Epoch, "x"), NewAuditRow("p1", "ev-new-1", Epoch, "x")}},
		{"id twice in the call", []carnet.AuditRow{NewAuditRow("p1", "ev-new-1", Epoch, "x"), NewAuditRow("p1", "ev-new-2", Epoch, "x"), NewAuditRow("p2", "ev-new-1", Epoch, "x")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.AppendAudit(ctx, tc.rows)
			wantKind(t, err, carnet.KindConflict, "AppendAudit")
			for _, id := range []string{"ev-new-1", "ev-new-2"} {
				_, err := s.AuditEvent(ctx, id)
				wantKind(t, err, carnet.KindNotFound, "AuditEvent("+id+") after a refused append")
			}
			wantAuditLog(t, s, withSeq(0, a, b)...)
		})
	}
	// The log goes on without a gap.
	c := NewAuditRow("p1", "ev-new-1", Epoch, "actor-1")
	if first := appendAudit(t, s, c); first != 2 {
		t.Fatalf("AppendAudit after refused ones: got first %d, want 2", first)
	}
	wantAuditLog(t, s, withSeq(0, a, b, c)...)
}

// testAuditConcurrentAppends appends from many goroutines at once, while
// Updates that fail run alongside (SQLite puts them in the same group
// commits): every append gets consecutive indexes of its own, the log has
// no gap and no duplicate, and each append is readable once it returned.
func testAuditConcurrentAppends(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	const appenders, perAppender = 16, 8
	type batch struct {
		first uint64
		ids   []string
	}
	batches := make([][]batch, appenders)
	errs := make(chan error, appenders*perAppender*5)
	var wg sync.WaitGroup
	for w := range appenders {
		wg.Go(func() {
			for i := range perAppender {
				var rows []carnet.AuditRow
				for k := range 1 + (w+i)%3 {
					p := carnet.PatientKey(fmt.Sprintf("p%d", w%4))
					rows = append(rows, NewAuditRow(p, fmt.Sprintf("ev-%d-%d-%d", w, i, k), Epoch.Add(time.Duration(i)*time.Second), "actor"))
				}
				first, err := s.AppendAudit(ctx, rows)
				if err != nil {
					errs <- fmt.Errorf("appender %d, append %d: %w", w, i, err)
					return
				}
				// Visible as soon as AppendAudit returned.
				for k, r := range rows {
					got, err := s.AuditEvent(ctx, r.ID)
					if err != nil || got.Seq != first+uint64(k) {
						errs <- fmt.Errorf("AuditEvent(%s) right after its append: got seq %d, %v; want %d", r.ID, got.Seq, err, first+uint64(k))
					}
				}
				batches[w] = append(batches[w], batch{first, auditIDs(rows)})
				if i%2 == 0 {
					err := update(s, func(ctx context.Context, tx carnet.Tx) error {
						if err := tx.InsertNotification(ctx, NewNotificationRow("p-failed", fmt.Sprintf("n-%d-%d", w, i), Epoch)); err != nil {
							return err
						}
						return errBoom
					})
					if !errors.Is(err, errBoom) {
						errs <- fmt.Errorf("failing Update: got %v, want fn's error", err)
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}

	total := 0
	for _, bs := range batches {
		for _, b := range bs {
			total += len(b.ids)
		}
	}
	size, err := s.AuditSize(ctx)
	if err != nil || size != uint64(total) {
		t.Fatalf("AuditSize: got %d, %v; want %d", size, err, total)
	}
	log, err := s.AuditEvents(ctx, 0, size)
	if err != nil || len(log) != total {
		t.Fatalf("AuditEvents(0, %d): got %d rows, %v; want %d", size, len(log), err, total)
	}
	for i, r := range log {
		if r.Seq != uint64(i) {
			t.Fatalf("AuditEvents[%d]: got seq %d: the log has a gap or a duplicate", i, r.Seq)
		}
	}
	for w, bs := range batches {
		for i, b := range bs {
			got := auditIDs(log[b.first : b.first+uint64(len(b.ids))])
			if !slices.Equal(got, b.ids) {
				t.Fatalf("append %d of appender %d at %d: log holds %v, want %v, in a row", i, w, b.first, got, b.ids)
			}
		}
	}
	if hs, err := s.AuditLeafHashes(ctx, 0, size); err != nil || len(hs) != total {
		t.Fatalf("AuditLeafHashes(0, %d): got %d, %v", size, len(hs), err)
	}
	wantNotifications(t, s, "p-failed", carnet.NotificationFilter{})
}

// auditFixture appends events of p1, p2 and of no record.
//
//	seq id     patient actor   time
//	0   ev-0   p1      dr-a    E-3h
//	1   ev-1   p2      dr-a    E-2h
//	2   ev-2   p1      dr-b    E-2h
//	3   ev-3   ""      admin   E-1h
//	4   ev-4   p1      dr-a    E-1h
//	5   ev-5   p1      patient E
//	6   ev-6   p1      dr-b    E-4h (times need not follow seq)
func auditFixture(t *testing.T, s carnet.Store) []carnet.AuditRow {
	t.Helper()
	h := time.Hour
	rows := []carnet.AuditRow{
		NewAuditRow("p1", "ev-0", Epoch.Add(-3*h), "dr-a"),
		NewAuditRow("p2", "ev-1", Epoch.Add(-2*h), "dr-a"),
		NewAuditRow("p1", "ev-2", Epoch.Add(-2*h), "dr-b"),
		NewAuditRow("", "ev-3", Epoch.Add(-h), "admin"),
		NewAuditRow("p1", "ev-4", Epoch.Add(-h), "dr-a"),
		NewAuditRow("p1", "ev-5", Epoch, "patient"),
		NewAuditRow("p1", "ev-6", Epoch.Add(-4*h), "dr-b"),
	}
	appendAudit(t, s, rows[:3]...)
	appendAudit(t, s, rows[3:]...)
	return withSeq(0, rows...)
}

func testFindAudit(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	rows := auditFixture(t, s)
	h := time.Hour
	for _, tc := range []struct {
		name string
		p    carnet.PatientKey
		f    carnet.AuditFilter
		want []string
	}{
		{"everything, newest first", "p1", carnet.AuditFilter{}, []string{"ev-6", "ev-5", "ev-4", "ev-2", "ev-0"}},
		{"another patient", "p2", carnet.AuditFilter{}, []string{"ev-1"}},
		{"no record", "", carnet.AuditFilter{}, []string{"ev-3"}},
		{"unknown patient", "p9", carnet.AuditFilter{}, nil},
		{"limit", "p1", carnet.AuditFilter{Limit: 2}, []string{"ev-6", "ev-5"}},
		{"before", "p1", carnet.AuditFilter{Before: 5}, []string{"ev-4", "ev-2", "ev-0"}},
		{"before and limit: a second page", "p1", carnet.AuditFilter{Before: 5, Limit: 2}, []string{"ev-4", "ev-2"}},
		{"before the first", "p1", carnet.AuditFilter{Before: 1}, []string{"ev-0"}},
		{"before beyond the log", "p1", carnet.AuditFilter{Before: 1 << 63}, []string{"ev-6", "ev-5", "ev-4", "ev-2", "ev-0"}},
		{"one actor", "p1", carnet.AuditFilter{Actors: []string{"dr-b"}}, []string{"ev-6", "ev-2"}},
		{"two actors", "p1", carnet.AuditFilter{Actors: []string{"patient", "dr-a"}}, []string{"ev-5", "ev-4", "ev-0"}},
		{"actor of another patient only", "p1", carnet.AuditFilter{Actors: []string{"admin"}}, nil},
		{"time from (inclusive)", "p1", carnet.AuditFilter{Time: carnet.TimeRange{From: Epoch.Add(-h)}}, []string{"ev-5", "ev-4"}},
		{"time to (exclusive)", "p1", carnet.AuditFilter{Time: carnet.TimeRange{To: Epoch.Add(-2 * h)}}, []string{"ev-6", "ev-0"}},
		{"time within", "p1", carnet.AuditFilter{Time: carnet.TimeRange{From: Epoch.Add(-3 * h), To: Epoch}}, []string{"ev-4", "ev-2", "ev-0"}},
		{"everything together", "p1", carnet.AuditFilter{
			Time:   carnet.TimeRange{From: Epoch.Add(-5 * h), To: Epoch},
			Actors: []string{"dr-a", "dr-b"},
			Before: 6,
			Limit:  2,
		}, []string{"ev-4", "ev-2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.FindAudit(ctx, tc.p, tc.f)
			if err != nil {
				t.Fatalf("FindAudit: %v", err)
			}
			if g := auditIDs(got); !slices.Equal(g, tc.want) && len(g)+len(tc.want) > 0 {
				t.Fatalf("FindAudit(%q, %+v): got %v, want %v", tc.p, tc.f, g, tc.want)
			}
			for _, g := range got {
				if d := AuditRowDiff(g, rows[g.Seq]); d != "" {
					t.Fatalf("FindAudit: %s: %s", g.ID, d)
				}
			}
		})
	}
}

func testPruneAudit(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	rows := auditFixture(t, s)
	h := time.Hour
	n, err := s.PruneAudit(ctx, Epoch.Add(-2*h))
	if err != nil || n != 2 {
		t.Fatalf("PruneAudit(E-2h): got %d, %v; want 2 (ev-0, ev-6)", n, err)
	}
	want := slices.Clone(rows)
	for _, i := range []int{0, 6} {
		want[i].Sealed = nil // digest and leaf hash stay
	}
	wantAuditLog(t, s, want...)

	// Strictly older: the events at E-2h are next; pruned ones are not
	// counted again.
	n, err = s.PruneAudit(ctx, Epoch.Add(-2*h+time.Microsecond))
	if err != nil || n != 2 {
		t.Fatalf("PruneAudit(E-2h+1µs): got %d, %v; want 2 (ev-1, ev-2)", n, err)
	}
	want[1].Sealed, want[2].Sealed = nil, nil
	wantAuditLog(t, s, want...)
	if n, err := s.PruneAudit(ctx, Epoch.Add(-2*h+time.Microsecond)); err != nil || n != 0 {
		t.Fatalf("PruneAudit again: got %d, %v; want 0", n, err)
	}

	// The history still lists pruned events, without their sealed row.
	got, err := s.FindAudit(ctx, "p1", carnet.AuditFilter{})
	if err != nil {
		t.Fatalf("FindAudit: %v", err)
	}
	for _, g := range got {
		if d := AuditRowDiff(g, want[g.Seq]); d != "" {
			t.Fatalf("FindAudit after pruning: %s: %s", g.ID, d)
		}
	}
}

func testCheckpoints(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	if cps, err := s.Checkpoints(ctx); err != nil || len(cps) != 0 {
		t.Fatalf("Checkpoints of an empty store: got %d, %v", len(cps), err)
	}
	if _, err := s.LatestCheckpoint(ctx); !carnet.IsKind(err, carnet.KindNotFound) {
		t.Fatalf("LatestCheckpoint of an empty store: %v, want KindNotFound", err)
	}
	paris := time.FixedZone("Europe/Paris", 3600)
	five := carnet.StoredCheckpoint{Size: 5, Note: []byte("carnet.example.fr/audit\n5\nroot5\n\n— sig\n"), Time: time.Date(2025, 8, 1, 9, 0, 0, 7_000, paris)}
	two := carnet.StoredCheckpoint{Size: 2, Note: []byte("note of size 2"), Time: Epoch}
	big := carnet.StoredCheckpoint{Size: 1 << 40, Note: []byte("note of a large log"), Time: Epoch}
	again := carnet.StoredCheckpoint{Size: 5, Note: []byte("another note of size 5"), Time: Epoch}
	for _, cp := range []carnet.StoredCheckpoint{five, big, two, again} {
		if err := s.PutCheckpoint(ctx, cp); err != nil {
			t.Fatalf("PutCheckpoint(%d): %v", cp.Size, err)
		}
	}
	got, err := s.Checkpoints(ctx)
	if err != nil {
		t.Fatalf("Checkpoints: %v", err)
	}
	want := []carnet.StoredCheckpoint{two, five, big}
	if len(got) != len(want) {
		t.Fatalf("Checkpoints: got %d, want %d", len(got), len(want))
	}
	if latest, err := s.LatestCheckpoint(ctx); err != nil || latest.Size != big.Size || string(latest.Note) != string(big.Note) {
		t.Fatalf("LatestCheckpoint: size %d %q, %v; want the largest", latest.Size, latest.Note, err)
	}
	for i := range want {
		var d differ
		d.eq("Size", got[i].Size, want[i].Size)
		d.bytes("Note", got[i].Note, want[i].Note)
		d.time("Time", got[i].Time, want[i].Time)
		if d.String() != "" {
			t.Fatalf("Checkpoints[%d]: %s", i, d.String())
		}
	}
}

func testEventsContextCanceled(t *testing.T, s carnet.Store) {
	appendAudit(t, s, NewAuditRow("p1", "ev-a", Epoch, "actor"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := []struct {
		name string
		fn   func() error
	}{
		{"Notifications", func() error { _, err := s.Notifications(ctx, "p1", carnet.NotificationFilter{}); return err }},
		{"Undelivered", func() error { _, err := s.Undelivered(ctx, 10); return err }},
		{"AuditSize", func() error { _, err := s.AuditSize(ctx); return err }},
		{"AuditLeafHashes", func() error { _, err := s.AuditLeafHashes(ctx, 0, 1); return err }},
		{"AuditEvents", func() error { _, err := s.AuditEvents(ctx, 0, 1); return err }},
		{"AuditEvent", func() error { _, err := s.AuditEvent(ctx, "ev-a"); return err }},
		{"FindAudit", func() error { _, err := s.FindAudit(ctx, "p1", carnet.AuditFilter{}); return err }},
		{"Checkpoints", func() error { _, err := s.Checkpoints(ctx); return err }},
		{"AppendAudit", func() error {
			_, err := s.AppendAudit(ctx, []carnet.AuditRow{NewAuditRow("p1", "ev-b", Epoch, "actor")})
			return err
		}},
		{"PruneAudit", func() error { _, err := s.PruneAudit(ctx, Epoch.Add(time.Hour)); return err }},
		{"PutCheckpoint", func() error {
			return s.PutCheckpoint(ctx, carnet.StoredCheckpoint{Size: 1, Note: []byte("n"), Time: Epoch})
		}},
	}
	for _, c := range calls {
		if err := c.fn(); err == nil {
			t.Errorf("%s with a canceled context: got nil error", c.name)
		}
	}
	// None of the writes happened.
	wantAuditLog(t, s, withSeq(0, NewAuditRow("p1", "ev-a", Epoch, "actor"))...)
	if cps, err := s.Checkpoints(context.Background()); err != nil || len(cps) != 0 {
		t.Fatalf("Checkpoints: got %d, %v; want none", len(cps), err)
	}
}

// testAuditLogKey: the log's key is recorded once; the first recorded
// wins, every later InitAuditLogKey returns it unchanged.
func testAuditLogKey(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	if _, err := s.AuditLogKey(ctx); !carnet.IsKind(err, carnet.KindNotFound) {
		t.Fatalf("AuditLogKey of an empty store: %v, want KindNotFound", err)
	}
	if _, err := s.InitAuditLogKey(ctx, carnet.AuditLogKey{}); !carnet.IsKind(err, carnet.KindInvalid) {
		t.Errorf("InitAuditLogKey without a verifier: %v, want KindInvalid", err)
	}
	first := carnet.AuditLogKey{Verifier: "carnet.example.fr/audit+1234abcd+AQID", Signer: []byte{1, 2, 3}}
	second := carnet.AuditLogKey{Verifier: "carnet.example.fr/audit+99999999+BAUG"}
	var wg sync.WaitGroup
	got := make([]carnet.AuditLogKey, 2)
	errs := make([]error, 2)
	for i, k := range []carnet.AuditLogKey{first, second} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = s.InitAuditLogKey(ctx, k)
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("InitAuditLogKey: %v, %v", errs[0], errs[1])
	}
	if got[0].Verifier != got[1].Verifier || !bytes.Equal(got[0].Signer, got[1].Signer) {
		t.Fatalf("two nodes initialising together got %q and %q: one key must win", got[0].Verifier, got[1].Verifier)
	}
	stored, err := s.AuditLogKey(ctx)
	if err != nil || stored.Verifier != got[0].Verifier || !bytes.Equal(stored.Signer, got[0].Signer) {
		t.Fatalf("AuditLogKey: %q %v, want %q", stored.Verifier, err, got[0].Verifier)
	}
	if again, err := s.InitAuditLogKey(ctx, carnet.AuditLogKey{Verifier: "another+key"}); err != nil || again.Verifier != stored.Verifier {
		t.Errorf("a later InitAuditLogKey: %q %v, want the recorded %q", again.Verifier, err, stored.Verifier)
	}
}

// testAuditNodes: the log's interior nodes are stored once, read back in
// the order asked (nil where none), and the cover only grows.
func testAuditNodes(t *testing.T, s carnet.Store) {
	ctx := context.Background()
	if c, err := s.AuditNodesCover(ctx); err != nil || c != 0 {
		t.Fatalf("AuditNodesCover of a new store: %d, %v; want 0", c, err)
	}
	h := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	nodes := []carnet.AuditNode{{Level: 1, Index: 0, Hash: h(1)}, {Level: 1, Index: 1, Hash: h(2)}, {Level: 2, Index: 0, Hash: h(3)}}
	if err := s.PutAuditNodes(ctx, nodes, 4); err != nil {
		t.Fatalf("PutAuditNodes: %v", err)
	}
	got, err := s.AuditNodes(ctx, []carnet.AuditNode{{Level: 2, Index: 0}, {Level: 1, Index: 7}, {Level: 1, Index: 1}})
	if err != nil {
		t.Fatalf("AuditNodes: %v", err)
	}
	if len(got) != 3 || !bytes.Equal(got[0], h(3)) || got[1] != nil || !bytes.Equal(got[2], h(2)) {
		t.Fatalf("AuditNodes: got %x, want [%x nil %x]", got, h(3), h(2))
	}
	// A node stored keeps its hash; the cover never goes down.
	if err := s.PutAuditNodes(ctx, []carnet.AuditNode{{Level: 1, Index: 0, Hash: h(9)}}, 2); err != nil {
		t.Fatalf("PutAuditNodes again: %v", err)
	}
	if got, _ := s.AuditNodes(ctx, []carnet.AuditNode{{Level: 1, Index: 0}}); !bytes.Equal(got[0], h(1)) {
		t.Errorf("a stored node was overwritten: %x", got[0])
	}
	if c, err := s.AuditNodesCover(ctx); err != nil || c != 4 {
		t.Errorf("AuditNodesCover: %d, %v; want 4 (never lowered)", c, err)
	}
	err = s.PutAuditNodes(ctx, []carnet.AuditNode{{Level: 0, Index: 3, Hash: h(4)}}, 5)
	wantKind(t, err, carnet.KindInvalid, "PutAuditNodes(a leaf)")
	if c, _ := s.AuditNodesCover(ctx); c != 4 {
		t.Errorf("a refused PutAuditNodes moved the cover to %d", c)
	}
}
