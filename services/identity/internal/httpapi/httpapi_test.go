package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authn"
	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/fieldcrypt/fieldcrypttest"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/libs/provisioning"
	"github.com/havenhealth/haven/libs/redisclient/redistest"
	"github.com/havenhealth/haven/libs/residency"
	"github.com/havenhealth/haven/libs/store/storetest"
	"github.com/havenhealth/haven/services/identity/internal/app"
	"github.com/havenhealth/haven/services/identity/internal/httpapi"
	"github.com/havenhealth/haven/services/identity/internal/store"
	"github.com/havenhealth/haven/services/identity/migrations"
)

var secret = []byte("sydney-edge-secret-0123456789")

func newMux(t *testing.T) *http.ServeMux { return newMuxAt(t, nil) }

// newMuxAt builds identity's HTTP API on a fresh store and Redis, with the
// clock now (nil: the wall clock); refresh accepts expired tokens as in main.
func newMuxAt(t *testing.T, now func() time.Time) *http.ServeMux { return newMuxWith(t, now, nil) }

// newMuxWith is newMuxAt with the app's deps and the API adjusted by with
// (when not nil) before they are built; the Redis client is at hand for a
// rate limiter.
func newMuxWith(t testing.TB, now func() time.Time, with func(*app.Deps, *httpapi.API, *redis.Client)) *http.ServeMux {
	t.Helper()
	rdb, prefix := redistest.New(t)
	sessions := &authn.Sessions{Redis: rdb, Prefix: prefix, Now: now}
	db := storetest.Open(t, migrations.FS)
	require.NoError(t, fieldcrypt.Migrate(context.Background(), db))
	require.NoError(t, audit.Migrate(context.Background(), db))
	fieldcrypt.RegisterSerializer()
	keys := fieldcrypttest.NewMemoryKeys()
	crypter := fieldcrypt.New(keys, db, fieldcrypt.Options{})
	deps := app.Deps{Store: store.New(db, crypter), Sessions: sessions, Keys: keys, Crypter: crypter,
		Lockout: &store.Lockout{Redis: rdb, Prefix: prefix}, Region: residency.Sydney, Issuer: "http://localhost:8080/r/sydney",
		CodeKey: []byte("0123456789abcdef0123456789abcdef"), Now: now}
	api := &httpapi.API{Region: "sydney", Secret: secret, Logger: slog.New(slog.DiscardHandler)}
	if with != nil {
		with(&deps, api, rdb)
	}
	a := app.New(deps)
	require.NoError(t, a.LoadKeys(context.Background()))
	v := &authn.Verifier{Issuer: "http://localhost:8080/r/sydney", Keys: a.KeySource(), Now: now}
	lenient := *v
	lenient.Leeway = 24 * time.Hour
	api.App = a
	api.Auth, api.RefreshAuth = &authn.Authenticator{Verifier: v, Sessions: sessions}, &authn.Authenticator{Verifier: &lenient, Sessions: sessions}
	mux := http.NewServeMux()
	api.Register(mux)
	return mux
}

func provisionRequest(t testing.TB, c provisioning.Clinic, sign bool) *http.Request {
	t.Helper()
	b, err := json.Marshal(c)
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodPost, provisioning.Path, bytes.NewReader(b))
	r.Header.Set("Content-Type", "application/json")
	if sign {
		edgeauth.Sign(r, secret, "", "sydney", time.Now())
	}
	return r
}

func TestProvisioning_OnlyTheRouterMayCall(t *testing.T) {
	mux := newMux(t)
	c := provisioning.Clinic{ID: uuid.NewString(), Slug: "harbour", Name: "Harbour", Country: "NZ", TimeZone: "Pacific/Auckland",
		Owner: provisioning.Owner{Name: "Aroha", Email: "aroha@example.org", Password: "a perfectly long passphrase"}}

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, provisionRequest(t, c, false))
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.Equal(t, problem.ContentType, rec.Header().Get("Content-Type"))

	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, provisionRequest(t, c, true))
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var res provisioning.Result
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &res))
	require.Equal(t, c.ID, res.ClinicID)
	require.NotContains(t, rec.Body.String(), "aroha", "the answer carries ids only")

	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, provisionRequest(t, c, true))
	require.Equal(t, http.StatusOK, rec.Code, "a retried provisioning is answered, not refused")

	get := httptest.NewRequest(http.MethodGet, "/v1/clinic", nil)
	edgeauth.Sign(get, secret, c.ID, "sydney", time.Now())
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, get)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), `"time_zone":"Pacific/Auckland"`)
}

func TestProvisioning_BadBodiesAre4xx(t *testing.T) {
	mux := newMux(t)
	for _, body := range []string{"", "{", `{"slug":1}`, `{"unknown":true}`, `{"slug":"ok-slug"}`} {
		r := httptest.NewRequest(http.MethodPost, provisioning.Path, bytes.NewReader([]byte(body)))
		edgeauth.Sign(r, secret, "", "sydney", time.Now())
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		require.GreaterOrEqual(t, rec.Code, 400, body)
		require.Less(t, rec.Code, 500, body)
		require.Equal(t, problem.ContentType, rec.Header().Get("Content-Type"))
	}
}

func signedJSON(t *testing.T, method, path, clinicID, body, bearer string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(method, path, bytes.NewReader([]byte(body)))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		r.Header.Set("Authorization", "Bearer "+bearer)
	}
	edgeauth.Sign(r, secret, clinicID, "sydney", time.Now())
	return r
}

func TestSessions_SignInMeSignOutOverHTTP(t *testing.T) {
	mux := newMux(t)
	c := provisioning.Clinic{ID: uuid.NewString(), Slug: "harbour", Name: "Harbour", Country: "NZ", TimeZone: "Pacific/Auckland",
		Owner: provisioning.Owner{Name: "Aroha", Email: "aroha@example.org", Password: "a perfectly long passphrase"}}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, provisionRequest(t, c, true))
	require.Equal(t, http.StatusCreated, rec.Code)

	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, signedJSON(t, "POST", "/v1/sessions", c.ID, `{"email":"aroha@example.org","password":"a perfectly long passphrase"}`, ""))
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &tok))
	require.Equal(t, "Bearer", tok.TokenType)

	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, signedJSON(t, "GET", "/v1/me", c.ID, "", tok.AccessToken))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"role":"owner"`)

	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, signedJSON(t, "GET", "/v1/me", uuid.NewString(), "", tok.AccessToken))
	require.Equal(t, http.StatusUnauthorized, rec.Code, "a token for another clinic is refused")

	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, signedJSON(t, "DELETE", "/v1/sessions/current", c.ID, "", tok.AccessToken))
	require.Equal(t, http.StatusNoContent, rec.Code)
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, signedJSON(t, "GET", "/v1/me", c.ID, "", tok.AccessToken))
	require.Equal(t, http.StatusUnauthorized, rec.Code, "signed out")
	require.Equal(t, problem.ContentType, rec.Header().Get("Content-Type"))

	// Wrong password and unknown e-mail: the same status and body shape.
	var bodies []string
	for _, email := range []string{"aroha@example.org", "nobody@example.org"} {
		rec = httptest.NewRecorder()
		mux.ServeHTTP(rec, signedJSON(t, "POST", "/v1/sessions", c.ID, `{"email":"`+email+`","password":"wrong passphrase here"}`, ""))
		require.Equal(t, http.StatusUnauthorized, rec.Code)
		var p problem.Problem
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
		bodies = append(bodies, p.Type+"|"+p.Title+"|"+p.Detail)
	}
	require.Equal(t, bodies[0], bodies[1])
}

func TestRefresh_AcceptsAnExpiredTokenOfALiveSession(t *testing.T) {
	now := time.Now()
	mux := newMuxAt(t, func() time.Time { return now })

	c := provisioning.Clinic{ID: uuid.NewString(), Slug: "harbour", Name: "Harbour", Country: "NZ", TimeZone: "Pacific/Auckland",
		Owner: provisioning.Owner{Name: "Aroha", Email: "aroha@example.org", Password: "a perfectly long passphrase"}}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, provisionRequest(t, c, true))
	require.Equal(t, http.StatusCreated, rec.Code)
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, signedJSON(t, "POST", "/v1/sessions", c.ID, `{"email":"aroha@example.org","password":"a perfectly long passphrase"}`, ""))
	require.Equal(t, http.StatusCreated, rec.Code)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &tok))

	now = now.Add(15 * time.Minute) // the token (10 min) has expired; the session (30 min idle) has not
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, signedJSON(t, "GET", "/v1/me", c.ID, "", tok.AccessToken))
	require.Equal(t, http.StatusUnauthorized, rec.Code, "an expired token is refused for normal use")
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, signedJSON(t, "POST", "/v1/sessions/current/refresh", c.ID, "", tok.AccessToken))
	require.Equal(t, http.StatusOK, rec.Code, "but refreshes while the session lives: %s", rec.Body.String())

	now = now.Add(31 * time.Minute) // idle beyond the 30-minute default
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, signedJSON(t, "POST", "/v1/sessions/current/refresh", c.ID, "", tok.AccessToken))
	require.Equal(t, http.StatusUnauthorized, rec.Code, "an idle-ended session does not refresh")
}
