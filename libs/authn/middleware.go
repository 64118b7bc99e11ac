package authn

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/problem"
)

// Fixed client-facing texts. The same 401 detail answers every failure, so
// a caller learns nothing about which check refused them.
const (
	unauthorizedDetail = "A valid access token for this clinic is required."
	unavailableDetail  = "Sign-in could not be checked right now. Retry shortly."
)

// Authenticator is the HTTP middleware that admits signed-in users. It is
// safe for concurrent use.
type Authenticator struct {
	// Verifier checks the access token.
	Verifier *Verifier
	// Sessions checks and refreshes the token's session.
	Sessions *Sessions
	// Logger receives refusals (ids and reasons only); nil discards them.
	Logger *slog.Logger
}

// Require admits a request only with a bearer access token that verifies,
// was issued for the clinic the router resolved (edgeauth.Require must run
// first), and names a live session of the token's user. The handler then
// finds the caller through PrincipalFrom, with the role and grants of the
// session as they are now. Otherwise the answer is a 401 problem, or a 503
// problem when Redis or the key set cannot be reached.
func (a *Authenticator) Require(next http.Handler) http.Handler {
	log := a.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		token, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			log.DebugContext(ctx, "authn: refused", "reason", "no bearer token")
			writeUnauthorized(w, r, false)
			return
		}
		clinicID := edgeauth.ClinicID(ctx)
		if clinicID == "" {
			log.WarnContext(ctx, "authn: refused", "reason", "no router-resolved clinic")
			writeUnauthorized(w, r, true)
			return
		}
		claims, err := a.Verifier.Verify(ctx, token)
		if err != nil {
			if errors.Is(err, ErrKeysUnavailable) {
				log.ErrorContext(ctx, "authn: signing keys unavailable", "clinic_id", clinicID, "error", err)
				writeUnavailable(w, r)
				return
			}
			log.InfoContext(ctx, "authn: refused", "reason", "token", "clinic_id", clinicID, "error", err)
			writeUnauthorized(w, r, true)
			return
		}
		if claims.ClinicID != clinicID {
			log.WarnContext(ctx, "authn: refused", "reason", "token for another clinic",
				"clinic_id", clinicID, "token_clinic_id", claims.ClinicID, "user_id", claims.Subject)
			writeUnauthorized(w, r, true)
			return
		}
		sess, err := a.Sessions.Touch(ctx, clinicID, claims.SessionID)
		if err != nil {
			var ended *SessionEndedError
			if errors.As(err, &ended) {
				log.InfoContext(ctx, "authn: refused", "reason", "session "+ended.Reason,
					"clinic_id", clinicID, "user_id", claims.Subject, "session_id", claims.SessionID)
				writeUnauthorized(w, r, true)
				return
			}
			if ctx.Err() != nil { // the client went away; nothing is wrong with Redis
				log.DebugContext(ctx, "authn: request cancelled during session check", "clinic_id", clinicID)
			} else {
				log.ErrorContext(ctx, "authn: session store unavailable", "clinic_id", clinicID, "error", err)
			}
			writeUnavailable(w, r)
			return
		}
		if sess.UserID != claims.Subject {
			log.WarnContext(ctx, "authn: refused", "reason", "session of another user",
				"clinic_id", clinicID, "user_id", claims.Subject, "session_id", claims.SessionID)
			writeUnauthorized(w, r, true)
			return
		}
		p := authz.Principal{
			ClinicID:  clinicID,
			UserID:    sess.UserID,
			SessionID: sess.ID,
			Role:      sess.Role,
			Grants:    sess.Grants,
			PatientID: sess.PatientID,
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(ctx, p)))
	})
}

// bearerToken extracts the token of an "Authorization: Bearer <token>"
// header; the scheme is case-insensitive (RFC 9110 §11.1).
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(token, " ")
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

// writeUnauthorized answers 401. Following RFC 6750 §3.1, a request that
// carried no token gets a bare challenge; one with a bad token gets
// error="invalid_token".
func writeUnauthorized(w http.ResponseWriter, r *http.Request, hadToken bool) {
	challenge := `Bearer`
	if hadToken {
		challenge = `Bearer error="invalid_token"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	problem.Write(w, r, problem.Unauthorized(unauthorizedDetail))
}

// writeUnavailable answers 503 with a short Retry-After.
func writeUnavailable(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "1")
	problem.Write(w, r, problem.Unavailable(unavailableDetail))
}

// principalKey is the context key of the authenticated caller.
type principalKey struct{}

// WithPrincipal returns ctx carrying p. Require calls it; tests and
// internal callers use it to act as a given user.
func WithPrincipal(ctx context.Context, p authz.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the authenticated caller Require put in ctx.
func PrincipalFrom(ctx context.Context) (authz.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(authz.Principal)
	return p, ok
}

// Caller is the authenticated caller of r, for handlers behind Require
// (the zero Principal elsewhere, which authz.Decide denies everything).
func Caller(r *http.Request) authz.Principal {
	p, _ := PrincipalFrom(r.Context())
	return p
}

// NotConfigured answers every request with 503: the service runs without
// the Redis its sessions need, so nothing can be authenticated.
var NotConfigured http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	problem.Write(w, r, problem.Unavailable("authentication is not configured (no Redis)"))
})
