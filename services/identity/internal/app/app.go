// Package app holds identity's use cases. It owns the Store interface it
// needs; internal/store implements it.
package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/havenhealth/haven/libs/password"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/libs/provisioning"
	"github.com/havenhealth/haven/libs/residency"
	"github.com/havenhealth/haven/services/identity/internal/domain"
)

// Store is what the use cases need from persistence.
type Store interface {
	// CreateClinicWithOwner stores both in one transaction. A clinic id or
	// slug that exists already is domain.ErrConflict.
	CreateClinicWithOwner(ctx context.Context, c domain.Clinic, owner domain.User) error
	Clinic(ctx context.Context, id string) (domain.Clinic, error)
	Owner(ctx context.Context, clinicID string) (domain.User, error)
	// DeleteClinic removes a clinic and its users.
	DeleteClinic(ctx context.Context, id string) error
}

// ValidationError lists invalid fields by name, never by value.
type ValidationError struct{ Fields []problem.FieldError }

func (e *ValidationError) Error() string { return fmt.Sprintf("%d invalid fields", len(e.Fields)) }

// App is identity's application layer for one region.
type App struct {
	store  Store
	region residency.Region
	now    func() time.Time
}

// New returns the application layer. now may be nil for the wall clock.
func New(s Store, region residency.Region, now func() time.Time) *App {
	if now == nil {
		now = func() time.Time { return time.Now().UTC() }
	}
	return &App{store: s, region: region, now: now}
}

// Provisioned is the outcome of a provisioning.
type Provisioned struct {
	Clinic  domain.Clinic
	OwnerID string
	// Created is false when an identical earlier provisioning was found.
	Created bool
}

// Provision creates the clinic's regional record and its owner account. It
// is idempotent by clinic id: a retry of the same request returns the
// clinic that exists; a different clinic with that id or slug is a
// conflict. The clinic's country must belong to this region.
func (a *App) Provision(ctx context.Context, req provisioning.Clinic) (Provisioned, error) {
	region, bad := req.Validate()
	if _, err := uuid.Parse(req.ID); err != nil {
		bad = append(bad, problem.FieldError{Field: "id", Reason: "must be a UUID"})
	}
	if len(bad) == 0 && region != a.region {
		bad = append(bad, problem.FieldError{Field: "country", Reason: "belongs to another region"})
	}
	if len(bad) > 0 {
		return Provisioned{}, &ValidationError{Fields: bad}
	}
	now := a.now()
	c := domain.Clinic{ID: req.ID, Slug: req.Slug, Name: req.Name, Country: req.Country, TimeZone: req.TimeZone, CreatedAt: now}

	existing, err := a.store.Clinic(ctx, c.ID)
	switch {
	case err == nil:
		if !existing.SameClinic(c) {
			return Provisioned{}, fmt.Errorf("clinic %s exists with other details: %w", c.ID, domain.ErrConflict)
		}
		o, err := a.store.Owner(ctx, c.ID)
		if err != nil {
			return Provisioned{}, fmt.Errorf("owner of clinic %s: %w", c.ID, err)
		}
		return Provisioned{Clinic: existing, OwnerID: o.ID}, nil
	case !errors.Is(err, domain.ErrNotFound):
		return Provisioned{}, fmt.Errorf("look up clinic %s: %w", c.ID, err)
	}

	hash, err := password.Hash(req.Owner.Password)
	if err != nil {
		return Provisioned{}, fmt.Errorf("hash owner password: %w", err)
	}
	owner := domain.User{
		ID: uuid.Must(uuid.NewV7()).String(), ClinicID: c.ID, Name: req.Owner.Name, Email: req.Owner.Email,
		PasswordHash: hash, Role: domain.RoleOwner, Status: domain.UserActive, CreatedAt: now,
	}
	if err := a.store.CreateClinicWithOwner(ctx, c, owner); err != nil {
		return Provisioned{}, fmt.Errorf("provision clinic %s: %w", c.ID, err)
	}
	return Provisioned{Clinic: c, OwnerID: owner.ID, Created: true}, nil
}

// Clinic returns the regional clinic record.
func (a *App) Clinic(ctx context.Context, id string) (domain.Clinic, error) {
	return a.store.Clinic(ctx, id)
}

// UndoProvision removes a clinic the router provisioned moments ago and
// then failed to record (its sign-up compensation). Older clinics are
// refused: only the closure process may remove a real clinic.
func (a *App) UndoProvision(ctx context.Context, id string) error {
	c, err := a.store.Clinic(ctx, id)
	if errors.Is(err, domain.ErrNotFound) {
		return nil // already gone: undo is idempotent
	}
	if err != nil {
		return err
	}
	if a.now().Sub(c.CreatedAt) > domain.ProvisionUndoWindow {
		return fmt.Errorf("clinic %s: %w", id, domain.ErrTooLate)
	}
	return a.store.DeleteClinic(ctx, id)
}
