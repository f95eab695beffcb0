// Package policy decides who may do what with a patient record: the DMP
// access rules as applied by Mon espace santé (blocked professionals, closed
// records, care-team presumption and consent, the profession × document-type
// access matrix, MASQUE_PS and the invisibility labels, EHDS restrictions,
// bris de glace and centre 15).
//
// Decisions are a pure function of the request, the record's settings and
// the matrix: no I/O, no clock but the request's Now. They are read from the
// clear fields of stored rows (status, "type", "label" and "author" tokens),
// so a search can be filtered before anything is unsealed.
//
// The rules, their order and the oracle table that checks them are in
// docs/ACCESS.md and testdata/decisions.csv.
package policy
