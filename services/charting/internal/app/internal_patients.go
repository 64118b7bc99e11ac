package app

import (
	"context"

	"github.com/google/uuid"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/services/charting/internal/domain"
)

// identityActor is who creates a patient's profile when the patient signs
// themselves up online: the region's identity service, relaying the
// sign-up (no user is signed in).
var identityActor = audit.Actor{System: "identity"}

// SignUpProfile is what a patient gives when signing themselves up, as
// identity relays it.
type SignUpProfile struct {
	FirstName   string
	LastName    string
	Email       string
	Phone       string // international form (+country code), or empty
	DateOfBirth string // YYYY-MM-DD, required as on every profile
}

// CreateSignUpPatient creates the profile of a patient who signed
// themselves up, for the region's identity service (a service-to-service
// call: no user, no grants to check; the internal signature is the
// authority). The fields are validated as on CreatePatient; no alert, no
// address, no practitioners. The creation is recorded as patient.write by
// the system actor "identity" in the transaction that stores the profile.
// It returns the new profile's id.
func (a *App) CreateSignUpPatient(ctx context.Context, clinicID string, in SignUpProfile) (string, error) {
	if !audit.ValidID(clinicID) {
		return "", domain.ErrNotFound
	}
	input := PatientInput{FirstName: &in.FirstName, LastName: &in.LastName, Email: &in.Email, Phone: &in.Phone,
		DateOfBirth: &in.DateOfBirth}.complete()
	now := a.now()
	// CreatedBy names a user; no user created this profile.
	p := domain.Patient{ID: uuid.Must(uuid.NewV7()).String(), ClinicID: clinicID, CreatedAt: now, UpdatedAt: now}
	if err := input.apply(&p, a); err != nil {
		return "", err
	}
	if err := a.ensureKeys(ctx, clinicID); err != nil {
		return "", err
	}
	if err := a.lookups(ctx, &p); err != nil {
		return "", err
	}
	ev := audit.New(clinicID, string(a.d.Region), identityActor, audit.PatientWrite, audit.Allowed)
	ev.ResourceType, ev.ResourceID, ev.PatientID = "patient", p.ID, p.ID
	if rid := problem.RequestIDFromContext(ctx); audit.ValidID(rid) {
		ev.RequestID = rid
	}
	if err := a.d.Store.CreatePatient(ctx, p, ev); err != nil {
		return "", err
	}
	return p.ID, nil
}
