package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/messagingclient"
	"github.com/havenhealth/haven/services/scheduling/internal/domain"
)

func TestScheduler_InputUsesTheClinicsSettingsOrTheDefaults(t *testing.T) {
	a := domain.Appointment{ID: uuid.NewString(), ClinicID: uuid.NewString(), Start: time.Date(2026, 5, 1, 14, 0, 0, 0, time.FixedZone("x", 3600)), Status: domain.Booked}
	cases := []struct {
		name string
		set  ReminderSettings
		want ReminderInput
	}{
		{"nothing configured", ReminderSettings{},
			ReminderInput{Offsets: []time.Duration{48 * time.Hour, 2 * time.Hour}, Channels: []string{messagingclient.Email}}},
		{"clinic's own", ReminderSettings{Offsets: []time.Duration{time.Hour, 24 * time.Hour, time.Hour, -time.Minute},
			Channels: []string{messagingclient.SMS, "fax"}, TimeZone: "Australia/Sydney"},
			ReminderInput{Offsets: []time.Duration{24 * time.Hour, time.Hour}, Channels: []string{messagingclient.SMS}, TimeZone: "Australia/Sydney"}},
		{"unknown zone dropped", ReminderSettings{TimeZone: "Mars/Olympus_Mons"},
			ReminderInput{Offsets: []time.Duration{48 * time.Hour, 2 * time.Hour}, Channels: []string{messagingclient.Email}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &Scheduler{Settings: func(_ context.Context, clinicID string) (ReminderSettings, error) {
				require.Equal(t, a.ClinicID, clinicID)
				return tc.set, nil
			}}
			got, err := s.input(context.Background(), a)
			require.NoError(t, err)
			tc.want.ClinicID, tc.want.AppointmentID, tc.want.Start = a.ClinicID, a.ID, a.Start.UTC()
			require.Equal(t, tc.want, got)
			require.Equal(t, time.UTC, got.Start.Location())
		})
	}
}

func TestScheduler_SettingsFailureIsReturned(t *testing.T) {
	boom := errors.New("settings store down")
	s := &Scheduler{Settings: func(context.Context, string) (ReminderSettings, error) { return ReminderSettings{}, boom }}
	err := s.Booked(context.Background(), domain.Appointment{ID: "a1", ClinicID: "c1", Start: time.Now().Add(time.Hour), Status: domain.Booked})
	require.ErrorIs(t, err, boom)
}

func TestScheduler_NoRemindersForAppointmentsNotBookedOrPast(t *testing.T) {
	s := &Scheduler{} // no client: any call to Temporal would panic
	ctx := context.Background()
	require.NoError(t, s.Booked(ctx, domain.Appointment{ID: "a1", Start: time.Now().Add(time.Hour), Status: domain.Cancelled}))
	require.NoError(t, s.Booked(ctx, domain.Appointment{ID: "a1", Start: time.Now().Add(-time.Minute), Status: domain.Booked}))
	require.NoError(t, s.Rescheduled(ctx, domain.Appointment{ID: "a1", Start: time.Now().Add(time.Hour), Status: domain.NoShow}))
}

func TestTakeDue_AfterAnOutageSendsOnlyTheLatestDueReminder(t *testing.T) {
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	r := &reminder{start: start, offsets: []time.Duration{48 * time.Hour, 24 * time.Hour, 2 * time.Hour}}
	// Back 3 hours before the start: the 48 h and 24 h reminders are both
	// due; only the 24 h one goes out, and the 2 h one is next.
	require.Equal(t, 24*time.Hour, r.takeDue(start.Add(-3*time.Hour)))
	require.Equal(t, 2, r.next)
	require.Equal(t, 2*time.Hour, r.takeDue(start.Add(-2*time.Hour)))
	require.Equal(t, 3, r.next)

	r = &reminder{start: start, offsets: []time.Duration{48 * time.Hour, 2 * time.Hour}}
	require.Equal(t, 48*time.Hour, r.takeDue(start.Add(-48*time.Hour)), "on time: no skipping")
	require.Equal(t, 1, r.next)
}

func TestIdempotencyKey(t *testing.T) {
	start := time.Unix(1767225600, 0)
	require.Equal(t, "reminder-a1-1767225600-7200-sms", IdempotencyKey("a1", start, 2*time.Hour, messagingclient.SMS))
	require.Equal(t, "reminder-a1", WorkflowID("a1"))
}
