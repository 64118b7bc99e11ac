package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/libs/provisioning"
	"github.com/havenhealth/haven/services/identity/internal/app"
	"github.com/havenhealth/haven/services/identity/internal/charting"
	"github.com/havenhealth/haven/services/identity/internal/httpapi"
)

// chartingStub is the region's charting as identity calls it: only
// identity's internal signature for sydney opens it; it answers a new
// profile id and counts what it created.
type chartingStub struct {
	srv     *httptest.Server
	mu      sync.Mutex
	ids     []string
	refused int
}

func newChartingStub(t testing.TB) *chartingStub {
	t.Helper()
	cs := &chartingStub{}
	cs.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := edgeauth.VerifyInternal(r, secret, "sydney", time.Now())
		var body struct{ FirstName, LastName, Email string }
		if err == nil && (r.URL.Path != charting.Path || json.NewDecoder(r.Body).Decode(&body) != nil || body.Email == "") {
			err = http.ErrNotSupported
		}
		cs.mu.Lock()
		defer cs.mu.Unlock()
		if err != nil {
			cs.refused++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		id := uuid.Must(uuid.NewV7()).String()
		cs.ids = append(cs.ids, id)
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]string{"id": id})
	}))
	t.Cleanup(cs.srv.Close)
	return cs
}

func (cs *chartingStub) created() []string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return append([]string(nil), cs.ids...)
}

// mailbox records the messages identity sends.
type mailbox struct {
	mu   sync.Mutex
	msgs []app.Message
}

func (m *mailbox) Send(_ context.Context, msg app.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, msg)
	return nil
}

func (m *mailbox) to(address string) []app.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []app.Message
	for _, msg := range m.msgs {
		if msg.To == address {
			out = append(out, msg)
		}
	}
	return out
}

// signUpWorld is identity over HTTP with a charting stub, a mailbox, a
// sign-up budget of perMinute per address, and a provisioned clinic whose
// owner is signed in.
type signUpWorld struct {
	mux      *http.ServeMux
	charting *chartingStub
	mail     *mailbox
	clinicID string
	owner    string // the owner's access token
}

const ownerBody = `{"email":"aroha@example.org","password":"a perfectly long passphrase"}`

func newSignUpWorld(t testing.TB, perMinute int, withCharting bool) *signUpWorld {
	t.Helper()
	w := &signUpWorld{charting: newChartingStub(t), mail: &mailbox{}}
	w.mux = newMuxWith(t, nil, func(d *app.Deps, api *httpapi.API, rdb *redis.Client) {
		d.Notifier = w.mail
		if withCharting {
			d.Profiles = &charting.Client{BaseURL: w.charting.srv.URL, Secret: secret, Region: "sydney"}
		}
		api.Limiter, api.SignInLimit, api.LimitPrefix = redis_rate.NewLimiter(rdb), redis_rate.PerMinute(perMinute), "test-"+uuid.NewString()+":"
	})
	c := provisioning.Clinic{ID: uuid.NewString(), Slug: "harbour", Name: "Harbour", Country: "NZ", TimeZone: "Pacific/Auckland",
		Owner: provisioning.Owner{Name: "Aroha", Email: "aroha@example.org", Password: "a perfectly long passphrase"}}
	rec := httptest.NewRecorder()
	w.mux.ServeHTTP(rec, provisionRequest(t, c, true))
	require.Equal(t, http.StatusCreated, rec.Code)
	w.clinicID = c.ID
	w.owner = w.signIn(t, ownerBody)
	return w
}

// signIn signs in with body and returns the access token.
func (w *signUpWorld) signIn(t testing.TB, body string) string {
	t.Helper()
	rec := w.call(t, "POST", "/v1/sessions", body, "", "198.51.100.1")
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &tok))
	return tok.AccessToken
}

// call sends a router-signed request from client address ip.
func (w *signUpWorld) call(t testing.TB, method, path, body, bearer, ip string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	if body != "" {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		r.Header.Set("Authorization", "Bearer "+bearer)
	}
	edgeauth.Sign(r, secret, w.clinicID, "sydney", time.Now())
	r.Header.Set(edgeauth.HeaderClientIP, ip)
	rec := httptest.NewRecorder()
	w.mux.ServeHTTP(rec, r)
	return rec
}

func (w *signUpWorld) signUp(t testing.TB, body, ip string) *httptest.ResponseRecorder {
	t.Helper()
	return w.call(t, "POST", "/v1/patient-accounts", body, "", ip)
}

type userView struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	Role      string `json:"role"`
	Status    string `json:"status"`
	PatientID string `json:"patient_id"`
}

// users lists the clinic's accounts as the owner.
func (w *signUpWorld) users(t *testing.T) []userView {
	t.Helper()
	rec := w.call(t, "GET", "/v1/users", "", w.owner, "198.51.100.1")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var page struct{ Items []userView }
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &page))
	return page.Items
}

func requireProblem(t *testing.T, rec *httptest.ResponseRecorder, status int) problem.Problem {
	t.Helper()
	require.Equal(t, status, rec.Code, rec.Body.String())
	require.Equal(t, problem.ContentType, rec.Header().Get("Content-Type"))
	var p problem.Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	return p
}

const hemi = `{"name":"Hemi Te Rangi","email":"hemi@example.org","phone":"+64211234567","date_of_birth":"1990-05-17"}`

func TestPatientAccounts_NewAndExistingEmailsGetTheSameAnswer(t *testing.T) {
	w := newSignUpWorld(t, 30, true)

	first := w.signUp(t, hemi, "203.0.113.9")
	require.Equal(t, http.StatusAccepted, first.Code, first.Body.String())
	require.NotContains(t, first.Body.String(), "hemi", "no personal data in the answer")
	require.Len(t, w.charting.created(), 1)
	require.Zero(t, w.charting.refused, "identity's signature opened charting")

	var patients []userView
	for _, u := range w.users(t) {
		if u.Role == "patient" {
			patients = append(patients, u)
		}
	}
	require.Len(t, patients, 1)
	require.Equal(t, "invited", patients[0].Status)
	require.Equal(t, w.charting.created()[0], patients[0].PatientID, "the user view shows the link")
	require.Len(t, w.mail.to("hemi@example.org"), 1)
	require.Equal(t, "invitation", w.mail.to("hemi@example.org")[0].Purpose)

	again := w.signUp(t, `{"name":"Someone Else","email":"HEMI@example.org","date_of_birth":"2000-02-29"}`, "203.0.113.9")
	staff := w.signUp(t, `{"name":"Aroha","email":"aroha@example.org","date_of_birth":"1980-01-01"}`, "203.0.113.9")
	for _, rec := range []*httptest.ResponseRecorder{again, staff} {
		require.Equal(t, first.Code, rec.Code)
		require.Equal(t, first.Body.String(), rec.Body.String(), "a known e-mail answers exactly as a new one")
		require.Equal(t, first.Header().Get("Content-Type"), rec.Header().Get("Content-Type"))
	}
	require.Len(t, w.charting.created(), 1, "no second profile")
	require.Len(t, w.users(t), 2, "owner and one patient: no second account")
}

func TestPatientAccounts_RateLimitedPerClientAddress(t *testing.T) {
	w := newSignUpWorld(t, 2, true)
	for i := range 2 {
		rec := w.signUp(t, `{"name":"P `+strconv.Itoa(i)+`","email":"p`+strconv.Itoa(i)+`@example.org","date_of_birth":"1990-01-01"}`, "203.0.113.50")
		require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	}
	rec := w.signUp(t, `{"name":"P 3","email":"p3@example.org","date_of_birth":"1990-01-01"}`, "203.0.113.50")
	requireProblem(t, rec, http.StatusTooManyRequests)
	retry, err := strconv.Atoi(rec.Header().Get("Retry-After"))
	require.NoError(t, err)
	require.Positive(t, retry)
	require.Len(t, w.charting.created(), 2, "refused before anything is created")

	require.Equal(t, http.StatusAccepted, w.signUp(t, `{"name":"P 4","email":"p4@example.org","date_of_birth":"1990-01-01"}`, "203.0.113.51").Code,
		"another address has its own budget")
	// The sign-up budget is not the sign-in budget.
	rec = w.call(t, "POST", "/v1/sessions", ownerBody, "", "203.0.113.50")
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
}

func TestPatientAccounts_OffUnconfiguredAndBadBodies(t *testing.T) {
	w := newSignUpWorld(t, 100, true)
	for _, body := range []string{"", "{", "[]", `{"name":"Hemi"}`, `{"name":"Hemi","email":"hemi@example.org","date_of_birth":"1990-01-01","alert":"x"}`,
		`{"name":1}`, `{"name":"Hemi","email":"hemi@example.org","date_of_birth":"1990-02-30"}`} {
		rec := w.signUp(t, body, "203.0.113.9")
		require.GreaterOrEqual(t, rec.Code, 400, body)
		require.Less(t, rec.Code, 500, body)
		require.Equal(t, problem.ContentType, rec.Header().Get("Content-Type"), body)
	}
	require.Empty(t, w.charting.created())

	rec := w.call(t, "PATCH", "/v1/settings", `{"patient_self_signup":false}`, w.owner, "198.51.100.1")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"patient_self_signup":false`)
	requireProblem(t, w.signUp(t, hemi, "203.0.113.9"), http.StatusForbidden)
	requireProblem(t, w.signUp(t, `{"name":"Aroha","email":"aroha@example.org","date_of_birth":"1980-01-01"}`, "203.0.113.9"), http.StatusForbidden)
	require.Empty(t, w.charting.created())

	// Unsigned: only through the router.
	r := httptest.NewRequest("POST", "/v1/patient-accounts", strings.NewReader(hemi))
	unsigned := httptest.NewRecorder()
	w.mux.ServeHTTP(unsigned, r)
	requireProblem(t, unsigned, http.StatusUnauthorized)

	// No charting configured: 503.
	none := newSignUpWorld(t, 100, false)
	requireProblem(t, none.signUp(t, hemi, "203.0.113.9"), http.StatusServiceUnavailable)
}

func TestUsers_PatientLinkOverHTTP(t *testing.T) {
	w := newSignUpWorld(t, 100, true)
	profile := uuid.Must(uuid.NewV7()).String()

	p := requireProblem(t, w.call(t, "POST", "/v1/users", `{"name":"Pat","email":"pat@example.org","role":"practitioner",
		"password":"practitioner passphrase","patient_id":"`+profile+`"}`, w.owner, "198.51.100.1"), http.StatusBadRequest)
	require.Equal(t, "patient_id", p.Errors[0].Field)
	p = requireProblem(t, w.call(t, "POST", "/v1/users", `{"name":"Hemi","email":"hemi@example.org","role":"patient",
		"password":"patient portal passphrase","patient_id":"12345"}`, w.owner, "198.51.100.1"), http.StatusBadRequest)
	require.Equal(t, "patient_id", p.Errors[0].Field)

	rec := w.call(t, "POST", "/v1/users", `{"name":"Hemi","email":"hemi@example.org","role":"patient",
		"password":"patient portal passphrase"}`, w.owner, "198.51.100.1")
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	require.NotContains(t, rec.Body.String(), "patient_id", "no link, no field")
	var u userView
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &u))

	p = requireProblem(t, w.call(t, "PATCH", "/v1/users/"+u.ID, `{"patient_id":"`+profile+`x"}`, w.owner, "198.51.100.1"), http.StatusBadRequest)
	require.Equal(t, "patient_id", p.Errors[0].Field)
	rec = w.call(t, "PATCH", "/v1/users/"+u.ID, `{"patient_id":"`+profile+`"}`, w.owner, "198.51.100.1")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"patient_id":"`+profile+`"`)

	tok := w.signIn(t, `{"email":"hemi@example.org","password":"patient portal passphrase"}`)
	rec = w.call(t, "GET", "/v1/me", "", tok, "198.51.100.2")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"patient_id":"`+profile+`"`)

	rec = w.call(t, "PATCH", "/v1/users/"+u.ID, `{"patient_id":""}`, w.owner, "198.51.100.1")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.NotContains(t, rec.Body.String(), "patient_id")
	requireProblem(t, w.call(t, "GET", "/v1/me", "", tok, "198.51.100.2"), http.StatusUnauthorized)
}

func FuzzSignUpPatient(f *testing.F) {
	for _, s := range []string{hemi, `{}`, `{"name":"\u0000","email":"a@b.co","date_of_birth":"1990-01-01"}`,
		`{"name":"A","email":"a@b.co","phone":"+1","date_of_birth":"0000-00-00"}`, `{"email":null}`, "\x00", `[]`} {
		f.Add(s)
	}
	w := newSignUpWorld(f, 1_000_000, true)
	f.Fuzz(func(t *testing.T, body string) {
		rec := w.signUp(t, body, "203.0.113.9")
		require.Less(t, rec.Code, 500, "body %q: %s", body, rec.Body.String())
	})
}

func FuzzPatchUser(f *testing.F) {
	for _, s := range []string{`{"patient_id":""}`, `{"patient_id":"0190a5b2-8c3e-7d4f-9a1b-2c3d4e5f6a7b"}`, `{"patient_id":null}`,
		`{"patient_id":1}`, `{"role":"front_desk","patient_id":"x"}`, `{"name":"\u0000"}`, "\x00", `[]`} {
		f.Add(s)
	}
	w := newSignUpWorld(f, 1_000_000, true)
	rec := w.call(f, "POST", "/v1/users", `{"name":"Hemi","email":"hemi@example.org","role":"patient","password":"patient portal passphrase"}`,
		w.owner, "198.51.100.1")
	require.Equal(f, http.StatusCreated, rec.Code, rec.Body.String())
	var u userView
	require.NoError(f, json.Unmarshal(rec.Body.Bytes(), &u))
	f.Fuzz(func(t *testing.T, body string) {
		rec := w.call(t, "PATCH", "/v1/users/"+u.ID, body, w.owner, "198.51.100.1")
		require.Less(t, rec.Code, 500, "body %q: %s", body, rec.Body.String())
	})
}
