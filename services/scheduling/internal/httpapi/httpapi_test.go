package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/audit/audittest"
	"github.com/havenhealth/haven/libs/authn"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/httpserver"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/libs/residency"
	"github.com/havenhealth/haven/libs/service/servicetest"
	libstore "github.com/havenhealth/haven/libs/store"
	"github.com/havenhealth/haven/libs/store/storetest"
	"github.com/havenhealth/haven/services/scheduling/internal/app"
	"github.com/havenhealth/haven/services/scheduling/internal/domain"
	"github.com/havenhealth/haven/services/scheduling/internal/httpapi"
	"github.com/havenhealth/haven/services/scheduling/internal/store"
	"github.com/havenhealth/haven/services/scheduling/migrations"
)

type fixture struct {
	t         *testing.T
	auth      *servicetest.Auth
	handler   http.Handler
	db        *libstore.DB
	app       *app.App
	clock     *clock
	reminders *recordingReminders
}

// clock is the app's clock, moved by the test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// recordingReminders stands in for the reminder workflows (built
// elsewhere): it records what it is told and fails while told to.
type recordingReminders struct {
	mu    sync.Mutex
	fail  bool
	calls []string // "booked <id>", ...
}

func (r *recordingReminders) record(kind string, a domain.Appointment) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("temporal unreachable")
	}
	r.calls = append(r.calls, kind+" "+a.ID)
	return nil
}

func (r *recordingReminders) Booked(_ context.Context, a domain.Appointment) error {
	return r.record("booked", a)
}
func (r *recordingReminders) Rescheduled(_ context.Context, a domain.Appointment) error {
	return r.record("rescheduled", a)
}
func (r *recordingReminders) Cancelled(_ context.Context, a domain.Appointment) error {
	return r.record("cancelled", a)
}

func (r *recordingReminders) setFail(fail bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = fail
}

func (r *recordingReminders) took() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.calls
	r.calls = nil
	return out
}

// now is the fixture clock's start: a Sunday in 2026, before both of
// America/Toronto's daylight-saving changes.
var now = time.Date(2026, 3, 1, 17, 0, 0, 0, time.UTC)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db := storetest.Open(t, migrations.FS)
	require.NoError(t, audit.Migrate(context.Background(), db))
	auth := servicetest.NewAuth(t, residency.Montreal)
	clk := &clock{now: now}
	rem := &recordingReminders{}
	a := app.New(app.Deps{Store: store.New(db), Region: string(residency.Montreal), Reminders: rem, Now: clk.Now})
	api := &httpapi.API{App: a, Authenticated: auth.Deps.Authenticated, Logger: slog.New(slog.DiscardHandler)}
	mux := http.NewServeMux()
	api.Register(mux)
	return &fixture{t: t, auth: auth, handler: httpserver.New(mux, httpserver.Options{Logger: slog.New(slog.DiscardHandler)}).Handler(),
		db: db, app: a, clock: clk, reminders: rem}
}

// patient signs in a patient-role user linked to patientID (none when
// empty), as identity does for a patient account.
func (f *fixture) patient(patientID string) servicetest.Caller {
	f.t.Helper()
	c := f.auth.SignIn(authz.RolePatient, nil)
	ctx := context.Background()
	require.NoError(f.t, f.auth.Sessions.Revoke(ctx, c.ClinicID, c.SessionID))
	at := time.Now()
	require.NoError(f.t, f.auth.Sessions.Create(ctx, authn.Session{ID: c.SessionID, ClinicID: c.ClinicID, UserID: c.UserID,
		Role: authz.RolePatient, Grants: c.Grants, PatientID: patientID, CreatedAt: at, LastSeen: at, ExpiresAt: at.Add(time.Hour)}))
	c.PatientID = patientID
	return c
}

// events returns the audit events recorded so far.
func (f *fixture) events() []audit.Event {
	f.t.Helper()
	return audittest.Outbox(f.t, f.db.DB)
}

// count is how many recorded events have the action and outcome.
func (f *fixture) count(action audit.Action, outcome audit.Outcome) int {
	n := 0
	for _, e := range f.events() {
		if e.Action == action && e.Outcome == outcome {
			n++
		}
	}
	return n
}

// decode is a response's JSON body.
func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &v), w.Body.String())
	return v
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
