// Package store keeps scheduling's appointments in PostgreSQL or SQLite.
// The database itself refuses double bookings (see migrations 00003), so
// the guarantee holds across replicas and under any concurrency.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/store"
	"github.com/havenhealth/haven/services/scheduling/internal/domain"
)

// Store is the appointment repository.
type Store struct{ db *store.DB }

// New wraps an opened, migrated database.
func New(db *store.DB) *Store { return &Store{db: db} }

// DB is the service's database, whose audit outbox records refusals.
func (s *Store) DB() *store.DB { return s.db }

type appointmentRow struct {
	ID             string `gorm:"primaryKey"`
	ClinicID       string
	PractitionerID string
	PatientID      string
	TreatmentID    string
	LocationID     string
	StartsAt       time.Time
	EndsAt         time.Time
	Status         string
	CreatedBy      string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

func (appointmentRow) TableName() string { return "appointments" }

func toRow(a domain.Appointment) appointmentRow {
	return appointmentRow{
		ID: a.ID, ClinicID: a.ClinicID, PractitionerID: a.PractitionerID, PatientID: a.PatientID, TreatmentID: a.TreatmentID,
		LocationID: a.LocationID, StartsAt: a.Start.UTC(), EndsAt: a.End.UTC(), Status: string(a.Status),
		CreatedBy: a.CreatedBy, CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC(),
	}
}

func (r appointmentRow) toDomain() domain.Appointment {
	return domain.Appointment{
		ID: r.ID, ClinicID: r.ClinicID, PractitionerID: r.PractitionerID, PatientID: r.PatientID, TreatmentID: r.TreatmentID,
		LocationID: r.LocationID, Start: r.StartsAt.UTC(), End: r.EndsAt.UTC(), Status: domain.Status(r.Status),
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

// slotTaken maps the database's refusal of an overlap to
// domain.ErrSlotTaken: PostgreSQL's exclusion violation (SQLSTATE 23P01)
// and the SQLite trigger's abort.
func slotTaken(err error) error {
	var pg *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pg) && pg.Code == "23P01":
		return domain.ErrSlotTaken
	case strings.Contains(err.Error(), "appointments_no_double_booking"):
		return domain.ErrSlotTaken
	}
	return err
}

// Write is what an appointment change records in its own transaction:
// its audit events and, when Reminder is set, the reminder_sync row that
// keeps the appointment's reminders in step.
type Write struct {
	Events   []audit.Event
	Reminder *ReminderSync
}

// ReminderSync identifies the reminder_sync row a change adds; the row's
// kind follows from the change (booked, rescheduled, cancelled).
type ReminderSync struct {
	ID string
	// At is when the change happened; RetryAt when SyncReminders first
	// retries it if the immediate call did not succeed.
	At, RetryAt time.Time
}

func (w Write) run(db *gorm.DB, kind domain.ReminderChange, clinicID, appointmentID string, change func(tx *gorm.DB) error) error {
	return audit.Write(db, w.Events, func(tx *gorm.DB) error {
		if err := change(tx); err != nil {
			return err
		}
		if w.Reminder == nil || kind == "" {
			return nil
		}
		return tx.Create(&reminderSyncRow{ID: w.Reminder.ID, ClinicID: clinicID, AppointmentID: appointmentID, Kind: string(kind),
			CreatedAt: w.Reminder.At.UTC(), NextAttemptAt: w.Reminder.RetryAt.UTC()}).Error
	})
}

// Book stores a new appointment with w; an overlap with another
// appointment of the practitioner is domain.ErrSlotTaken and stores
// nothing.
func (s *Store) Book(ctx context.Context, a domain.Appointment, w Write) error {
	if !a.End.After(a.Start) {
		return domain.ErrInvalid
	}
	row := toRow(a)
	err := w.run(s.db.WithContext(ctx), domain.ReminderBooked, a.ClinicID, a.ID, func(tx *gorm.DB) error { return tx.Create(&row).Error })
	if err := slotTaken(err); err != nil {
		return fmt.Errorf("book appointment: %w", err)
	}
	return nil
}

// Reschedule moves an appointment to [start, end) with w; an overlap is
// domain.ErrSlotTaken and changes nothing.
func (s *Store) Reschedule(ctx context.Context, clinicID, id string, start, end time.Time, w Write) (domain.Appointment, error) {
	if !end.After(start) {
		return domain.Appointment{}, domain.ErrInvalid
	}
	var out domain.Appointment
	err := w.run(s.db.WithContext(ctx), domain.ReminderRescheduled, clinicID, id, func(tx *gorm.DB) error {
		var r appointmentRow
		if err := s.db.ForUpdate(tx).Where("clinic_id = ? AND id = ?", clinicID, id).Take(&r).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return domain.ErrNotFound
			}
			return err
		}
		r.StartsAt, r.EndsAt, r.UpdatedAt = start.UTC(), end.UTC(), time.Now().UTC()
		if err := tx.Model(&r).Select("starts_at", "ends_at", "updated_at").Updates(&r).Error; err != nil {
			return err
		}
		out = r.toDomain()
		return nil
	})
	if err := slotTaken(err); err != nil {
		return domain.Appointment{}, fmt.Errorf("reschedule appointment %s: %w", id, err)
	}
	return out, nil
}

// SetStatus changes an appointment's status with w (cancelling frees its
// time; only a cancellation adds a reminder_sync row).
func (s *Store) SetStatus(ctx context.Context, clinicID, id string, st domain.Status, w Write) error {
	var kind domain.ReminderChange
	if st == domain.Cancelled {
		kind = domain.ReminderCancelled
	}
	err := w.run(s.db.WithContext(ctx), kind, clinicID, id, func(tx *gorm.DB) error {
		res := tx.Model(&appointmentRow{}).Where("clinic_id = ? AND id = ?", clinicID, id).
			Updates(map[string]any{"status": string(st), "updated_at": time.Now().UTC()})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return domain.ErrNotFound
		}
		return nil
	})
	if err := slotTaken(err); err != nil {
		return fmt.Errorf("set appointment %s status: %w", id, err)
	}
	return nil
}

// Appointment returns one appointment.
func (s *Store) Appointment(ctx context.Context, clinicID, id string) (domain.Appointment, error) {
	var r appointmentRow
	if err := s.db.WithContext(ctx).Where("clinic_id = ? AND id = ?", clinicID, id).Take(&r).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return domain.Appointment{}, domain.ErrNotFound
		}
		return domain.Appointment{}, err
	}
	return r.toDomain(), nil
}
