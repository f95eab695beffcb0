package httpapi

import "time"

// SetBulkRetention shortens how long exports are kept, for a test; the
// returned function restores it.
func SetBulkRetention(d time.Duration) (restore func()) {
	old := bulkRetention
	bulkRetention = d
	return func() { bulkRetention = old }
}
