// Package domain holds identity's types, rules and errors. It imports no
// infrastructure.
package domain

import (
	"errors"
	"time"

	"github.com/havenhealth/haven/libs/authz"
)

// Sentinel errors the HTTP layer maps to status codes in one place.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	// ErrTooLate refuses undoing a provisioning that is no longer fresh.
	ErrTooLate = errors.New("too late to undo")
	// ErrLastOwner refuses removing or demoting the clinic's last active owner.
	ErrLastOwner = errors.New("the clinic's last owner cannot be removed")
	// ErrInvalidCredentials is the one answer to a wrong e-mail or password.
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrInvalidCode is a wrong, used or expired 2-step code or token.
	ErrInvalidCode = errors.New("invalid or expired code")
	// ErrChallengeEnded is a 2-step challenge that expired or had too many attempts.
	ErrChallengeEnded = errors.New("2-step challenge ended")
	// ErrForbidden is an authenticated caller without the needed grant.
	ErrForbidden = errors.New("forbidden")
	// ErrWrongPassword is a failed re-authentication by a signed-in user
	// (a 403, so clients do not take it for an ended session).
	ErrWrongPassword = errors.New("the password is not correct")
	// ErrInvalidLink is a reset or invitation token that is unknown, used or expired.
	ErrInvalidLink = errors.New("invalid or expired link")
	// ErrUnavailable is a missing dependency (e.g. no way to deliver a message).
	ErrUnavailable = errors.New("unavailable")
	// ErrDependency is another of the region's services failing to answer
	// or refusing a call identity made (worth retrying shortly).
	ErrDependency = errors.New("a service this request needs did not answer")
	// ErrSelfSignupOff refuses a patient's own sign-up at a clinic that
	// turned it off.
	ErrSelfSignupOff = errors.New("the clinic does not take patient sign-ups")
)

// LockedError is an account locked by repeated failures; RetryAfter says when
// to try again.
type LockedError struct{ RetryAfter time.Duration }

func (e *LockedError) Error() string { return "too many failed attempts" }

// Role names a template of grants.
type Role = authz.Role

// RoleOwner is the account that signed the clinic up.
const RoleOwner = authz.RoleOwner

// UserStatus tells whether an account may sign in.
type UserStatus string

// Account states.
const (
	UserActive      UserStatus = "active"
	UserInvited     UserStatus = "invited"
	UserDeactivated UserStatus = "deactivated"
)

// ClinicStatus is where a clinic is in its life.
type ClinicStatus string

// Clinic states: active; closing during the grace period after the owner
// asked; closed once its key is destroyed.
const (
	ClinicActive  ClinicStatus = "active"
	ClinicClosing ClinicStatus = "closing"
	ClinicClosed  ClinicStatus = "closed"
)

// Clinic is the regional record of a clinic.
type Clinic struct {
	ID        string
	Slug      string
	Name      string
	Country   string
	TimeZone  string
	CreatedAt time.Time
	Status    ClinicStatus
	// ClosesAt is when a closing clinic's key will be destroyed.
	ClosesAt *time.Time
	ClosedAt *time.Time
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

// User is a person's account at one clinic.
type User struct {
	ID           string
	ClinicID     string
	Name         string
	Email        string
	EmailLookup  string
	PasswordHash string
	Role         Role
	Grants       authz.Grants
	Status       UserStatus
	// Phone receives SMS 2-step codes (E.164); empty when not enrolled.
	Phone        string
	TOTPSecret   string
	TOTPLastStep int64
	// PatientID links a patient-role account to its patient profile in
	// charting (empty: not linked). A profile is linked to one account.
	PatientID string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ValidPatientID reports whether id has the shape of a patient profile id:
// a UUID in its canonical lower-case form, as charting issues them.
func ValidPatientID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i, c := range id {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case (c < '0' || c > '9') && (c < 'a' || c > 'f'):
			return false
		}
	}
	return true
}

// TwoStepMethods lists the second factors the user has enrolled.
func (u User) TwoStepMethods(hasRecovery, hasPasskey bool) []string {
	var m []string
	if u.Phone != "" {
		m = append(m, MethodSMS)
	}
	if u.TOTPSecret != "" {
		m = append(m, MethodTOTP)
	}
	if hasPasskey {
		m = append(m, MethodWebAuthn)
	}
	if hasRecovery && len(m) > 0 {
		m = append(m, MethodRecovery)
	}
	return m
}

// Sign-in methods, as recorded in the login history.
const (
	MethodPassword = "password"
	MethodSMS      = "sms"
	MethodTOTP     = "totp"
	MethodRecovery = "recovery_code"
	MethodWebAuthn = "webauthn"
	MethodRefresh  = "refresh"
	MethodReset    = "password_reset"
)

// Outcome of a sign-in attempt.
type Outcome string

// Login outcomes.
const (
	OutcomeSuccess        Outcome = "success"
	OutcomeFailure        Outcome = "failure"
	OutcomeLocked         Outcome = "locked"
	OutcomeTwoStepPending Outcome = "two_step_required"
	OutcomeTwoStepFailure Outcome = "two_step_failure"
)

// LoginAttempt is one entry of the login history.
type LoginAttempt struct {
	ID         string
	ClinicID   string
	UserID     string // empty when the e-mail matched no account
	Outcome    Outcome
	Method     string
	IP         string
	UserAgent  string
	OccurredAt time.Time
}

// Settings are a clinic's security settings.
type Settings struct {
	ClinicID string
	// IdleTimeout ends a session after this much inactivity (5–180 minutes).
	IdleTimeout time.Duration
	// SessionMax is a session's absolute lifetime.
	SessionMax time.Duration
	// RequireTwoStep makes 2-step verification mandatory for staff.
	RequireTwoStep bool
	// PatientSelfSignup lets new patients create their own account (and
	// patient profile) online; on by default.
	PatientSelfSignup bool
	UpdatedAt         time.Time
}

// Idle time-out bounds and defaults.
const (
	MinIdleTimeout     = 5 * time.Minute
	MaxIdleTimeout     = 180 * time.Minute
	DefaultIdleTimeout = 30 * time.Minute
	DefaultSessionMax  = 12 * time.Hour
	// MaxSessionLifetime bounds any session; refresh accepts an expired
	// access token no older than this (the session itself decides).
	MaxSessionLifetime = 24 * time.Hour
)

// DefaultSettings are a new clinic's settings.
func DefaultSettings(clinicID string, now time.Time) Settings {
	return Settings{ClinicID: clinicID, IdleTimeout: DefaultIdleTimeout, SessionMax: DefaultSessionMax, PatientSelfSignup: true,
		UpdatedAt: now}
}

// Challenge is a sign-in waiting for its second step.
type Challenge struct {
	ID              string
	ClinicID        string
	UserID          string
	Methods         []string
	SMSCodeHash     string
	WebAuthnSession []byte
	Attempts        int
	IP, UserAgent   string
	CreatedAt       time.Time
	ExpiresAt       time.Time
	CompletedAt     *time.Time
}

// Challenge limits.
const (
	ChallengeTTL         = 5 * time.Minute
	MaxChallengeAttempts = 5
)

// Token purposes for single-use account tokens.
const (
	PurposeReset  = "password_reset"
	PurposeInvite = "invitation"
)

// Account token lifetimes.
const (
	ResetTokenTTL  = 30 * time.Minute
	InviteTokenTTL = 7 * 24 * time.Hour
)

// Lock-out rule: after MaxFailures failed attempts on an account within
// FailureWindow, further attempts are refused for LockDuration.
const (
	MaxFailures   = 5
	FailureWindow = 15 * time.Minute
	LockDuration  = 15 * time.Minute
)
