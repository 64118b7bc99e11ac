package edgeauth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var secret = []byte("sydney-edge-secret-0123456789")

func signed(method, path, clinic, region string, at time.Time) *http.Request {
	r := httptest.NewRequest(method, path, nil)
	Sign(r, secret, clinic, region, at)
	return r
}

func TestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tests := []struct {
		name    string
		req     func() *http.Request
		wantErr error
	}{
		{"valid", func() *http.Request { return signed("GET", "/v1/info", "c1", "sydney", now) }, nil},
		{"unsigned", func() *http.Request { return httptest.NewRequest("GET", "/v1/info", nil) }, ErrMissing},
		{"clinic swapped after signing", func() *http.Request {
			r := signed("GET", "/v1/info", "c1", "sydney", now)
			r.Header.Set(HeaderClinicID, "c2")
			return r
		}, ErrInvalid},
		{"path changed after signing", func() *http.Request {
			r := signed("GET", "/v1/info", "c1", "sydney", now)
			r.URL.Path = "/v1/admin"
			return r
		}, ErrInvalid},
		{"other secret", func() *http.Request {
			r := httptest.NewRequest("GET", "/v1/info", nil)
			Sign(r, []byte("another-secret-entirely-0000"), "c1", "sydney", now)
			return r
		}, ErrInvalid},
		{"stale", func() *http.Request { return signed("GET", "/v1/info", "c1", "sydney", now.Add(-10*time.Minute)) }, ErrExpired},
		{"other region", func() *http.Request { return signed("GET", "/v1/info", "c1", "london", now) }, ErrWrongRegion},
		{"garbage", func() *http.Request {
			r := httptest.NewRequest("GET", "/v1/info", nil)
			r.Header.Set(HeaderSignature, "v1.notanumber.zz")
			return r
		}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clinic, err := Verify(tt.req(), secret, "sydney", now)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "c1", clinic)
		})
	}
}

func TestSign_StripsClientCopies(t *testing.T) {
	r := httptest.NewRequest("GET", "/v1/info", nil)
	r.Header.Set(HeaderClinicID, "forged")
	Sign(r, secret, "", "sydney", time.Now())
	require.Empty(t, r.Header.Get(HeaderClinicID))
}

func TestRequire(t *testing.T) {
	h := Require(secret, "sydney", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(ClinicID(r.Context())))
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, signed("GET", "/v1/clinic", "c9", "sydney", time.Now()))
	require.Equal(t, 200, rec.Code)
	require.Equal(t, "c9", rec.Body.String())

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, signed("GET", "/v1/clinic", "", "sydney", time.Now()))
	require.Equal(t, http.StatusUnauthorized, rec.Code)

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, signed("GET", "/v1/clinic", "c9", "london", time.Now()))
	require.Equal(t, http.StatusMisdirectedRequest, rec.Code)
}

func TestInternal_DomainsDoNotMix(t *testing.T) {
	secret := []byte("region-secret-0123456789")
	now := time.Now()
	ok := httptest.NewRecorder()
	var seen string
	h := RequireInternal(secret, "montreal", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = ClinicID(r.Context()) }))

	r := httptest.NewRequest(http.MethodPost, "/internal/v1/messages", nil)
	SignInternal(r, secret, "c1", "montreal", now)
	h.ServeHTTP(ok, r)
	if ok.Code != http.StatusOK || seen != "c1" {
		t.Fatalf("internal signature refused: %d %q", ok.Code, seen)
	}

	// A router signature (what a client gets by going through the router)
	// must not open an internal endpoint.
	r = httptest.NewRequest(http.MethodPost, "/internal/v1/messages", nil)
	Sign(r, secret, "c1", "montreal", now)
	r.Header.Set(HeaderInternal, r.Header.Get(HeaderSignature))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("router signature opened an internal endpoint: %d", w.Code)
	}
	// And an internal signature is not a router signature.
	r = httptest.NewRequest(http.MethodPost, "/v1/x", nil)
	SignInternal(r, secret, "c1", "montreal", now)
	r.Header.Set(HeaderSignature, r.Header.Get(HeaderInternal))
	if _, err := Verify(r, secret, "montreal", now); err == nil {
		t.Fatal("internal signature verified as the router's")
	}
	// Wrong region, other clinic, stale.
	r = httptest.NewRequest(http.MethodPost, "/internal/v1/messages", nil)
	SignInternal(r, secret, "c1", "sydney", now)
	if _, err := VerifyInternal(r, secret, "montreal", now); !errors.Is(err, ErrWrongRegion) {
		t.Fatalf("wrong region: %v", err)
	}
	r = httptest.NewRequest(http.MethodPost, "/internal/v1/messages", nil)
	SignInternal(r, secret, "c1", "montreal", now)
	r.Header.Set(HeaderClinicID, "c2")
	if _, err := VerifyInternal(r, secret, "montreal", now); !errors.Is(err, ErrInvalid) {
		t.Fatalf("clinic swapped: %v", err)
	}
	r = httptest.NewRequest(http.MethodPost, "/internal/v1/messages", nil)
	SignInternal(r, secret, "c1", "montreal", now.Add(-time.Hour))
	if _, err := VerifyInternal(r, secret, "montreal", now); !errors.Is(err, ErrExpired) {
		t.Fatalf("stale: %v", err)
	}
}
