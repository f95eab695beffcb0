// Package storetest is the conformance suite every carnet.Store passes:
// SQLite always, PostgreSQL when CARNET_TEST_POSTGRES is set. A backend's
// test calls Run with a function that opens a fresh, empty, migrated store.
//
// The suite is the executable form of the contract documented on
// carnet.Store, plus the points that contract leaves to the suite:
//
//   - Times are stored and returned in UTC with at least millisecond
//     precision; the suite writes millisecond times (some in a non-UTC zone)
//     and compares with time.Time.Equal. A zero time round-trips as a zero
//     time (IsZero reports true).
//   - A row's tokens come back as a set: order and duplicates are not kept.
//   - DataKeys are ordered by WrappedKey.Created, oldest first.
//   - UpdateDocument makes the stored row equal to the given row (same
//     patient and id); a change that would leave two latest documents with
//     the same UniqueID for one patient is KindConflict.
//   - Ids (documents, contents, submission sets, items) are unique across patients:
//     reusing one under any patient is KindConflict.
//   - PutPatient replaces the record's identifier tokens: a token no longer
//     listed stops resolving and may be bound to another record.
//   - Created and Date filters are [From, To); a row without creation time
//     never matches a Created filter.
//   - Period filters select documents whose service period [Start, End]
//     (both ends included) overlaps the filter's [From, To). A zero Start or
//     End is open on that side; a document with no service period at all
//     (both zero) never matches a Period filter.
//   - Submission sets are ordered like documents: Date descending, then id.
//   - Items are ordered by Effective descending, a zero Effective last,
//     then by id (byte order). An Effective filter is [From, To); an item
//     with a zero Effective never matches one.
//   - Item ids share the namespace of routes: an id used by a document,
//     content, submission set or item of any patient is KindConflict for
//     InsertItems, and so is an id listed twice in one call; either way
//     nothing of the call is stored and the transaction stays usable.
//     DeleteItems frees the ids of the items it removes.
//   - Update runs a serializable transaction: a read-modify-write inside one
//     Update (read the patient, put it back with Version+1) never loses to a
//     concurrent one; a backend retries serialization failures itself.
//   - A canceled context makes reads fail and Update fail without storing
//     anything; the same holds for the AuditStore's methods.
//   - Notification ids are unique per patient (another patient may reuse
//     one); they are not routes. Notifications come newest first, then by
//     id descending (byte order); Undelivered oldest first, then by patient
//     and id, across patients. A refused InsertNotification (conflict) or
//     MarkDelivered (not found) leaves the transaction usable.
//   - Audit events are numbered from 0 without gaps; an AppendAudit's rows
//     are consecutive, whatever runs concurrently, and readable once it
//     returned. A refused append (an id in the log, or twice in the call)
//     stores nothing and takes no index. AuditEvents and FindAudit return
//     Sealed nil for a pruned event, with its Digest and LeafHash intact.
//   - FindAudit's Time range is [From, To); PruneAudit prunes events
//     strictly older than its argument and counts only those it pruned.
//   - The full-text index: term tokens are opaque non-empty strings (the
//     suite stores one with a NUL byte). PutTerms replaces everything
//     indexed for the logicalId (terms and length); a document put without
//     terms counts in TermStats with its length. TermPostings returns each
//     (token, document) once, whatever duplicates the query names, in any
//     order, with the document's current Len; no tokens, no postings.
//     DeleteTerms of a document not indexed is no error. An empty logicalId
//     or token, a tf below 1 or a negative length is KindInvalid, writes
//     nothing and leaves the transaction usable.
//
// The helpers (NewDocumentRow, NewPatientRow, …, DocumentRowDiff) are
// exported so that backends' own tests and benchmarks build rows the same way.
package storetest
