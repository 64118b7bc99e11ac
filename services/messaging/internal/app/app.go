// Package app holds messaging's use cases: sending a message for another
// service (opt-outs first, the recipient fetched from charting at send
// time and kept only sealed), the dispatcher that retries what could not
// be handed over, provider callbacks, unsubscribe links, and the staff's
// communication log, opt-outs and templates. It owns the ports it needs
// (ports.go); internal/store, internal/contacts and internal/delivery
// implement them.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/services/messaging/internal/domain"
)

// ValidationError lists invalid fields by name, never by value.
type ValidationError struct{ Fields []problem.FieldError }

func (e *ValidationError) Error() string { return fmt.Sprintf("%d invalid fields", len(e.Fields)) }

// ErrUpstream means charting could not give the recipient (503; the
// caller retries with the same idempotency key).
var ErrUpstream = errors.New("recipient lookup unavailable")

// ErrAuditUnavailable means a read could not be recorded, so nothing is
// returned (503).
var ErrAuditUnavailable = errors.New("audit event could not be recorded")

// Defaults for Deps.
const (
	DefaultMaxAttempts = 8
	DefaultRetryBase   = 30 * time.Second
	DefaultRetryMax    = time.Hour
	// DefaultLease is how long a worker holds a message it sends; longer
	// than any send may take, so that only a stopped worker's hold lapses.
	DefaultLease = 2 * time.Minute
	sendTimeout  = 45 * time.Second
)

// Deps are the App's collaborators.
type Deps struct {
	Store    Store
	Contacts Contacts // nil: patients cannot be addressed (503)
	// Clinics names the slug when a sender gives none; nil: senders must.
	Clinics Clinics
	// Senders hold the configured channels; a missing one answers 503.
	Senders map[domain.Channel]Sender
	// Callbacks checks SMS status callbacks; nil when SMS is not configured.
	Callbacks CallbackVerifier
	Crypter   *fieldcrypt.Crypter
	Region    string
	// PublicURL is the router's public base URL, for unsubscribe links and
	// the SMS status callback.
	PublicURL string
	// UnsubscribeKey signs unsubscribe tokens (domain.UnsubscribeKey).
	UnsubscribeKey []byte
	Logger         *slog.Logger
	Now            func() time.Time
	// MaxAttempts, RetryBase, RetryMax and Lease tune the dispatcher.
	MaxAttempts int
	RetryBase   time.Duration
	RetryMax    time.Duration
	Lease       time.Duration
}

// App is messaging's application layer for one region.
type App struct{ d Deps }

// New returns the application layer.
func New(d Deps) *App {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.MaxAttempts <= 0 {
		d.MaxAttempts = DefaultMaxAttempts
	}
	if d.RetryBase <= 0 {
		d.RetryBase = DefaultRetryBase
	}
	if d.RetryMax <= 0 {
		d.RetryMax = DefaultRetryMax
	}
	if d.Lease <= 0 {
		d.Lease = DefaultLease
	}
	return &App{d: d}
}

func (a *App) now() time.Time { return a.d.Now().UTC().Truncate(time.Microsecond) }

// backoff is the wait before attempt n+1 after n failed attempts.
func (a *App) backoff(n int) time.Duration {
	d := a.d.RetryBase
	for i := 1; i < n && d < a.d.RetryMax; i++ {
		d *= 2
	}
	return min(d, a.d.RetryMax)
}

// ensureKeys makes sure the clinic's data keys exist, outside any
// transaction (on SQLite the serializer cannot create them inside one).
func (a *App) ensureKeys(ctx context.Context, clinicID string) error {
	if a.d.Crypter == nil {
		return errors.New("no field encryption configured")
	}
	if err := a.d.Crypter.EnsureClinic(ctx, clinicID); err != nil {
		return fmt.Errorf("clinic keys: %w", err)
	}
	return nil
}
