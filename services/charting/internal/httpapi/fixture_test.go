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
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/audit/audittest"
	"github.com/havenhealth/haven/libs/authn"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/fieldcrypt/fieldcrypttest"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/libs/redisclient/redistest"
	"github.com/havenhealth/haven/libs/residency"
	"github.com/havenhealth/haven/libs/service"
	libstore "github.com/havenhealth/haven/libs/store"
	"github.com/havenhealth/haven/libs/store/storetest"
	"github.com/havenhealth/haven/services/charting/internal/app"
	"github.com/havenhealth/haven/services/charting/internal/httpapi"
	"github.com/havenhealth/haven/services/charting/internal/store"
	"github.com/havenhealth/haven/services/charting/migrations"
)

const (
	issuer = "http://localhost:8080/r/sydney"
	region = "sydney"
)

var edgeSecret = []byte("sydney-edge-secret-0123456789")

// fixture is charting's HTTP API over a fresh database, a Redis for
// sessions, in-memory clinic keys and real token checks: requests go through
// the router signature, bearer token and live session like in production.
type fixture struct {
	t        testing.TB
	db       *libstore.DB
	dbURL    string
	keys     *fieldcrypttest.MemoryKeys
	crypter  *fieldcrypt.Crypter
	sessions *authn.Sessions
	signer   *authn.Signer
	handler  http.Handler
	clinicID string
}

// user is a signed-in caller.
type user struct {
	authz.Principal
	token string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	dbURL := storetest.URL(t)
	db, err := libstore.Open(ctx, dbURL, libstore.Options{Migrations: migrations.FS})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	require.NoError(t, fieldcrypt.Migrate(ctx, db))
	require.NoError(t, audit.Migrate(ctx, db))
	fieldcrypt.RegisterSerializer()
	keys := fieldcrypttest.NewMemoryKeys()
	crypter := fieldcrypt.New(keys, db, fieldcrypt.Options{})
	clinicID := uuid.NewString()
	require.NoError(t, keys.CreateKey(ctx, clinicID)) // identity does this at provisioning

	rdb, prefix := redistest.New(t)
	sessions := &authn.Sessions{Redis: rdb, Prefix: prefix}
	key, err := authn.GenerateKey(time.Now())
	require.NoError(t, err)
	deps := service.Deps{Region: residency.Sydney, EdgeSecret: edgeSecret, Auth: &authn.Authenticator{
		Verifier: &authn.Verifier{Issuer: issuer, Keys: authn.StaticKeys{key}}, Sessions: sessions,
	}}
	api := &httpapi.API{
		App:           app.New(app.Deps{Store: store.New(db, crypter), Crypter: crypter, Region: residency.Sydney}),
		Authenticated: deps.Authenticated, Logger: slog.New(slog.DiscardHandler), EdgeSecret: edgeSecret, Region: region,
	}
	mux := http.NewServeMux()
	api.Register(mux)
	return &fixture{t: t, db: db, dbURL: dbURL, keys: keys, crypter: crypter, sessions: sessions,
		signer: &authn.Signer{Key: key, Issuer: issuer}, handler: mux, clinicID: clinicID}
}

// signIn creates a live session for a new user of role with grants (the
// role's template when nil) and returns the caller.
func (f *fixture) signIn(role authz.Role, grants *authz.Grants, patientID string) user {
	f.t.Helper()
	g := authz.RoleGrants(role)
	if grants != nil {
		g = *grants
	}
	now := time.Now()
	p := authz.Principal{ClinicID: f.clinicID, UserID: uuid.NewString(), SessionID: uuid.NewString(), Role: role, Grants: g, PatientID: patientID}
	require.NoError(f.t, f.sessions.Create(context.Background(), authn.Session{
		ID: p.SessionID, ClinicID: p.ClinicID, UserID: p.UserID, Role: role, Grants: g, PatientID: patientID,
		CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour),
	}))
	tok, _, err := f.signer.Sign(authn.Claims{Subject: p.UserID, ClinicID: p.ClinicID, SessionID: p.SessionID, Role: string(role), Grants: g})
	require.NoError(f.t, err)
	return user{Principal: p, token: tok}
}

// regrant changes a user's grants in their live session, as identity does.
func (f *fixture) regrant(u *user, g authz.Grants) {
	f.t.Helper()
	require.NoError(f.t, f.sessions.UpdateUser(context.Background(), f.clinicID, u.UserID, u.Role, g))
	u.Grants = g
}

// do sends a router-signed request as u (anonymous when u is nil).
func (f *fixture) do(u *user, method, path, body string) *httptest.ResponseRecorder {
	f.t.Helper()
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, path, nil)
	} else {
		r = httptest.NewRequest(method, path, bytes.NewReader([]byte(body)))
		r.Header.Set("Content-Type", "application/json")
	}
	if u != nil {
		r.Header.Set("Authorization", "Bearer "+u.token)
	}
	edgeauth.Sign(r, edgeSecret, f.clinicID, region, time.Now())
	r.Header.Set(edgeauth.HeaderClientIP, "203.0.113.7")
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, r)
	return rec
}

// ok sends a request that must answer status and decodes the body into a map.
func (f *fixture) ok(u *user, status int, method, path, body string) map[string]any {
	f.t.Helper()
	rec := f.do(u, method, path, body)
	require.Equal(f.t, status, rec.Code, "%s %s: %s", method, path, rec.Body.String())
	if rec.Body.Len() == 0 {
		return nil
	}
	var out map[string]any
	require.NoError(f.t, json.Unmarshal(rec.Body.Bytes(), &out))
	return out
}

// problemOf requires rec to be a problem+json answer of status.
func problemOf(t *testing.T, rec *httptest.ResponseRecorder, status int) problem.Problem {
	t.Helper()
	require.Equal(t, status, rec.Code, rec.Body.String())
	require.Equal(t, problem.ContentType, rec.Header().Get("Content-Type"))
	var p problem.Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	return p
}

// auditEvents returns the audit outbox, oldest first.
func (f *fixture) auditEvents() []audit.Event {
	f.t.Helper()
	return audittest.Outbox(f.t, f.db.DB)
}

// eventsFor returns the audit events of user u with action and outcome.
func (f *fixture) eventsFor(u user, action audit.Action, outcome audit.Outcome) []audit.Event {
	var out []audit.Event
	for _, e := range f.auditEvents() {
		if e.Actor.UserID == u.UserID && e.Action == action && e.Outcome == outcome {
			out = append(out, e)
		}
	}
	return out
}

const patientBody = `{"first_name":"Aroha","last_name":"Ngata","preferred_name":"Ro","date_of_birth":"1984-03-09",
	"sex":"female","gender":"woman","email":" Aroha.Ngata@Example.org ","phone":"+64 9 300 1234",
	"address":{"line1":"12 Harbour Street","city":"Auckland","postal_code":"1010","country":"nz"},
	"emergency_contact":{"name":"Wiremu Ngata","phone":"021 555 0199","relationship":"brother"},
	"alert":"Latex allergy"}`

// createPatient adds the standard patient as u and returns its id.
func (f *fixture) createPatient(u user) string {
	f.t.Helper()
	out := f.ok(&u, http.StatusCreated, http.MethodPost, "/v1/patients", patientBody)
	return out["id"].(string)
}
