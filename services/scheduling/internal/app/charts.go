package app

import (
	"context"
	"fmt"
	"time"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/services/scheduling/internal/domain"
)

// MaxChartsOutstanding bounds one answer of ChartsOutstanding.
const MaxChartsOutstanding = 1000

// ChartsOutstanding returns appointments that have ended, were neither
// cancelled nor a no-show, and have no signed chart entry, ordered by
// practitioner and start (at most MaxChartsOutstanding; truncated says
// there were more). Owners and admins see every practitioner's (or the one
// asked for), a practitioner their own; each appointment is recorded as an
// appointment.read before the answer.
func (a *App) ChartsOutstanding(ctx context.Context, c authz.Principal, practitionerID string, meta RequestMeta) (aps []domain.Appointment, truncated bool, err error) {
	if c.Role == authz.RolePatient {
		return nil, false, a.denied(ctx, c, audit.AppointmentRead, "appointment", "", "", meta,
			fmt.Errorf("charts outstanding are for staff: %w", ErrForbidden))
	}
	practitioners, err := a.d.Store.Practitioners(ctx, c.ClinicID)
	if err != nil {
		return nil, false, err
	}
	var ids []string
	known := false
	for _, p := range practitioners {
		if practitionerID != "" && p.ID != practitionerID {
			continue
		}
		known = true
		if c.Grants.Admin || p.UserID == c.UserID {
			ids = append(ids, p.ID)
		}
	}
	if practitionerID != "" && !known {
		return nil, false, bad("practitioner_id", "is not one of the clinic's practitioners")
	}
	if len(ids) == 0 {
		return nil, false, a.denied(ctx, c, audit.AppointmentRead, "appointment", "", "", meta,
			fmt.Errorf("charts outstanding: owners and admins, or the practitioner themself: %w", ErrForbidden))
	}
	if c.Grants.Admin && practitionerID == "" {
		ids = nil // every practitioner's, including former ones
	}
	aps, err = a.d.Store.ChartsOutstanding(ctx, c.ClinicID, ids, a.now(), MaxChartsOutstanding+1)
	if err != nil {
		return nil, false, err
	}
	if len(aps) > MaxChartsOutstanding {
		aps, truncated = aps[:MaxChartsOutstanding], true
	}
	if err := a.recordReads(ctx, c, aps, meta); err != nil {
		return nil, false, err
	}
	return aps, truncated, nil
}

// ChartSigned notes that an appointment has a signed chart entry (from
// charting's chart.signed events); repeating it changes nothing.
func (a *App) ChartSigned(ctx context.Context, clinicID, appointmentID, entryID string, signedAt time.Time) error {
	return a.d.Store.RecordChartSigned(ctx, clinicID, appointmentID, entryID, signedAt)
}

// consumerActor is who re-points appointments after a patient merge.
var consumerActor = audit.Actor{System: "scheduling-charting-events"}

// PatientMerged moves the appointments of a merged-away patient profile to
// the profile kept (from charting's patient.merged events), each audited
// as an appointment.write by the system; repeating it changes nothing.
func (a *App) PatientMerged(ctx context.Context, clinicID, duplicateID, keptID string) (int, error) {
	return a.d.Store.RepointPatient(ctx, clinicID, duplicateID, keptID, func(ap domain.Appointment) (audit.Event, error) {
		e := audit.New(clinicID, a.d.Region, consumerActor, audit.AppointmentWrite, audit.Allowed)
		e.ResourceType, e.ResourceID, e.PatientID = "appointment", ap.ID, keptID
		return e, nil
	})
}
