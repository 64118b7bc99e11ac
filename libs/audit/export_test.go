package audit

import "context"

// SetBeforeMark installs a hook that runs between the broker's
// acknowledgement and marking rows published; an error simulates a crash.
func SetBeforeMark(r *Relay, f func(ctx context.Context) error) { r.beforeMark = f }
