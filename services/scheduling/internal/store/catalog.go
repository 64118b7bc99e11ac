package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/services/scheduling/internal/domain"
)

type practitionerRow struct {
	ID        string `gorm:"primaryKey"`
	ClinicID  string
	UserID    string
	CreatedAt time.Time
}

func (practitionerRow) TableName() string { return "practitioners" }

type treatmentRow struct {
	ID              string `gorm:"primaryKey"`
	ClinicID        string
	Name            string
	DurationMinutes int
	PriceCents      int64
	OnlineBookable  bool
	CreatedAt       time.Time
}

func (treatmentRow) TableName() string { return "treatments" }

func translate(err error) error {
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return domain.ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return domain.ErrConflict
	}
	return err
}

// AddPractitioner stores a practitioner; a user already one is ErrConflict.
func (s *Store) AddPractitioner(ctx context.Context, p domain.Practitioner, events ...audit.Event) error {
	row := practitionerRow{ID: p.ID, ClinicID: p.ClinicID, UserID: p.UserID, CreatedAt: p.CreatedAt.UTC()}
	return translate(audit.Write(s.db.WithContext(ctx), events, func(tx *gorm.DB) error { return tx.Create(&row).Error }))
}

// Practitioner returns one practitioner.
func (s *Store) Practitioner(ctx context.Context, clinicID, id string) (domain.Practitioner, error) {
	var r practitionerRow
	if err := s.db.WithContext(ctx).Where("clinic_id = ? AND id = ?", clinicID, id).Take(&r).Error; err != nil {
		return domain.Practitioner{}, translate(err)
	}
	return r.toDomain(), nil
}

// AddTreatment stores a treatment.
func (s *Store) AddTreatment(ctx context.Context, t domain.Treatment, events ...audit.Event) error {
	row := treatmentRow{ID: t.ID, ClinicID: t.ClinicID, Name: t.Name, DurationMinutes: t.DurationMinutes, PriceCents: t.PriceCents,
		OnlineBookable: t.OnlineBookable, CreatedAt: t.CreatedAt.UTC()}
	return translate(audit.Write(s.db.WithContext(ctx), events, func(tx *gorm.DB) error { return tx.Create(&row).Error }))
}

// Treatment returns one treatment.
func (s *Store) Treatment(ctx context.Context, clinicID, id string) (domain.Treatment, error) {
	var r treatmentRow
	if err := s.db.WithContext(ctx).Where("clinic_id = ? AND id = ?", clinicID, id).Take(&r).Error; err != nil {
		return domain.Treatment{}, translate(err)
	}
	return r.toDomain(), nil
}

func (r practitionerRow) toDomain() domain.Practitioner {
	return domain.Practitioner{ID: r.ID, ClinicID: r.ClinicID, UserID: r.UserID, CreatedAt: r.CreatedAt.UTC()}
}

// Practitioners returns the clinic's practitioners, oldest first.
func (s *Store) Practitioners(ctx context.Context, clinicID string) ([]domain.Practitioner, error) {
	var rows []practitionerRow
	if err := s.db.WithContext(ctx).Where("clinic_id = ?", clinicID).Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]domain.Practitioner, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, nil
}

func (r treatmentRow) toDomain() domain.Treatment {
	return domain.Treatment{ID: r.ID, ClinicID: r.ClinicID, Name: r.Name, DurationMinutes: r.DurationMinutes,
		PriceCents: r.PriceCents, OnlineBookable: r.OnlineBookable, CreatedAt: r.CreatedAt.UTC()}
}

// Treatments returns the clinic's treatments (only the online-bookable
// ones when onlineOnly), oldest first.
func (s *Store) Treatments(ctx context.Context, clinicID string, onlineOnly bool) ([]domain.Treatment, error) {
	q := s.db.WithContext(ctx).Where("clinic_id = ?", clinicID)
	if onlineOnly {
		q = q.Where("online_bookable = ?", true)
	}
	var rows []treatmentRow
	if err := q.Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]domain.Treatment, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, nil
}

type locationRow struct {
	ID        string `gorm:"primaryKey"`
	ClinicID  string
	Name      string
	TimeZone  string // reserved: empty, locations keep the clinic's zone
	CreatedAt time.Time
}

func (locationRow) TableName() string { return "locations" }

func (r locationRow) toDomain() domain.Location {
	return domain.Location{ID: r.ID, ClinicID: r.ClinicID, Name: r.Name, CreatedAt: r.CreatedAt.UTC()}
}

// AddLocation stores a location with its audit events.
func (s *Store) AddLocation(ctx context.Context, l domain.Location, events ...audit.Event) error {
	row := locationRow{ID: l.ID, ClinicID: l.ClinicID, Name: l.Name, CreatedAt: l.CreatedAt.UTC()}
	return translate(audit.Write(s.db.WithContext(ctx), events, func(tx *gorm.DB) error { return tx.Create(&row).Error }))
}

// Location returns one location.
func (s *Store) Location(ctx context.Context, clinicID, id string) (domain.Location, error) {
	var r locationRow
	if err := s.db.WithContext(ctx).Where("clinic_id = ? AND id = ?", clinicID, id).Take(&r).Error; err != nil {
		return domain.Location{}, translate(err)
	}
	return r.toDomain(), nil
}

// Locations returns the clinic's locations, oldest first.
func (s *Store) Locations(ctx context.Context, clinicID string) ([]domain.Location, error) {
	var rows []locationRow
	if err := s.db.WithContext(ctx).Where("clinic_id = ?", clinicID).Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]domain.Location, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, nil
}
