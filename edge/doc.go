// Package edge is what faces the network in front of the API: TLS with
// modern ciphers only, client certificates mapped to software actors
// (mutual TLS), secure headers on every answer, per-client rate limits and
// request budgets (429 with an OperationOutcome and Retry-After), /healthz
// and /readyz, Prometheus metrics and an access log that carry route
// patterns, never paths, ids or patient data. It wraps the API handler; it
// knows nothing of the FHIR resources behind it. docs/OPERATIONS.md,
// "Exposure".
package edge
