// Package conformance holds the end-to-end tests of the XDS.b endpoints:
// a client written from the IHE specification (internal/xdsclient) against
// a real server on SQLite and PostgreSQL. They live apart from package xds
// so that fuzzing xds builds only what xds needs.
package conformance
