package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/apispec"
	"github.com/havenhealth/haven/libs/authn"
	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/libs/redisclient/redistest"
	"github.com/havenhealth/haven/libs/residency"
	"github.com/havenhealth/haven/libs/store/storetest"
	"github.com/havenhealth/haven/platform/router/internal/directory"
	"github.com/havenhealth/haven/platform/router/internal/httpapi"
	"github.com/havenhealth/haven/platform/router/internal/signup"
	"github.com/havenhealth/haven/platform/router/migrations"
)

var sydneySecret = []byte("sydney-secret-0123456789")

type seen struct {
	path, query, clinic, region string
	forged                      string
	verifyErr                   error
}

func setup(t testing.TB, limit int) (http.Handler, *directory.Store, chan seen) {
	t.Helper()
	dir := directory.New(storetest.Open(t, migrations.FS))
	got := make(chan seen, 10)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clinic, err := edgeauth.Verify(r, sydneySecret, "sydney", time.Now())
		got <- seen{path: r.URL.EscapedPath(), query: r.URL.RawQuery, clinic: clinic, region: r.Header.Get(edgeauth.HeaderRegion),
			forged: r.Header.Get("X-Haven-Forged"), verifyErr: err}
		w.WriteHeader(http.StatusTeapot)
	}))
	t.Cleanup(upstream.Close)
	u, _ := url.Parse(upstream.URL + "/base")
	ups := map[residency.Region]map[string]httpapi.Upstream{}
	for _, r := range residency.Regions() {
		ups[r] = map[string]httpapi.Upstream{}
		for _, s := range httpapi.Services {
			ups[r][s] = httpapi.Upstream{URL: u, Secret: []byte(string(r) + "-secret-0123456789")}
		}
	}
	rdb, prefix := redistest.New(t)
	api := &httpapi.API{
		SignUp:    &signup.Service{Directory: dir, Logger: slog.New(slog.DiscardHandler)},
		Directory: dir, Upstreams: ups, Logger: slog.New(slog.DiscardHandler),
		Limiter: redis_rate.NewLimiter(rdb), SignupLimit: redis_rate.PerMinute(limit), LimitPrefix: prefix,
	}
	mux := http.NewServeMux()
	api.Register(mux)
	return mux, dir, got
}

func TestProxy_ForwardsToHomeRegionWithSignedHeaders(t *testing.T) {
	h, dir, got := setup(t, 10)
	require.NoError(t, dir.Reserve(context.Background(), directory.Entry{ID: "c-1", Slug: "harbour", Region: residency.Sydney,
		Status: directory.StatusActive, CreatedAt: time.Now()}))

	req := httptest.NewRequest(http.MethodGet, "/c/harbour/scheduling/v1/appointments/a%2Fb?limit=5", nil)
	req.Header.Set(edgeauth.HeaderClinicID, "someone-elses-clinic")
	req.Header.Set(edgeauth.HeaderRegion, "london")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)

	require.Equal(t, http.StatusTeapot, rec.Code)
	s := <-got
	require.NoError(t, s.verifyErr)
	require.Equal(t, "c-1", s.clinic, "client-sent clinic header must be replaced")
	require.Equal(t, "sydney", s.region)
	require.Equal(t, "/base/v1/appointments/a%2Fb", s.path)
	require.Equal(t, "limit=5", s.query)
}

func TestProxy_RefusesUnknownClinicServiceAndProvisioningEntries(t *testing.T) {
	h, dir, _ := setup(t, 10)
	ctx := context.Background()
	require.NoError(t, dir.Reserve(ctx, directory.Entry{ID: "c-1", Slug: "harbour", Region: residency.Sydney, Status: directory.StatusActive, CreatedAt: time.Now()}))
	require.NoError(t, dir.Reserve(ctx, directory.Entry{ID: "c-2", Slug: "halfway", Region: residency.Sydney, Status: directory.StatusProvisioning, CreatedAt: time.Now()}))
	require.NoError(t, dir.Reserve(ctx, directory.Entry{ID: "c-3", Slug: "closed-clinic", Region: residency.Sydney, Status: directory.StatusClosed, CreatedAt: time.Now()}))

	for path, want := range map[string]int{
		"/c/nobody/identity/v1/info":        http.StatusNotFound,
		"/c/harbour/payroll/v1/info":        http.StatusNotFound,
		"/c/halfway/identity/v1/info":       http.StatusNotFound,
		"/c/closed-clinic/identity/v1/info": http.StatusGone,
		"/c/UPPER/identity/v1/info":         http.StatusNotFound,
		// Service-to-service endpoints are never reachable from outside,
		// however the path is spelled.
		"/c/harbour/messaging/internal/v1/messages":   http.StatusNotFound,
		"/c/harbour/messaging/INTERNAL/v1/messages":   http.StatusNotFound,
		"/c/harbour/messaging/%69nternal/v1/messages": http.StatusNotFound,
		"/c/harbour/charting/internal":                http.StatusNotFound,
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		require.Equal(t, want, rec.Code, path)
		require.Equal(t, problem.ContentType, rec.Header().Get("Content-Type"), path)
	}
}

func TestProxy_UpstreamDownIsA502Problem(t *testing.T) {
	_, dir, _ := setup(t, 10)
	require.NoError(t, dir.Reserve(context.Background(), directory.Entry{ID: "c-1", Slug: "harbour", Region: residency.Sydney, Status: directory.StatusActive, CreatedAt: time.Now()}))
	// Point sydney at a closed port by building a fresh API around a dead upstream.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL, _ := url.Parse(dead.URL)
	dead.Close()
	api := &httpapi.API{Directory: dir, Logger: slog.New(slog.DiscardHandler),
		Upstreams: map[residency.Region]map[string]httpapi.Upstream{residency.Sydney: {"identity": {URL: deadURL, Secret: sydneySecret}}}}
	mux := http.NewServeMux()
	api.Register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/c/harbour/identity/v1/info", nil))
	require.Equal(t, http.StatusBadGateway, rec.Code)
	var p problem.Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	require.Equal(t, problem.TypeUpstream, p.Type)
}

func TestSignup_RateLimitedPerClientIP(t *testing.T) {
	h, _, _ := setup(t, 2)
	post := func(ip string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/v1/clinics", bytes.NewReader([]byte(`{}`)))
		req.RemoteAddr = ip + ":5555"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	require.Equal(t, http.StatusBadRequest, post("203.0.113.7").Code)
	require.Equal(t, http.StatusBadRequest, post("203.0.113.7").Code)
	limited := post("203.0.113.7")
	require.Equal(t, http.StatusTooManyRequests, limited.Code)
	require.NotEmpty(t, limited.Header().Get("Retry-After"))
	body, _ := io.ReadAll(limited.Body)
	require.Contains(t, string(body), problem.TypeRateLimited)
	require.Equal(t, http.StatusBadRequest, post("203.0.113.8").Code, "another client is not affected")
}

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name, remote, xff, want string
	}{
		{"direct client", "198.51.100.1:443", "203.0.113.9", "198.51.100.1"},
		{"via trusted proxy", "10.1.2.3:443", "203.0.113.9", "203.0.113.9"},
		{"spoofed left-most entry ignored", "10.1.2.3:443", "1.2.3.4, 203.0.113.9", "203.0.113.9"},
		{"chain of trusted proxies", "10.1.2.3:443", "203.0.113.9, 10.9.9.9", "203.0.113.9"},
		{"garbage header", "10.1.2.3:443", "nonsense", "10.1.2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			r.Header.Set("X-Forwarded-For", tt.xff)
			require.Equal(t, tt.want, httpapi.ClientIP(r, trusted).String())
		})
	}
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	rec := apispec.NewRecorder()
	(&httpapi.API{}).Register(rec)
	apispec.Check(t, "../../api/openapi.yaml", append([]string{"GET /healthz", "GET /readyz"}, rec.Patterns...))
}

func TestProxy_RefusesTokensFromAnotherRegionOrClinic(t *testing.T) {
	_, dir, _ := setup(t, 10)
	ctx := context.Background()
	require.NoError(t, dir.Reserve(ctx, directory.Entry{ID: "syd-1", Slug: "harbour", Region: residency.Sydney, Status: directory.StatusActive, CreatedAt: time.Now()}))
	require.NoError(t, dir.Reserve(ctx, directory.Entry{ID: "syd-2", Slug: "bondi", Region: residency.Sydney, Status: directory.StatusActive, CreatedAt: time.Now()}))
	require.NoError(t, dir.Reserve(ctx, directory.Entry{ID: "lon-1", Slug: "thames", Region: residency.London, Status: directory.StatusActive, CreatedAt: time.Now()}))

	keys := map[residency.Region]authn.Key{}
	verifiers := map[residency.Region]*authn.Verifier{}
	for _, r := range residency.Regions() {
		k, err := authn.GenerateKey(time.Now())
		require.NoError(t, err)
		keys[r] = k
		verifiers[r] = &authn.Verifier{Issuer: "http://localhost:8080/r/" + string(r), Keys: authn.StaticKeys{k}}
	}
	token := func(region residency.Region, clinic string) string {
		s := &authn.Signer{Key: keys[region], Issuer: "http://localhost:8080/r/" + string(region)}
		tok, _, err := s.Sign(authn.Claims{Subject: "u1", ClinicID: clinic, SessionID: "s1", Role: "owner"})
		require.NoError(t, err)
		return tok
	}
	mux := routerWithVerifiers(t, dir, verifiers)
	call := func(path, tok string) int {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec.Code
	}
	require.Equal(t, http.StatusTeapot, call("/c/harbour/identity/v1/me", token(residency.Sydney, "syd-1")), "home region, own clinic")
	require.Equal(t, http.StatusTeapot, call("/c/harbour/identity/v1/sessions", ""), "no token: public endpoints pass")
	require.Equal(t, http.StatusUnauthorized, call("/c/thames/identity/v1/me", token(residency.Sydney, "syd-1")), "Sydney token on a London clinic")
	require.Equal(t, http.StatusUnauthorized, call("/c/thames/identity/v1/me", token(residency.Sydney, "lon-1")), "Sydney-issued token naming the London clinic")
	require.Equal(t, http.StatusUnauthorized, call("/c/bondi/identity/v1/me", token(residency.Sydney, "syd-1")), "token for another clinic of the same region")
	require.Equal(t, http.StatusUnauthorized, call("/c/harbour/identity/v1/me", "garbage"), "malformed token")
}

// routerWithVerifiers builds the router's API with token checking on.
func routerWithVerifiers(t *testing.T, dir *directory.Store, verifiers map[residency.Region]*authn.Verifier) *http.ServeMux {
	t.Helper()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	t.Cleanup(upstream.Close)
	u, _ := url.Parse(upstream.URL)
	ups := map[residency.Region]map[string]httpapi.Upstream{}
	for _, r := range residency.Regions() {
		ups[r] = map[string]httpapi.Upstream{}
		for _, s := range httpapi.Services {
			ups[r][s] = httpapi.Upstream{URL: u, Secret: []byte(string(r) + "-secret-0123456789")}
		}
	}
	api := &httpapi.API{Directory: dir, Upstreams: ups, Logger: slog.New(slog.DiscardHandler), Verifiers: verifiers}
	mux := http.NewServeMux()
	api.Register(mux)
	return mux
}
