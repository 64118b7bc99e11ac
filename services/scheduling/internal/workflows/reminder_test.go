package workflows

import (
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/havenhealth/haven/libs/messagingclient"
	"github.com/havenhealth/haven/services/scheduling/internal/domain"
)

// t0 is when each test's workflow starts (the test clock skips from there).
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

type harness struct {
	t     *testing.T
	env   *testsuite.TestWorkflowEnvironment
	store *memAppointments
	msg   *messagingStandIn
	logs  *lockedBuffer
	appt  domain.Appointment
}

func newHarness(t *testing.T, start time.Time) *harness {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	s.SetLogger(tlog.NewStructuredLogger(logger))
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	appt := domain.Appointment{
		ID: uuid.NewString(), ClinicID: uuid.NewString(), PractitionerID: uuid.NewString(), PatientID: uuid.NewString(),
		TreatmentID: uuid.NewString(), LocationID: uuid.NewString(), Start: start, End: start.Add(45 * time.Minute),
		Status: domain.Booked,
	}
	h := &harness{t: t, env: env, store: newMemAppointments(appt), msg: newMessaging(env.Now), logs: logs, appt: appt}
	h.msg.setContact(appt.PatientID, markerName+" <"+markerEmail+"> "+markerPhone+" "+markerAddress)
	env.RegisterWorkflowWithOptions(Reminder, workflow.RegisterOptions{Name: WorkflowName})
	env.RegisterActivity(&Activities{Appointments: h.store, Sender: h.msg, Logger: logger})
	return h
}

func (h *harness) input(offsets ...time.Duration) ReminderInput {
	return ReminderInput{ClinicID: h.appt.ClinicID, AppointmentID: h.appt.ID, Start: h.appt.Start, Offsets: offsets}
}

// run executes the workflow to its end and requires that it ended cleanly.
func (h *harness) run(in ReminderInput) {
	h.t.Helper()
	h.env.ExecuteWorkflow(WorkflowName, in)
	require.True(h.t, h.env.IsWorkflowCompleted(), "the workflow must end by itself")
	require.NoError(h.t, h.env.GetWorkflowError())
	for _, m := range markers {
		require.NotContains(h.t, h.logs.String(), m, "personal data in the logs")
	}
}

// at schedules fn at t0+d on the test clock.
func (h *harness) at(d time.Duration, fn func()) { h.env.RegisterDelayedCallback(fn, d) }

func (h *harness) reschedule(start time.Time) {
	a := h.appt
	a.Start, a.End = start, start.Add(45*time.Minute)
	h.store.put(a)
	h.env.SignalWorkflow(SignalReschedule, Reschedule{Start: start})
}

type want struct {
	at  time.Time
	key string
}

func (h *harness) requireSent(wants ...want) {
	h.t.Helper()
	got := h.msg.Sent()
	require.Len(h.t, got, len(wants), "sends: %v", got)
	for i, w := range wants {
		require.Equal(h.t, w.key, got[i].Req.IdempotencyKey, "send %d", i)
		require.True(h.t, w.at.Equal(got[i].At), "send %d at %s, want %s", i, got[i].At, w.at)
	}
}

func TestReminder_TwoOffsetsSendTwiceAtTheirTimes(t *testing.T) {
	start := t0.Add(72 * time.Hour)
	h := newHarness(t, start)
	in := h.input(2*time.Hour, 48*time.Hour) // any order: largest goes first
	in.TimeZone = "Pacific/Auckland"
	h.run(in)

	h.requireSent(
		want{start.Add(-48 * time.Hour), fmt.Sprintf("reminder-%s-%d-172800-email", h.appt.ID, start.Unix())},
		want{start.Add(-2 * time.Hour), fmt.Sprintf("reminder-%s-%d-7200-email", h.appt.ID, start.Unix())},
	)
	first := h.msg.Sent()[0]
	require.Equal(t, h.appt.ClinicID, first.ClinicID)
	require.Equal(t, messagingclient.SendRequest{
		IdempotencyKey: first.Req.IdempotencyKey,
		Channel:        messagingclient.Email,
		Template:       "appointment_reminder",
		Trigger:        messagingclient.TriggerReminder,
		PatientID:      h.appt.PatientID,
		Data: map[string]string{
			"appointment_id":  h.appt.ID,
			"practitioner_id": h.appt.PractitionerID,
			"treatment_id":    h.appt.TreatmentID,
			"location_id":     h.appt.LocationID,
			"start":           "2026-03-05T09:00:00Z",
			"start_local":     "2026-03-05T22:00:00+13:00",
			"time_zone":       "Pacific/Auckland",
			"offset_minutes":  "2880",
		},
	}, first.Req)
}

func TestReminder_RescheduleSendsOnlyForTheNewStart(t *testing.T) {
	start := t0.Add(72 * time.Hour)
	moved := t0.Add(120 * time.Hour)
	h := newHarness(t, start)
	h.at(time.Hour, func() { h.reschedule(moved) })
	h.run(h.input(48*time.Hour, 2*time.Hour))

	h.requireSent(
		want{moved.Add(-48 * time.Hour), IdempotencyKey(h.appt.ID, moved, 48*time.Hour, messagingclient.Email)},
		want{moved.Add(-2 * time.Hour), IdempotencyKey(h.appt.ID, moved, 2*time.Hour, messagingclient.Email)},
	)
	for _, s := range h.msg.Sent() {
		require.Equal(t, moved.Format(time.RFC3339), s.Req.Data["start"])
	}
}

func TestReminder_RescheduleAfterAReminderStartsAfreshForTheNewStart(t *testing.T) {
	start := t0.Add(72 * time.Hour)
	moved := t0.Add(100 * time.Hour)
	h := newHarness(t, start)
	// The 48 h reminder for the old start went out at t0+24h; then it moves.
	h.at(30*time.Hour, func() { h.reschedule(moved) })
	h.run(h.input(48*time.Hour, 2*time.Hour))

	h.requireSent(
		want{start.Add(-48 * time.Hour), IdempotencyKey(h.appt.ID, start, 48*time.Hour, messagingclient.Email)},
		want{moved.Add(-48 * time.Hour), IdempotencyKey(h.appt.ID, moved, 48*time.Hour, messagingclient.Email)},
		want{moved.Add(-2 * time.Hour), IdempotencyKey(h.appt.ID, moved, 2*time.Hour, messagingclient.Email)},
	)
}

func TestReminder_RescheduleToTheSameStartChangesNothing(t *testing.T) {
	start := t0.Add(72 * time.Hour)
	h := newHarness(t, start)
	h.at(25*time.Hour, func() { h.env.SignalWorkflow(SignalReschedule, Reschedule{Start: start}) })
	h.run(h.input(48*time.Hour, 2*time.Hour))
	h.requireSent(
		want{start.Add(-48 * time.Hour), IdempotencyKey(h.appt.ID, start, 48*time.Hour, messagingclient.Email)},
		want{start.Add(-2 * time.Hour), IdempotencyKey(h.appt.ID, start, 2*time.Hour, messagingclient.Email)},
	)
}

func TestReminder_CancelSignalSendsNothingAndEnds(t *testing.T) {
	start := t0.Add(72 * time.Hour)
	h := newHarness(t, start)
	h.at(time.Hour, func() { h.env.SignalWorkflow(SignalCancel, nil) })
	h.run(h.input(48*time.Hour, 2*time.Hour))
	endedAt := h.env.Now()
	require.Empty(t, h.msg.Sent())
	require.True(t, endedAt.Before(start.Add(-48*time.Hour)), "ended at the cancel (%s), not at a reminder time", endedAt)
}

func TestReminder_CancelAfterTheFirstReminderStopsTheRest(t *testing.T) {
	start := t0.Add(72 * time.Hour)
	h := newHarness(t, start)
	h.at(30*time.Hour, func() { h.env.SignalWorkflow(SignalCancel, nil) })
	h.run(h.input(48*time.Hour, 2*time.Hour))
	h.requireSent(want{start.Add(-48 * time.Hour), IdempotencyKey(h.appt.ID, start, 48*time.Hour, messagingclient.Email)})
}

func TestReminder_AppointmentCancelledInTheStoreSendsNothing(t *testing.T) {
	start := t0.Add(72 * time.Hour)
	h := newHarness(t, start)
	a := h.appt
	a.Status = domain.Cancelled
	h.store.put(a) // no signal: the check at send time must catch it
	h.run(h.input(48*time.Hour, 2*time.Hour))
	require.Empty(t, h.msg.Sent())
	require.Equal(t, 0, h.msg.Attempts(IdempotencyKey(a.ID, start, 48*time.Hour, messagingclient.Email)))
	require.True(t, h.env.Now().Before(start.Add(-2*time.Hour)), "ends at the first check")
}

func TestReminder_AppointmentMissingSendsNothing(t *testing.T) {
	h := newHarness(t, t0.Add(72*time.Hour))
	in := h.input(48 * time.Hour)
	in.AppointmentID = uuid.NewString()
	h.run(in)
	require.Empty(t, h.msg.Sent())
}

func TestReminder_MovedInTheStoreWithoutASignalSkipsThatReminder(t *testing.T) {
	start := t0.Add(72 * time.Hour)
	h := newHarness(t, start)
	a := h.appt
	a.Start = start.Add(24 * time.Hour) // moved; the signal never came
	h.store.put(a)
	h.run(h.input(48*time.Hour, 2*time.Hour))
	require.Empty(t, h.msg.Sent(), "no reminder for a time the appointment no longer has")
}

func TestReminder_PastOffsetsAreSkipped(t *testing.T) {
	start := t0.Add(10 * time.Hour) // booked 10 h ahead: the 48 h reminder is already past
	h := newHarness(t, start)
	h.run(h.input(48*time.Hour, 2*time.Hour))
	h.requireSent(want{start.Add(-2 * time.Hour), IdempotencyKey(h.appt.ID, start, 2*time.Hour, messagingclient.Email)})
}

func TestReminder_StartAlreadyPassedEndsAtOnce(t *testing.T) {
	h := newHarness(t, t0.Add(-time.Hour))
	h.run(h.input(48*time.Hour, 2*time.Hour))
	require.Empty(t, h.msg.Sent())
	require.True(t, h.env.Now().Equal(t0))
}

func TestReminder_RejectedSendIsNotRetried(t *testing.T) {
	start := t0.Add(72 * time.Hour)
	h := newHarness(t, start)
	h.msg.fail = func(string, int) error {
		return fmt.Errorf("%w: status 422", messagingclient.ErrRejected)
	}
	h.run(h.input(48*time.Hour, 2*time.Hour))
	require.Empty(t, h.msg.Sent())
	require.Equal(t, 1, h.msg.Attempts(IdempotencyKey(h.appt.ID, start, 48*time.Hour, messagingclient.Email)))
	require.Equal(t, 1, h.msg.Attempts(IdempotencyKey(h.appt.ID, start, 2*time.Hour, messagingclient.Email)),
		"a refusal is logged and the next reminder still goes ahead")
}

func TestReminder_TransientFailuresRetryWithTheSameKeyAndSendOnce(t *testing.T) {
	start := t0.Add(72 * time.Hour)
	h := newHarness(t, start)
	key := IdempotencyKey(h.appt.ID, start, 2*time.Hour, messagingclient.Email)
	h.msg.fail = func(k string, attempt int) error {
		if k == key && attempt <= 3 {
			return errTransient
		}
		return nil
	}
	h.run(h.input(2 * time.Hour))
	require.Equal(t, 4, h.msg.Attempts(key))
	require.Equal(t, 1, h.msg.SendsFor(key))
	require.Len(t, h.msg.Sent(), 1)
	require.True(t, h.msg.Sent()[0].At.After(start.Add(-2*time.Hour)), "retried with backoff")
}

func TestReminder_TransientFailuresStopAtTheAppointmentStart(t *testing.T) {
	start := t0.Add(72 * time.Hour)
	h := newHarness(t, start)
	h.msg.fail = func(string, int) error { return errTransient }
	h.run(h.input(2 * time.Hour))
	attempts := h.msg.Attempts(IdempotencyKey(h.appt.ID, start, 2*time.Hour, messagingclient.Email))
	require.Greater(t, attempts, 3)
	require.Less(t, attempts, 40, "retries are bounded by the appointment start")
	require.Empty(t, h.msg.Sent())
}

func TestReminder_OptedOutPatientGetsNothingAndTheLogSaysSuppressed(t *testing.T) {
	start := t0.Add(72 * time.Hour)
	h := newHarness(t, start)
	h.msg.optedOut[h.appt.PatientID] = true
	h.run(h.input(48 * time.Hour))
	require.Empty(t, h.msg.Sent())
	var line string
	for l := range strings.SplitSeq(h.logs.String(), "\n") {
		if strings.Contains(l, "suppressed") {
			line = l
		}
	}
	require.NotEmpty(t, line, "no suppressed line in the logs:\n%s", h.logs.String())
	require.Contains(t, line, h.appt.ID)
	require.Contains(t, line, `"channel":"email"`)
}

func TestReminder_EveryConfiguredChannelHasItsOwnKey(t *testing.T) {
	start := t0.Add(72 * time.Hour)
	h := newHarness(t, start)
	in := h.input(2 * time.Hour)
	in.Channels = []string{messagingclient.Email, messagingclient.SMS, "pigeon", messagingclient.SMS}
	h.run(in)
	got := h.msg.Sent()
	require.Len(t, got, 2)
	require.Equal(t, messagingclient.Email, got[0].Req.Channel)
	require.Equal(t, messagingclient.SMS, got[1].Req.Channel)
	require.NotEqual(t, got[0].Req.IdempotencyKey, got[1].Req.IdempotencyKey)
}

func TestReminder_InputCarriesIDsAndTimesOnly(t *testing.T) {
	h := newHarness(t, t0.Add(72*time.Hour))
	in := h.input(48*time.Hour, 2*time.Hour)
	in.TimeZone = "Europe/London"
	s := fmt.Sprintf("%+v", in)
	for _, m := range markers {
		require.NotContains(t, s, m)
	}
	// Every string field of the input and the activities' inputs is an id,
	// a channel or a zone: listed here so a new field needs a decision.
	require.Equal(t, []string{"ClinicID", "AppointmentID", "Start", "Offsets", "Channels", "TimeZone"}, fieldNames(ReminderInput{}))
	require.Equal(t, []string{"ClinicID", "AppointmentID", "PatientID", "PractitionerID", "TreatmentID", "LocationID",
		"Start", "Offset", "Channel", "TimeZone"}, fieldNames(SendInput{}))
	require.Equal(t, []string{"Outcome", "PatientID", "PractitionerID", "TreatmentID", "LocationID"}, fieldNames(AppointmentCheck{}))
}

func fieldNames(v any) []string {
	t := reflect.TypeOf(v)
	out := make([]string, t.NumField())
	for i := range out {
		out[i] = t.Field(i).Name
	}
	return out
}
