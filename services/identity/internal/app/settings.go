package app

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/services/identity/internal/domain"
)

// Settings returns the clinic's security settings (any staff may read them).
func (a *App) Settings(ctx context.Context, actor authz.Principal) (domain.Settings, error) {
	if err := authorize(actor, authz.ActionSettingsRead, authz.Resource{}); err != nil {
		return domain.Settings{}, err
	}
	return a.d.Store.Settings(ctx, actor.ClinicID)
}

// SettingsPatch changes settings; nil fields stay.
type SettingsPatch struct {
	IdleTimeoutMinutes *int
	RequireTwoStep     *bool
	PatientSelfSignup  *bool
}

// UpdateSettings changes the clinic's settings. The idle time-out must be
// 5–180 minutes; it applies to live sessions from their next request.
func (a *App) UpdateSettings(ctx context.Context, actor authz.Principal, p SettingsPatch, meta RequestMeta) (domain.Settings, error) {
	if err := authorize(actor, authz.ActionSettingsManage, authz.Resource{}); err != nil {
		return domain.Settings{}, a.refused(ctx, actor, audit.SettingsChange, settingsTarget(actor.ClinicID), meta, err)
	}
	s, err := a.d.Store.Settings(ctx, actor.ClinicID)
	if err != nil {
		return domain.Settings{}, err
	}
	if p.IdleTimeoutMinutes != nil {
		d := time.Duration(*p.IdleTimeoutMinutes) * time.Minute
		if d < domain.MinIdleTimeout || d > domain.MaxIdleTimeout {
			return domain.Settings{}, invalid("idle_timeout_minutes", "must be between 5 and 180")
		}
		s.IdleTimeout = d
	}
	if p.RequireTwoStep != nil {
		s.RequireTwoStep = *p.RequireTwoStep
	}
	if p.PatientSelfSignup != nil {
		s.PatientSelfSignup = *p.PatientSelfSignup
	}
	s.UpdatedAt = a.now()
	ev, err := a.actedBy(ctx, actor, audit.SettingsChange, settingsTarget(actor.ClinicID), meta)
	if err != nil {
		return domain.Settings{}, err
	}
	if err := a.d.Store.SaveSettings(ctx, s, ev); err != nil {
		return domain.Settings{}, err
	}
	// Live sessions follow the new time-out from their next request.
	if err := a.d.Sessions.SetIdleTimeout(ctx, s.ClinicID, s.IdleTimeout); err != nil {
		return domain.Settings{}, err
	}
	return s, nil
}

// LoginHistory lists sign-in attempts, newest first (owner and admin). The
// read is audited before the entries are returned: no event, no data.
func (a *App) LoginHistory(ctx context.Context, actor authz.Principal, f HistoryFilter, meta RequestMeta) ([]domain.LoginAttempt, error) {
	// The history of one user when filtered by one, else the clinic's. The
	// filter is the caller's text: only a user id (a UUID) goes in the event.
	t := clinicTarget(actor.ClinicID)
	if id, err := uuid.Parse(f.UserID); err == nil && id.String() == f.UserID {
		t = userTarget(f.UserID)
	}
	if err := authorize(actor, authz.ActionActivityRead, authz.Resource{}); err != nil {
		return nil, a.refused(ctx, actor, audit.LoginHistoryRead, t, meta, err)
	}
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	items, err := a.d.Store.LoginHistory(ctx, actor.ClinicID, f)
	if err != nil {
		return nil, err
	}
	ev, err := a.actedBy(ctx, actor, audit.LoginHistoryRead, t, meta)
	if err != nil {
		return nil, err
	}
	if err := a.d.Store.RecordAudit(ctx, ev); err != nil {
		return nil, fmt.Errorf("audit login history read: %w", err)
	}
	return items, nil
}
