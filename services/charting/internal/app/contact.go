package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/services/charting/internal/domain"
)

// messagingActor is who reads a patient's contact details to send them a
// message: the region's messaging service, at send time.
var messagingActor = audit.Actor{System: "messaging"}

// maxMergeHops bounds how many merges PatientContact follows; a longer
// chain (or a loop) is treated as no such patient.
const maxMergeHops = 8

// Contact is what the region's messaging service needs to reach a patient.
type Contact struct {
	// PatientID is the profile the details come from: the kept profile
	// when the requested one was merged into it.
	PatientID string
	Email     string // normalised, or empty
	Phone     string // E.164, or empty
	// FirstName is the name to greet the patient by: the preferred name
	// when set, else the first (legal given) name.
	FirstName string
	// MergedInto is set when the requested profile was merged away.
	MergedInto string
}

// PatientContact returns the patient's contact details for the region's
// messaging service (a service-to-service call, no user), following merges
// to the kept profile. The read is recorded as patient.contact.read by the
// messaging system actor before the details are returned.
func (a *App) PatientContact(ctx context.Context, clinicID, id string) (Contact, error) {
	if !audit.ValidID(id) || !audit.ValidID(clinicID) {
		return Contact{}, domain.ErrNotFound
	}
	p, err := a.d.Store.Patient(ctx, clinicID, id)
	for hops := 0; err == nil && p.MergedInto != ""; hops++ {
		if hops == maxMergeHops {
			return Contact{}, fmt.Errorf("patient %s: merge chain too long: %w", id, domain.ErrNotFound)
		}
		p, err = a.d.Store.Patient(ctx, clinicID, p.MergedInto)
	}
	if err != nil {
		return Contact{}, err
	}
	ev := audit.New(clinicID, string(a.d.Region), messagingActor, audit.PatientContactRead, audit.Allowed)
	ev.ResourceType, ev.ResourceID, ev.PatientID = "patient", p.ID, p.ID
	if rid := problem.RequestIDFromContext(ctx); audit.ValidID(rid) {
		ev.RequestID = rid
	}
	if err := a.d.Store.RecordAudit(ctx, ev); err != nil {
		a.d.Logger.ErrorContext(ctx, "contact read not audited; details withheld", slog.String("clinic_id", clinicID),
			slog.String("error", err.Error()))
		return Contact{}, fmt.Errorf("%w: %w", ErrAuditUnavailable, err)
	}
	c := Contact{PatientID: p.ID, Email: p.Email, Phone: p.Phone, FirstName: p.PreferredName}
	if c.FirstName == "" {
		c.FirstName = p.FirstName
	}
	if p.ID != id {
		c.MergedInto = p.ID
	}
	return c, nil
}
