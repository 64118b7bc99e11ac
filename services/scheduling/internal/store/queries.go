package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/services/scheduling/internal/domain"
)

// AppointmentFilter selects appointments starting in [From, To), in
// (start, id) order.
type AppointmentFilter struct {
	ClinicID string
	From, To time.Time
	// PractitionerIDs keeps these practitioners' appointments; nil keeps
	// all.
	PractitionerIDs []string
	// PatientID keeps one patient's appointments; empty keeps all.
	PatientID string
	// AfterStart and AfterID continue a listing after that appointment.
	AfterStart time.Time
	AfterID    string
	Limit      int
}

// Appointments returns the appointments f selects.
func (s *Store) Appointments(ctx context.Context, f AppointmentFilter) ([]domain.Appointment, error) {
	if f.PractitionerIDs != nil && len(f.PractitionerIDs) == 0 {
		return nil, nil
	}
	q := s.db.WithContext(ctx).Where("clinic_id = ? AND starts_at >= ? AND starts_at < ?", f.ClinicID, f.From.UTC(), f.To.UTC())
	if f.PractitionerIDs != nil {
		q = q.Where("practitioner_id IN ?", f.PractitionerIDs)
	}
	if f.PatientID != "" {
		q = q.Where("patient_id = ?", f.PatientID)
	}
	if f.AfterID != "" {
		q = q.Where("(starts_at > ? OR (starts_at = ? AND id > ?))", f.AfterStart.UTC(), f.AfterStart.UTC(), f.AfterID)
	}
	var rows []appointmentRow
	if err := q.Order("starts_at, id").Limit(max(f.Limit, 1)).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list appointments: %w", err)
	}
	return toDomains(rows), nil
}

func toDomains(rows []appointmentRow) []domain.Appointment {
	out := make([]domain.Appointment, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out
}

// ChartsOutstanding returns appointments that ended before now, were not
// cancelled and not a no-show, and have no signed chart entry: the
// practitioners' (all when practitionerIDs is nil), by practitioner and
// start, at most limit.
func (s *Store) ChartsOutstanding(ctx context.Context, clinicID string, practitionerIDs []string, now time.Time, limit int) ([]domain.Appointment, error) {
	if practitionerIDs != nil && len(practitionerIDs) == 0 {
		return nil, nil
	}
	q := s.db.WithContext(ctx).Table("appointments AS a").Select("a.*").
		Where("a.clinic_id = ? AND a.ends_at <= ? AND a.status NOT IN ?", clinicID, now.UTC(),
			[]string{string(domain.Cancelled), string(domain.NoShow)}).
		Where("NOT EXISTS (SELECT 1 FROM chart_signatures c WHERE c.clinic_id = a.clinic_id AND c.appointment_id = a.id)")
	if practitionerIDs != nil {
		q = q.Where("a.practitioner_id IN ?", practitionerIDs)
	}
	var rows []appointmentRow
	if err := q.Order("a.practitioner_id, a.starts_at, a.id").Limit(max(limit, 1)).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("charts outstanding: %w", err)
	}
	return toDomains(rows), nil
}

type chartSignatureRow struct {
	ClinicID      string `gorm:"primaryKey"`
	AppointmentID string `gorm:"primaryKey"`
	EntryID       string
	SignedAt      time.Time
	RecordedAt    time.Time
}

func (chartSignatureRow) TableName() string { return "chart_signatures" }

// RecordChartSigned notes that the appointment has a signed chart entry.
// Recording it again (a re-delivered event, another entry) changes
// nothing.
func (s *Store) RecordChartSigned(ctx context.Context, clinicID, appointmentID, entryID string, signedAt time.Time) error {
	row := chartSignatureRow{ClinicID: clinicID, AppointmentID: appointmentID, EntryID: entryID, SignedAt: signedAt.UTC(), RecordedAt: time.Now().UTC()}
	if err := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
		return fmt.Errorf("record chart signed for appointment %s: %w", appointmentID, err)
	}
	return nil
}

// RepointPatient moves the clinic's appointments of a merged-away patient
// profile to the profile kept, with an audit event per appointment made by
// event(appointment); it returns how many moved. Running it again moves
// nothing.
func (s *Store) RepointPatient(ctx context.Context, clinicID, duplicateID, keptID string, event func(domain.Appointment) (audit.Event, error)) (int, error) {
	var n int
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var rows []appointmentRow
		if err := s.db.ForUpdate(tx).Where("clinic_id = ? AND patient_id = ?", clinicID, duplicateID).Find(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		if err := tx.Model(&appointmentRow{}).Where("clinic_id = ? AND patient_id = ?", clinicID, duplicateID).
			Updates(map[string]any{"patient_id": keptID, "updated_at": time.Now().UTC()}).Error; err != nil {
			return err
		}
		for _, r := range rows {
			a := r.toDomain()
			a.PatientID = keptID
			e, err := event(a)
			if err != nil {
				return err
			}
			if err := audit.Record(tx, e); err != nil {
				return err
			}
		}
		n = len(rows)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("re-point appointments of a merged patient: %w", err)
	}
	return n, nil
}

// RecordAudit records events in one transaction (reads, recorded before
// the data leaves).
func (s *Store) RecordAudit(ctx context.Context, events ...audit.Event) error {
	if len(events) == 0 {
		return nil
	}
	return audit.Write(s.db.WithContext(ctx), events, func(*gorm.DB) error { return nil })
}
