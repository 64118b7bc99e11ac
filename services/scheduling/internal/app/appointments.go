package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/services/scheduling/internal/domain"
	"github.com/havenhealth/haven/services/scheduling/internal/store"
)

// BookInput is an appointment request.
type BookInput struct {
	PatientID, PractitionerID, TreatmentID, LocationID string
	Start                                              time.Time
}

// Book books the treatment's length from Start with the practitioner
// (appointment.write: schedule all, or the practitioner's own). A patient
// books for themself only (PatientID may be left empty), an online-bookable
// treatment only, and only a time the practitioner's availability offers
// (domain.ErrNotOffered otherwise); staff may book outside availability.
// Two bookings of one practitioner's time: the second is
// domain.ErrSlotTaken (409), whatever the concurrency. Reminders hears of
// the booking once it commits.
func (a *App) Book(ctx context.Context, c authz.Principal, in BookInput, meta RequestMeta) (domain.Appointment, error) {
	patient := c.Role == authz.RolePatient
	if patient {
		if unlinked(c) {
			return domain.Appointment{}, a.denied(ctx, c, audit.AppointmentWrite, "appointment", "", "", meta, ErrPatientUnlinked)
		}
		if in.PatientID == "" {
			in.PatientID = c.PatientID
		}
	}
	var fields []problem.FieldError
	for _, f := range []struct{ name, v string }{{"patient_id", in.PatientID}, {"practitioner_id", in.PractitionerID}, {"treatment_id", in.TreatmentID}} {
		if !audit.ValidID(f.v) {
			fields = append(fields, problem.FieldError{Field: f.name, Reason: "is required: an id"})
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
	if patient && !tr.OnlineBookable {
		return domain.Appointment{}, a.denied(ctx, c, audit.AppointmentWrite, "appointment", "", in.PatientID, meta, ErrNotOnlineBookable)
	}
	if err := a.checkLocation(ctx, c.ClinicID, "location_id", in.LocationID); err != nil {
		return domain.Appointment{}, err
	}
	start := in.Start.UTC().Truncate(time.Minute)
	length := time.Duration(tr.DurationMinutes) * time.Minute
	if patient {
		slot, err := a.offered(ctx, c.ClinicID, pr.ID, length, in.LocationID, start, "")
		if err != nil {
			return domain.Appointment{}, err
		}
		if in.LocationID == "" {
			in.LocationID = slot.LocationID
		}
	}
	now := a.now()
	ap := domain.Appointment{
		ID: uuid.Must(uuid.NewV7()).String(), ClinicID: c.ClinicID, PractitionerID: pr.ID, PatientID: in.PatientID,
		TreatmentID: tr.ID, LocationID: in.LocationID, Start: start, End: start.Add(length),
		Status: domain.Booked, CreatedBy: c.UserID, CreatedAt: now, UpdatedAt: now,
	}
	e, err := a.event(ctx, c, audit.AppointmentWrite, audit.Allowed, "appointment", ap.ID, ap.PatientID, meta)
	if err != nil {
		return domain.Appointment{}, err
	}
	sync := a.newSync()
	if err := a.d.Store.Book(ctx, ap, store.Write{Events: []audit.Event{e}, Reminder: sync}); err != nil {
		return domain.Appointment{}, err
	}
	a.remind(ctx, domain.ReminderBooked, ap, sync.ID)
	return ap, nil
}

// checkLocation refuses a location id that is not one of the clinic's.
func (a *App) checkLocation(ctx context.Context, clinicID, field, id string) error {
	if id == "" {
		return nil
	}
	if !audit.ValidID(id) {
		return bad(field, "must be an id")
	}
	_, err := a.d.Store.Location(ctx, clinicID, id)
	if errors.Is(err, domain.ErrNotFound) {
		return bad(field, "is not one of the clinic's locations")
	}
	return err
}

// offered returns the open slot of the practitioner starting at start for
// length (at locationID, or any), leaving the appointment except out of
// the busy time; domain.ErrNotOffered when there is none.
func (a *App) offered(ctx context.Context, clinicID, practitionerID string, length time.Duration, locationID string, start time.Time, except string) (domain.Slot, error) {
	if start.Before(a.now()) {
		return domain.Slot{}, fmt.Errorf("start is in the past: %w", domain.ErrNotOffered)
	}
	zone, err := a.zone(ctx, clinicID)
	if err != nil {
		return domain.Slot{}, err
	}
	day := domain.DateOf(start.In(zone))
	av, err := a.d.Store.Availability(ctx, clinicID, practitionerID, day.AddDays(-1), day.AddDays(1))
	if err != nil {
		return domain.Slot{}, err
	}
	busy, err := a.d.Store.Busy(ctx, clinicID, practitionerID, start, start.Add(length), except)
	if err != nil {
		return domain.Slot{}, err
	}
	for _, s := range domain.OpenSlots(domain.SlotQuery{Zone: zone, Availability: av, Busy: busy, Duration: length,
		From: start, To: start.Add(time.Minute), LocationID: locationID}) {
		if s.Start.Equal(start) {
			return s, nil
		}
	}
	return domain.Slot{}, domain.ErrNotOffered
}

// load returns an appointment once the caller may do act on it (with the
// practitioner's user id as the diary's owner); a refusal is recorded as a
// denied ev.
func (a *App) load(ctx context.Context, c authz.Principal, id string, act authz.Action, ev audit.Action, meta RequestMeta) (domain.Appointment, error) {
	if !audit.ValidID(id) {
		return domain.Appointment{}, domain.ErrNotFound
	}
	if unlinked(c) {
		return domain.Appointment{}, a.denied(ctx, c, ev, "appointment", id, "", meta, ErrPatientUnlinked)
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

// Appointment returns one appointment (appointment.read; a patient their
// own), recorded before it is returned.
func (a *App) Appointment(ctx context.Context, c authz.Principal, id string, meta RequestMeta) (domain.Appointment, error) {
	ap, err := a.load(ctx, c, id, authz.ActionAppointmentRead, audit.AppointmentRead, meta)
	if err != nil {
		return domain.Appointment{}, err
	}
	if err := a.recordReads(ctx, c, []domain.Appointment{ap}, meta); err != nil {
		return domain.Appointment{}, err
	}
	return ap, nil
}

// Reschedule moves an appointment to start, keeping its length; a time the
// practitioner already has booked is domain.ErrSlotTaken. A patient moves
// only their own booked appointment of an online-bookable treatment, and
// only to a time availability offers.
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
	start = start.UTC().Truncate(time.Minute)
	length := ap.End.Sub(ap.Start)
	if c.Role == authz.RolePatient {
		if ap.Status != domain.Booked {
			return domain.Appointment{}, fmt.Errorf("appointment %s is %s: %w", id, ap.Status, domain.ErrConflict)
		}
		tr, err := a.d.Store.Treatment(ctx, c.ClinicID, ap.TreatmentID)
		if err != nil {
			return domain.Appointment{}, err
		}
		if !tr.OnlineBookable {
			return domain.Appointment{}, a.denied(ctx, c, audit.AppointmentWrite, "appointment", ap.ID, ap.PatientID, meta, ErrNotOnlineBookable)
		}
		if _, err := a.offered(ctx, c.ClinicID, ap.PractitionerID, length, ap.LocationID, start, ap.ID); err != nil {
			return domain.Appointment{}, err
		}
	}
	e, err := a.event(ctx, c, audit.AppointmentWrite, audit.Allowed, "appointment", ap.ID, ap.PatientID, meta)
	if err != nil {
		return domain.Appointment{}, err
	}
	sync := a.newSync()
	moved, err := a.d.Store.Reschedule(ctx, c.ClinicID, id, start, start.Add(length), store.Write{Events: []audit.Event{e}, Reminder: sync})
	if err != nil {
		return domain.Appointment{}, err
	}
	a.remind(ctx, domain.ReminderRescheduled, moved, sync.ID)
	return moved, nil
}

// Cancel cancels an appointment, which frees the practitioner's time. A
// patient cancels only their own appointment while it is booked and has
// not started.
func (a *App) Cancel(ctx context.Context, c authz.Principal, id string, meta RequestMeta) (domain.Appointment, error) {
	ap, err := a.load(ctx, c, id, authz.ActionAppointmentWrite, audit.AppointmentWrite, meta)
	if err != nil {
		return domain.Appointment{}, err
	}
	if c.Role == authz.RolePatient && (ap.Status != domain.Booked || !ap.Start.After(a.now())) {
		return domain.Appointment{}, fmt.Errorf("appointment %s has started or is %s: %w", id, ap.Status, domain.ErrConflict)
	}
	e, err := a.event(ctx, c, audit.AppointmentWrite, audit.Allowed, "appointment", ap.ID, ap.PatientID, meta)
	if err != nil {
		return domain.Appointment{}, err
	}
	sync := a.newSync()
	if err := a.d.Store.SetStatus(ctx, c.ClinicID, id, domain.Cancelled, store.Write{Events: []audit.Event{e}, Reminder: sync}); err != nil {
		return domain.Appointment{}, err
	}
	ap.Status = domain.Cancelled
	a.remind(ctx, domain.ReminderCancelled, ap, sync.ID)
	return ap, nil
}

// SetStatus records that the patient arrived, the appointment was
// completed, or the patient did not show (staff with appointment.write; a
// cancelled appointment keeps its status: domain.ErrConflict).
func (a *App) SetStatus(ctx context.Context, c authz.Principal, id, status string, meta RequestMeta) (domain.Appointment, error) {
	st := domain.Status(status)
	if st != domain.Arrived && st != domain.Completed && st != domain.NoShow {
		return domain.Appointment{}, bad("status", "must be arrived, completed or no_show")
	}
	if !c.Role.Staff() {
		return domain.Appointment{}, a.denied(ctx, c, audit.AppointmentWrite, "appointment", id, c.PatientID, meta,
			fmt.Errorf("status changes are for staff: %w", ErrForbidden))
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
	if err := a.d.Store.SetStatus(ctx, c.ClinicID, id, st, store.Write{Events: []audit.Event{e}}); err != nil {
		return domain.Appointment{}, err
	}
	ap.Status = st
	return ap, nil
}

// AppointmentQuery selects appointments: starting in [From, To) (RFC 3339
// times, or clinic-calendar dates YYYY-MM-DD, To's day included; today
// when both are empty; at most MaxListWindow), of one practitioner and/or
// patient, continuing after Cursor, at most Limit (default 200, at most
// 1000).
type AppointmentQuery struct {
	From, To, PractitionerID, PatientID, Cursor string
	Limit                                       int
}

// AppointmentPage is a page of appointments and the cursor of the next.
type AppointmentPage struct {
	Appointments []domain.Appointment
	NextCursor   string
}

// MaxListWindow bounds an appointment listing's From to To.
const MaxListWindow = 92 * 24 * time.Hour

// ListAppointments returns the appointments the caller may read
// (appointment.read: schedule all, a practitioner's own diary, the billing
// role too; a patient only their own), each recorded as an
// appointment.read before the page is returned.
func (a *App) ListAppointments(ctx context.Context, c authz.Principal, q AppointmentQuery, meta RequestMeta) (AppointmentPage, error) {
	if unlinked(c) {
		return AppointmentPage{}, a.denied(ctx, c, audit.AppointmentRead, "appointment", "", "", meta, ErrPatientUnlinked)
	}
	zone, err := a.zone(ctx, c.ClinicID)
	if err != nil {
		return AppointmentPage{}, err
	}
	from, to, err := window(q.From, q.To, zone, a.now(), startOfDay, MaxListWindow)
	if err != nil {
		return AppointmentPage{}, err
	}
	limit := q.Limit
	switch {
	case limit == 0:
		limit = 200
	case limit < 0 || limit > 1000:
		return AppointmentPage{}, bad("limit", "must be from 1 to 1000")
	}
	f := store.AppointmentFilter{ClinicID: c.ClinicID, From: from, To: to, PatientID: q.PatientID, Limit: limit + 1}
	if q.Cursor != "" {
		if f.AfterStart, f.AfterID, err = decodeCursor(q.Cursor); err != nil {
			return AppointmentPage{}, err
		}
	}
	if q.PatientID != "" && !audit.ValidID(q.PatientID) {
		return AppointmentPage{}, bad("patient_id", "must be an id")
	}
	if q.PractitionerID != "" && !audit.ValidID(q.PractitionerID) {
		return AppointmentPage{}, bad("practitioner_id", "must be an id")
	}
	practitioners, err := a.d.Store.Practitioners(ctx, c.ClinicID)
	if err != nil {
		return AppointmentPage{}, err
	}
	owner := map[string]string{}
	for _, p := range practitioners {
		owner[p.ID] = p.UserID
	}
	if c.Role == authz.RolePatient {
		if q.PatientID != "" && q.PatientID != c.PatientID {
			return AppointmentPage{}, a.authorize(ctx, c, authz.ActionAppointmentRead, authz.Resource{PatientID: q.PatientID},
				audit.AppointmentRead, "appointment", "", meta)
		}
		f.PatientID = c.PatientID
	} else {
		var allowed []string
		for _, p := range practitioners {
			if q.PractitionerID != "" && p.ID != q.PractitionerID {
				continue
			}
			if authz.Decide(c, authz.ActionAppointmentRead, authz.Resource{ClinicID: c.ClinicID, OwnerUserID: p.UserID}).Allow {
				allowed = append(allowed, p.ID)
			}
		}
		if q.PractitionerID != "" {
			if _, ok := owner[q.PractitionerID]; !ok {
				return AppointmentPage{}, bad("practitioner_id", "is not one of the clinic's practitioners")
			}
			if len(allowed) == 0 {
				return AppointmentPage{}, a.authorize(ctx, c, authz.ActionAppointmentRead, authz.Resource{OwnerUserID: owner[q.PractitionerID]},
					audit.AppointmentRead, "appointment", "", meta)
			}
		} else if authz.Decide(c, authz.ActionAppointmentRead, authz.Resource{ClinicID: c.ClinicID}).Allow {
			allowed = nil // schedule all: every diary
		} else if len(allowed) == 0 {
			return AppointmentPage{}, a.authorize(ctx, c, authz.ActionAppointmentRead, authz.Resource{}, audit.AppointmentRead, "appointment", "", meta)
		}
		f.PractitionerIDs = allowed
	}
	aps, err := a.d.Store.Appointments(ctx, f)
	if err != nil {
		return AppointmentPage{}, err
	}
	var page AppointmentPage
	if len(aps) > limit {
		aps = aps[:limit]
		last := aps[limit-1]
		page.NextCursor = encodeCursor(last.Start, last.ID)
	}
	page.Appointments = make([]domain.Appointment, 0, len(aps))
	for _, ap := range aps { // the filter already holds; each row is checked again all the same
		if authz.Decide(c, authz.ActionAppointmentRead, authz.Resource{ClinicID: c.ClinicID, OwnerUserID: owner[ap.PractitionerID], PatientID: ap.PatientID}).Allow {
			page.Appointments = append(page.Appointments, ap)
		}
	}
	if err := a.recordReads(ctx, c, page.Appointments, meta); err != nil {
		return AppointmentPage{}, err
	}
	return page, nil
}

func encodeCursor(start time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(start.UTC().Format(time.RFC3339Nano) + "|" + id))
}

func decodeCursor(s string) (time.Time, string, error) {
	fail := bad("cursor", "is not a cursor this listing returned")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(s) > 400 {
		return time.Time{}, "", fail
	}
	at, id, ok := strings.Cut(string(b), "|")
	t, err := time.Parse(time.RFC3339Nano, at)
	if !ok || err != nil || !audit.ValidID(id) {
		return time.Time{}, "", fail
	}
	return t, id, nil
}

// Default windows for window.
const (
	startOfDay = iota // today, on the clinic's calendar
	fromNow           // a week from now
)

// window reads a [from, to) range: RFC 3339 times, or clinic-calendar
// dates (from's day from its start, to's day to its end); to after from
// and at most maxSpan later. Empty bounds default per def.
func window(fromText, toText string, zone *time.Location, now time.Time, def int, maxSpan time.Duration) (time.Time, time.Time, error) {
	from, err := bound(fromText, zone, false)
	if err != nil {
		return time.Time{}, time.Time{}, bad("from", "must be an RFC 3339 time or a date YYYY-MM-DD")
	}
	to, err := bound(toText, zone, true)
	if err != nil {
		return time.Time{}, time.Time{}, bad("to", "must be an RFC 3339 time or a date YYYY-MM-DD")
	}
	if from.IsZero() {
		switch {
		case def == startOfDay && to.IsZero():
			from = domain.DateOf(now.In(zone)).At(0, zone)
		case def == startOfDay:
			from = to.Add(-24 * time.Hour)
		default:
			from = now
		}
	}
	if to.IsZero() {
		if def == startOfDay {
			to = domain.DateOf(from.In(zone)).AddDays(1).At(0, zone)
		} else {
			to = from.Add(7 * 24 * time.Hour)
		}
	}
	if !to.After(from) {
		return time.Time{}, time.Time{}, bad("to", "must be after from")
	}
	if to.Sub(from) > maxSpan {
		return time.Time{}, time.Time{}, bad("to", fmt.Sprintf("must be at most %d days after from", int(maxSpan/(24*time.Hour))))
	}
	return from.UTC(), to.UTC(), nil
}

func bound(s string, zone *time.Location, end bool) (time.Time, error) {
	switch {
	case s == "":
		return time.Time{}, nil
	case len(s) == len(time.DateOnly):
		d, ok := domain.ParseDate(s)
		if !ok {
			return time.Time{}, errors.New("bad date")
		}
		if end {
			d = d.AddDays(1)
		}
		return d.At(0, zone), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || t.Year() < 2000 || t.Year() > 2200 {
		return time.Time{}, errors.New("bad time")
	}
	return t, nil
}
