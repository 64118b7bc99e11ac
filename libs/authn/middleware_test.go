package authn_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/authn"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/problem"
)

var (
	edgeSecret = []byte("test-edge-secret-0123456789abcdef")
	edgeRegion = "sydney"
)

// authEnv is a service's front door: edgeauth, then authn, then a handler
// that echoes the principal.
type authEnv struct {
	clk      *clock
	signer   *authn.Signer
	sessions *authn.Sessions
	auth     *authn.Authenticator
	handler  http.Handler
	logs     *bytes.Buffer
}

func newAuthEnv(t testing.TB) *authEnv {
	t.Helper()
	sessions, clk, _, _ := newSessions(t)
	k := newKey(t)
	logs := &bytes.Buffer{}
	e := &authEnv{
		clk:      clk,
		signer:   &authn.Signer{Key: k, Issuer: testIssuer, Now: clk.Now},
		sessions: sessions,
		logs:     logs,
	}
	e.auth = &authn.Authenticator{
		Verifier: &authn.Verifier{Issuer: testIssuer, Keys: authn.StaticKeys{k}, Now: clk.Now},
		Sessions: sessions,
		Logger:   slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	e.handler = edgeauth.Require(edgeSecret, edgeRegion, e.auth.Require(principalEcho()))
	return e
}

func principalEcho() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := authn.PrincipalFrom(r.Context())
		if !ok {
			http.Error(w, "no principal", http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(p)
	})
}

// signIn creates a session for user uid in clinic c-1 and returns a token.
func (e *authEnv) signIn(t testing.TB, sid, uid string) string {
	t.Helper()
	now := e.clk.Now()
	require.NoError(t, e.sessions.Create(context.Background(), authn.Session{
		ID: sid, ClinicID: "c-1", UserID: uid, Role: authz.RolePractitioner,
		Grants: authz.RoleGrants(authz.RolePractitioner), PatientID: "",
		CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(8 * time.Hour), IdleTimeout: 15 * time.Minute,
	}))
	tok, _, err := e.signer.Sign(authn.Claims{Subject: uid, ClinicID: "c-1", SessionID: sid,
		Role: string(authz.RolePractitioner), Grants: authz.RoleGrants(authz.RolePractitioner)})
	require.NoError(t, err)
	return tok
}

// request builds a router-signed request for clinic with the given
// Authorization header (none when empty).
func request(clinic, authorization string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/v1/appointments", nil)
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	edgeauth.Sign(r, edgeSecret, clinic, edgeRegion, time.Now())
	return r
}

func (e *authEnv) serve(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, r)
	return rec
}

// requireProblem asserts rec is a problem+json answer of status.
func requireProblem(t *testing.T, rec *httptest.ResponseRecorder, status int) problem.Problem {
	t.Helper()
	require.Equal(t, status, rec.Code)
	require.Equal(t, problem.ContentType, rec.Header().Get("Content-Type"))
	var p problem.Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	require.Equal(t, status, p.Status)
	return p
}

func TestRequire_AdmitsWithSessionPermissions(t *testing.T) {
	e := newAuthEnv(t)
	tok := e.signIn(t, "s-1", "u-1")
	// The owner changes the user's role after the token was issued: the
	// session, not the token, is authoritative.
	require.NoError(t, e.sessions.UpdateUser(context.Background(), "c-1", "u-1",
		authz.RoleFrontDesk, authz.RoleGrants(authz.RoleFrontDesk)))

	for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
		rec := e.serve(request("c-1", scheme+" "+tok))
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var p authz.Principal
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
		require.Equal(t, authz.Principal{
			ClinicID: "c-1", UserID: "u-1", SessionID: "s-1",
			Role: authz.RoleFrontDesk, Grants: authz.RoleGrants(authz.RoleFrontDesk),
		}, p)
	}
	require.NotContains(t, e.logs.String(), tok)
}

func TestRequire_Refuses(t *testing.T) {
	e := newAuthEnv(t)
	tok := e.signIn(t, "s-1", "u-1")
	revoked := e.signIn(t, "s-2", "u-1")
	require.NoError(t, e.sessions.Revoke(context.Background(), "c-1", "s-2"))
	_ = e.signIn(t, "s-3", "u-3")
	// A genuine token for u-2 naming u-3's session.
	swapped, _, err := e.signer.Sign(authn.Claims{Subject: "u-2", ClinicID: "c-1", SessionID: "s-3"})
	require.NoError(t, err)
	// A genuine token of clinic c-2 (its session exists there).
	require.NoError(t, e.sessions.Create(context.Background(), authn.Session{
		ID: "s-4", ClinicID: "c-2", UserID: "u-4", ExpiresAt: e.clk.Now().Add(time.Hour),
	}))
	otherClinic, _, err := e.signer.Sign(authn.Claims{Subject: "u-4", ClinicID: "c-2", SessionID: "s-4"})
	require.NoError(t, err)
	// A token of clinic c-2 whose user and session ids also exist in c-1:
	// only the clinic check stands between it and c-1's data.
	_ = e.signIn(t, "s-5", "u-5")
	collision, _, err := e.signer.Sign(authn.Claims{Subject: "u-5", ClinicID: "c-2", SessionID: "s-5"})
	require.NoError(t, err)

	tests := []struct {
		name      string
		req       *http.Request
		challenge string
	}{
		{"no header", request("c-1", ""), `Bearer`},
		{"other scheme", request("c-1", "Basic dTpw"), `Bearer`},
		{"empty bearer", request("c-1", "Bearer "), `Bearer`},
		{"garbage", request("c-1", "Bearer not.a.token"), `Bearer error="invalid_token"`},
		{"token of another clinic", request("c-1", "Bearer "+otherClinic), `Bearer error="invalid_token"`},
		{"token of another clinic with colliding ids", request("c-1", "Bearer "+collision), `Bearer error="invalid_token"`},
		{"token replayed at another clinic", request("c-2", "Bearer "+tok), `Bearer error="invalid_token"`},
		{"revoked session", request("c-1", "Bearer "+revoked), `Bearer error="invalid_token"`},
		{"session of another user", request("c-1", "Bearer "+swapped), `Bearer error="invalid_token"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.serve(tt.req)
			p := requireProblem(t, rec, http.StatusUnauthorized)
			require.Equal(t, problem.TypeUnauthorized, p.Type)
			require.Equal(t, "A valid access token for this clinic is required.", p.Detail)
			require.Equal(t, tt.challenge, rec.Header().Get("WWW-Authenticate"))
		})
	}
	for _, secret := range []string{tok, revoked, swapped, otherClinic, collision} {
		require.NotContains(t, e.logs.String(), secret, "tokens are never logged")
	}
}

func TestRequire_RefusesWithoutRouterClinic(t *testing.T) {
	e := newAuthEnv(t)
	tok := e.signIn(t, "s-1", "u-1")
	r := httptest.NewRequest(http.MethodGet, "/v1/appointments", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	e.auth.Require(principalEcho()).ServeHTTP(rec, r) // no edgeauth in front
	requireProblem(t, rec, http.StatusUnauthorized)
}

func TestRequire_IdleSessionIsRefused(t *testing.T) {
	e := newAuthEnv(t)
	tok := e.signIn(t, "s-1", "u-1")
	e.clk.Advance(9 * time.Minute)
	require.Equal(t, http.StatusOK, e.serve(request("c-1", "Bearer "+tok)).Code)
	e.clk.Advance(9 * time.Minute) // token still valid (10m TTL + leeway), session idle for 9m < 15m
	require.Equal(t, http.StatusUnauthorized, e.serve(request("c-1", "Bearer "+tok)).Code, "token expired")
	// A fresh token for the same session works until the session idles out.
	fresh, _, err := e.signer.Sign(authn.Claims{Subject: "u-1", ClinicID: "c-1", SessionID: "s-1"})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, e.serve(request("c-1", "Bearer "+fresh)).Code)
	e.clk.Advance(9 * time.Minute)
	fresh, _, err = e.signer.Sign(authn.Claims{Subject: "u-1", ClinicID: "c-1", SessionID: "s-1"})
	require.NoError(t, err)
	e.clk.Advance(6*time.Minute + time.Second) // 15m01s since the last request
	requireProblem(t, e.serve(request("c-1", "Bearer "+fresh)), http.StatusUnauthorized)
}

func TestRequire_RedisDownIs503(t *testing.T) {
	e := newAuthEnv(t)
	tok := e.signIn(t, "s-1", "u-1")
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = down.Close() })
	e.auth.Sessions = &authn.Sessions{Redis: down, Prefix: e.sessions.Prefix, Now: e.clk.Now}
	e.handler = edgeauth.Require(edgeSecret, edgeRegion, e.auth.Require(principalEcho()))

	rec := e.serve(request("c-1", "Bearer "+tok))
	p := requireProblem(t, rec, http.StatusServiceUnavailable)
	require.Equal(t, problem.TypeUnavailable, p.Type)
	require.NotContains(t, e.logs.String(), tok)
}

func TestRequire_KeySetDownIs503(t *testing.T) {
	e := newAuthEnv(t)
	tok := e.signIn(t, "s-1", "u-1")
	e.auth.Verifier = &authn.Verifier{Issuer: testIssuer, Keys: failingKeys{}, Now: e.clk.Now}
	e.handler = edgeauth.Require(edgeSecret, edgeRegion, e.auth.Require(principalEcho()))
	requireProblem(t, e.serve(request("c-1", "Bearer "+tok)), http.StatusServiceUnavailable)
}

func TestWithPrincipal_RoundTrip(t *testing.T) {
	_, ok := authn.PrincipalFrom(context.Background())
	require.False(t, ok)
	want := authz.Principal{ClinicID: "c-1", UserID: "u-1", Role: authz.RoleOwner}
	got, ok := authn.PrincipalFrom(authn.WithPrincipal(context.Background(), want))
	require.True(t, ok)
	require.Equal(t, want, got)
}

// BenchmarkRequire measures the whole middleware per request: header
// parsing, signature verification and the session script in Redis
// (miniredis unless HAVEN_TEST_REDIS_URL is set). The router's edge check
// (edgeauth) runs once up front and is not measured.
func BenchmarkRequire(b *testing.B) {
	e := newAuthEnv(b)
	e.auth.Logger = nil
	tok := e.signIn(b, "s-1", "u-1")
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, found := authn.PrincipalFrom(r.Context()); !found {
			b.Fatal("no principal")
		}
		w.WriteHeader(http.StatusNoContent)
	})
	h := e.auth.Require(ok)
	var clinicCtx context.Context
	edgeauth.Require(edgeSecret, edgeRegion, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		clinicCtx = r.Context()
	})).ServeHTTP(httptest.NewRecorder(), request("c-1", ""))
	r := httptest.NewRequest(http.MethodGet, "/v1/appointments", nil).WithContext(clinicCtx)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := &discardWriter{h: http.Header{}}

	b.ReportAllocs()
	for b.Loop() {
		w.code = 0
		h.ServeHTTP(w, r)
		if w.code != http.StatusNoContent {
			b.Fatalf("status %d", w.code)
		}
	}
}

// discardWriter is a ResponseWriter that keeps only the status.
type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(code int)        { d.code = code }
