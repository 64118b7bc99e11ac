package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/services/scheduling/internal/domain"
)

type weeklyRow struct {
	ID             string `gorm:"primaryKey"`
	ClinicID       string
	PractitionerID string
	Weekday        int
	StartMinute    int
	EndMinute      int
	LocationID     string
}

func (weeklyRow) TableName() string { return "availability_weekly" }

type exceptionRow struct {
	ID             string `gorm:"primaryKey"`
	ClinicID       string
	PractitionerID string
	OnDate         string
	Closed         bool
	StartMinute    int
	EndMinute      int
	LocationID     string
}

func (exceptionRow) TableName() string { return "availability_exceptions" }

// PutAvailability replaces the practitioner's weekly pattern and
// exceptions with a's, with its audit events, in one transaction.
func (s *Store) PutAvailability(ctx context.Context, clinicID string, a domain.Availability, events ...audit.Event) error {
	weekly := make([]weeklyRow, len(a.Weekly))
	for i, w := range a.Weekly {
		weekly[i] = weeklyRow{ID: uuid.Must(uuid.NewV7()).String(), ClinicID: clinicID, PractitionerID: a.PractitionerID,
			Weekday: int(w.Weekday), StartMinute: int(w.Start), EndMinute: int(w.End), LocationID: w.LocationID}
	}
	exceptions := make([]exceptionRow, len(a.Exceptions))
	for i, e := range a.Exceptions {
		exceptions[i] = exceptionRow{ID: uuid.Must(uuid.NewV7()).String(), ClinicID: clinicID, PractitionerID: a.PractitionerID,
			OnDate: e.Date.String(), Closed: e.Closed, StartMinute: int(e.Start), EndMinute: int(e.End), LocationID: e.LocationID}
	}
	err := audit.Write(s.db.WithContext(ctx), events, func(tx *gorm.DB) error {
		where := "clinic_id = ? AND practitioner_id = ?"
		if err := tx.Where(where, clinicID, a.PractitionerID).Delete(&weeklyRow{}).Error; err != nil {
			return err
		}
		if err := tx.Where(where, clinicID, a.PractitionerID).Delete(&exceptionRow{}).Error; err != nil {
			return err
		}
		if len(weekly) > 0 {
			if err := tx.CreateInBatches(weekly, 200).Error; err != nil {
				return err
			}
		}
		if len(exceptions) > 0 {
			return tx.CreateInBatches(exceptions, 200).Error
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put availability of practitioner %s: %w", a.PractitionerID, err)
	}
	return nil
}

// Availability returns the practitioner's weekly pattern and the
// exceptions dated from through to (both included; a zero date is
// unbounded).
func (s *Store) Availability(ctx context.Context, clinicID, practitionerID string, from, to domain.Date) (domain.Availability, error) {
	out := domain.Availability{PractitionerID: practitionerID}
	var weekly []weeklyRow
	db := s.db.WithContext(ctx)
	if err := db.Where("clinic_id = ? AND practitioner_id = ?", clinicID, practitionerID).
		Order("weekday, start_minute").Find(&weekly).Error; err != nil {
		return out, fmt.Errorf("availability of practitioner %s: %w", practitionerID, err)
	}
	q := db.Where("clinic_id = ? AND practitioner_id = ?", clinicID, practitionerID)
	if from.Year != 0 {
		q = q.Where("on_date >= ?", from.String())
	}
	if to.Year != 0 {
		q = q.Where("on_date <= ?", to.String())
	}
	var exceptions []exceptionRow
	if err := q.Order("on_date, start_minute").Find(&exceptions).Error; err != nil {
		return out, fmt.Errorf("availability exceptions of practitioner %s: %w", practitionerID, err)
	}
	for _, w := range weekly {
		out.Weekly = append(out.Weekly, domain.WeeklySpan{Weekday: time.Weekday(w.Weekday),
			Span: domain.Span{Start: domain.Clock(w.StartMinute), End: domain.Clock(w.EndMinute), LocationID: w.LocationID}})
	}
	for _, e := range exceptions {
		d, ok := domain.ParseDate(e.OnDate)
		if !ok {
			return out, fmt.Errorf("availability exception %s: bad date", e.ID)
		}
		x := domain.Exception{Date: d, Closed: e.Closed}
		if !e.Closed {
			x.Span = domain.Span{Start: domain.Clock(e.StartMinute), End: domain.Clock(e.EndMinute), LocationID: e.LocationID}
		}
		out.Exceptions = append(out.Exceptions, x)
	}
	return out, nil
}

// Busy returns the time the practitioner has booked (appointments that
// hold it) overlapping [from, to), leaving out the appointment except (for
// a reschedule).
func (s *Store) Busy(ctx context.Context, clinicID, practitionerID string, from, to time.Time, except string) ([]domain.Interval, error) {
	var rows []appointmentRow
	err := s.db.WithContext(ctx).Select("starts_at", "ends_at").
		Where("clinic_id = ? AND practitioner_id = ? AND status <> ? AND starts_at < ? AND ends_at > ? AND id <> ?",
			clinicID, practitionerID, string(domain.Cancelled), to.UTC(), from.UTC(), except).
		Order("starts_at").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("busy time of practitioner %s: %w", practitionerID, err)
	}
	out := make([]domain.Interval, len(rows))
	for i, r := range rows {
		out[i] = domain.Interval{Start: r.StartsAt.UTC(), End: r.EndsAt.UTC()}
	}
	return out, nil
}
