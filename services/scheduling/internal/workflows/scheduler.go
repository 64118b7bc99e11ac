package workflows

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/havenhealth/haven/libs/messagingclient"
	"github.com/havenhealth/haven/services/scheduling/internal/domain"
)

// ReminderSettings are a clinic's reminder preferences.
type ReminderSettings struct {
	// Offsets are how long before the start reminders go out; empty means
	// the defaults (48 h and 2 h).
	Offsets []time.Duration
	// Channels are messagingclient.Email and/or SMS; empty means e-mail.
	Channels []string
	// TimeZone is the clinic's IANA zone name; empty or unknown means the
	// message shows UTC only.
	TimeZone string
}

// DefaultReminderSettings are used for a clinic that configured nothing:
// e-mail 48 hours and 2 hours before.
func DefaultReminderSettings() ReminderSettings {
	return ReminderSettings{Offsets: []time.Duration{48 * time.Hour, 2 * time.Hour}, Channels: []string{messagingclient.Email}}
}

// Scheduler starts, moves and ends appointments' reminder workflows. Every
// call is safe to repeat.
type Scheduler struct {
	Client client.Client
	// Settings gives a clinic's reminder settings; nil means the defaults
	// for every clinic.
	Settings func(ctx context.Context, clinicID string) (ReminderSettings, error)
	// TaskQueue defaults to [TaskQueue].
	TaskQueue string
	// Now defaults to time.Now.
	Now func() time.Time
}

// Booked starts the appointment's reminder workflow. A repeat while it runs
// changes nothing; an appointment that is not booked or has started gets
// none.
func (s *Scheduler) Booked(ctx context.Context, a domain.Appointment) error {
	if a.Status != domain.Booked || !a.Start.After(s.now()) {
		return nil
	}
	in, err := s.input(ctx, a)
	if err != nil {
		return err
	}
	opts := s.startOptions(a.ID)
	opts.WorkflowIDConflictPolicy = enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING
	if _, err := s.Client.ExecuteWorkflow(ctx, opts, WorkflowName, in); err != nil {
		return fmt.Errorf("start reminders for appointment %s: %w", a.ID, err)
	}
	return nil
}

// Rescheduled moves the appointment's reminders to its new start, starting
// the workflow if none runs (e.g. it had already sent its last reminder).
func (s *Scheduler) Rescheduled(ctx context.Context, a domain.Appointment) error {
	if a.Status != domain.Booked {
		return nil
	}
	in, err := s.input(ctx, a)
	if err != nil {
		return err
	}
	if _, err := s.Client.SignalWithStartWorkflow(ctx, WorkflowID(a.ID), SignalReschedule,
		Reschedule{Start: in.Start}, s.startOptions(a.ID), WorkflowName, in); err != nil {
		return fmt.Errorf("reschedule reminders for appointment %s: %w", a.ID, err)
	}
	return nil
}

// Cancelled ends the appointment's reminder workflow; none running is fine.
func (s *Scheduler) Cancelled(ctx context.Context, a domain.Appointment) error {
	err := s.Client.SignalWorkflow(ctx, WorkflowID(a.ID), "", SignalCancel, nil)
	var notFound *serviceerror.NotFound
	if err != nil && !errors.As(err, &notFound) {
		return fmt.Errorf("cancel reminders for appointment %s: %w", a.ID, err)
	}
	return nil
}

func (s *Scheduler) input(ctx context.Context, a domain.Appointment) (ReminderInput, error) {
	set := DefaultReminderSettings()
	if s.Settings != nil {
		got, err := s.Settings(ctx, a.ClinicID)
		if err != nil {
			return ReminderInput{}, fmt.Errorf("reminder settings of clinic %s: %w", a.ClinicID, err)
		}
		if len(got.Offsets) > 0 {
			set.Offsets = got.Offsets
		}
		if len(got.Channels) > 0 {
			set.Channels = got.Channels
		}
		set.TimeZone = got.TimeZone
	}
	if set.TimeZone != "" {
		if _, err := time.LoadLocation(set.TimeZone); err != nil {
			set.TimeZone = ""
		}
	}
	return ReminderInput{
		ClinicID: a.ClinicID, AppointmentID: a.ID, Start: a.Start.UTC(),
		Offsets: normalizeOffsets(set.Offsets), Channels: normalizeChannels(set.Channels), TimeZone: set.TimeZone,
	}, nil
}

// startOptions: the id names the appointment only; no memo, no search
// attributes. A finished run's id may be reused (a reschedule after the
// last reminder starts afresh).
func (s *Scheduler) startOptions(appointmentID string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                    WorkflowID(appointmentID),
		TaskQueue:             s.taskQueue(),
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}
}

func (s *Scheduler) taskQueue() string {
	if s.TaskQueue == "" {
		return TaskQueue
	}
	return s.TaskQueue
}

func (s *Scheduler) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}
