package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/havenhealth/haven/services/scheduling/internal/domain"
	"github.com/havenhealth/haven/services/scheduling/internal/store"
)

// Reminders keeps an appointment's reminder workflow in step with it.
type Reminders interface {
	Booked(ctx context.Context, a domain.Appointment) error
	Rescheduled(ctx context.Context, a domain.Appointment) error
	Cancelled(ctx context.Context, a domain.Appointment) error
}

// Reminder sync timing: a change's row waits reminderGrace for the
// immediate call before SyncReminders retries it; failed retries back off
// from a minute to an hour; done rows are kept a month.
const (
	reminderGrace     = time.Minute
	reminderMaxDelay  = time.Hour
	reminderBatch     = 100
	reminderRetention = 30 * 24 * time.Hour
	reminderTimeout   = 10 * time.Second
)

// newSync is the reminder_sync row of a change made now.
func (a *App) newSync() *store.ReminderSync {
	now := a.now()
	return &store.ReminderSync{ID: uuid.Must(uuid.NewV7()).String(), At: now, RetryAt: now.Add(reminderGrace)}
}

func (a *App) tell(ctx context.Context, change domain.ReminderChange, ap domain.Appointment) error {
	switch change {
	case domain.ReminderBooked:
		return a.d.Reminders.Booked(ctx, ap)
	case domain.ReminderRescheduled:
		return a.d.Reminders.Rescheduled(ctx, ap)
	case domain.ReminderCancelled:
		return a.d.Reminders.Cancelled(ctx, ap)
	}
	return fmt.Errorf("unknown reminder change %q", change)
}

// remind tells Reminders of a committed change and marks its row done. A
// failure is logged by id only: the change stands, and SyncReminders
// retries it.
func (a *App) remind(ctx context.Context, change domain.ReminderChange, ap domain.Appointment, syncID string) {
	if a.d.Reminders == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reminderTimeout)
	defer cancel()
	if err := a.tell(ctx, change, ap); err != nil {
		a.d.Logger.WarnContext(ctx, "reminders not updated; will retry", slog.String("clinic_id", ap.ClinicID),
			slog.String("appointment_id", ap.ID), slog.String("change", string(change)), slog.String("error", err.Error()))
		return
	}
	if err := a.d.Store.MarkRemindersDone(ctx, []string{syncID}, a.now()); err != nil {
		a.d.Logger.WarnContext(ctx, "reminder sync not marked done", slog.String("appointment_id", ap.ID), slog.String("error", err.Error()))
	}
}

// SyncReminders retries the changes Reminders has not acknowledged: for
// each appointment with rows due, it tells Reminders once, by the
// appointment's state now (Cancelled when cancelled, else Booked when the
// booking itself never got through, else Rescheduled), and marks the rows
// done; a failure backs the rows off. Reminders must be idempotent: a call
// may repeat. Run it periodically (service.Every); it does nothing
// without Reminders.
func (a *App) SyncReminders(ctx context.Context) error {
	if a.d.Reminders == nil {
		return nil
	}
	now := a.now()
	rows, err := a.d.Store.PendingReminders(ctx, now, reminderBatch)
	if err != nil {
		return err
	}
	type group struct {
		clinicID, appointmentID string
		ids                     []string
		booked                  bool
		attempts                int
	}
	var order []*group
	groups := map[[2]string]*group{}
	for _, r := range rows {
		k := [2]string{r.ClinicID, r.AppointmentID}
		g := groups[k]
		if g == nil {
			g = &group{clinicID: r.ClinicID, appointmentID: r.AppointmentID}
			groups[k] = g
			order = append(order, g)
		}
		g.ids = append(g.ids, r.ID)
		g.booked = g.booked || r.Change == domain.ReminderBooked
		g.attempts = max(g.attempts, r.Attempts)
	}
	failed := 0
	for _, g := range order {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		ap, err := a.d.Store.Appointment(ctx, g.clinicID, g.appointmentID)
		if errors.Is(err, domain.ErrNotFound) { // nothing to keep in step
			if err := a.d.Store.MarkRemindersDone(ctx, g.ids, now); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		change := domain.ReminderRescheduled
		switch {
		case ap.Status == domain.Cancelled:
			change = domain.ReminderCancelled
		case g.booked:
			change = domain.ReminderBooked
		}
		cctx, cancel := context.WithTimeout(ctx, reminderTimeout)
		err = a.tell(cctx, change, ap)
		cancel()
		if err != nil {
			failed++
			delay := min(reminderGrace<<min(g.attempts, 10), reminderMaxDelay)
			a.d.Logger.WarnContext(ctx, "reminder sync failed; will retry", slog.String("clinic_id", g.clinicID),
				slog.String("appointment_id", g.appointmentID), slog.Int("attempts", g.attempts+1), slog.String("error", err.Error()))
			if err := a.d.Store.DeferReminders(ctx, g.ids, now.Add(delay)); err != nil {
				return err
			}
			continue
		}
		if err := a.d.Store.MarkRemindersDone(ctx, g.ids, now); err != nil {
			return err
		}
	}
	if _, err := a.d.Store.PruneReminders(ctx, now.Add(-reminderRetention)); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("reminder sync: %d of %d appointments failed", failed, len(order))
	}
	return nil
}
