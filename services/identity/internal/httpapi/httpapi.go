// Package httpapi is identity's HTTP layer: decode, validate, call the app,
// map errors to problem+json in one place.
package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/httpjson"
	"github.com/havenhealth/haven/libs/httpserver"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/libs/provisioning"
	"github.com/havenhealth/haven/services/identity/internal/app"
	"github.com/havenhealth/haven/services/identity/internal/domain"
)

// API holds the handlers' dependencies.
type API struct {
	App    *app.App
	Region string
	Secret []byte
	Logger *slog.Logger
}

// Register adds identity's routes to mux.
func (a *API) Register(mux httpserver.Routes) {
	router := func(h http.HandlerFunc) http.Handler { return edgeauth.RequireRouter(a.Secret, a.Region, h) }
	clinic := func(h http.HandlerFunc) http.Handler { return edgeauth.Require(a.Secret, a.Region, h) }
	mux.Handle("POST "+provisioning.Path, router(a.provision))
	mux.Handle("DELETE "+provisioning.Path+"/{id}", router(a.undoProvision))
	mux.Handle("GET /v1/clinic", clinic(a.getClinic))
}

type clinicResponse struct {
	ID        string    `json:"id"`
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	Country   string    `json:"country"`
	TimeZone  string    `json:"time_zone"`
	Region    string    `json:"region"`
	CreatedAt time.Time `json:"created_at"`
}

func (a *API) toAPI(c domain.Clinic) clinicResponse {
	return clinicResponse{ID: c.ID, Slug: c.Slug, Name: c.Name, Country: c.Country, TimeZone: c.TimeZone,
		Region: a.Region, CreatedAt: c.CreatedAt.UTC()}
}

func (a *API) provision(w http.ResponseWriter, r *http.Request) {
	var req provisioning.Clinic
	if p := httpjson.Decode(w, r, &req); p != nil {
		problem.Write(w, r, p)
		return
	}
	res, err := a.App.Provision(r.Context(), req)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	status := http.StatusCreated
	if !res.Created {
		status = http.StatusOK
	} else {
		a.Logger.InfoContext(r.Context(), "clinic provisioned", slog.String("clinic_id", res.Clinic.ID), slog.String("owner_id", res.OwnerID))
	}
	httpjson.Write(w, status, provisioning.Result{
		ClinicID: res.Clinic.ID, Slug: res.Clinic.Slug, Region: a.Region, OwnerID: res.OwnerID, Created: res.Clinic.CreatedAt,
	})
}

func (a *API) undoProvision(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := a.App.UndoProvision(r.Context(), id); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.Logger.InfoContext(r.Context(), "clinic provisioning undone", slog.String("clinic_id", id))
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) getClinic(w http.ResponseWriter, r *http.Request) {
	c, err := a.App.Clinic(r.Context(), edgeauth.ClinicID(r.Context()))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, a.toAPI(c))
}

// writeError maps domain and app errors to problems; the one place it happens.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var verr *app.ValidationError
	switch {
	case errors.As(err, &verr):
		problem.Write(w, r, problem.Validation(verr.Fields...))
	case errors.Is(err, domain.ErrNotFound):
		problem.Write(w, r, problem.NotFound("no such clinic in this region"))
	case errors.Is(err, domain.ErrConflict):
		problem.Write(w, r, problem.Conflict("a different clinic with this id or slug exists"))
	case errors.Is(err, domain.ErrTooLate):
		problem.Write(w, r, problem.Conflict("the clinic is no longer new; provisioning can no longer be undone"))
	default:
		a.Logger.ErrorContext(r.Context(), "identity request failed", slog.String("error", err.Error()))
		problem.Write(w, r, problem.Internal())
	}
}
