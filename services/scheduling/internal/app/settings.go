package app

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/services/scheduling/internal/domain"
)

// settings returns the clinic's settings, the defaults until it saves its
// own.
func (a *App) settings(ctx context.Context, clinicID string) (domain.Settings, error) {
	s, err := a.d.Store.Settings(ctx, clinicID)
	if errors.Is(err, domain.ErrNotFound) {
		return domain.DefaultSettings(clinicID), nil
	}
	return s, err
}

// zone is the clinic's time zone.
func (a *App) zone(ctx context.Context, clinicID string) (*time.Location, error) {
	s, err := a.settings(ctx, clinicID)
	if err != nil {
		return nil, err
	}
	zone, ok := domain.LoadZone(s.TimeZone)
	if !ok {
		return time.UTC, nil // validated when saved; a zone the tz database dropped falls back to UTC
	}
	return zone, nil
}

// Settings returns the clinic's scheduling settings (any staff).
func (a *App) Settings(ctx context.Context, c authz.Principal) (domain.Settings, error) {
	if d := authz.Decide(c, authz.ActionSettingsRead, authz.Resource{ClinicID: c.ClinicID}); !d.Allow {
		return domain.Settings{}, ErrForbidden
	}
	return a.settings(ctx, c.ClinicID)
}

// SettingsInput changes settings; a nil field keeps its value.
type SettingsInput struct {
	TimeZone               *string
	ReminderOffsetsMinutes *[]int
	ReminderChannels       *[]string
}

// PutSettings changes the clinic's settings (owners, admins), audited as a
// settings.change.
func (a *App) PutSettings(ctx context.Context, c authz.Principal, in SettingsInput, meta RequestMeta) (domain.Settings, error) {
	if err := a.authorize(ctx, c, authz.ActionSettingsManage, authz.Resource{}, audit.SettingsChange, "settings", c.ClinicID, meta); err != nil {
		return domain.Settings{}, err
	}
	s, err := a.settings(ctx, c.ClinicID)
	if err != nil {
		return domain.Settings{}, err
	}
	if in.TimeZone != nil {
		s.TimeZone = *in.TimeZone
	}
	if in.ReminderOffsetsMinutes != nil {
		mins := *in.ReminderOffsetsMinutes
		if len(mins) > domain.MaxReminders {
			return domain.Settings{}, bad("reminder_offsets_minutes", "must hold 1 to 10 offsets")
		}
		s.ReminderOffsets = make([]time.Duration, len(mins))
		for i, m := range mins {
			if m < 0 || m > int(domain.MaxReminderOffset/time.Minute) {
				return domain.Settings{}, bad("reminder_offsets_minutes", "must be distinct whole minutes from 5 to 43200")
			}
			s.ReminderOffsets[i] = time.Duration(m) * time.Minute
		}
	}
	if in.ReminderChannels != nil {
		s.ReminderChannels = slices.Clone(*in.ReminderChannels)
	}
	if err := invalid(s.Validate()); err != nil {
		return domain.Settings{}, err
	}
	s.UpdatedAt = a.now()
	e, err := a.event(ctx, c, audit.SettingsChange, audit.Allowed, "settings", c.ClinicID, "", meta)
	if err != nil {
		return domain.Settings{}, err
	}
	if err := a.d.Store.PutSettings(ctx, s, e); err != nil {
		return domain.Settings{}, err
	}
	return s, nil
}

// ReminderSettings is what the reminder scheduler needs of a clinic: how
// long before an appointment each reminder goes, on which channels, and
// the clinic's IANA time zone (for the local time in the message).
func (a *App) ReminderSettings(ctx context.Context, clinicID string) (offsets []time.Duration, channels []string, timeZone string, err error) {
	s, err := a.settings(ctx, clinicID)
	if err != nil {
		return nil, nil, "", err
	}
	return s.ReminderOffsets, s.ReminderChannels, s.TimeZone, nil
}
