package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/services/scheduling/internal/domain"
)

// practitioner loads a practitioner by id; a bad or unknown id is
// domain.ErrNotFound.
func (a *App) practitioner(ctx context.Context, clinicID, id string) (domain.Practitioner, error) {
	if !audit.ValidID(id) {
		return domain.Practitioner{}, domain.ErrNotFound
	}
	return a.d.Store.Practitioner(ctx, clinicID, id)
}

// PutAvailability replaces the practitioner's weekly availability and
// exceptions (owners and admins, or the practitioner themself), audited as
// a settings.change of the practitioner's availability.
func (a *App) PutAvailability(ctx context.Context, c authz.Principal, practitionerID string, av domain.Availability, meta RequestMeta) (domain.Availability, error) {
	pr, err := a.practitioner(ctx, c.ClinicID, practitionerID)
	if err != nil {
		return domain.Availability{}, err
	}
	self := c.UserID == pr.UserID && c.Role.Staff() && c.Role != authz.RoleBilling
	if !self {
		if err := a.authorize(ctx, c, authz.ActionSettingsManage, authz.Resource{}, audit.SettingsChange, "availability", pr.ID, meta); err != nil {
			return domain.Availability{}, err
		}
	}
	av.PractitionerID = pr.ID
	if err := invalid(av.Validate()); err != nil {
		return domain.Availability{}, err
	}
	checked := map[string]error{}
	check := func(field, id string) error {
		if id == "" {
			return nil
		}
		if _, ok := checked[id]; !ok {
			checked[id] = a.checkLocation(ctx, c.ClinicID, field, id)
		}
		var verr *ValidationError
		if err := checked[id]; errors.As(err, &verr) {
			return bad(field, verr.Fields[0].Reason)
		}
		return checked[id]
	}
	for i, w := range av.Weekly {
		if err := check(fmt.Sprintf("weekly[%d].location_id", i), w.LocationID); err != nil {
			return domain.Availability{}, err
		}
	}
	for i, e := range av.Exceptions {
		if err := check(fmt.Sprintf("exceptions[%d].location_id", i), e.LocationID); err != nil {
			return domain.Availability{}, err
		}
	}
	e, err := a.event(ctx, c, audit.SettingsChange, audit.Allowed, "availability", pr.ID, "", meta)
	if err != nil {
		return domain.Availability{}, err
	}
	if err := a.d.Store.PutAvailability(ctx, c.ClinicID, av, e); err != nil {
		return domain.Availability{}, err
	}
	return a.d.Store.Availability(ctx, c.ClinicID, pr.ID, domain.Date{}, domain.Date{})
}

// Availability returns the practitioner's weekly availability and
// exceptions (staff who may read the practitioner's schedule).
func (a *App) Availability(ctx context.Context, c authz.Principal, practitionerID string) (domain.Availability, error) {
	pr, err := a.practitioner(ctx, c.ClinicID, practitionerID)
	if err != nil {
		return domain.Availability{}, err
	}
	if !authz.Decide(c, authz.ActionScheduleRead, authz.Resource{ClinicID: c.ClinicID, OwnerUserID: pr.UserID}).Allow {
		if unlinked(c) {
			return domain.Availability{}, ErrPatientUnlinked
		}
		return domain.Availability{}, ErrForbidden
	}
	return a.d.Store.Availability(ctx, c.ClinicID, pr.ID, domain.Date{}, domain.Date{})
}

// OpenTimesQuery asks for open times of a treatment: with one practitioner
// or (PractitionerID empty) every one the caller may see, at one location
// or any, starting in [From, To) (RFC 3339 times or clinic-calendar dates;
// from now for a week by default; at most MaxAvailabilityWindow).
type OpenTimesQuery struct {
	TreatmentID, PractitionerID, LocationID string
	From, To                                string
}

// MaxAvailabilityWindow bounds an open-times query's From to To.
const MaxAvailabilityWindow = 31 * 24 * time.Hour

// OpenTimes are open start times and the zone their local times are in.
type OpenTimes struct {
	Zone  *time.Location
	Slots []domain.Slot
}

// OpenTimes returns the start times at which the treatment fits the
// practitioners' availability and no booked time, from now on, ordered by
// start (see domain.OpenSlots). Staff see the practitioners whose schedule
// they may read; patients (with a profile) every practitioner, for
// online-bookable treatments only.
func (a *App) OpenTimes(ctx context.Context, c authz.Principal, q OpenTimesQuery) (OpenTimes, error) {
	patient := c.Role == authz.RolePatient
	if err := browse(c); err != nil {
		return OpenTimes{}, err
	}
	if !audit.ValidID(q.TreatmentID) {
		return OpenTimes{}, bad("treatment_id", "is required: an id")
	}
	zone, err := a.zone(ctx, c.ClinicID)
	if err != nil {
		return OpenTimes{}, err
	}
	now := a.now()
	from, to, err := window(q.From, q.To, zone, now, fromNow, MaxAvailabilityWindow)
	if err != nil {
		return OpenTimes{}, err
	}
	tr, err := a.d.Store.Treatment(ctx, c.ClinicID, q.TreatmentID)
	if errors.Is(err, domain.ErrNotFound) {
		return OpenTimes{}, bad("treatment_id", "is not one of the clinic's treatments")
	}
	if err != nil {
		return OpenTimes{}, err
	}
	if patient && !tr.OnlineBookable {
		return OpenTimes{}, ErrNotOnlineBookable
	}
	if err := a.checkLocation(ctx, c.ClinicID, "location_id", q.LocationID); err != nil {
		return OpenTimes{}, err
	}
	var practitioners []domain.Practitioner
	if q.PractitionerID != "" {
		pr, err := a.practitioner(ctx, c.ClinicID, q.PractitionerID)
		if errors.Is(err, domain.ErrNotFound) {
			return OpenTimes{}, bad("practitioner_id", "is not one of the clinic's practitioners")
		}
		if err != nil {
			return OpenTimes{}, err
		}
		practitioners = []domain.Practitioner{pr}
	} else if practitioners, err = a.d.Store.Practitioners(ctx, c.ClinicID); err != nil {
		return OpenTimes{}, err
	}
	if !patient {
		practitioners = slices.DeleteFunc(practitioners, func(p domain.Practitioner) bool {
			return !authz.Decide(c, authz.ActionScheduleRead, authz.Resource{ClinicID: c.ClinicID, OwnerUserID: p.UserID}).Allow
		})
		if q.PractitionerID != "" && len(practitioners) == 0 {
			return OpenTimes{}, ErrForbidden
		}
	}
	if earliest := now.Truncate(time.Minute).Add(time.Minute); from.Before(earliest) {
		from = earliest
	}
	out := OpenTimes{Zone: zone, Slots: []domain.Slot{}}
	if !from.Before(to) {
		return out, nil
	}
	length := time.Duration(tr.DurationMinutes) * time.Minute
	first, last := domain.DateOf(from.In(zone)), domain.DateOf(to.In(zone))
	for _, pr := range practitioners {
		av, err := a.d.Store.Availability(ctx, c.ClinicID, pr.ID, first, last)
		if err != nil {
			return OpenTimes{}, err
		}
		if len(av.Weekly) == 0 && len(av.Exceptions) == 0 {
			continue
		}
		busy, err := a.d.Store.Busy(ctx, c.ClinicID, pr.ID, from, to.Add(length), "")
		if err != nil {
			return OpenTimes{}, err
		}
		out.Slots = append(out.Slots, domain.OpenSlots(domain.SlotQuery{Zone: zone, Availability: av, Busy: busy, Duration: length,
			From: from, To: to, LocationID: q.LocationID})...)
	}
	slices.SortStableFunc(out.Slots, func(x, y domain.Slot) int {
		return cmp.Or(x.Start.Compare(y.Start), cmp.Compare(x.PractitionerID, y.PractitionerID))
	})
	return out, nil
}
