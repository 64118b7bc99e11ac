package app

import (
	"context"
	"time"

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
}

// UpdateSettings changes the clinic's settings. The idle time-out must be
// 5–180 minutes; it applies to live sessions from their next request.
func (a *App) UpdateSettings(ctx context.Context, actor authz.Principal, p SettingsPatch) (domain.Settings, error) {
	if err := authorize(actor, authz.ActionSettingsManage, authz.Resource{}); err != nil {
		return domain.Settings{}, err
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
	s.UpdatedAt = a.now()
	if err := a.d.Store.SaveSettings(ctx, s); err != nil {
		return domain.Settings{}, err
	}
	// Live sessions follow the new time-out from their next request.
	if err := a.d.Sessions.SetIdleTimeout(ctx, s.ClinicID, s.IdleTimeout); err != nil {
		return domain.Settings{}, err
	}
	return s, nil
}

// LoginHistory lists sign-in attempts, newest first (owner and admin).
func (a *App) LoginHistory(ctx context.Context, actor authz.Principal, f HistoryFilter) ([]domain.LoginAttempt, error) {
	if err := authorize(actor, authz.ActionActivityRead, authz.Resource{}); err != nil {
		return nil, err
	}
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	return a.d.Store.LoginHistory(ctx, actor.ClinicID, f)
}
