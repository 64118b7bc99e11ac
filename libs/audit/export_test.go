package audit

import "context"

// SetBeforeDelete installs a hook that runs between the broker's
// acknowledgement and deleting the published rows; an error simulates a
// crash.
func SetBeforeDelete(r *Relay, f func(ctx context.Context) error) { r.beforeDelete = f }
