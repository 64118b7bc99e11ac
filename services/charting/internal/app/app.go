// Package app holds charting's use cases: patient profiles, chart entries,
// signing and amendments, and who may see what. It owns the ports it needs
// (ports.go); internal/store implements them.
//
// Every read of patient data records its audit event before the data is
// returned (no event, no data); every write records its event in the
// transaction of the change. Refusals record a denied event.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/libs/residency"
	"github.com/havenhealth/haven/services/charting/internal/domain"
)

// ValidationError lists invalid fields by name, never by value.
type ValidationError struct{ Fields []problem.FieldError }

func (e *ValidationError) Error() string { return fmt.Sprintf("%d invalid fields", len(e.Fields)) }

// Deps are the App's collaborators.
type Deps struct {
	Store Store
	// Crypter computes the search lookups and holds the clinic's keys.
	Crypter *fieldcrypt.Crypter
	Region  residency.Region
	Now     func() time.Time
	Logger  *slog.Logger
}

// App is charting's application layer for one region.
type App struct{ d Deps }

// New returns the application layer.
func New(d Deps) *App {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &App{d: d}
}

func (a *App) now() time.Time { return a.d.Now().UTC().Truncate(time.Microsecond) }

// RequestMeta is where a request came from, for the audit events (which
// keep the client address sealed under the clinic's key).
type RequestMeta struct{ IP string }

// authorize applies libs/authz for an action on the caller's own clinic.
func authorize(p authz.Principal, action authz.Action, res authz.Resource) error {
	if res.ClinicID == "" {
		res.ClinicID = p.ClinicID
	}
	if d := authz.Decide(p, action, res); !d.Allow {
		return fmt.Errorf("%s: %s: %w", action, d.Reason, domain.ErrForbidden)
	}
	return nil
}

func allowed(p authz.Principal, action authz.Action, res authz.Resource) bool {
	return authorize(p, action, res) == nil
}

// canSeeContacts reports whether p may see the patient's contact details.
func canSeeContacts(p authz.Principal, patientID string) bool {
	return allowed(p, authz.ActionPatientContactRead, authz.Resource{PatientID: patientID})
}

// canSeeClinical reports whether p may see clinical information about the
// patient (the alert, the practitioners): authz's clinical_note.read with
// the patient's practitioners, or with any of them as the owner, so that a
// grant naming a practitioner reaches that practitioner's patients too.
func canSeeClinical(p authz.Principal, patientID string, practitioners []string) bool {
	res := authz.Resource{PatientID: patientID, PractitionerIDs: practitioners}
	if allowed(p, authz.ActionClinicalNoteRead, res) {
		return true
	}
	for _, id := range practitioners {
		res.OwnerUserID = id
		if allowed(p, authz.ActionClinicalNoteRead, res) {
			return true
		}
	}
	return false
}

// ensureKeys makes sure the clinic's data and lookup keys exist and are
// loaded, outside any transaction (on SQLite the serializer cannot create
// them inside one). It is a cache hit after the first call.
func (a *App) ensureKeys(ctx context.Context, clinicID string) error {
	if err := a.d.Crypter.EnsureClinic(ctx, clinicID); err != nil {
		return fmt.Errorf("clinic keys: %w", err)
	}
	return nil
}
