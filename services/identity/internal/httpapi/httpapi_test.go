package httpapi_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/libs/provisioning"
	"github.com/havenhealth/haven/libs/residency"
	"github.com/havenhealth/haven/libs/store/storetest"
	"github.com/havenhealth/haven/services/identity/internal/app"
	"github.com/havenhealth/haven/services/identity/internal/httpapi"
	"github.com/havenhealth/haven/services/identity/internal/store"
	"github.com/havenhealth/haven/services/identity/migrations"
)

var secret = []byte("sydney-edge-secret-0123456789")

func newMux(t *testing.T) *http.ServeMux {
	t.Helper()
	api := &httpapi.API{App: app.New(store.New(storetest.Open(t, migrations.FS)), residency.Sydney, nil),
		Region: "sydney", Secret: secret, Logger: slog.New(slog.DiscardHandler)}
	mux := http.NewServeMux()
	api.Register(mux)
	return mux
}

func provisionRequest(t *testing.T, c provisioning.Clinic, sign bool) *http.Request {
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
