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

// ValidationError lists invalid fields by name, never by value.
type ValidationError struct{ Fields []problem.FieldError }

func (e *ValidationError) Error() string { return fmt.Sprintf("%d invalid fields", len(e.Fields)) }

// Deps are the App's collaborators.
type Deps struct {
	Store  *store.Store
	Region string
	// Crypter seals the client address in audit events; nil leaves it out.
	Crypter *fieldcrypt.Crypter
	Logger  *slog.Logger
	Now     func() time.Time
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
// as ErrForbidden.
func (a *App) authorize(ctx context.Context, c authz.Principal, act authz.Action, res authz.Resource, ev audit.Action,
	typ, id string, meta RequestMeta) error {
	res.ClinicID = c.ClinicID
	d := authz.Decide(c, act, res)
	if d.Allow {
		return nil
	}
	if e, err := a.event(ctx, c, ev, audit.Denied, typ, id, res.PatientID, meta); err == nil {
		if err := audit.RecordNow(context.WithoutCancel(ctx), a.d.Store.DB(), e); err != nil {
			a.d.Logger.ErrorContext(ctx, "denied attempt not audited", slog.String("error", err.Error()))
		}
	}
	return fmt.Errorf("%s: %s: %w", act, d.Reason, ErrForbidden)
}

func bad(field, reason string) error {
	return &ValidationError{Fields: []problem.FieldError{{Field: field, Reason: reason}}}
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

// BookInput is an appointment request.
type BookInput struct {
	PatientID, PractitionerID, TreatmentID, LocationID string
	Start                                              time.Time
}

// Book books the treatment's length from Start with the practitioner
// (appointment.write: schedule all, or the practitioner's own; a patient
// for themself). Two bookings of one practitioner's time: the second is
// domain.ErrSlotTaken (409), whatever the concurrency.
func (a *App) Book(ctx context.Context, c authz.Principal, in BookInput, meta RequestMeta) (domain.Appointment, error) {
	var fields []problem.FieldError
	for name, v := range map[string]string{"patient_id": in.PatientID, "practitioner_id": in.PractitionerID, "treatment_id": in.TreatmentID} {
		if !audit.ValidID(v) {
			fields = append(fields, problem.FieldError{Field: name, Reason: "is required: an id"})
		}
	}
	if in.LocationID != "" && !audit.ValidID(in.LocationID) {
		fields = append(fields, problem.FieldError{Field: "location_id", Reason: "must be an id"})
	}
	if in.Start.IsZero() {
		fields = append(fields, problem.FieldError{Field: "start", Reason: "is required: an RFC 3339 time"})
	}
	if len(fields) > 0 {
		return domain.Appointment{}, &ValidationError{Fields: fields}
	}
	pr, err := a.d.Store.Practitioner(ctx, c.ClinicID, in.PractitionerID)
	if errors.Is(err, domain.ErrNotFound) {
		return domain.Appointment{}, bad("practitioner_id", "is not one of the clinic's practitioners")
	}
	if err != nil {
		return domain.Appointment{}, err
	}
	if err := a.authorize(ctx, c, authz.ActionAppointmentWrite, authz.Resource{OwnerUserID: pr.UserID, PatientID: in.PatientID},
		audit.AppointmentWrite, "appointment", "", meta); err != nil {
		return domain.Appointment{}, err
	}
	tr, err := a.d.Store.Treatment(ctx, c.ClinicID, in.TreatmentID)
	if errors.Is(err, domain.ErrNotFound) {
		return domain.Appointment{}, bad("treatment_id", "is not one of the clinic's treatments")
	}
	if err != nil {
		return domain.Appointment{}, err
	}
	now := a.d.Now().UTC()
	start := in.Start.UTC().Truncate(time.Minute)
	ap := domain.Appointment{
		ID: uuid.Must(uuid.NewV7()).String(), ClinicID: c.ClinicID, PractitionerID: pr.ID, PatientID: in.PatientID,
		TreatmentID: tr.ID, LocationID: in.LocationID, Start: start, End: start.Add(time.Duration(tr.DurationMinutes) * time.Minute),
		Status: domain.Booked, CreatedBy: c.UserID, CreatedAt: now, UpdatedAt: now,
	}
	e, err := a.event(ctx, c, audit.AppointmentWrite, audit.Allowed, "appointment", ap.ID, ap.PatientID, meta)
	if err != nil {
		return domain.Appointment{}, err
	}
	if err := a.d.Store.Book(ctx, ap, e); err != nil {
		return domain.Appointment{}, err
	}
	return ap, nil
}

// load returns an appointment once the caller may do act on it (with the
// practitioner's user id as the diary's owner); a refusal is recorded as a
// denied ev.
func (a *App) load(ctx context.Context, c authz.Principal, id string, act authz.Action, ev audit.Action, meta RequestMeta) (domain.Appointment, error) {
	if !audit.ValidID(id) {
		return domain.Appointment{}, domain.ErrNotFound
	}
	ap, err := a.d.Store.Appointment(ctx, c.ClinicID, id)
	if err != nil {
		return domain.Appointment{}, err
	}
	pr, err := a.d.Store.Practitioner(ctx, c.ClinicID, ap.PractitionerID)
	if err != nil {
		return domain.Appointment{}, err
	}
	if err := a.authorize(ctx, c, act, authz.Resource{OwnerUserID: pr.UserID, PatientID: ap.PatientID}, ev, "appointment", ap.ID, meta); err != nil {
		return domain.Appointment{}, err
	}
	return ap, nil
}

// Appointment returns one appointment (appointment.read), recorded before
// it is returned.
func (a *App) Appointment(ctx context.Context, c authz.Principal, id string, meta RequestMeta) (domain.Appointment, error) {
	ap, err := a.load(ctx, c, id, authz.ActionAppointmentRead, audit.AppointmentRead, meta)
	if err != nil {
		return domain.Appointment{}, err
	}
	e, err := a.event(ctx, c, audit.AppointmentRead, audit.Allowed, "appointment", ap.ID, ap.PatientID, meta)
	if err == nil {
		err = audit.RecordNow(ctx, a.d.Store.DB(), e)
	}
	if err != nil {
		return domain.Appointment{}, fmt.Errorf("%w: %w", ErrAuditUnavailable, err)
	}
	return ap, nil
}

// ErrAuditUnavailable means a read could not be recorded, so nothing is
// returned (503).
var ErrAuditUnavailable = errors.New("audit event could not be recorded")

// Reschedule moves an appointment to start, keeping its length; a time the
// practitioner already has booked is domain.ErrSlotTaken.
func (a *App) Reschedule(ctx context.Context, c authz.Principal, id string, start time.Time, meta RequestMeta) (domain.Appointment, error) {
	if start.IsZero() {
		return domain.Appointment{}, bad("start", "is required: an RFC 3339 time")
	}
	ap, err := a.load(ctx, c, id, authz.ActionAppointmentWrite, audit.AppointmentWrite, meta)
	if err != nil {
		return domain.Appointment{}, err
	}
	if ap.Status == domain.Cancelled {
		return domain.Appointment{}, fmt.Errorf("appointment %s is cancelled: %w", id, domain.ErrConflict)
	}
	e, err := a.event(ctx, c, audit.AppointmentWrite, audit.Allowed, "appointment", ap.ID, ap.PatientID, meta)
	if err != nil {
		return domain.Appointment{}, err
	}
	start = start.UTC().Truncate(time.Minute)
	return a.d.Store.Reschedule(ctx, c.ClinicID, id, start, start.Add(ap.End.Sub(ap.Start)), e)
}

// Cancel cancels an appointment, which frees the practitioner's time.
func (a *App) Cancel(ctx context.Context, c authz.Principal, id string, meta RequestMeta) (domain.Appointment, error) {
	ap, err := a.load(ctx, c, id, authz.ActionAppointmentWrite, audit.AppointmentWrite, meta)
	if err != nil {
		return domain.Appointment{}, err
	}
	e, err := a.event(ctx, c, audit.AppointmentWrite, audit.Allowed, "appointment", ap.ID, ap.PatientID, meta)
	if err != nil {
		return domain.Appointment{}, err
	}
	if err := a.d.Store.SetStatus(ctx, c.ClinicID, id, domain.Cancelled, e); err != nil {
		return domain.Appointment{}, err
	}
	ap.Status = domain.Cancelled
	return ap, nil
}
