// Package httpapi is scheduling's HTTP layer: decode, call the app, map
// errors to problem+json in one place.
package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/havenhealth/haven/libs/authn"
	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/httpjson"
	"github.com/havenhealth/haven/libs/httpserver"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/services/scheduling/internal/app"
	"github.com/havenhealth/haven/services/scheduling/internal/domain"
)

// API holds the handlers' dependencies.
type API struct {
	App           *app.App
	Authenticated func(http.Handler) http.Handler
	Logger        *slog.Logger
}

// Register adds scheduling's routes to mux.
func (a *API) Register(mux httpserver.Routes) {
	authed := func(h http.HandlerFunc) http.Handler { return a.Authenticated(h) }
	mux.Handle("GET /v1/settings", authed(a.getSettings))
	mux.Handle("PUT /v1/settings", authed(a.putSettings))
	mux.Handle("POST /v1/locations", authed(a.addLocation))
	mux.Handle("GET /v1/locations", authed(a.listLocations))
	mux.Handle("POST /v1/practitioners", authed(a.addPractitioner))
	mux.Handle("GET /v1/practitioners", authed(a.listPractitioners))
	mux.Handle("PUT /v1/practitioners/{id}/availability", authed(a.putAvailability))
	mux.Handle("GET /v1/practitioners/{id}/availability", authed(a.getAvailability))
	mux.Handle("POST /v1/treatments", authed(a.addTreatment))
	mux.Handle("GET /v1/treatments", authed(a.listTreatments))
	mux.Handle("GET /v1/availability", authed(a.openTimes))
	mux.Handle("POST /v1/appointments", authed(a.book))
	mux.Handle("GET /v1/appointments", authed(a.listAppointments))
	mux.Handle("GET /v1/appointments/{id}", authed(a.getAppointment))
	mux.Handle("POST /v1/appointments/{id}/reschedule", authed(a.reschedule))
	mux.Handle("POST /v1/appointments/{id}/cancel", authed(a.cancel))
	mux.Handle("POST /v1/appointments/{id}/status", authed(a.setStatus))
	mux.Handle("GET /v1/charts-outstanding", authed(a.chartsOutstanding))
}

func meta(r *http.Request) app.RequestMeta {
	return app.RequestMeta{IP: r.Header.Get(edgeauth.HeaderClientIP)}
}

func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var verr *app.ValidationError
	switch {
	case errors.As(err, &verr):
		problem.Write(w, r, problem.Validation(verr.Fields...))
	case errors.Is(err, app.ErrPatientUnlinked):
		problem.Write(w, r, problem.Forbidden("this patient account is not linked to a patient profile yet, so it cannot see or book "+
			"appointments; ask the clinic to link it"))
	case errors.Is(err, app.ErrNotOnlineBookable):
		problem.Write(w, r, problem.Forbidden("this treatment cannot be booked online; contact the clinic to book it"))
	case errors.Is(err, domain.ErrNotOffered):
		problem.Write(w, r, problem.Conflict("that time is not open for online booking; pick a time from GET /v1/availability"))
	case errors.Is(err, app.ErrForbidden):
		problem.Write(w, r, problem.Forbidden("your permissions do not allow this"))
	case errors.Is(err, domain.ErrSlotTaken):
		problem.Write(w, r, problem.Conflict("the practitioner is already booked at that time; pick another time"))
	case errors.Is(err, domain.ErrConflict):
		problem.Write(w, r, problem.Conflict("this conflicts with an existing record"))
	case errors.Is(err, domain.ErrNotFound):
		problem.Write(w, r, problem.NotFound("no such resource in this clinic"))
	case errors.Is(err, app.ErrAuditUnavailable):
		w.Header().Set("Retry-After", "5")
		problem.Write(w, r, problem.Unavailable("the read could not be recorded, so nothing is shown; retry shortly"))
	default:
		a.Logger.ErrorContext(r.Context(), "scheduling request failed", slog.String("error", err.Error()))
		problem.Write(w, r, problem.Internal())
	}
}

func (a *API) addPractitioner(w http.ResponseWriter, r *http.Request) {
	var req struct {
		UserID string `json:"user_id"`
	}
	if !httpjson.Read(w, r, &req) {
		return
	}
	p, err := a.App.AddPractitioner(r.Context(), authn.Caller(r), req.UserID, meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusCreated, map[string]any{"id": p.ID, "user_id": p.UserID, "created_at": p.CreatedAt})
}

func (a *API) addTreatment(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name            string `json:"name"`
		DurationMinutes int    `json:"duration_minutes"`
		PriceCents      int64  `json:"price_cents"`
		OnlineBookable  bool   `json:"online_bookable"`
	}
	if !httpjson.Read(w, r, &req) {
		return
	}
	t, err := a.App.AddTreatment(r.Context(), authn.Caller(r), app.TreatmentInput{Name: req.Name, DurationMinutes: req.DurationMinutes,
		PriceCents: req.PriceCents, OnlineBookable: req.OnlineBookable}, meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusCreated, map[string]any{"id": t.ID, "name": t.Name, "duration_minutes": t.DurationMinutes,
		"price_cents": t.PriceCents, "online_bookable": t.OnlineBookable})
}

func (a *API) book(w http.ResponseWriter, r *http.Request) {
	var req struct {
		PatientID      string    `json:"patient_id"`
		PractitionerID string    `json:"practitioner_id"`
		TreatmentID    string    `json:"treatment_id"`
		LocationID     string    `json:"location_id"`
		Start          time.Time `json:"start"`
	}
	if !httpjson.Read(w, r, &req) {
		return
	}
	ap, err := a.App.Book(r.Context(), authn.Caller(r), app.BookInput{PatientID: req.PatientID, PractitionerID: req.PractitionerID,
		TreatmentID: req.TreatmentID, LocationID: req.LocationID, Start: req.Start}, meta(r))
	a.answer(w, r, http.StatusCreated, ap, err)
}

// answer writes the appointment, or the error as a problem.
func (a *API) answer(w http.ResponseWriter, r *http.Request, status int, ap domain.Appointment, err error) {
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, status, toAPI(ap))
}

// appointmentJSON is an appointment as the API shows it.
type appointmentJSON struct {
	ID             string        `json:"id"`
	PatientID      string        `json:"patient_id"`
	PractitionerID string        `json:"practitioner_id"`
	TreatmentID    string        `json:"treatment_id"`
	LocationID     string        `json:"location_id"`
	Start          time.Time     `json:"start"`
	End            time.Time     `json:"end"`
	Status         domain.Status `json:"status"`
}

func toAPI(ap domain.Appointment) appointmentJSON {
	return appointmentJSON{ID: ap.ID, PatientID: ap.PatientID, PractitionerID: ap.PractitionerID, TreatmentID: ap.TreatmentID,
		LocationID: ap.LocationID, Start: ap.Start, End: ap.End, Status: ap.Status}
}

func (a *API) getAppointment(w http.ResponseWriter, r *http.Request) {
	ap, err := a.App.Appointment(r.Context(), authn.Caller(r), r.PathValue("id"), meta(r))
	a.answer(w, r, http.StatusOK, ap, err)
}

func (a *API) reschedule(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Start time.Time `json:"start"`
	}
	if !httpjson.Read(w, r, &req) {
		return
	}
	ap, err := a.App.Reschedule(r.Context(), authn.Caller(r), r.PathValue("id"), req.Start, meta(r))
	a.answer(w, r, http.StatusOK, ap, err)
}

func (a *API) cancel(w http.ResponseWriter, r *http.Request) {
	ap, err := a.App.Cancel(r.Context(), authn.Caller(r), r.PathValue("id"), meta(r))
	a.answer(w, r, http.StatusOK, ap, err)
}
