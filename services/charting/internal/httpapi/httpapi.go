// Package httpapi is charting's HTTP layer: decode, validate, call the app,
// map errors to problem+json in one place.
package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/httpjson"
	"github.com/havenhealth/haven/libs/httpserver"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/services/charting/internal/app"
	"github.com/havenhealth/haven/services/charting/internal/domain"
)

// API holds the handlers' dependencies.
type API struct {
	App *app.App
	// Authenticated wraps every route: router signature, bearer token and
	// live session (service.Deps.Authenticated).
	Authenticated func(http.Handler) http.Handler
	Logger        *slog.Logger
	// Names, when set, names the exporter in exported documents.
	Names Names
	// EdgeSecret and Region check the router's signature on the public
	// form-link endpoints, which take no sign-in.
	EdgeSecret []byte
	Region     string
}

// Register adds charting's routes to mux.
func (a *API) Register(mux httpserver.Routes) {
	authed := func(h http.HandlerFunc) http.Handler { return a.Authenticated(h) }

	mux.Handle("POST /v1/patients", authed(a.createPatient))
	mux.Handle("GET /v1/patients", authed(a.searchPatients))
	mux.Handle("GET /v1/patients/{id}", authed(a.getPatient))
	mux.Handle("PATCH /v1/patients/{id}", authed(a.patchPatient))
	mux.Handle("PUT /v1/patients/{id}/practitioners/{user_id}", authed(a.assignPractitioner))
	mux.Handle("DELETE /v1/patients/{id}/practitioners/{user_id}", authed(a.unassignPractitioner))
	mux.Handle("POST /v1/patients/{id}/entries", authed(a.createEntry))
	mux.Handle("GET /v1/patients/{id}/entries", authed(a.listEntries))
	mux.Handle("POST /v1/patients/{id}/merge", authed(a.mergePatient))
	mux.Handle("GET /v1/patients/{id}/chart.pdf", authed(a.exportChart))

	mux.Handle("POST /v1/form-templates", authed(a.createTemplate))
	mux.Handle("GET /v1/form-templates", authed(a.listTemplates))
	mux.Handle("GET /v1/form-templates/{id}", authed(a.getTemplate))
	mux.Handle("PUT /v1/form-templates/{id}", authed(a.updateTemplate))
	mux.Handle("POST /v1/patients/{id}/forms", authed(a.sendForm))
	mux.Handle("GET /v1/patients/{id}/forms", authed(a.patientForms))
	mux.Handle("GET /v1/forms/{id}", authed(a.getForm))
	// The patient's side of a form link: the router's signature only.
	public := func(h http.HandlerFunc) http.Handler { return edgeauth.Require(a.EdgeSecret, a.Region, h) }
	mux.Handle("POST /v1/public/forms/open", public(a.openForm))
	mux.Handle("POST /v1/public/forms/submit", public(a.submitForm))

	mux.Handle("GET /v1/entries/{id}", authed(a.getEntry))
	mux.Handle("PATCH /v1/entries/{id}", authed(a.patchEntry))
	mux.Handle("POST /v1/entries/{id}/sign", authed(a.signEntry))
	mux.Handle("POST /v1/entries/{id}/amendments", authed(a.amendEntry))
	a.registerInternal(mux)
	mux.Handle("POST /internal/v1/patients", edgeauth.RequireInternal(a.EdgeSecret, a.Region, http.HandlerFunc(a.createSignUpPatient)))
}

func meta(r *http.Request) app.RequestMeta {
	return app.RequestMeta{IP: r.Header.Get(edgeauth.HeaderClientIP)}
}

// writeError maps domain and app errors to problems; the one place it happens.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		verr   *app.ValidationError
		merged *domain.MergedError
	)
	switch {
	case errors.As(err, &merged) && r.Method == http.MethodGet:
		redirectToKept(w, r, merged.Into)
	case errors.As(err, &merged):
		problem.Write(w, r, problem.Conflict("this patient's profile was merged into "+merged.Into+"; use that profile"))
	case errors.As(err, &verr):
		problem.Write(w, r, problem.Validation(verr.Fields...))
	case errors.Is(err, domain.ErrForbidden):
		problem.Write(w, r, problem.Forbidden("your permissions do not allow this"))
	case errors.Is(err, domain.ErrNotFound):
		problem.Write(w, r, problem.NotFound("no such resource in this clinic"))
	case errors.Is(err, domain.ErrLinkInvalid):
		problem.Write(w, r, problem.New(problem.TypeGone, http.StatusGone, "Link no longer valid").
			WithDetail("this form link is unknown, already used or expired; ask the clinic for a new one"))
	case errors.Is(err, domain.ErrLocked):
		problem.Write(w, r, problem.Conflict("the chart entry is signed and locked; add an amendment instead"))
	case errors.Is(err, domain.ErrConflict):
		problem.Write(w, r, problem.Conflict("this conflicts with the record's current state"))
	case errors.Is(err, fieldcrypt.ErrKeyDestroyed):
		problem.Write(w, r, problem.New(problem.TypeGone, http.StatusGone, "Clinic closed").
			WithDetail("this clinic's key has been destroyed; its data can no longer be read"))
	case errors.Is(err, app.ErrAuditUnavailable), errors.Is(err, fieldcrypt.ErrUnavailable):
		w.Header().Set("Retry-After", "5")
		problem.Write(w, r, problem.Unavailable("the request could not be recorded or protected right now; nothing was returned, retry shortly"))
	default:
		a.Logger.ErrorContext(r.Context(), "charting request failed", slog.String("error", err.Error()))
		problem.Write(w, r, problem.Internal())
	}
}

// redirectToKept answers a read of a merged-away profile with 308 to the
// same resource under the kept profile. Location is relative, so it resolves
// both here and through the router's /c/{slug}/charting prefix.
func redirectToKept(w http.ResponseWriter, r *http.Request, kept string) {
	segs := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	at := slices.Index(segs, r.PathValue("id"))
	if at < 0 {
		problem.Write(w, r, problem.Conflict("this patient's profile was merged into "+kept))
		return
	}
	rest := segs[at+1:]
	loc := strings.Repeat("../", len(rest)) + kept
	if len(rest) == 0 {
		loc = "./" + kept
	}
	if len(rest) > 0 {
		loc += "/" + strings.Join(rest, "/")
	}
	if r.URL.RawQuery != "" {
		loc += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", loc)
	httpjson.Write(w, http.StatusPermanentRedirect, map[string]string{"merged_into": kept})
}
