package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/password"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/libs/provisioning"
	"github.com/havenhealth/haven/services/identity/internal/domain"
)

// Provisioned is the outcome of a provisioning.
type Provisioned struct {
	Clinic  domain.Clinic
	OwnerID string
	// Created is false when an identical earlier provisioning was found.
	Created bool
}

// Provision creates the clinic's regional record, its settings and its owner
// account. It is idempotent by clinic id: a retry of the same request
// returns the clinic that exists; a different clinic with that id or slug is
// a conflict. The clinic's country must belong to this region.
func (a *App) Provision(ctx context.Context, req provisioning.Clinic) (Provisioned, error) {
	region, bad := req.Validate()
	if _, err := uuid.Parse(req.ID); err != nil {
		bad = append(bad, problem.FieldError{Field: "id", Reason: "must be a UUID"})
	}
	if len(bad) == 0 && region != a.d.Region {
		bad = append(bad, problem.FieldError{Field: "country", Reason: "belongs to another region"})
	}
	if len(bad) > 0 {
		return Provisioned{}, &ValidationError{Fields: bad}
	}
	now := a.now()
	c := domain.Clinic{ID: req.ID, Slug: req.Slug, Name: req.Name, Country: req.Country, TimeZone: req.TimeZone,
		CreatedAt: now}

	existing, err := a.d.Store.Clinic(ctx, c.ID)
	switch {
	case err == nil:
		if !existing.SameClinic(c) {
			return Provisioned{}, fmt.Errorf("clinic %s exists with other details: %w", c.ID, domain.ErrConflict)
		}
		o, err := a.d.Store.Owner(ctx, c.ID)
		if err != nil {
			return Provisioned{}, fmt.Errorf("owner of clinic %s: %w", c.ID, err)
		}
		return Provisioned{Clinic: existing, OwnerID: o.ID}, nil
	case !errors.Is(err, domain.ErrNotFound):
		return Provisioned{}, fmt.Errorf("look up clinic %s: %w", c.ID, err)
	}

	// The clinic's key in Vault, and its data and lookup keys, exist before
	// anything personal is written. A Vault outage stops here: nothing stored.
	if err := a.d.Keys.CreateKey(ctx, c.ID); err != nil {
		return Provisioned{}, fmt.Errorf("create key of clinic %s: %w", c.ID, err)
	}
	if err := a.d.Crypter.EnsureClinic(ctx, c.ID); err != nil {
		return Provisioned{}, fmt.Errorf("data keys of clinic %s: %w", c.ID, err)
	}
	lookup, err := a.emailLookup(ctx, c.ID, req.Owner.Email)
	if err != nil {
		return Provisioned{}, err
	}
	hash, err := password.Hash(req.Owner.Password)
	if err != nil {
		return Provisioned{}, fmt.Errorf("hash owner password: %w", err)
	}
	owner := domain.User{
		ID: uuid.Must(uuid.NewV7()).String(), ClinicID: c.ID, Name: req.Owner.Name, Email: req.Owner.Email,
		EmailLookup: lookup, PasswordHash: hash,
		Role: authz.RoleOwner, Grants: authz.RoleGrants(authz.RoleOwner), Status: domain.UserActive,
		CreatedAt: now, UpdatedAt: now,
	}
	// The router acts (the owner has no account until this commits); the
	// owner's account is a user.create like any other. The router's call
	// carries no client address, so nothing is sealed.
	router := audit.Actor{System: actorRouter}
	var events []audit.Event
	for _, e := range []struct {
		action audit.Action
		target target
	}{{audit.ClinicSignup, clinicTarget(c.ID)}, {audit.UserCreate, userTarget(owner.ID)}} {
		ev, err := a.newEvent(ctx, c.ID, router, e.action, audit.Allowed, e.target, RequestMeta{})
		if err != nil {
			return Provisioned{}, err
		}
		events = append(events, ev)
	}
	if err := a.d.Store.CreateClinicWithOwner(ctx, c, owner, domain.DefaultSettings(c.ID, now), events...); err != nil {
		return Provisioned{}, fmt.Errorf("provision clinic %s: %w", c.ID, err)
	}
	return Provisioned{Clinic: c, OwnerID: owner.ID, Created: true}, nil
}

// Clinic returns the regional clinic record.
func (a *App) Clinic(ctx context.Context, id string) (domain.Clinic, error) {
	return a.d.Store.Clinic(ctx, id)
}

// UndoProvision removes a clinic the router provisioned moments ago and
// then failed to record (its sign-up compensation). Older clinics are
// refused: only the closure process may remove a real clinic.
func (a *App) UndoProvision(ctx context.Context, id string) error {
	c, err := a.d.Store.Clinic(ctx, id)
	if errors.Is(err, domain.ErrNotFound) {
		return nil // already gone: undo is idempotent
	}
	if err != nil {
		return err
	}
	if a.now().Sub(c.CreatedAt) > domain.ProvisionUndoWindow {
		return fmt.Errorf("clinic %s: %w", id, domain.ErrTooLate)
	}
	if err := a.d.Store.DeleteClinic(ctx, id); err != nil {
		return err
	}
	// The half-made clinic's key goes too: nothing it encrypted stays readable.
	a.d.Crypter.Forget(id)
	return a.d.Keys.Destroy(ctx, id)
}
