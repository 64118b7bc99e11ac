// Package app holds scheduling's use cases: practitioners, treatments and
// appointments, each authorised with libs/authz and audited with the change
// it records.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/services/scheduling/internal/domain"
	"github.com/havenhealth/haven/services/scheduling/internal/store"
)

// ErrForbidden is an action the caller's grants do not allow (403).
var ErrForbidden = errors.New("forbidden")

// ErrPatientUnlinked is a patient account not (yet) linked to a patient
// profile: it reaches no appointments and books nothing (403).
var ErrPatientUnlinked = fmt.Errorf("patient account has no patient profile: %w", ErrForbidden)

// ErrNotOnlineBookable is a patient asking for a treatment the clinic does
// not offer online (403).
var ErrNotOnlineBookable = fmt.Errorf("treatment is not bookable online: %w", ErrForbidden)

// ErrAuditUnavailable means a read could not be recorded, so nothing is
// returned (503).
var ErrAuditUnavailable = errors.New("audit event could not be recorded")

// ValidationError lists invalid fields by name, never by value.
type ValidationError struct{ Fields []problem.FieldError }

func (e *ValidationError) Error() string { return fmt.Sprintf("%d invalid fields", len(e.Fields)) }

// Deps are the App's collaborators.
type Deps struct {
	Store  *store.Store
	Region string
	// Crypter seals the client address in audit events; nil leaves it out.
	Crypter *fieldcrypt.Crypter
	// Reminders is told of bookings, reschedules and cancellations once
	// they commit; nil tells no one (the reminder_sync rows wait for
	// SyncReminders).
	Reminders Reminders
	Logger    *slog.Logger
	Now       func() time.Time
}

// App is scheduling's application layer.
type App struct{ d Deps }

// New returns the application layer.
func New(d Deps) *App {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &App{d: d}
}

// RequestMeta is where a request came from.
type RequestMeta struct{ IP string }

func (a *App) now() time.Time { return a.d.Now().UTC() }

func (a *App) event(ctx context.Context, c authz.Principal, action audit.Action, outcome audit.Outcome, typ, id, patientID string, meta RequestMeta) (audit.Event, error) {
	e := audit.New(c.ClinicID, a.d.Region, audit.ActorOf(c), action, outcome)
	e.ResourceType, e.ResourceID, e.PatientID = typ, id, patientID
	if rid := problem.RequestIDFromContext(ctx); audit.ValidID(rid) {
		e.RequestID = rid
	}
	if meta.IP != "" && a.d.Crypter != nil {
		if err := audit.SealClientIP(ctx, a.d.Crypter, &e, meta.IP); err != nil {
			return audit.Event{}, err
		}
	}
	return e, nil
}

// authorize decides; a refusal is recorded as a denied event and returned
// as ErrForbidden (ErrPatientUnlinked for a patient without a profile).
func (a *App) authorize(ctx context.Context, c authz.Principal, act authz.Action, res authz.Resource, ev audit.Action,
	typ, id string, meta RequestMeta) error {
	res.ClinicID = c.ClinicID
	d := authz.Decide(c, act, res)
	if d.Allow {
		return nil
	}
	err := fmt.Errorf("%s: %s: %w", act, d.Reason, ErrForbidden)
	if unlinked(c) {
		err = ErrPatientUnlinked
	}
	return a.denied(ctx, c, ev, typ, id, res.PatientID, meta, err)
}

// denied records a refusal of ev as a denied event and returns err.
func (a *App) denied(ctx context.Context, c authz.Principal, ev audit.Action, typ, id, patientID string, meta RequestMeta, err error) error {
	if e, eerr := a.event(ctx, c, ev, audit.Denied, typ, id, patientID, meta); eerr == nil {
		if rerr := audit.RecordNow(context.WithoutCancel(ctx), a.d.Store.DB(), e); rerr != nil {
			a.d.Logger.ErrorContext(ctx, "denied attempt not audited", slog.String("clinic_id", c.ClinicID), slog.String("error", rerr.Error()))
		}
	}
	return err
}

// recordReads records one allowed appointment.read per appointment before
// the data leaves; if they cannot be recorded nothing is answered.
func (a *App) recordReads(ctx context.Context, c authz.Principal, aps []domain.Appointment, meta RequestMeta) error {
	events := make([]audit.Event, 0, len(aps))
	for _, ap := range aps {
		e, err := a.event(ctx, c, audit.AppointmentRead, audit.Allowed, "appointment", ap.ID, ap.PatientID, meta)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrAuditUnavailable, err)
		}
		events = append(events, e)
	}
	if err := a.d.Store.RecordAudit(ctx, events...); err != nil {
		a.d.Logger.ErrorContext(ctx, "read not audited; data withheld", slog.String("clinic_id", c.ClinicID), slog.String("error", err.Error()))
		return fmt.Errorf("%w: %w", ErrAuditUnavailable, err)
	}
	return nil
}

func unlinked(c authz.Principal) bool { return c.Role == authz.RolePatient && c.PatientID == "" }

func bad(field, reason string) error {
	return &ValidationError{Fields: []problem.FieldError{{Field: field, Reason: reason}}}
}

func invalid(list []domain.Invalid) error {
	if len(list) == 0 {
		return nil
	}
	fields := make([]problem.FieldError, len(list))
	for i, v := range list {
		fields[i] = problem.FieldError{Field: v.Field, Reason: v.Reason}
	}
	return &ValidationError{Fields: fields}
}

// AddPractitioner makes an identity user a practitioner (owners, admins).
func (a *App) AddPractitioner(ctx context.Context, c authz.Principal, userID string, meta RequestMeta) (domain.Practitioner, error) {
	if err := a.authorize(ctx, c, authz.ActionSettingsManage, authz.Resource{}, audit.SettingsChange, "practitioner", "", meta); err != nil {
		return domain.Practitioner{}, err
	}
	if !audit.ValidID(userID) {
		return domain.Practitioner{}, bad("user_id", "is required: the identity user id of the practitioner")
	}
	p := domain.Practitioner{ID: uuid.Must(uuid.NewV7()).String(), ClinicID: c.ClinicID, UserID: userID, CreatedAt: a.d.Now().UTC()}
	e, err := a.event(ctx, c, audit.SettingsChange, audit.Allowed, "practitioner", p.ID, "", meta)
	if err != nil {
		return domain.Practitioner{}, err
	}
	return p, a.d.Store.AddPractitioner(ctx, p, e)
}

// TreatmentInput is a new treatment.
type TreatmentInput struct {
	Name            string
	DurationMinutes int
	PriceCents      int64
	OnlineBookable  bool
}

// AddTreatment adds a bookable treatment (owners, admins).
func (a *App) AddTreatment(ctx context.Context, c authz.Principal, in TreatmentInput, meta RequestMeta) (domain.Treatment, error) {
	if err := a.authorize(ctx, c, authz.ActionSettingsManage, authz.Resource{}, audit.SettingsChange, "treatment", "", meta); err != nil {
		return domain.Treatment{}, err
	}
	var fields []problem.FieldError
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 200 || strings.ContainsAny(in.Name, "\r\n") {
		fields = append(fields, problem.FieldError{Field: "name", Reason: "must be one line of 1 to 200 characters"})
	}
	if in.DurationMinutes < 5 || in.DurationMinutes > 480 {
		fields = append(fields, problem.FieldError{Field: "duration_minutes", Reason: "must be from 5 to 480"})
	}
	if in.PriceCents < 0 || in.PriceCents > 100_000_000 {
		fields = append(fields, problem.FieldError{Field: "price_cents", Reason: "must be from 0 to 100000000"})
	}
	if len(fields) > 0 {
		return domain.Treatment{}, &ValidationError{Fields: fields}
	}
	t := domain.Treatment{ID: uuid.Must(uuid.NewV7()).String(), ClinicID: c.ClinicID, Name: in.Name, DurationMinutes: in.DurationMinutes,
		PriceCents: in.PriceCents, OnlineBookable: in.OnlineBookable, CreatedAt: a.d.Now().UTC()}
	e, err := a.event(ctx, c, audit.SettingsChange, audit.Allowed, "treatment", t.ID, "", meta)
	if err != nil {
		return domain.Treatment{}, err
	}
	return t, a.d.Store.AddTreatment(ctx, t, e)
}
