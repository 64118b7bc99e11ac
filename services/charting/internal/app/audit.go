package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/services/charting/internal/domain"
)

// ErrAuditUnavailable means a read's audit event could not be recorded, so
// the data is not returned (503).
var ErrAuditUnavailable = errors.New("audit event could not be recorded")

// target is what an audited action was done to, and the patient concerned.
type target struct{ Type, ID, PatientID string }

func patientTarget(id string) target { return target{"patient", id, id} }
func chartTarget(patientID string) target {
	return target{"chart", patientID, patientID}
}
func entryTarget(e domain.Entry) target { return target{"chart_entry", e.ID, e.PatientID} }
func amendmentTarget(id, patientID string) target {
	return target{"chart_amendment", id, patientID}
}

// newEvent is the one way charting builds an audit event: ids only, the
// request id from ctx, the client address sealed under the clinic's key.
// Build events before the transaction that records them: sealing may write
// the clinic's first data key.
func (a *App) newEvent(ctx context.Context, p authz.Principal, action audit.Action, outcome audit.Outcome, t target, meta RequestMeta) (audit.Event, error) {
	ev := audit.New(p.ClinicID, string(a.d.Region), audit.ActorOf(p), action, outcome)
	ev.ResourceType, ev.ResourceID, ev.PatientID = t.Type, t.ID, t.PatientID
	if id := problem.RequestIDFromContext(ctx); audit.ValidID(id) {
		ev.RequestID = id
	}
	if meta.IP != "" && a.d.Crypter != nil {
		if err := audit.SealClientIP(ctx, a.d.Crypter, &ev, meta.IP); err != nil {
			return audit.Event{}, fmt.Errorf("audit event %s: %w", action, err)
		}
	}
	return ev, nil
}

// refused returns err unchanged; when err is an authorisation refusal it
// first records one denied event of p's attempt. A failure to record it is
// logged: the caller is refused either way.
func (a *App) refused(ctx context.Context, p authz.Principal, action audit.Action, t target, meta RequestMeta, err error) error {
	if !errors.Is(err, domain.ErrForbidden) {
		return err
	}
	ev, berr := a.newEvent(ctx, p, action, audit.Denied, t, meta)
	if berr == nil {
		berr = a.d.Store.RecordAudit(context.WithoutCancel(ctx), ev)
	}
	if berr != nil {
		a.d.Logger.ErrorContext(ctx, "denied attempt not audited", slog.String("clinic_id", p.ClinicID),
			slog.String("action", string(action)), slog.String("error", berr.Error()))
	}
	return err
}

// readEvent is one allowed read to record.
type readEvent struct {
	action audit.Action
	target target
}

// recordReads records the allowed-read events before the data leaves: if
// they cannot be recorded the read fails with ErrAuditUnavailable.
func (a *App) recordReads(ctx context.Context, p authz.Principal, meta RequestMeta, reads []readEvent) error {
	if len(reads) == 0 {
		return nil
	}
	evs := make([]audit.Event, 0, len(reads))
	for _, r := range reads {
		ev, err := a.newEvent(ctx, p, r.action, audit.Allowed, r.target, meta)
		if err != nil {
			return err
		}
		evs = append(evs, ev)
	}
	if err := a.d.Store.RecordAudit(ctx, evs...); err != nil {
		a.d.Logger.ErrorContext(ctx, "read not audited; data withheld", slog.String("clinic_id", p.ClinicID),
			slog.String("error", err.Error()))
		return fmt.Errorf("%w: %w", ErrAuditUnavailable, err)
	}
	return nil
}
