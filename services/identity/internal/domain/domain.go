// Package domain holds identity's types, rules and errors. It imports no
// infrastructure.
package domain

import (
	"errors"
	"time"
)

// Sentinel errors the HTTP layer maps to status codes.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	// ErrTooLate refuses undoing a provisioning that is no longer fresh.
	ErrTooLate = errors.New("too late to undo")
)

// Role names a template of grants. The full set arrives with accounts.
type Role string

// RoleOwner is the account that signed the clinic up.
const RoleOwner Role = "owner"

// UserStatus tells whether an account may sign in.
type UserStatus string

// UserActive is an account that may sign in.
const UserActive UserStatus = "active"

// Clinic is the regional record of a clinic.
type Clinic struct {
	ID        string
	Slug      string
	Name      string
	Country   string
	TimeZone  string
	CreatedAt time.Time
}

// User is a person's account at one clinic.
type User struct {
	ID           string
	ClinicID     string
	Name         string
	Email        string
	PasswordHash string
	Role         Role
	Status       UserStatus
	CreatedAt    time.Time
}

// SameClinic reports whether two provisioning attempts describe the same
// clinic, so a retried provisioning is answered instead of refused.
func (c Clinic) SameClinic(o Clinic) bool {
	return c.ID == o.ID && c.Slug == o.Slug && c.Country == o.Country && c.TimeZone == o.TimeZone && c.Name == o.Name
}

// ProvisionUndoWindow bounds how long after creation the router may undo a
// provisioning (its sign-up compensation). After it, the clinic is real and
// only the closure process may remove it.
const ProvisionUndoWindow = 15 * time.Minute
