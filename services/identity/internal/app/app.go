// Package app holds identity's use cases. It owns the ports it needs
// (ports.go); internal/store implements them.
package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/havenhealth/haven/libs/authn"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/libs/residency"
	"github.com/havenhealth/haven/services/identity/internal/domain"
	"github.com/havenhealth/haven/services/identity/internal/mfa"
)

// ValidationError lists invalid fields by name, never by value.
type ValidationError struct{ Fields []problem.FieldError }

func (e *ValidationError) Error() string { return fmt.Sprintf("%d invalid fields", len(e.Fields)) }

func invalid(field, reason string) error {
	return &ValidationError{Fields: []problem.FieldError{{Field: field, Reason: reason}}}
}

// Deps are the App's collaborators.
type Deps struct {
	Store    Store
	Sessions Sessions
	Lockout  Lockout
	Notifier Notifier
	// Profiles creates the patient profile of a patient's own sign-up; nil
	// turns self sign-up off (503).
	Profiles PatientProfiles
	Region   residency.Region
	// Issuer names the region in tokens: {public URL}/r/{region}.
	Issuer string
	// PublicURL is the router's public base URL, for links in messages.
	PublicURL string
	// CodeKey keys the hashes of one-time codes.
	CodeKey  []byte
	WebAuthn *mfa.WebAuthn
	// Keys manages each clinic's key in the region's Vault; Crypter holds
	// the clinic's data and lookup keys (wrapped by it).
	Keys    fieldcrypt.Keys
	Crypter *fieldcrypt.Crypter
	// ClosureGrace is how long a closing clinic keeps working before its key
	// is destroyed (0: at once).
	ClosureGrace time.Duration
	// TokenTTL is the access tokens' lifetime (10 minutes by default).
	TokenTTL time.Duration
	Now      func() time.Time
	Logger   *slog.Logger
}

// App is identity's application layer for one region.
type App struct {
	d     Deps
	codes mfa.CodeHasher

	keyMu  sync.RWMutex
	keys   []authn.Key
	signer *authn.Signer
}

// New returns the application layer.
func New(d Deps) *App {
	if d.Now == nil {
		d.Now = func() time.Time { return time.Now().UTC() }
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.TokenTTL == 0 {
		d.TokenTTL = 10 * time.Minute
	}
	return &App{d: d, codes: mfa.CodeHasher{Key: d.CodeKey}}
}

func (a *App) now() time.Time { return a.d.Now().UTC() }

// emailLookup is the keyed hash (under the clinic's Vault-wrapped lookup
// key) that finds an account by e-mail without searching the e-mail itself.
func (a *App) emailLookup(ctx context.Context, clinicID, normalizedEmail string) (string, error) {
	return a.d.Crypter.Lookup(ctx, clinicID, "email", normalizedEmail)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error()) // cannot happen on supported platforms
	}
	return b
}

// hashToken is how single-use tokens are stored.
func hashToken(t string) string {
	s := sha256.Sum256([]byte(t))
	return hex.EncodeToString(s[:])
}

// authorize applies libs/authz for an action on the clinic's own resources.
func authorize(actor authz.Principal, action authz.Action, res authz.Resource) error {
	if res.ClinicID == "" {
		res.ClinicID = actor.ClinicID
	}
	if d := authz.Decide(actor, action, res); !d.Allow {
		return fmt.Errorf("%s: %s: %w", action, d.Reason, domain.ErrForbidden)
	}
	return nil
}

func trimmed(s string) string { return strings.TrimSpace(s) }

// Crypter is the field crypter, for tests and tools that open sealed values.
func (a *App) Crypter() *fieldcrypt.Crypter { return a.d.Crypter }
