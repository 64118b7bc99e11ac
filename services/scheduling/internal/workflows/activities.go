package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/havenhealth/haven/libs/messagingclient"
	"github.com/havenhealth/haven/services/scheduling/internal/domain"
)

// Appointments reads appointments; scheduling's store satisfies it.
type Appointments interface {
	Appointment(ctx context.Context, clinicID, id string) (domain.Appointment, error)
}

// Sender asks messaging to send; *messagingclient.Client satisfies it.
type Sender interface {
	Send(ctx context.Context, clinicID string, req messagingclient.SendRequest) (messagingclient.SendResult, error)
}

// Activities are the reminder workflow's side effects.
type Activities struct {
	Appointments Appointments
	Sender       Sender
	// Logger receives ids only. Nil discards.
	Logger *slog.Logger
}

// CheckInput asks whether a reminder computed for Start is still due.
type CheckInput struct {
	ClinicID      string
	AppointmentID string
	Start         time.Time
}

// Outcome of an appointment check.
type Outcome string

// The outcomes.
const (
	// OutcomeDue: booked at the expected start; send.
	OutcomeDue Outcome = "due"
	// OutcomeMoved: booked at another start (a reschedule signal is on its
	// way); skip this reminder.
	OutcomeMoved Outcome = "moved"
	// OutcomeGone: missing, cancelled or otherwise no longer booked; stop.
	OutcomeGone Outcome = "gone"
)

// AppointmentCheck is the answer of CheckAppointment: the outcome and, when
// due, the ids the message needs.
type AppointmentCheck struct {
	Outcome        Outcome
	PatientID      string
	PractitionerID string
	TreatmentID    string
	LocationID     string
}

// CheckAppointment reads the appointment: it must exist, be booked and
// start at in.Start (to the second).
func (a *Activities) CheckAppointment(ctx context.Context, in CheckInput) (AppointmentCheck, error) {
	appt, err := a.Appointments.Appointment(ctx, in.ClinicID, in.AppointmentID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return AppointmentCheck{Outcome: OutcomeGone}, nil
	case err != nil:
		return AppointmentCheck{}, fmt.Errorf("read appointment %s: %w", in.AppointmentID, err)
	case appt.Status != domain.Booked:
		return AppointmentCheck{Outcome: OutcomeGone}, nil
	case appt.Start.Unix() != in.Start.Unix():
		return AppointmentCheck{Outcome: OutcomeMoved}, nil
	}
	return AppointmentCheck{Outcome: OutcomeDue, PatientID: appt.PatientID, PractitionerID: appt.PractitionerID,
		TreatmentID: appt.TreatmentID, LocationID: appt.LocationID}, nil
}

// SendInput is one reminder message: ids, the start, the offset and the
// channel.
type SendInput struct {
	ClinicID       string
	AppointmentID  string
	PatientID      string
	PractitionerID string
	TreatmentID    string
	LocationID     string
	Start          time.Time
	Offset         time.Duration
	Channel        string
	TimeZone       string
}

// SendOutcome is what messaging recorded.
type SendOutcome struct {
	MessageID string
	Status    string
	Duplicate bool
}

// SendReminder asks messaging to send one reminder. A refusal
// (messagingclient.ErrRejected) is a non-retryable error; anything else is
// retried by the workflow's policy with the same idempotency key. A patient
// who opted out of the channel gets nothing; messaging answers
// "suppressed", and that is logged.
func (a *Activities) SendReminder(ctx context.Context, in SendInput) (SendOutcome, error) {
	req := messagingclient.SendRequest{
		IdempotencyKey: IdempotencyKey(in.AppointmentID, in.Start, in.Offset, in.Channel),
		Channel:        in.Channel,
		Template:       TemplateReminder,
		Trigger:        messagingclient.TriggerReminder,
		PatientID:      in.PatientID,
		Data:           templateData(in),
	}
	res, err := a.Sender.Send(ctx, in.ClinicID, req)
	if errors.Is(err, messagingclient.ErrRejected) {
		return SendOutcome{}, temporal.NewNonRetryableApplicationError(
			"messaging refused reminder for appointment "+in.AppointmentID, errRejected, err)
	}
	if err != nil {
		return SendOutcome{}, fmt.Errorf("send reminder for appointment %s: %w", in.AppointmentID, err)
	}
	log := a.logger().With(slog.String("clinic_id", in.ClinicID), slog.String("appointment_id", in.AppointmentID),
		slog.String("patient_id", in.PatientID), slog.String("channel", in.Channel),
		slog.Int64("offset_seconds", int64(in.Offset/time.Second)), slog.String("message_id", res.ID))
	if res.Status == messagingclient.StatusSuppressed {
		log.InfoContext(ctx, "reminder suppressed: patient opted out", slog.String("status", res.Status))
	} else {
		log.InfoContext(ctx, "reminder handed to messaging", slog.String("status", res.Status), slog.Bool("duplicate", res.Duplicate))
	}
	return SendOutcome{MessageID: res.ID, Status: res.Status, Duplicate: res.Duplicate}, nil
}

// templateData fills appointment_reminder: ids and times only.
func templateData(in SendInput) map[string]string {
	d := map[string]string{
		"appointment_id":  in.AppointmentID,
		"practitioner_id": in.PractitionerID,
		"start":           in.Start.UTC().Format(time.RFC3339),
		"offset_minutes":  strconv.FormatInt(int64(in.Offset/time.Minute), 10),
	}
	if in.TreatmentID != "" {
		d["treatment_id"] = in.TreatmentID
	}
	if in.LocationID != "" {
		d["location_id"] = in.LocationID
	}
	if in.TimeZone != "" {
		if loc, err := time.LoadLocation(in.TimeZone); err == nil {
			d["start_local"] = in.Start.In(loc).Format(time.RFC3339)
			d["time_zone"] = in.TimeZone
		}
	}
	return d
}

func (a *Activities) logger() *slog.Logger {
	if a.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Logger
}
