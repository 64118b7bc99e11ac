// Package store is identity's gorm implementation of app.Store.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/havenhealth/haven/libs/store"
	"github.com/havenhealth/haven/services/identity/internal/domain"
)

// Store persists clinics and users.
type Store struct{ db *store.DB }

// New wraps an opened, migrated database.
func New(db *store.DB) *Store { return &Store{db: db} }

type clinicRow struct {
	ID        string `gorm:"primaryKey"`
	Slug      string
	Name      string
	Country   string
	TimeZone  string
	CreatedAt time.Time
}

func (clinicRow) TableName() string { return "clinics" }

type userRow struct {
	ID           string `gorm:"primaryKey"`
	ClinicID     string
	Name         string
	Email        string
	PasswordHash string
	Role         string
	Status       string
	CreatedAt    time.Time
}

func (userRow) TableName() string { return "users" }

func clinicToDB(c domain.Clinic) clinicRow {
	return clinicRow{ID: c.ID, Slug: c.Slug, Name: c.Name, Country: c.Country, TimeZone: c.TimeZone, CreatedAt: c.CreatedAt.UTC()}
}

func clinicToDomain(r clinicRow) domain.Clinic {
	return domain.Clinic{ID: r.ID, Slug: r.Slug, Name: r.Name, Country: r.Country, TimeZone: r.TimeZone, CreatedAt: r.CreatedAt.UTC()}
}

func userToDB(u domain.User) userRow {
	return userRow{ID: u.ID, ClinicID: u.ClinicID, Name: u.Name, Email: u.Email, PasswordHash: u.PasswordHash,
		Role: string(u.Role), Status: string(u.Status), CreatedAt: u.CreatedAt.UTC()}
}

func userToDomain(r userRow) domain.User {
	return domain.User{ID: r.ID, ClinicID: r.ClinicID, Name: r.Name, Email: r.Email, PasswordHash: r.PasswordHash,
		Role: domain.Role(r.Role), Status: domain.UserStatus(r.Status), CreatedAt: r.CreatedAt.UTC()}
}

// CreateClinicWithOwner implements app.Store.
func (s *Store) CreateClinicWithOwner(ctx context.Context, c domain.Clinic, owner domain.User) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		cr, ur := clinicToDB(c), userToDB(owner)
		if err := tx.Create(&cr).Error; err != nil {
			return err
		}
		return tx.Create(&ur).Error
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return fmt.Errorf("clinic id or slug taken: %w", domain.ErrConflict)
	}
	return err
}

// Clinic implements app.Store.
func (s *Store) Clinic(ctx context.Context, id string) (domain.Clinic, error) {
	var r clinicRow
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return domain.Clinic{}, domain.ErrNotFound
	}
	if err != nil {
		return domain.Clinic{}, fmt.Errorf("read clinic: %w", err)
	}
	return clinicToDomain(r), nil
}

// Owner implements app.Store.
func (s *Store) Owner(ctx context.Context, clinicID string) (domain.User, error) {
	var r userRow
	err := s.db.WithContext(ctx).Where("clinic_id = ? AND role = ?", clinicID, string(domain.RoleOwner)).
		Order("created_at").Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return domain.User{}, domain.ErrNotFound
	}
	if err != nil {
		return domain.User{}, fmt.Errorf("read owner: %w", err)
	}
	return userToDomain(r), nil
}

// DeleteClinic implements app.Store.
func (s *Store) DeleteClinic(ctx context.Context, id string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("clinic_id = ?", id).Delete(&userRow{}).Error; err != nil {
			return err
		}
		return tx.Where("id = ?", id).Delete(&clinicRow{}).Error
	})
}
