package app

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/services/charting/internal/domain"
	"github.com/havenhealth/haven/services/charting/internal/events"
)

// EntryInput is a chart entry as submitted. On create Notes is required;
// on update nil fields stay as they are.
type EntryInput struct {
	Notes           *string
	AppointmentID   *string
	OccurredOn      *string
	DurationMinutes *int
	Attendees       *[]string
}

func (in EntryInput) apply(e *domain.Entry, today time.Time) error {
	var f fieldErrors
	if in.Notes != nil {
		notes, ok := text(*in.Notes, maxNotes, true)
		switch {
		case !ok:
			f.add("notes", "must be at most 100000 characters, without control characters other than new lines and tabs")
		case notes == "":
			f.add("notes", "is required")
		}
		e.Notes = notes
	}
	if in.AppointmentID != nil {
		e.AppointmentID = f.id("appointment_id", *in.AppointmentID)
	}
	if in.OccurredOn != nil {
		d, ok := fieldcrypt.NormalizeDate(*in.OccurredOn)
		if !ok || d > today.AddDate(0, 0, 1).Format(time.DateOnly) || d < earliestBirth {
			f.add("occurred_on", "must be a date written YYYY-MM-DD, not in the future")
		}
		e.OccurredOn = d
	}
	if in.DurationMinutes != nil {
		if m := *in.DurationMinutes; m < 0 || m > maxDuration {
			f.add("duration_minutes", "must be between 0 and 1440")
		} else {
			e.DurationMinutes = &m
		}
	}
	if in.Attendees != nil {
		list := *in.Attendees
		if len(list) > maxAttendees {
			f.add("attendees", "must list at most 20 people")
		} else {
			e.Attendees = make([]string, 0, len(list))
			for _, name := range list {
				v, ok := text(name, maxShort, false)
				if !ok || v == "" {
					f.add("attendees", "each must be 1-200 characters, without control characters")
					break
				}
				e.Attendees = append(e.Attendees, v)
			}
		}
	}
	return f.err()
}

// chartAccess is what a caller may read of one patient's chart.
type chartAccess struct {
	c             authz.Principal
	patientID     string
	practitioners []string
}

// check reports whether the caller may read e: authz chart.read with the
// author as owner and the patient's practitioners; drafts only by their
// author or a caller who sees every chart (a draft is work in progress).
func (ca chartAccess) check(e domain.Entry) error {
	if err := authorize(ca.c, authz.ActionChartRead, authz.Resource{
		OwnerUserID: e.AuthorID, PractitionerIDs: ca.practitioners, PatientID: ca.patientID,
	}); err != nil {
		return err
	}
	if !e.Signed() && e.AuthorID != ca.c.UserID && ca.c.Grants.Charts != authz.ChartsAll {
		return fmt.Errorf("draft of another practitioner: %w", domain.ErrForbidden)
	}
	return nil
}

func (a *App) chartAccess(ctx context.Context, c authz.Principal, patientID string) (chartAccess, error) {
	pr, err := a.d.Store.Practitioners(ctx, c.ClinicID, patientID)
	if err != nil {
		return chartAccess{}, err
	}
	return chartAccess{c: c, patientID: patientID, practitioners: pr}, nil
}

// CreateEntry writes a draft entry for the patient, authored by the caller
// (authz chart.write on their own entry), who becomes a treating
// practitioner of the patient.
func (a *App) CreateEntry(ctx context.Context, c authz.Principal, patientID string, in EntryInput, meta RequestMeta) (domain.Entry, error) {
	if !audit.ValidID(patientID) {
		return domain.Entry{}, domain.ErrNotFound
	}
	if err := authorize(c, authz.ActionChartWrite, authz.Resource{OwnerUserID: c.UserID, PatientID: patientID}); err != nil {
		return domain.Entry{}, a.refused(ctx, c, audit.ChartWrite, chartTarget(patientID), meta, err)
	}
	if in.Notes == nil {
		in.Notes = new(string)
	}
	now := a.now()
	e := domain.Entry{
		ID: uuid.Must(uuid.NewV7()).String(), ClinicID: c.ClinicID, PatientID: patientID, AuthorID: c.UserID,
		OccurredOn: now.Format(time.DateOnly), Status: domain.EntryDraft, CreatedAt: now, UpdatedAt: now,
	}
	if err := in.apply(&e, now); err != nil {
		return domain.Entry{}, err
	}
	if _, err := a.live(ctx, c.ClinicID, patientID); err != nil {
		return domain.Entry{}, err
	}
	if err := a.ensureKeys(ctx, c.ClinicID); err != nil {
		return domain.Entry{}, err
	}
	ev, err := a.newEvent(ctx, c, audit.ChartWrite, audit.Allowed, entryTarget(e), meta)
	if err != nil {
		return domain.Entry{}, err
	}
	if err := a.d.Store.CreateEntry(ctx, e, ev); err != nil {
		return domain.Entry{}, err
	}
	return e, nil
}

// GetEntry returns an entry with its amendments, if the caller may read it;
// a refusal is audited as a denied chart.read.
func (a *App) GetEntry(ctx context.Context, c authz.Principal, id string, meta RequestMeta) (domain.Entry, error) {
	if !audit.ValidID(id) {
		return domain.Entry{}, domain.ErrNotFound
	}
	if err := authorize(c, authz.ActionChartRead, authz.Resource{OwnerUserID: c.UserID}); err != nil {
		// No chart access at all (front desk, billing, patients): refused
		// before anything is loaded.
		return domain.Entry{}, a.refused(ctx, c, audit.ChartRead, target{Type: "chart_entry", ID: id}, meta, err)
	}
	e, err := a.d.Store.Entry(ctx, c.ClinicID, id)
	if err != nil {
		return domain.Entry{}, err
	}
	ca, err := a.chartAccess(ctx, c, e.PatientID)
	if err != nil {
		return domain.Entry{}, err
	}
	if err := ca.check(e); err != nil {
		return domain.Entry{}, a.refused(ctx, c, audit.ChartRead, entryTarget(e), meta, err)
	}
	if err := a.recordReads(ctx, c, meta, []readEvent{{audit.ChartRead, entryTarget(e)}}); err != nil {
		return domain.Entry{}, err
	}
	return e, nil
}

// ListEntries returns the patient's entries the caller may read, oldest
// first, each audited as a chart.read. A caller who may read none of the
// chart is refused (403, audited as a denied chart.read of the chart).
func (a *App) ListEntries(ctx context.Context, c authz.Principal, patientID string, meta RequestMeta) ([]domain.Entry, error) {
	if !audit.ValidID(patientID) {
		return nil, domain.ErrNotFound
	}
	if _, err := a.live(ctx, c.ClinicID, patientID); err != nil {
		return nil, err
	}
	ca, err := a.chartAccess(ctx, c, patientID)
	if err != nil {
		return nil, err
	}
	all, err := a.d.Store.Entries(ctx, c.ClinicID, patientID)
	if err != nil {
		return nil, err
	}
	wholeChart := authorize(c, authz.ActionChartRead, authz.Resource{PractitionerIDs: ca.practitioners, PatientID: patientID})
	out := make([]domain.Entry, 0, len(all))
	var reads []readEvent
	for _, e := range all {
		if ca.check(e) == nil {
			out = append(out, e)
			reads = append(reads, readEvent{audit.ChartRead, entryTarget(e)})
		}
	}
	if wholeChart != nil && len(out) == 0 {
		return nil, a.refused(ctx, c, audit.ChartRead, chartTarget(patientID), meta, wholeChart)
	}
	if err := a.recordReads(ctx, c, meta, reads); err != nil {
		return nil, err
	}
	return out, nil
}

// loadOwnEntry loads an entry for a change by its author (authz action on
// the entry as its owner); a refusal is audited as a denied action.
func (a *App) loadOwnEntry(ctx context.Context, c authz.Principal, id string, action authz.Action, auditAction audit.Action,
	meta RequestMeta) (domain.Entry, error) {
	if !audit.ValidID(id) {
		return domain.Entry{}, domain.ErrNotFound
	}
	e, err := a.d.Store.Entry(ctx, c.ClinicID, id)
	if err != nil {
		return domain.Entry{}, err
	}
	if err := authorize(c, action, authz.Resource{OwnerUserID: e.AuthorID, PatientID: e.PatientID}); err != nil {
		return domain.Entry{}, a.refused(ctx, c, auditAction, entryTarget(e), meta, err)
	}
	return e, nil
}

// UpdateEntry edits a draft; only its author may. A signed entry is
// domain.ErrLocked.
func (a *App) UpdateEntry(ctx context.Context, c authz.Principal, id string, in EntryInput, meta RequestMeta) (domain.Entry, error) {
	e, err := a.loadOwnEntry(ctx, c, id, authz.ActionChartWrite, audit.ChartWrite, meta)
	if err != nil {
		return domain.Entry{}, err
	}
	if e.Signed() {
		return domain.Entry{}, domain.ErrLocked
	}
	if err := in.apply(&domain.Entry{}, a.now()); err != nil { // validate before opening a transaction
		return domain.Entry{}, err
	}
	ev, err := a.newEvent(ctx, c, audit.ChartWrite, audit.Allowed, entryTarget(e), meta)
	if err != nil {
		return domain.Entry{}, err
	}
	return a.d.Store.UpdateEntry(ctx, c.ClinicID, id, func(e *domain.Entry) ([]events.Message, error) {
		if e.Signed() {
			return nil, domain.ErrLocked
		}
		if err := in.apply(e, a.now()); err != nil {
			return nil, err
		}
		e.UpdatedAt = a.now()
		return nil, nil
	}, ev)
}

// SignEntry locks a draft: only its author may sign it. The entry keeps the
// signing time, the signer, the SHA-256 of its canonical content and the id
// of the chart.sign audit event; a chart.signed message is published for
// other services in the same transaction.
func (a *App) SignEntry(ctx context.Context, c authz.Principal, id string, meta RequestMeta) (domain.Entry, error) {
	e, err := a.loadOwnEntry(ctx, c, id, authz.ActionChartSign, audit.ChartSign, meta)
	if err != nil {
		return domain.Entry{}, err
	}
	if e.Signed() {
		return domain.Entry{}, domain.ErrLocked
	}
	ev, err := a.newEvent(ctx, c, audit.ChartSign, audit.Allowed, entryTarget(e), meta)
	if err != nil {
		return domain.Entry{}, err
	}
	return a.d.Store.UpdateEntry(ctx, c.ClinicID, id, func(e *domain.Entry) ([]events.Message, error) {
		if err := e.Sign(c.UserID, a.now(), ev.ID); err != nil {
			return nil, err
		}
		m, err := events.NewChartSigned(e.ClinicID, e.ID, e.PatientID, e.AppointmentID, e.SignedBy, *e.SignedAt)
		if err != nil {
			return nil, err
		}
		return []events.Message{m}, nil
	}, ev)
}

// AmendEntry appends a signed amendment to a signed entry; only the
// entry's author may (authz chart.write on their own entry). Amending a
// draft is domain.ErrConflict: edit it instead.
func (a *App) AmendEntry(ctx context.Context, c authz.Principal, id, notes string, meta RequestMeta) (domain.Entry, error) {
	e, err := a.loadOwnEntry(ctx, c, id, authz.ActionChartWrite, audit.ChartWrite, meta)
	if err != nil {
		return domain.Entry{}, err
	}
	var f fieldErrors
	v, ok := text(notes, maxNotes, true)
	if !ok || v == "" {
		f.add("notes", "is required: 1-100000 characters, without control characters other than new lines and tabs")
	}
	if err := f.err(); err != nil {
		return domain.Entry{}, err
	}
	if !e.Signed() {
		return domain.Entry{}, domain.ErrConflict
	}
	amendID := uuid.Must(uuid.NewV7()).String()
	t := amendmentTarget(amendID, e.PatientID)
	write, err := a.newEvent(ctx, c, audit.ChartWrite, audit.Allowed, t, meta)
	if err != nil {
		return domain.Entry{}, err
	}
	sign, err := a.newEvent(ctx, c, audit.ChartSign, audit.Allowed, t, meta)
	if err != nil {
		return domain.Entry{}, err
	}
	return a.d.Store.AddAmendment(ctx, c.ClinicID, id, func(e domain.Entry) (domain.Amendment, error) {
		return e.Amend(amendID, c.UserID, v, a.now(), sign.ID)
	}, write, sign)
}
