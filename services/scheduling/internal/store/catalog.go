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
	return domain.Practitioner{ID: r.ID, ClinicID: r.ClinicID, UserID: r.UserID, CreatedAt: r.CreatedAt.UTC()}, nil
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
	return domain.Treatment{ID: r.ID, ClinicID: r.ClinicID, Name: r.Name, DurationMinutes: r.DurationMinutes,
		PriceCents: r.PriceCents, OnlineBookable: r.OnlineBookable, CreatedAt: r.CreatedAt.UTC()}, nil
}
