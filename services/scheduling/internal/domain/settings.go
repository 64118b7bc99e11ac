package domain

import (
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // IANA zones resolve wherever the service runs, distroless images included
)

// Settings are a clinic's scheduling settings: the IANA time zone its
// availability is written in, and when and how appointment reminders go
// out.
type Settings struct {
	ClinicID string
	// TimeZone is an IANA zone name ("America/Toronto"); UTC until set.
	TimeZone string
	// ReminderOffsets are how long before an appointment's start each
	// reminder is sent.
	ReminderOffsets []time.Duration
	// ReminderChannels are how reminders are sent: "email", "sms".
	ReminderChannels []string
	UpdatedAt        time.Time
}

// The reminder channels.
const (
	ChannelEmail = "email"
	ChannelSMS   = "sms"
)

// Bounds of reminder settings.
const (
	MinReminderOffset = 5 * time.Minute
	MaxReminderOffset = 30 * 24 * time.Hour
	MaxReminders      = 10
)

// DefaultSettings are a clinic's settings until it saves its own: UTC,
// e-mail reminders 48 and 2 hours before.
func DefaultSettings(clinicID string) Settings {
	return Settings{ClinicID: clinicID, TimeZone: "UTC", ReminderOffsets: []time.Duration{48 * time.Hour, 2 * time.Hour},
		ReminderChannels: []string{ChannelEmail}}
}

// Invalid names one invalid input field and why, never its value.
type Invalid struct{ Field, Reason string }

// LoadZone returns the IANA zone name; "Local", the empty name and
// anything time.LoadLocation cannot find are refused.
func LoadZone(name string) (*time.Location, bool) {
	if name == "" || name == "Local" || len(name) > 64 || strings.ContainsAny(name, " \\") {
		return nil, false
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, false
	}
	return loc, true
}

// Validate lists what is wrong with s.
func (s Settings) Validate() []Invalid {
	var out []Invalid
	if _, ok := LoadZone(s.TimeZone); !ok {
		out = append(out, Invalid{"time_zone", "must be an IANA time zone name such as America/Toronto"})
	}
	if len(s.ReminderOffsets) == 0 || len(s.ReminderOffsets) > MaxReminders {
		out = append(out, Invalid{"reminder_offsets_minutes", "must hold 1 to 10 offsets"})
	}
	for i, d := range s.ReminderOffsets {
		if d < MinReminderOffset || d > MaxReminderOffset || d%time.Minute != 0 || slices.Contains(s.ReminderOffsets[:i], d) {
			out = append(out, Invalid{"reminder_offsets_minutes", "must be distinct whole minutes from 5 to 43200"})
			break
		}
	}
	if len(s.ReminderChannels) == 0 || len(s.ReminderChannels) > 2 {
		out = append(out, Invalid{"reminder_channels", "must be email, sms or both, each once"})
	}
	for i, c := range s.ReminderChannels {
		if (c != ChannelEmail && c != ChannelSMS) || slices.Contains(s.ReminderChannels[:i], c) {
			out = append(out, Invalid{"reminder_channels", "must be email, sms or both, each once"})
			break
		}
	}
	return out
}
