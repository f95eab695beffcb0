package httpapi

import (
	"context"
	"time"
)

// SetBulkRetention shortens how long exports are kept, for a test; the
// returned function restores it.
func SetBulkRetention(d time.Duration) (restore func()) {
	old := bulkRetention
	bulkRetention = d
	return func() { bulkRetention = old }
}

// SetExportGate makes each export of s call gate once it has started (its
// slot taken, its permit checked again, its directory made) and before it
// reads anything: a test holds running slots busy by blocking in gate
// until it lets the export go, or until ctx ends (the export cancelled).
// Set it before the first kick-off.
func SetExportGate(s *Server, gate func(ctx context.Context, job string)) {
	s.bulk.gate = gate
}
