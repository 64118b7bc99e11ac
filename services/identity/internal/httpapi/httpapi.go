// Package httpapi is identity's HTTP layer: decode, validate, call the app,
// map errors to problem+json in one place.
package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/havenhealth/haven/libs/authn"
	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/fieldcrypt"
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
	// Auth verifies bearer tokens and sessions; nil only in route listings.
	Auth *authn.Authenticator
	// RefreshAuth is Auth with a token lifetime leeway as long as a session
	// may live: an expired access token still refreshes while its session
	// is alive (Redis enforces the idle and absolute limits).
	RefreshAuth *authn.Authenticator
	Logger      *slog.Logger
	// Limiter, when set, bounds sign-in attempts per client IP, and
	// patients' own sign-ups per client IP (a separate budget of the same
	// size).
	Limiter     *redis_rate.Limiter
	SignInLimit redis_rate.Limit
	LimitPrefix string
}

// Register adds identity's routes to mux.
func (a *API) Register(mux httpserver.Routes) {
	router := func(h http.HandlerFunc) http.Handler { return edgeauth.RequireRouter(a.Secret, a.Region, h) }
	clinic := func(h http.HandlerFunc) http.Handler { return edgeauth.Require(a.Secret, a.Region, h) }
	authed := func(h http.HandlerFunc) http.Handler {
		if a.Auth == nil { // no Redis: nothing can be authenticated
			return clinic(authn.NotConfigured.ServeHTTP)
		}
		return clinic(a.Auth.Require(h).ServeHTTP)
	}

	mux.Handle("POST "+provisioning.Path, router(a.provision))
	mux.Handle("DELETE "+provisioning.Path+"/{id}", router(a.undoProvision))
	mux.HandleFunc("GET /.well-known/openid-configuration", a.discovery)
	mux.HandleFunc("GET /.well-known/jwks.json", a.jwks)

	mux.Handle("GET /v1/clinic", clinic(a.getClinic))
	// The same view for the region's services (messaging builds public
	// links with the clinic's slug).
	mux.Handle("GET /internal/v1/clinic", edgeauth.RequireInternal(a.Secret, a.Region, http.HandlerFunc(a.getClinic)))
	mux.Handle("GET "+provisioning.ClosedPath, router(a.closedClinics))
	mux.Handle("POST /v1/clinic/closure/challenge", authed(a.closureChallenge))
	mux.Handle("POST /v1/clinic/closure", authed(a.requestClosure))
	mux.Handle("DELETE /v1/clinic/closure", authed(a.cancelClosure))
	mux.Handle("POST /v1/clinic/key-rotation", authed(a.rotateKey))
	mux.Handle("POST /v1/sessions", clinic(a.signIn))
	mux.Handle("POST /v1/sessions/verify", clinic(a.verify))
	mux.Handle("POST /v1/password-resets", clinic(a.requestReset))
	mux.Handle("POST /v1/password-resets/{token}", clinic(a.completeReset))
	mux.Handle("POST /v1/invitations/{token}", clinic(a.acceptInvitation))
	mux.Handle("POST /v1/patient-accounts", clinic(a.signUpPatient))

	mux.Handle("GET /v1/me", authed(a.me))
	mux.Handle("POST /v1/me/password", authed(a.changePassword))
	mux.Handle("POST /v1/me/two-step/sms", authed(a.enrollSMS))
	mux.Handle("POST /v1/me/two-step/totp", authed(a.beginTOTP))
	mux.Handle("POST /v1/me/two-step/totp/confirm", authed(a.confirmTOTP))
	mux.Handle("POST /v1/me/two-step/recovery-codes", authed(a.recoveryCodes))
	mux.Handle("POST /v1/me/two-step/passkeys", authed(a.beginPasskey))
	mux.Handle("POST /v1/me/two-step/passkeys/{challenge_id}", authed(a.finishPasskey))
	mux.Handle("DELETE /v1/sessions/current", authed(a.signOut))
	mux.Handle("POST /v1/sessions/current/refresh", a.refreshable(a.refresh))
	mux.Handle("DELETE /v1/sessions", authed(a.signOutEverywhere))

	mux.Handle("POST /v1/users", authed(a.createUser))
	mux.Handle("GET /v1/users", authed(a.listUsers))
	mux.Handle("GET /v1/users/{id}", authed(a.getUser))
	mux.Handle("PATCH /v1/users/{id}", authed(a.patchUser))
	mux.Handle("POST /v1/users/{id}/deactivate", authed(a.deactivate))
	mux.Handle("POST /v1/users/{id}/reactivate", authed(a.reactivate))
	mux.Handle("GET /v1/settings", authed(a.getSettings))
	mux.Handle("PATCH /v1/settings", authed(a.patchSettings))
	mux.Handle("GET /v1/login-history", authed(a.loginHistory))
}

// refreshable authenticates like authed, but accepts an expired token whose
// session is still alive.
func (a *API) refreshable(h http.HandlerFunc) http.Handler {
	auth := a.RefreshAuth
	if auth == nil {
		auth = a.Auth
	}
	if auth == nil {
		return edgeauth.Require(a.Secret, a.Region, authn.NotConfigured)
	}
	return edgeauth.Require(a.Secret, a.Region, auth.Require(h))
}

func meta(r *http.Request) app.RequestMeta {
	return app.RequestMeta{IP: r.Header.Get(edgeauth.HeaderClientIP), UserAgent: r.UserAgent()}
}

// allowSignIn applies the per-client-IP sign-in budget.
func (a *API) allowSignIn(w http.ResponseWriter, r *http.Request) bool {
	return a.allow(w, r, "signin-ip:", "too many sign-in attempts from this address")
}

// allowSignUp applies the per-client-IP budget of patients' own sign-ups.
func (a *API) allowSignUp(w http.ResponseWriter, r *http.Request) bool {
	return a.allow(w, r, "patient-signup-ip:", "too many sign-ups from this address")
}

// allow spends one request of the client address's budget of kind in the
// clinic; past it, it answers 429 and reports false.
func (a *API) allow(w http.ResponseWriter, r *http.Request, kind, detail string) bool {
	if a.Limiter == nil {
		return true
	}
	ip := r.Header.Get(edgeauth.HeaderClientIP)
	res, err := a.Limiter.Allow(r.Context(), a.LimitPrefix+kind+edgeauth.ClinicID(r.Context())+":"+ip, a.SignInLimit)
	if err != nil {
		a.Logger.WarnContext(r.Context(), "rate limiter unavailable", slog.String("budget", kind), slog.String("error", err.Error()))
		return true
	}
	if res.Allowed > 0 {
		return true
	}
	writeTooMany(w, r, res.RetryAfter, detail)
	return false
}

func writeTooMany(w http.ResponseWriter, r *http.Request, after time.Duration, detail string) {
	w.Header().Set("Retry-After", strconv.Itoa(int(after.Seconds())+1))
	problem.Write(w, r, problem.New(problem.TypeRateLimited, http.StatusTooManyRequests, "Too many requests").WithDetail(detail))
}

// writeError maps domain and app errors to problems; the one place it happens.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		verr   *app.ValidationError
		locked *domain.LockedError
		ended  *authn.SessionEndedError
	)
	switch {
	case errors.As(err, &verr):
		problem.Write(w, r, problem.Validation(verr.Fields...))
	case errors.As(err, &locked):
		writeTooMany(w, r, locked.RetryAfter, "too many failed sign-ins for this account; try again later")
	case errors.Is(err, domain.ErrInvalidCredentials):
		problem.Write(w, r, problem.Unauthorized("the e-mail or password is not correct"))
	case errors.Is(err, domain.ErrInvalidCode):
		problem.Write(w, r, problem.Unauthorized("the code is not valid"))
	case errors.Is(err, domain.ErrWrongPassword):
		problem.Write(w, r, problem.Forbidden("the password is not correct"))
	case errors.Is(err, domain.ErrInvalidLink):
		problem.Write(w, r, problem.New(problem.TypeGone, http.StatusGone, "Link no longer valid").
			WithDetail("this link is unknown, already used or expired; ask for a new one"))
	case errors.Is(err, domain.ErrChallengeEnded):
		problem.Write(w, r, problem.Unauthorized("this sign-in has expired; start again"))
	case errors.As(err, &ended), errors.Is(err, authn.ErrSessionEnded):
		problem.Write(w, r, problem.Unauthorized("the session has ended; sign in again"))
	case errors.Is(err, domain.ErrForbidden):
		problem.Write(w, r, problem.Forbidden("your permissions do not allow this"))
	case errors.Is(err, domain.ErrNotFound):
		problem.Write(w, r, problem.NotFound("no such resource in this clinic"))
	case errors.Is(err, domain.ErrLastOwner):
		problem.Write(w, r, problem.Conflict("the clinic's last owner cannot be removed or demoted"))
	case errors.Is(err, domain.ErrConflict):
		problem.Write(w, r, problem.Conflict("this conflicts with an existing record"))
	case errors.Is(err, domain.ErrTooLate):
		problem.Write(w, r, problem.Conflict("the clinic is no longer new; provisioning can no longer be undone"))
	case errors.Is(err, fieldcrypt.ErrKeyDestroyed):
		problem.Write(w, r, problem.New(problem.TypeGone, http.StatusGone, "Clinic closed").
			WithDetail("this clinic's key has been destroyed; its data can no longer be read"))
	case errors.Is(err, fieldcrypt.ErrUnavailable):
		w.Header().Set("Retry-After", "5")
		problem.Write(w, r, problem.Unavailable("the region's key service is unavailable; nothing was changed, retry shortly"))
	case errors.Is(err, domain.ErrSelfSignupOff):
		problem.Write(w, r, problem.Forbidden("this clinic does not take patient sign-ups online; contact the clinic"))
	case errors.Is(err, domain.ErrDependency):
		a.Logger.WarnContext(r.Context(), "identity dependency failed", slog.String("error", err.Error()))
		w.Header().Set("Retry-After", "5")
		problem.Write(w, r, problem.Unavailable("a service this request needs is unavailable; retry shortly"))
	case errors.Is(err, domain.ErrUnavailable):
		problem.Write(w, r, problem.Unavailable("this feature is not available in this deployment"))
	default:
		a.Logger.ErrorContext(r.Context(), "identity request failed", slog.String("error", err.Error()))
		problem.Write(w, r, problem.Internal())
	}
}
