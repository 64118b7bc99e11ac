package httpapi

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/havenhealth/haven/libs/authn"
	"github.com/havenhealth/haven/libs/httpjson"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/services/scheduling/internal/app"
	"github.com/havenhealth/haven/services/scheduling/internal/domain"
)

// settingsRequest is the body of PUT /v1/settings; an omitted field keeps
// its value.
type settingsRequest struct {
	TimeZone               *string   `json:"time_zone"`
	ReminderOffsetsMinutes *[]int    `json:"reminder_offsets_minutes"`
	ReminderChannels       *[]string `json:"reminder_channels"`
}

// decodeSettings reads a PUT /v1/settings body (the fuzz test's entry).
func decodeSettings(body io.Reader) (app.SettingsInput, *problem.Problem) {
	var req settingsRequest
	if p := httpjson.DecodeReader(body, &req); p != nil {
		return app.SettingsInput{}, p
	}
	return req.toApp(), nil
}

func (req settingsRequest) toApp() app.SettingsInput {
	return app.SettingsInput{TimeZone: req.TimeZone, ReminderOffsetsMinutes: req.ReminderOffsetsMinutes,
		ReminderChannels: req.ReminderChannels}
}

func settingsJSON(s domain.Settings) map[string]any {
	minutes := make([]int, len(s.ReminderOffsets))
	for i, d := range s.ReminderOffsets {
		minutes[i] = int(d / time.Minute)
	}
	channels := s.ReminderChannels
	if channels == nil {
		channels = []string{}
	}
	return map[string]any{"time_zone": s.TimeZone, "reminder_offsets_minutes": minutes, "reminder_channels": channels}
}

func (a *API) getSettings(w http.ResponseWriter, r *http.Request) {
	s, err := a.App.Settings(r.Context(), authn.Caller(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, settingsJSON(s))
}

func (a *API) putSettings(w http.ResponseWriter, r *http.Request) {
	var req settingsRequest
	if !httpjson.Read(w, r, &req) {
		return
	}
	s, err := a.App.PutSettings(r.Context(), authn.Caller(r), req.toApp(), meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, settingsJSON(s))
}

func locationJSON(l domain.Location) map[string]any {
	return map[string]any{"id": l.ID, "name": l.Name, "created_at": l.CreatedAt}
}

func (a *API) addLocation(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
	}
	if !httpjson.Read(w, r, &req) {
		return
	}
	l, err := a.App.AddLocation(r.Context(), authn.Caller(r), req.Name, meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusCreated, locationJSON(l))
}

func (a *API) listLocations(w http.ResponseWriter, r *http.Request) {
	ls, err := a.App.Locations(r.Context(), authn.Caller(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]map[string]any, len(ls))
	for i, l := range ls {
		out[i] = locationJSON(l)
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"locations": out})
}

func (a *API) listPractitioners(w http.ResponseWriter, r *http.Request) {
	ps, err := a.App.Practitioners(r.Context(), authn.Caller(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]map[string]any, len(ps))
	for i, p := range ps {
		out[i] = map[string]any{"id": p.ID, "user_id": p.UserID, "created_at": p.CreatedAt}
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"practitioners": out})
}

func (a *API) listTreatments(w http.ResponseWriter, r *http.Request) {
	ts, err := a.App.Treatments(r.Context(), authn.Caller(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]map[string]any, len(ts))
	for i, t := range ts {
		out[i] = map[string]any{"id": t.ID, "name": t.Name, "duration_minutes": t.DurationMinutes, "price_cents": t.PriceCents,
			"online_bookable": t.OnlineBookable}
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"treatments": out})
}

// spanJSON is a weekly span or an exception as the API writes and reads it.
type spanJSON struct {
	Weekday    string `json:"weekday,omitempty"`
	Date       string `json:"date,omitempty"`
	Closed     bool   `json:"closed,omitempty"`
	Start      string `json:"start,omitempty"`
	End        string `json:"end,omitempty"`
	LocationID string `json:"location_id,omitempty"`
}

// availabilityRequest is the body of PUT .../availability.
type availabilityRequest struct {
	Weekly []struct {
		Weekday    string `json:"weekday"`
		Start      string `json:"start"`
		End        string `json:"end"`
		LocationID string `json:"location_id"`
	} `json:"weekly"`
	Exceptions []struct {
		Date       string `json:"date"`
		Closed     bool   `json:"closed"`
		Start      string `json:"start"`
		End        string `json:"end"`
		LocationID string `json:"location_id"`
	} `json:"exceptions"`
}

// decodeAvailability reads a PUT .../availability body (the fuzz test's
// entry).
func decodeAvailability(body io.Reader) (domain.Availability, *problem.Problem) {
	var req availabilityRequest
	if p := httpjson.DecodeReader(body, &req); p != nil {
		return domain.Availability{}, p
	}
	return req.toDomain()
}

// toDomain reads the request in the domain's terms: weekday names, HH:MM
// times, YYYY-MM-DD dates. The domain's rules (start before end, no
// overlap) are the app's to check.
func (req availabilityRequest) toDomain() (domain.Availability, *problem.Problem) {
	if len(req.Weekly) > domain.MaxWeeklySpans {
		return domain.Availability{}, problem.Validation(problem.FieldError{Field: "weekly", Reason: fmt.Sprintf("must hold at most %d spans", domain.MaxWeeklySpans)})
	}
	if len(req.Exceptions) > domain.MaxExceptions {
		return domain.Availability{}, problem.Validation(problem.FieldError{Field: "exceptions", Reason: fmt.Sprintf("must hold at most %d entries", domain.MaxExceptions)})
	}
	var fields []problem.FieldError
	span := func(field, start, end, location string) domain.Span {
		s, okS := domain.ParseClock(start)
		e, okE := domain.ParseClock(end)
		if !okS || s == domain.EndOfDay {
			fields = append(fields, problem.FieldError{Field: field + ".start", Reason: "is required: a time HH:MM from 00:00 to 23:59"})
		}
		if !okE || e == 0 {
			fields = append(fields, problem.FieldError{Field: field + ".end", Reason: "is required: a time HH:MM from 00:01 to 24:00"})
		}
		return domain.Span{Start: s, End: e, LocationID: location}
	}
	out := domain.Availability{Weekly: make([]domain.WeeklySpan, 0, len(req.Weekly)), Exceptions: make([]domain.Exception, 0, len(req.Exceptions))}
	for i, w := range req.Weekly {
		field := fmt.Sprintf("weekly[%d]", i)
		day, ok := domain.ParseWeekday(w.Weekday)
		if !ok {
			fields = append(fields, problem.FieldError{Field: field + ".weekday", Reason: "is required: a weekday name such as monday"})
		}
		out.Weekly = append(out.Weekly, domain.WeeklySpan{Weekday: day, Span: span(field, w.Start, w.End, w.LocationID)})
	}
	for i, x := range req.Exceptions {
		field := fmt.Sprintf("exceptions[%d]", i)
		d, ok := domain.ParseDate(x.Date)
		if !ok {
			fields = append(fields, problem.FieldError{Field: field + ".date", Reason: "is required: a date YYYY-MM-DD"})
		}
		e := domain.Exception{Date: d, Closed: x.Closed}
		switch {
		case x.Closed && (x.Start != "" || x.End != "" || x.LocationID != ""):
			fields = append(fields, problem.FieldError{Field: field, Reason: "a closed date has no start, end or location"})
		case !x.Closed:
			e.Span = span(field, x.Start, x.End, x.LocationID)
		}
		out.Exceptions = append(out.Exceptions, e)
	}
	if len(fields) > 0 {
		return domain.Availability{}, problem.Validation(fields...)
	}
	return out, nil
}

func availabilityJSON(av domain.Availability) map[string]any {
	weekly := make([]spanJSON, len(av.Weekly))
	for i, w := range av.Weekly {
		weekly[i] = spanJSON{Weekday: domain.WeekdayName(w.Weekday), Start: w.Start.String(), End: w.End.String(), LocationID: w.LocationID}
	}
	exceptions := make([]spanJSON, len(av.Exceptions))
	for i, e := range av.Exceptions {
		exceptions[i] = spanJSON{Date: e.Date.String(), Closed: e.Closed}
		if !e.Closed {
			exceptions[i].Start, exceptions[i].End, exceptions[i].LocationID = e.Start.String(), e.End.String(), e.LocationID
		}
	}
	return map[string]any{"practitioner_id": av.PractitionerID, "weekly": weekly, "exceptions": exceptions}
}

func (a *API) putAvailability(w http.ResponseWriter, r *http.Request) {
	var req availabilityRequest
	if !httpjson.Read(w, r, &req) {
		return
	}
	av, p := req.toDomain()
	if p != nil {
		problem.Write(w, r, p)
		return
	}
	saved, err := a.App.PutAvailability(r.Context(), authn.Caller(r), r.PathValue("id"), av, meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, availabilityJSON(saved))
}

func (a *API) getAvailability(w http.ResponseWriter, r *http.Request) {
	av, err := a.App.Availability(r.Context(), authn.Caller(r), r.PathValue("id"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, availabilityJSON(av))
}

func (a *API) openTimes(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ot, err := a.App.OpenTimes(r.Context(), authn.Caller(r), app.OpenTimesQuery{TreatmentID: q.Get("treatment_id"),
		PractitionerID: q.Get("practitioner_id"), LocationID: q.Get("location_id"), From: q.Get("from"), To: q.Get("to")})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	type slotJSON struct {
		PractitionerID string    `json:"practitioner_id"`
		LocationID     string    `json:"location_id,omitempty"`
		Start          time.Time `json:"start"`
		End            time.Time `json:"end"`
		LocalStart     string    `json:"local_start"`
	}
	slots := make([]slotJSON, len(ot.Slots))
	for i, s := range ot.Slots {
		slots[i] = slotJSON{PractitionerID: s.PractitionerID, LocationID: s.LocationID, Start: s.Start, End: s.End,
			LocalStart: s.Start.In(ot.Zone).Format(time.RFC3339)}
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"time_zone": ot.Zone.String(), "step_minutes": int(domain.SlotStep / time.Minute),
		"slots": slots})
}

func (a *API) listAppointments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 0
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			problem.Write(w, r, problem.Validation(problem.FieldError{Field: "limit", Reason: "must be from 1 to 1000"}))
			return
		}
		limit = n
	}
	page, err := a.App.ListAppointments(r.Context(), authn.Caller(r), app.AppointmentQuery{From: q.Get("from"), To: q.Get("to"),
		PractitionerID: q.Get("practitioner_id"), PatientID: q.Get("patient_id"), Cursor: q.Get("cursor"), Limit: limit}, meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]appointmentJSON, len(page.Appointments))
	for i, ap := range page.Appointments {
		out[i] = toAPI(ap)
	}
	body := map[string]any{"appointments": out}
	if page.NextCursor != "" {
		body["next_cursor"] = page.NextCursor
	}
	httpjson.Write(w, http.StatusOK, body)
}

func (a *API) setStatus(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Status string `json:"status"`
	}
	if !httpjson.Read(w, r, &req) {
		return
	}
	ap, err := a.App.SetStatus(r.Context(), authn.Caller(r), r.PathValue("id"), req.Status, meta(r))
	a.answer(w, r, http.StatusOK, ap, err)
}

func (a *API) chartsOutstanding(w http.ResponseWriter, r *http.Request) {
	aps, truncated, err := a.App.ChartsOutstanding(r.Context(), authn.Caller(r), r.URL.Query().Get("practitioner_id"), meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	type group struct {
		PractitionerID string            `json:"practitioner_id"`
		Count          int               `json:"count"`
		Appointments   []appointmentJSON `json:"appointments"`
	}
	groups := []*group{}
	for _, ap := range aps { // ordered by practitioner
		if len(groups) == 0 || groups[len(groups)-1].PractitionerID != ap.PractitionerID {
			groups = append(groups, &group{PractitionerID: ap.PractitionerID})
		}
		g := groups[len(groups)-1]
		g.Appointments = append(g.Appointments, toAPI(ap))
		g.Count++
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"practitioners": groups, "total": len(aps), "truncated": truncated})
}
