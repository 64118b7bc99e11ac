package app

import (
	"context"
	"time"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authn"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/services/identity/internal/domain"
)

// Store is what the use cases need from persistence.
//
// Every method that changes state takes the audit events describing the
// change (events ...audit.Event) and records them in the audit outbox in the
// same transaction as the change, after the change succeeded: an event
// commits with its change or not at all. Events are built, and their client
// address sealed, before the call (sealing may write the clinic's first data
// key, which must not happen inside another write transaction on SQLite).
type Store interface {
	// CreateClinicWithOwner stores both, and the clinic's default settings,
	// in one transaction. A clinic id or slug that exists already is
	// domain.ErrConflict.
	CreateClinicWithOwner(ctx context.Context, c domain.Clinic, owner domain.User, s domain.Settings, events ...audit.Event) error
	Clinic(ctx context.Context, id string) (domain.Clinic, error)
	Owner(ctx context.Context, clinicID string) (domain.User, error)
	// DeleteClinic removes a clinic and everything identity holds for it.
	DeleteClinic(ctx context.Context, id string) error
	// UpdateClinic runs fn on the clinic inside one transaction.
	UpdateClinic(ctx context.Context, id string, fn func(c *domain.Clinic) error, events ...audit.Event) (domain.Clinic, error)
	// ClinicsToClose lists closing clinics whose grace period ended by now.
	ClinicsToClose(ctx context.Context, now time.Time) ([]domain.Clinic, error)
	// ClosedClinics lists closed clinics' ids.
	ClosedClinics(ctx context.Context) ([]string, error)
	// UserIDs lists the ids of a clinic's users.
	UserIDs(ctx context.Context, clinicID string) ([]string, error)

	Settings(ctx context.Context, clinicID string) (domain.Settings, error)
	SaveSettings(ctx context.Context, s domain.Settings, events ...audit.Event) error

	CreateUser(ctx context.Context, u domain.User, events ...audit.Event) error
	User(ctx context.Context, clinicID, id string) (domain.User, error)
	UserByEmailLookup(ctx context.Context, clinicID, lookup string) (domain.User, error)
	ListUsers(ctx context.Context, clinicID, after string, limit int) ([]domain.User, error)
	// UpdateUser runs fn on the user inside one transaction; the clinic's
	// other users are passed so rules spanning accounts (the last owner)
	// are checked under the same lock.
	UpdateUser(ctx context.Context, clinicID, id string, fn func(u *domain.User, activeOwners int) error, events ...audit.Event) (domain.User, error)

	SigningKeys(ctx context.Context) ([]authn.Key, error)
	AddSigningKey(ctx context.Context, k authn.Key) error

	// RecordLogin stores a login-history entry and its audit events in the
	// same transaction.
	RecordLogin(ctx context.Context, a domain.LoginAttempt, events ...audit.Event) error
	LoginHistory(ctx context.Context, clinicID string, f HistoryFilter) ([]domain.LoginAttempt, error)

	CreateChallenge(ctx context.Context, c domain.Challenge) error
	Challenge(ctx context.Context, clinicID, id string) (domain.Challenge, error)
	// UpdateChallenge runs fn on the challenge inside one transaction.
	UpdateChallenge(ctx context.Context, clinicID, id string, fn func(c *domain.Challenge) error, events ...audit.Event) (domain.Challenge, error)

	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string, events ...audit.Event) error
	// UseRecoveryCode marks the code at idx used; false if it was used already.
	UseRecoveryCode(ctx context.Context, userID string, idx int, at time.Time) (bool, error)
	UnusedRecoveryCodes(ctx context.Context, userID string) (map[int]string, error)

	AddPasskey(ctx context.Context, userID, credentialID string, data []byte, at time.Time, events ...audit.Event) error
	Passkeys(ctx context.Context, userID string) ([][]byte, error)
	UpdatePasskey(ctx context.Context, credentialID string, data []byte) error

	CreateAccountToken(ctx context.Context, t AccountToken, events ...audit.Event) error
	// UseAccountToken marks an unexpired, unused token of purpose used and
	// returns it; anything else is domain.ErrInvalidCode.
	UseAccountToken(ctx context.Context, clinicID, hash, purpose string, now time.Time) (AccountToken, error)

	// RecordAudit records events on their own, outside any change: for
	// reads, refusals, and changes kept outside the database (sessions in
	// Redis, keys in Vault).
	RecordAudit(ctx context.Context, events ...audit.Event) error
}

// AccountToken is a single-use token (stored hashed): a reset or an invitation.
type AccountToken struct {
	Hash      string
	ClinicID  string
	UserID    string
	Purpose   string
	ExpiresAt time.Time
	CreatedAt time.Time
}

// HistoryFilter narrows the login history; zero fields do not filter.
type HistoryFilter struct {
	From, To time.Time
	UserID   string
	Outcome  domain.Outcome
	// After is the cursor: the (time, id) of the last entry already seen.
	AfterTime time.Time
	AfterID   string
	Limit     int
}

// Sessions holds live sessions (Redis in production).
type Sessions interface {
	Create(ctx context.Context, s authn.Session) error
	Touch(ctx context.Context, clinicID, sessionID string) (authn.Session, error)
	Revoke(ctx context.Context, clinicID, sessionID string) error
	RevokeUser(ctx context.Context, clinicID, userID, exceptSessionID string) (int, error)
	UpdateUser(ctx context.Context, clinicID, userID string, role authz.Role, grants authz.Grants) error
	// SetIdleTimeout applies a clinic's idle time-out to its live sessions too.
	SetIdleTimeout(ctx context.Context, clinicID string, d time.Duration) error
}

// Lockout counts failed sign-ins per account key (Redis in production).
type Lockout interface {
	// Locked reports whether key is locked and for how much longer.
	Locked(ctx context.Context, key string) (time.Duration, error)
	// Fail records a failure and reports whether key is now locked.
	Fail(ctx context.Context, key string) error
	Clear(ctx context.Context, key string) error
}

// Message is something to deliver to a person. Body may hold a code or a
// link; it is never logged.
type Message struct {
	ClinicID string `json:"clinic_id"`
	UserID   string `json:"user_id"`
	Channel  string `json:"channel"` // "sms" or "email"
	To       string `json:"to"`
	Subject  string `json:"subject,omitempty"`
	Body     string `json:"body"`
	Purpose  string `json:"purpose"` // "two_step_code", "password_reset", "invitation"
}

// Notifier delivers messages: through the region's messaging service
// (notify.Messaging), or to a local outbox in the devstack (notify.Outbox).
type Notifier interface {
	Send(ctx context.Context, m Message) error
}

// PatientProfile is what a patient gives when signing themselves up, as
// charting receives it to create their profile. Names are split from the
// one name identity asks for (see SplitName).
type PatientProfile struct {
	FirstName   string
	LastName    string
	Email       string
	Phone       string // E.164, or empty
	DateOfBirth string // YYYY-MM-DD
}

// PatientProfiles creates patient profiles in the region's charting service
// for a patient's own sign-up; the charting client implements it.
type PatientProfiles interface {
	// CreatePatient creates a profile in clinicID and returns its id. Any
	// failure (charting down, or refusing the call) wraps
	// domain.ErrDependency.
	CreatePatient(ctx context.Context, clinicID string, p PatientProfile) (string, error)
}

// RequestMeta describes where a request came from, for the login history
// and the audit events (which keep the address sealed, never the agent).
type RequestMeta struct {
	IP        string
	UserAgent string
}
