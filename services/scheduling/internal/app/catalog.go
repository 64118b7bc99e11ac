package app

import (
	"context"
	"strings"

	"github.com/google/uuid"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/services/scheduling/internal/domain"
)

// browse lets staff and patients with a profile read the catalog
// (practitioners, treatments, locations), which holds no personal data.
func browse(c authz.Principal) error {
	if unlinked(c) {
		return ErrPatientUnlinked
	}
	if c.Role == authz.RolePatient || authz.Decide(c, authz.ActionSettingsRead, authz.Resource{ClinicID: c.ClinicID}).Allow {
		return nil
	}
	return ErrForbidden
}

// Practitioners lists the clinic's practitioners (staff, patients).
func (a *App) Practitioners(ctx context.Context, c authz.Principal) ([]domain.Practitioner, error) {
	if err := browse(c); err != nil {
		return nil, err
	}
	return a.d.Store.Practitioners(ctx, c.ClinicID)
}

// Treatments lists the clinic's treatments; patients see the
// online-bookable ones only.
func (a *App) Treatments(ctx context.Context, c authz.Principal) ([]domain.Treatment, error) {
	if err := browse(c); err != nil {
		return nil, err
	}
	return a.d.Store.Treatments(ctx, c.ClinicID, c.Role == authz.RolePatient)
}

// Locations lists the clinic's locations (staff, patients).
func (a *App) Locations(ctx context.Context, c authz.Principal) ([]domain.Location, error) {
	if err := browse(c); err != nil {
		return nil, err
	}
	return a.d.Store.Locations(ctx, c.ClinicID)
}

// AddLocation adds a location (owners, admins).
func (a *App) AddLocation(ctx context.Context, c authz.Principal, name string, meta RequestMeta) (domain.Location, error) {
	if err := a.authorize(ctx, c, authz.ActionSettingsManage, authz.Resource{}, audit.SettingsChange, "location", "", meta); err != nil {
		return domain.Location{}, err
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 || strings.ContainsAny(name, "\r\n") {
		return domain.Location{}, bad("name", "must be one line of 1 to 200 characters")
	}
	l := domain.Location{ID: uuid.Must(uuid.NewV7()).String(), ClinicID: c.ClinicID, Name: name, CreatedAt: a.now()}
	e, err := a.event(ctx, c, audit.SettingsChange, audit.Allowed, "location", l.ID, "", meta)
	if err != nil {
		return domain.Location{}, err
	}
	return l, a.d.Store.AddLocation(ctx, l, e)
}
