package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/services/scheduling/internal/domain"
	"github.com/havenhealth/haven/services/scheduling/internal/store"
)

func TestSettings_DefaultsUntilSavedThenRoundTrip(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	_, err := s.Settings(ctx, clinic)
	require.ErrorIs(t, err, domain.ErrNotFound)
	want := domain.Settings{ClinicID: clinic, TimeZone: "America/Toronto", ReminderOffsets: []time.Duration{48 * time.Hour, 2 * time.Hour},
		ReminderChannels: []string{"email", "sms"}, UpdatedAt: time.Now().UTC().Truncate(time.Second)}
	require.NoError(t, s.PutSettings(ctx, want))
	want.TimeZone = "Pacific/Auckland"
	want.ReminderChannels = nil
	require.NoError(t, s.PutSettings(ctx, want), "a second save replaces the first")
	got, err := s.Settings(ctx, clinic)
	require.NoError(t, err)
	require.Equal(t, "Pacific/Auckland", got.TimeZone)
	require.Equal(t, []time.Duration{48 * time.Hour, 2 * time.Hour}, got.ReminderOffsets)
	require.Empty(t, got.ReminderChannels)
}

func TestAvailability_ReplacesAndFiltersExceptionsByDate(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	p := uuid.NewString()
	d, _ := domain.ParseDate("2026-12-24")
	av := domain.Availability{PractitionerID: p,
		Weekly:     []domain.WeeklySpan{{Weekday: time.Monday, Span: domain.Span{Start: 540, End: 720, LocationID: "loc-1"}}},
		Exceptions: []domain.Exception{{Date: d, Closed: true}, {Date: d.AddDays(10), Span: domain.Span{Start: 600, End: 660}}}}
	require.NoError(t, s.PutAvailability(ctx, clinic, av))
	got, err := s.Availability(ctx, clinic, p, domain.Date{}, domain.Date{})
	require.NoError(t, err)
	require.Equal(t, av, got)
	got, err = s.Availability(ctx, clinic, p, d.AddDays(1), d.AddDays(10))
	require.NoError(t, err)
	require.Equal(t, av.Exceptions[1:], got.Exceptions)

	require.NoError(t, s.PutAvailability(ctx, clinic, domain.Availability{PractitionerID: p}))
	got, err = s.Availability(ctx, clinic, p, domain.Date{}, domain.Date{})
	require.NoError(t, err)
	require.Empty(t, got.Weekly)
	require.Empty(t, got.Exceptions)
}

func TestBusyListingAndChartsOutstanding(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	p, q := uuid.NewString(), uuid.NewString()
	a1, a2, a3 := appt(p, t0, 30), appt(p, t0.Add(time.Hour), 30), appt(q, t0, 30)
	noShow, cancelled := appt(p, t0.Add(2*time.Hour), 30), appt(p, t0.Add(3*time.Hour), 30)
	for _, a := range []domain.Appointment{a1, a2, a3, noShow, cancelled} {
		require.NoError(t, s.Book(ctx, a, store.Write{}))
	}
	require.NoError(t, s.SetStatus(ctx, clinic, noShow.ID, domain.NoShow, store.Write{}))
	require.NoError(t, s.SetStatus(ctx, clinic, cancelled.ID, domain.Cancelled, store.Write{}))

	busy, err := s.Busy(ctx, clinic, p, t0, t0.Add(4*time.Hour), a2.ID)
	require.NoError(t, err)
	require.Len(t, busy, 2, "a1 and the no-show hold time; a2 is left out, the cancelled one frees it")
	require.True(t, busy[0].Start.Equal(t0))

	f := store.AppointmentFilter{ClinicID: clinic, From: t0, To: t0.Add(24 * time.Hour), Limit: 2}
	page, err := s.Appointments(ctx, f)
	require.NoError(t, err)
	require.Len(t, page, 2)
	f.AfterStart, f.AfterID, f.Limit = page[1].Start, page[1].ID, 10
	rest, err := s.Appointments(ctx, f)
	require.NoError(t, err)
	require.Len(t, rest, 3, "the cursor continues where the page ended")
	mine, err := s.Appointments(ctx, store.AppointmentFilter{ClinicID: clinic, From: t0, To: t0.Add(time.Hour), PractitionerIDs: []string{q}, Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []string{a3.ID}, ids(mine))
	none, err := s.Appointments(ctx, store.AppointmentFilter{ClinicID: clinic, From: t0, To: t0.Add(time.Hour), PractitionerIDs: []string{}, Limit: 10})
	require.NoError(t, err)
	require.Empty(t, none)

	later := t0.Add(24 * time.Hour)
	out, err := s.ChartsOutstanding(ctx, clinic, nil, later, 100)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{a1.ID, a2.ID, a3.ID}, ids(out), "no-shows and cancellations need no chart")
	require.NoError(t, s.RecordChartSigned(ctx, clinic, a1.ID, uuid.NewString(), later))
	require.NoError(t, s.RecordChartSigned(ctx, clinic, a1.ID, uuid.NewString(), later), "again: nothing changes")
	require.NoError(t, s.RecordChartSigned(ctx, uuid.NewString(), a2.ID, uuid.NewString(), later), "another clinic's signature")
	out, err = s.ChartsOutstanding(ctx, clinic, []string{p}, later, 100)
	require.NoError(t, err)
	require.Equal(t, []string{a2.ID}, ids(out))
	out, err = s.ChartsOutstanding(ctx, clinic, nil, t0.Add(time.Minute), 100)
	require.NoError(t, err)
	require.Empty(t, out, "appointments not yet ended are not outstanding")
}

func TestRepointPatient_MovesAndAuditsOnce(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	a := appt(uuid.NewString(), t0, 30)
	require.NoError(t, s.Book(ctx, a, store.Write{}))
	kept := uuid.NewString()
	event := func(ap domain.Appointment) (audit.Event, error) {
		e := audit.New(clinic, "montreal", audit.Actor{System: "test"}, audit.AppointmentWrite, audit.Allowed)
		e.ResourceType, e.ResourceID, e.PatientID = "appointment", ap.ID, ap.PatientID
		return e, nil
	}
	n, err := s.RepointPatient(ctx, clinic, a.PatientID, kept, event)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = s.RepointPatient(ctx, clinic, a.PatientID, kept, event)
	require.NoError(t, err)
	require.Zero(t, n)
	got, err := s.Appointment(ctx, clinic, a.ID)
	require.NoError(t, err)
	require.Equal(t, kept, got.PatientID)
}

func TestReminderSync_RowCommitsWithTheChangeOnly(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	now := time.Now().UTC()
	p := uuid.NewString()
	a := appt(p, t0, 30)
	sync := func() *store.ReminderSync { return &store.ReminderSync{ID: uuid.NewString(), At: now, RetryAt: now} }
	require.NoError(t, s.Book(ctx, a, store.Write{Reminder: sync()}))
	require.ErrorIs(t, s.Book(ctx, appt(p, t0, 30), store.Write{Reminder: sync()}), domain.ErrSlotTaken)
	_, err := s.Reschedule(ctx, clinic, a.ID, t0.Add(time.Hour), t0.Add(90*time.Minute), store.Write{Reminder: sync()})
	require.NoError(t, err)
	require.NoError(t, s.SetStatus(ctx, clinic, a.ID, domain.Arrived, store.Write{Reminder: sync()}), "no row for arrivals")
	require.NoError(t, s.SetStatus(ctx, clinic, a.ID, domain.Cancelled, store.Write{Reminder: sync()}))

	rows, err := s.PendingReminders(ctx, now, 10)
	require.NoError(t, err)
	var kinds []domain.ReminderChange
	for _, r := range rows {
		require.Equal(t, a.ID, r.AppointmentID)
		kinds = append(kinds, r.Change)
	}
	require.ElementsMatch(t, []domain.ReminderChange{domain.ReminderBooked, domain.ReminderRescheduled, domain.ReminderCancelled}, kinds,
		"the refused booking left no row")

	later, err := s.PendingReminders(ctx, now.Add(-time.Second), 10)
	require.NoError(t, err)
	require.Empty(t, later, "rows wait for their first retry time")
	require.NoError(t, s.DeferReminders(ctx, []string{rows[0].ID}, now.Add(time.Hour)))
	require.NoError(t, s.MarkRemindersDone(ctx, []string{rows[1].ID}, now))
	rows, err = s.PendingReminders(ctx, now, 10)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	n, err := s.PruneReminders(ctx, now.Add(time.Second))
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}

func ids(aps []domain.Appointment) []string {
	out := make([]string, len(aps))
	for i, a := range aps {
		out[i] = a.ID
	}
	return out
}
