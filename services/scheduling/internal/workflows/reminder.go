// Package workflows holds scheduling's Temporal workflows: one reminder
// workflow per appointment, which waits for each reminder time the clinic
// configured, re-checks the appointment and asks messaging to send.
//
// Workflow ids, inputs, signals and activity payloads carry ids and times
// only — never a patient's name, e-mail, phone or address; messaging looks
// the recipient up at send time. Payloads are sealed besides by the region's
// codec (libs/temporalcodec).
package workflows

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/havenhealth/haven/libs/messagingclient"
)

// Names shared by the workflow, its starters and its worker.
const (
	// WorkflowName is the registered name of [Reminder].
	WorkflowName = "Reminder"
	// TaskQueue is the task queue reminder workflows and activities run on.
	TaskQueue = "scheduling-reminders"
	// SignalReschedule moves the appointment; its payload is [Reschedule].
	SignalReschedule = "reschedule"
	// SignalCancel ends the workflow without sending anything more; it has
	// no payload.
	SignalCancel = "cancel"
	// TemplateReminder is the messaging template reminders use.
	TemplateReminder = "appointment_reminder"
	// errRejected is the application error type of a send messaging refused.
	errRejected = "MessagingRejected"
)

// WorkflowID is the id of an appointment's reminder workflow. It holds the
// appointment id only.
func WorkflowID(appointmentID string) string { return "reminder-" + appointmentID }

// IdempotencyKey is the key of one reminder message: the appointment, the
// start it was computed for (Unix seconds), the offset (seconds) and the
// channel. A retried send reuses it, so messaging sends once; a new start
// gives new keys. The channel is part of it because messaging keeps one
// message per key: without it, an SMS would be a duplicate of the e-mail.
func IdempotencyKey(appointmentID string, start time.Time, offset time.Duration, channel string) string {
	return fmt.Sprintf("reminder-%s-%d-%d-%s", appointmentID, start.Unix(), int64(offset/time.Second), channel)
}

// ReminderInput starts a reminder workflow. Ids and times only.
type ReminderInput struct {
	ClinicID      string
	AppointmentID string
	// Start is the appointment's start (UTC).
	Start time.Time
	// Offsets are how long before Start each reminder goes out, e.g. 48h
	// and 2h. Order does not matter; non-positive and repeated ones are
	// ignored.
	Offsets []time.Duration
	// Channels are messagingclient.Email and/or messagingclient.SMS; empty
	// means e-mail.
	Channels []string
	// TimeZone is the clinic's IANA zone name, used to show the local time
	// in the message; empty or unknown means UTC only.
	TimeZone string
}

// Reschedule is the payload of [SignalReschedule].
type Reschedule struct {
	Start time.Time
}

// Reminder sends an appointment's reminders. For each offset, largest
// first, it waits until Start-offset (skipping times already past when it
// starts or is rescheduled), checks that the appointment is still booked at
// that start, and asks messaging to send on each channel with an
// idempotency key. A reschedule signal moves every remaining reminder to the
// new start; a cancel signal ends it. It ends after the last reminder, on
// cancel, when the appointment is no longer booked, or once the start has
// passed.
func Reminder(ctx workflow.Context, in ReminderInput) error {
	log := workflow.GetLogger(ctx)
	r := &reminder{
		start:    in.Start.UTC(),
		offsets:  normalizeOffsets(in.Offsets),
		channels: normalizeChannels(in.Channels),
		resched:  workflow.GetSignalChannel(ctx, SignalReschedule),
		cancel:   workflow.GetSignalChannel(ctx, SignalCancel),
	}
	r.next = r.firstFuture(workflow.Now(ctx))
	var acts *Activities
	for {
		if r.drain(ctx) {
			r.next = r.firstFuture(workflow.Now(ctx))
		}
		if r.cancelled {
			log.Info("reminders cancelled", "appointment_id", in.AppointmentID)
			return nil
		}
		now := workflow.Now(ctx)
		if !now.Before(r.start) || r.next >= len(r.offsets) {
			return nil
		}
		if fire := r.start.Add(-r.offsets[r.next]); fire.After(now) {
			r.wait(ctx, fire.Sub(now))
			continue // signals first, then the (possibly moved) fire time again
		}
		offset := r.takeDue(now)

		actx := workflow.WithActivityOptions(ctx, activityOptions(r.start.Sub(now)))
		var check AppointmentCheck
		err := workflow.ExecuteActivity(actx, acts.CheckAppointment,
			CheckInput{ClinicID: in.ClinicID, AppointmentID: in.AppointmentID, Start: r.start}).Get(ctx, &check)
		if err != nil {
			log.Warn("reminder skipped: appointment check failed", "appointment_id", in.AppointmentID, "error", err)
			continue
		}
		switch check.Outcome {
		case OutcomeGone:
			log.Info("reminders ended: appointment no longer booked", "appointment_id", in.AppointmentID)
			return nil
		case OutcomeMoved:
			log.Info("reminder skipped: appointment moved", "appointment_id", in.AppointmentID)
			continue
		}
		if r.drain(ctx) || r.cancelled {
			r.next = r.firstFuture(workflow.Now(ctx))
			continue // moved or cancelled while checking
		}
		for _, ch := range r.channels {
			send := SendInput{
				ClinicID: in.ClinicID, AppointmentID: in.AppointmentID, PatientID: check.PatientID,
				PractitionerID: check.PractitionerID, TreatmentID: check.TreatmentID, LocationID: check.LocationID,
				Start: r.start, Offset: offset, Channel: ch, TimeZone: in.TimeZone,
			}
			var out SendOutcome
			if err := workflow.ExecuteActivity(actx, acts.SendReminder, send).Get(ctx, &out); err != nil {
				log.Warn("reminder not sent", "appointment_id", in.AppointmentID, "channel", ch,
					"offset_seconds", int64(offset/time.Second), "error", err)
			}
		}
	}
}

// reminder is the state of one Reminder run.
type reminder struct {
	start     time.Time
	offsets   []time.Duration // largest first
	channels  []string
	next      int // index into offsets of the next reminder
	cancelled bool
	resched   workflow.ReceiveChannel
	cancel    workflow.ReceiveChannel
}

// firstFuture is the index of the first offset whose time is after now.
func (r *reminder) firstFuture(now time.Time) int {
	for i, off := range r.offsets {
		if r.start.Add(-off).After(now) {
			return i
		}
	}
	return len(r.offsets)
}

// takeDue returns the offset to send now that offsets[next] is due and
// moves past it. If the worker was away long enough that later reminders
// are due too, only the latest of them is sent.
func (r *reminder) takeDue(now time.Time) time.Duration {
	for r.next+1 < len(r.offsets) && !r.start.Add(-r.offsets[r.next+1]).After(now) {
		r.next++
	}
	r.next++
	return r.offsets[r.next-1]
}

// onReschedule applies a reschedule; it reports whether the start changed.
func (r *reminder) onReschedule(s Reschedule) bool {
	if s.Start.IsZero() || s.Start.Equal(r.start) {
		return false
	}
	r.start = s.Start.UTC()
	return true
}

// drain applies the signals received so far without blocking; it reports
// whether the start changed.
func (r *reminder) drain(ctx workflow.Context) bool {
	changed := false
	for {
		var s Reschedule
		if !r.resched.ReceiveAsync(&s) {
			break
		}
		changed = r.onReschedule(s) || changed
	}
	for r.cancel.ReceiveAsync(nil) {
		r.cancelled = true
	}
	return changed
}

// wait blocks until d has passed or a signal arrives.
func (r *reminder) wait(ctx workflow.Context, d time.Duration) {
	tctx, stopTimer := workflow.WithCancel(ctx)
	defer stopTimer()
	sel := workflow.NewSelector(ctx)
	sel.AddFuture(workflow.NewTimer(tctx, d), func(workflow.Future) {})
	sel.AddReceive(r.resched, func(c workflow.ReceiveChannel, _ bool) {
		var s Reschedule
		c.Receive(ctx, &s)
		if r.onReschedule(s) {
			r.next = r.firstFuture(workflow.Now(ctx))
		}
	})
	sel.AddReceive(r.cancel, func(c workflow.ReceiveChannel, _ bool) {
		c.Receive(ctx, nil)
		r.cancelled = true
	})
	sel.Select(ctx)
}

// activityOptions retry with backoff until the appointment starts (at least
// a minute): a reminder after the start is pointless. A refusal from
// messaging is not retried.
func activityOptions(untilStart time.Duration) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: max(untilStart, time.Minute),
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        5 * time.Minute,
			NonRetryableErrorTypes: []string{errRejected},
		},
	}
}

func normalizeOffsets(in []time.Duration) []time.Duration {
	out := make([]time.Duration, 0, len(in))
	for _, o := range in {
		if o > 0 && !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b time.Duration) int { return cmp.Compare(b, a) })
	return out
}

func normalizeChannels(in []string) []string {
	var out []string
	for _, c := range in {
		if (c == messagingclient.Email || c == messagingclient.SMS) && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		out = []string{messagingclient.Email}
	}
	return out
}
