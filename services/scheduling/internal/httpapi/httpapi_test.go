package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/httpserver"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/libs/residency"
	"github.com/havenhealth/haven/libs/service/servicetest"
	"github.com/havenhealth/haven/libs/store/storetest"
	"github.com/havenhealth/haven/services/scheduling/internal/app"
	"github.com/havenhealth/haven/services/scheduling/internal/httpapi"
	"github.com/havenhealth/haven/services/scheduling/internal/store"
	"github.com/havenhealth/haven/services/scheduling/migrations"
)

type fixture struct {
	t       *testing.T
	auth    *servicetest.Auth
	handler http.Handler
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db := storetest.Open(t, migrations.FS)
	require.NoError(t, audit.Migrate(context.Background(), db))
	auth := servicetest.NewAuth(t, residency.Montreal)
	api := &httpapi.API{App: app.New(app.Deps{Store: store.New(db), Region: string(residency.Montreal)}),
		Authenticated: auth.Deps.Authenticated, Logger: slog.New(slog.DiscardHandler)}
	mux := http.NewServeMux()
	api.Register(mux)
	return &fixture{t: t, auth: auth, handler: httpserver.New(mux, httpserver.Options{Logger: slog.New(slog.DiscardHandler)}).Handler()}
}

func (f *fixture) do(c *servicetest.Caller, method, path, body string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, f.auth.Request(c, method, path, body))
	return w
}

func (f *fixture) created(c *servicetest.Caller, path, body string) string {
	f.t.Helper()
	w := f.do(c, http.MethodPost, path, body)
	require.Equal(f.t, http.StatusCreated, w.Code, w.Body.String())
	var out struct{ ID string }
	require.NoError(f.t, json.Unmarshal(w.Body.Bytes(), &out))
	return out.ID
}

// TestBook_TwentyConcurrentRequestsOneSlot is issue 8's first acceptance
// check, at the HTTP API: 20 concurrent requests for the same
// practitioner's same slot give exactly one 201 and nineteen 409s, on
// whichever engine the test runs (SQLite, or PostgreSQL with
// HAVEN_TEST_POSTGRES_URL).
func TestBook_TwentyConcurrentRequestsOneSlot(t *testing.T) {
	f := newFixture(t)
	owner := f.auth.SignIn(authz.RoleOwner, nil)
	desk := f.auth.SignIn(authz.RoleFrontDesk, nil)
	prac := f.created(&owner, "/v1/practitioners", `{"user_id":"`+uuid.NewString()+`"}`)
	treat := f.created(&owner, "/v1/treatments", `{"name":"Initial assessment","duration_minutes":45,"price_cents":9500}`)

	const n = 20
	codes := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			body := fmt.Sprintf(`{"patient_id":"%s","practitioner_id":"%s","treatment_id":"%s","start":"2026-12-01T21:00:00Z"}`,
				uuid.NewString(), prac, treat)
			codes[i] = f.do(&desk, http.MethodPost, "/v1/appointments", body).Code
		}()
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	require.Equal(t, map[int]int{http.StatusCreated: 1, http.StatusConflict: n - 1}, count)
}

func TestBook_RefusalsAndBadInput(t *testing.T) {
	f := newFixture(t)
	owner := f.auth.SignIn(authz.RoleOwner, nil)
	billing := f.auth.SignIn(authz.RoleBilling, nil)
	pracUser := f.auth.SignIn(authz.RolePractitioner, nil)
	other := f.auth.SignIn(authz.RolePractitioner, nil)
	prac := f.created(&owner, "/v1/practitioners", `{"user_id":"`+pracUser.UserID+`"}`)
	treat := f.created(&owner, "/v1/treatments", `{"name":"Follow-up","duration_minutes":30,"price_cents":6500}`)
	book := func(c *servicetest.Caller, start string) *httptest.ResponseRecorder {
		return f.do(c, http.MethodPost, "/v1/appointments", fmt.Sprintf(
			`{"patient_id":"%s","practitioner_id":"%s","treatment_id":"%s","start":"%s"}`, uuid.NewString(), prac, treat, start))
	}
	require.Equal(t, http.StatusForbidden, book(&billing, "2026-12-01T21:00:00Z").Code, "billing reads appointments only")
	require.Equal(t, http.StatusForbidden, book(&other, "2026-12-01T21:00:00Z").Code, "another practitioner's diary")
	require.Equal(t, http.StatusCreated, book(&pracUser, "2026-12-01T21:00:00Z").Code, "their own diary")
	require.Equal(t, http.StatusCreated, book(&owner, "2026-12-01T21:30:00Z").Code, "back to back")
	require.Equal(t, http.StatusForbidden, f.do(&pracUser, http.MethodPost, "/v1/treatments", `{"name":"x","duration_minutes":30}`).Code)
	require.Equal(t, http.StatusConflict, f.do(&owner, http.MethodPost, "/v1/practitioners", `{"user_id":"`+pracUser.UserID+`"}`).Code)

	for body, field := range map[string]string{
		`{"practitioner_id":"` + prac + `","treatment_id":"` + treat + `","start":"2026-12-01T21:00:00Z"}`:          "patient_id",
		`{"patient_id":"p","practitioner_id":"nope","treatment_id":"` + treat + `","start":"2026-12-01T21:00:00Z"}`: "practitioner_id",
		`{"patient_id":"p","practitioner_id":"` + prac + `","treatment_id":"nope","start":"2026-12-01T21:00:00Z"}`:  "treatment_id",
		`{"patient_id":"p","practitioner_id":"` + prac + `","treatment_id":"` + treat + `"}`:                        "start",
	} {
		w := f.do(&owner, http.MethodPost, "/v1/appointments", body)
		require.Equal(t, http.StatusBadRequest, w.Code, body)
		var p problem.Problem
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
		require.Equal(t, field, p.Errors[0].Field, body)
	}
	for _, body := range []string{`{"start":"tomorrow"}`, `not json`, `{"unknown":1}`} {
		require.Equal(t, http.StatusBadRequest, f.do(&owner, http.MethodPost, "/v1/appointments", body).Code, body)
	}
	require.Equal(t, http.StatusBadRequest, f.do(&owner, http.MethodPost, "/v1/treatments", `{"name":"","duration_minutes":2}`).Code)
}

func TestAppointments_ReadRescheduleCancel(t *testing.T) {
	f := newFixture(t)
	owner := f.auth.SignIn(authz.RoleOwner, nil)
	billing := f.auth.SignIn(authz.RoleBilling, nil)
	prac := f.created(&owner, "/v1/practitioners", `{"user_id":"`+uuid.NewString()+`"}`)
	treat := f.created(&owner, "/v1/treatments", `{"name":"Follow-up","duration_minutes":30}`)
	book := func(start string) string {
		return f.created(&owner, "/v1/appointments", fmt.Sprintf(
			`{"patient_id":"%s","practitioner_id":"%s","treatment_id":"%s","start":"%s"}`, uuid.NewString(), prac, treat, start))
	}
	first, second := book("2026-12-01T21:00:00Z"), book("2026-12-01T22:00:00Z")

	got := f.do(&billing, http.MethodGet, "/v1/appointments/"+first, "")
	require.Equal(t, http.StatusOK, got.Code, "billing reads appointments")
	require.Contains(t, got.Body.String(), `"end":"2026-12-01T21:30:00Z"`)
	require.Equal(t, http.StatusForbidden, f.do(&billing, http.MethodPost, "/v1/appointments/"+first+"/cancel", "").Code)

	clash := f.do(&owner, http.MethodPost, "/v1/appointments/"+second+"/reschedule", `{"start":"2026-12-01T21:15:00Z"}`)
	require.Equal(t, http.StatusConflict, clash.Code, clash.Body.String())
	require.Equal(t, http.StatusOK, f.do(&owner, http.MethodPost, "/v1/appointments/"+first+"/cancel", "").Code)
	moved := f.do(&owner, http.MethodPost, "/v1/appointments/"+second+"/reschedule", `{"start":"2026-12-01T21:15:00Z"}`)
	require.Equal(t, http.StatusOK, moved.Code, "the cancelled appointment freed its time: %s", moved.Body.String())
	require.Contains(t, moved.Body.String(), `"end":"2026-12-01T21:45:00Z"`, "the length is kept")
	require.Equal(t, http.StatusConflict, f.do(&owner, http.MethodPost, "/v1/appointments/"+first+"/reschedule", `{"start":"2026-12-02T21:00:00Z"}`).Code,
		"a cancelled appointment is not moved")
	require.Equal(t, http.StatusNotFound, f.do(&owner, http.MethodGet, "/v1/appointments/"+uuid.NewString(), "").Code)
	require.Equal(t, http.StatusBadRequest, f.do(&owner, http.MethodPost, "/v1/appointments/"+second+"/reschedule", `{}`).Code)
}
