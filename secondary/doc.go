// Package secondary is secondary use under data permits (EHDS; docs/SECONDARY.md):
// the permits an operator enters, pseudonymisation at the source (keyed
// pseudonyms per permit, direct identifiers removed, dates shifted or
// generalised, narrative removed or de-identified), k-anonymity over the
// quasi-identifiers with suppression, the Bulk Data export pipeline that
// streams one record at a time, and aggregate statistics with
// differential-privacy noise under a budget per permit.
//
// Opted-out patients, closed records and documents that are masked,
// restricted or invisible to the patient never leave, nor their items.
// Every use is audited, and each record whose data leaves gets an event in
// its own access history naming the permit, not the recipient.
package secondary
