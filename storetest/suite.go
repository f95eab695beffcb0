package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/carnet-sante/carnet"
)

// Run runs the conformance suite. open returns a fresh, empty, migrated Store
// for one test (each subtest calls it); open registers the store's Close with
// t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) carnet.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s carnet.Store)
	}{
		{"PatientRoundTrip", testPatientRoundTrip},
		{"PatientVersion", testPatientVersion},
		{"PatientTokens", testPatientTokens},
		{"PatientNotFound", testPatientNotFound},
		{"PatientKeys", testPatientKeys},
		{"RecordStamp", testRecordStamp},
		{"DataKeys", testDataKeys},
		{"Route", testRoute},
		{"IDsUniqueAcrossPatients", testIDsUniqueAcrossPatients},
		{"DocumentRoundTrip", testDocumentRoundTrip},
		{"DocumentUniqueID", testDocumentUniqueID},
		{"UniqueIDRecords", testUniqueIDRecords},
		{"SetUniqueIDRecords", testSetUniqueIDRecords},
		{"DocumentDuplicateID", testDocumentDuplicateID},
		{"DocumentNewVersion", testDocumentNewVersion},
		{"UpdateDocument", testUpdateDocument},
		{"FindDocuments", testFindDocuments},
		{"FindDocumentsOrder", testFindDocumentsOrder},
		{"FindVisible", testFindVisible},
		{"FindVisibleTokenPages", testFindVisibleTokenPages},
		{"PatientIsolation", testPatientIsolation},
		{"Content", testContent},
		{"SubmissionSets", testSubmissionSets},
		{"FindSubmissionSets", testFindSubmissionSets},
		{"UpdateRollsBackOnError", testUpdateRollsBackOnError},
		{"UpdateRollsBackOnConflict", testUpdateRollsBackOnConflict},
		{"TxReadsOwnWrites", testTxReadsOwnWrites},
		{"UncommittedInvisible", testUncommittedInvisible},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"ConcurrentSameUniqueID", testConcurrentSameUniqueID},
		{"ContextCanceled", testContextCanceled},
		{"ItemRoundTrip", testItemRoundTrip},
		{"FindItemsOrder", testFindItemsOrder},
		{"FindItems", testFindItems},
		{"FindItemsVisible", testFindItemsVisible},
		{"ItemsPatientIsolation", testItemsPatientIsolation},
		{"DeleteItems", testDeleteItems},
		{"ItemRoute", testItemRoute},
		{"InsertItemsConflict", testInsertItemsConflict},
		{"ItemsUpdate", testItemsUpdate},
		{"NotificationRoundTrip", testNotificationRoundTrip},
		{"NotificationsOrder", testNotificationsOrder},
		{"NotificationConflict", testNotificationConflict},
		{"NotificationsInUpdate", testNotificationsInUpdate},
		{"Undelivered", testUndelivered},
		{"NotificationsPatientIsolation", testNotificationsPatientIsolation},
		{"AuditAppend", testAuditAppend},
		{"AuditAppendConflict", testAuditAppendConflict},
		{"AuditConcurrentAppends", testAuditConcurrentAppends},
		{"FindAudit", testFindAudit},
		{"PruneAudit", testPruneAudit},
		{"Checkpoints", testCheckpoints},
		{"AuditLogKey", testAuditLogKey},
		{"AuditNodes", testAuditNodes},
		{"EventsContextCanceled", testEventsContextCanceled},
		{"TermsRoundTrip", testTermsRoundTrip},
		{"TermsReplace", testTermsReplace},
		{"DeleteTerms", testDeleteTerms},
		{"TermsPatientIsolation", testTermsPatientIsolation},
		{"TermsInUpdate", testTermsInUpdate},
		{"TermsRollBack", testTermsRollBack},
		{"TermsInvalid", testTermsInvalid},
		{"TermsLargeDocument", testTermsLargeDocument},
		{"TermsContextCanceled", testTermsContextCanceled},
		{"Sessions", testSessions},
		{"UsedAssertions", testUsedAssertions},
		{"Permits", testPermits},
		{"CareForms", testCareForms},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

var errBoom = errors.New("storetest: fn failed on purpose")

// tb is the part of testing.TB the checks use. Checks that run inside an
// Update's fn get a tb that does not call t.Fatal: a backend may run fn on
// its own goroutine (SQLite's writer does), where t.FailNow must not be
// called.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

type checkFailure struct{ msg string }

func (c checkFailure) Error() string {
	return "storetest: check failed inside the transaction: " + c.msg
}

type fnT struct{}

func (fnT) Helper() {}

func (fnT) Fatalf(format string, args ...any) { panic(checkFailure{fmt.Sprintf(format, args...)}) }

// checkIn runs check inside an Update's fn; a failed check becomes fn's error.
func checkIn(check func(t tb)) (err error) {
	defer func() {
		if v := recover(); v != nil {
			cf, ok := v.(checkFailure)
			if !ok {
				panic(v)
			}
			err = cf
		}
	}()
	check(fnT{})
	return nil
}

// wantKind fails the test unless err is a *carnet.Error of kind k.
func wantKind(t tb, err error, k carnet.Kind, what string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got nil error, want kind %v", what, k)
	}
	if got := carnet.ErrorKind(err); got != k {
		t.Fatalf("%s: got error kind %v (%v), want %v", what, got, err, k)
	}
}

// update runs fn in one transaction and returns its error.
func update(s carnet.Store, fn func(ctx context.Context, tx carnet.Tx) error) error {
	ctx := context.Background()
	return s.Update(ctx, func(tx carnet.Tx) error { return fn(ctx, tx) })
}

// mustUpdate is update that fails the test on error.
func mustUpdate(t *testing.T, s carnet.Store, fn func(ctx context.Context, tx carnet.Tx) error) {
	t.Helper()
	if err := update(s, fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func putPatients(t *testing.T, s carnet.Store, rows ...carnet.PatientRow) {
	t.Helper()
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
		for _, r := range rows {
			if err := tx.PutPatient(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
}

func insertDocuments(t *testing.T, s carnet.Store, rows ...carnet.DocumentRow) {
	t.Helper()
	mustUpdate(t, s, func(ctx context.Context, tx carnet.Tx) error {
		for _, r := range rows {
			if err := tx.InsertDocument(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
}

func wantDocument(t tb, r carnet.Reader, want carnet.DocumentRow) {
	t.Helper()
	got, err := r.Document(context.Background(), want.Patient, want.ID)
	if err != nil {
		t.Fatalf("Document(%s): %v", want.ID, err)
	}
	if d := DocumentRowDiff(got, want); d != "" {
		t.Fatalf("Document(%s): %s", want.ID, d)
	}
}

func wantNoDocument(t tb, r carnet.Reader, p carnet.PatientKey, id string) {
	t.Helper()
	_, err := r.Document(context.Background(), p, id)
	wantKind(t, err, carnet.KindNotFound, "Document("+id+")")
}

// ids returns the ids of rows, in order.
func ids[R carnet.DocumentRow | carnet.SubmissionSetRow](rows []R) []string {
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		switch r := any(r).(type) {
		case carnet.DocumentRow:
			out = append(out, r.ID)
		case carnet.SubmissionSetRow:
			out = append(out, r.ID)
		}
	}
	return out
}
