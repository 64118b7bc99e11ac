// Package httpapi is messaging's HTTP layer: decode, validate, call the
// app, map errors to problem+json in one place.
package httpapi

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/httpserver"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/services/messaging/internal/app"
	"github.com/havenhealth/haven/services/messaging/internal/domain"
)

// API holds the handlers' dependencies.
type API struct {
	App *app.App
	// Authenticated wraps staff routes: router signature, bearer token and
	// live session (service.Deps.Authenticated).
	Authenticated func(http.Handler) http.Handler
	Logger        *slog.Logger
	// EdgeSecret and Region check the router's signature on the public
	// endpoints (no sign-in) and the services' on the internal ones.
	EdgeSecret []byte
	Region     string
}

// Register adds messaging's routes to mux.
func (a *API) Register(mux httpserver.Routes) {
	authed := func(h http.HandlerFunc) http.Handler { return a.Authenticated(h) }
	// The region's services: send a message.
	mux.Handle("POST /internal/v1/messages", edgeauth.RequireInternal(a.EdgeSecret, a.Region, http.HandlerFunc(a.send)))
	// The public side: the router's signature only, no sign-in.
	public := func(h http.HandlerFunc) http.Handler { return edgeauth.Require(a.EdgeSecret, a.Region, h) }
	mux.Handle("GET /v1/public/unsubscribe", public(a.unsubscribePage))
	mux.Handle("POST /v1/public/unsubscribe", public(a.unsubscribe))
	mux.Handle("POST /v1/public/sms/status", public(a.smsStatus))
	// Staff.
	mux.Handle("GET /v1/messages", authed(a.listMessages))
	mux.Handle("GET /v1/messages/{id}", authed(a.getMessage))
	mux.Handle("GET /v1/patients/{id}/opt-outs", authed(a.listOptOuts))
	mux.Handle("PUT /v1/patients/{id}/opt-outs/{channel}", authed(a.setOptOut))
	mux.Handle("DELETE /v1/patients/{id}/opt-outs/{channel}", authed(a.clearOptOut))
	mux.Handle("GET /v1/templates", authed(a.listTemplates))
	mux.Handle("PUT /v1/templates/{channel}/{name}", authed(a.saveTemplate))
}

func meta(r *http.Request) app.RequestMeta {
	return app.RequestMeta{IP: r.Header.Get(edgeauth.HeaderClientIP)}
}

// writeError maps domain and app errors to problems; the one place it happens.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var verr *app.ValidationError
	switch {
	case errors.As(err, &verr):
		problem.Write(w, r, problem.Validation(verr.Fields...))
	case errors.Is(err, domain.ErrForbidden):
		problem.Write(w, r, problem.Forbidden("your permissions do not allow this"))
	case errors.Is(err, domain.ErrNotFound):
		problem.Write(w, r, problem.NotFound("no such resource in this clinic"))
	case errors.Is(err, domain.ErrBadToken):
		problem.Write(w, r, problem.New(problem.TypeValidation, http.StatusBadRequest, "Invalid link").
			WithDetail("this unsubscribe link is not valid for this clinic; use the link from the message as it is"))
	case errors.Is(err, domain.ErrBadSignature):
		problem.Write(w, r, problem.Forbidden("the provider's signature does not verify"))
	case errors.Is(err, domain.ErrChannelNotConfigured):
		problem.Write(w, r, problem.Unavailable("channel not configured: this region has no provider settings for the channel"))
	case errors.Is(err, app.ErrUpstream):
		w.Header().Set("Retry-After", "5")
		problem.Write(w, r, problem.New(problem.TypeUpstream, http.StatusServiceUnavailable, "Recipient lookup unavailable").
			WithDetail("charting did not give the recipient; nothing was sent, retry with the same idempotency key"))
	case errors.Is(err, fieldcrypt.ErrKeyDestroyed):
		problem.Write(w, r, problem.New(problem.TypeGone, http.StatusGone, "Clinic closed").
			WithDetail("this clinic's key has been destroyed; its data can no longer be read"))
	case errors.Is(err, app.ErrAuditUnavailable), errors.Is(err, fieldcrypt.ErrUnavailable):
		w.Header().Set("Retry-After", "5")
		problem.Write(w, r, problem.Unavailable("the request could not be recorded or protected right now; retry shortly"))
	default:
		a.Logger.ErrorContext(r.Context(), "messaging request failed", slog.String("error", err.Error()))
		problem.Write(w, r, problem.Internal())
	}
}
