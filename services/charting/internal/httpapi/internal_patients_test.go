package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/edgeauth"
)

const signUpBody = `{"first_name":"Aroha Te","last_name":"Ngata","email":" Aroha.Ngata@Example.org ",
	"phone":"+64 9 300 1234","date_of_birth":"1984-03-09"}`

// signUp posts body to the internal sign-up endpoint as identity would,
// signed for clinicID in region.
func (f *fixture) signUp(clinicID, signedRegion, body string) *httptest.ResponseRecorder {
	f.t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/internal/v1/patients", bytes.NewReader([]byte(body)))
	r.Header.Set("Content-Type", "application/json")
	edgeauth.SignInternal(r, edgeSecret, clinicID, signedRegion, time.Now())
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, r)
	return rec
}

// identityWrites are the patient.write events of the identity actor.
func (f *fixture) identityWrites() []audit.Event {
	var out []audit.Event
	for _, e := range f.auditEvents() {
		if e.Action == audit.PatientWrite && e.Actor.System == "identity" {
			out = append(out, e)
		}
	}
	return out
}

func TestInternalPatients_IdentityCreatesAProfileStaffCanRead(t *testing.T) {
	f := newFixture(t)
	rec := f.signUp(f.clinicID, region, signUpBody)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var out map[string]string
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
	id := out["id"]
	require.Len(t, out, 1, "the answer is the id only")
	require.Len(t, id, 36)

	writes := f.identityWrites()
	require.Len(t, writes, 1, "recorded with the profile")
	require.Equal(t, id, writes[0].PatientID)
	require.Equal(t, id, writes[0].ResourceID)
	require.Equal(t, audit.Allowed, writes[0].Outcome)
	require.Empty(t, writes[0].Actor.UserID)

	owner := f.signIn(authz.RoleOwner, nil, "")
	p := f.ok(&owner, http.StatusOK, http.MethodGet, "/v1/patients/"+id, "")
	require.Equal(t, "Aroha Te", p["first_name"])
	require.Equal(t, "Ngata", p["last_name"])
	require.Equal(t, "aroha.ngata@example.org", p["email"], "normalised like any profile")
	require.Equal(t, "+6493001234", p["phone"])
	require.Equal(t, "1984-03-09", p["date_of_birth"])
	require.Equal(t, "", p["alert"])

	// Found by the search lookups a staff-created profile gets.
	found := f.ok(&owner, http.StatusOK, http.MethodGet, "/v1/patients?email=aroha.ngata%40example.org", "")
	items := found["items"].([]any)
	require.Len(t, items, 1)
	require.Equal(t, id, items[0].(map[string]any)["id"])

	// The patient whose account links to it opens it.
	patient := f.signIn(authz.RolePatient, nil, id)
	f.ok(&patient, http.StatusOK, http.MethodGet, "/v1/patients/"+id, "")
}

func TestInternalPatients_OnlyFieldsItNeedsAndValidated(t *testing.T) {
	f := newFixture(t)
	// The phone is optional; the date of birth is required, as for any profile.
	rec := f.signUp(f.clinicID, region, `{"first_name":"Tama","last_name":"Tama","email":"tama@example.org","date_of_birth":"1990-01-31"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())

	valid := map[string]string{"first_name": "Aroha", "last_name": "Ngata", "email": "a@example.org", "date_of_birth": "1990-01-31"}
	for _, c := range []struct{ field, value string }{
		{"first_name", ""}, {"last_name", ""}, {"email", "not an address"}, {"phone", "09 300 1234"},
		{"date_of_birth", "3000-01-01"}, {"date_of_birth", ""}, {"last_name", "Ngata\u0007"},
	} {
		body := map[string]string{}
		for k, v := range valid {
			body[k] = v
		}
		body[c.field] = c.value
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		p := problemOf(t, f.signUp(f.clinicID, region, string(raw)), http.StatusBadRequest)
		require.Len(t, p.Errors, 1, c)
		require.Equal(t, c.field, p.Errors[0].Field, c)
	}
	// Fields a staff member sets (an alert, an address) are not taken.
	problemOf(t, f.signUp(f.clinicID, region, `{"first_name":"A","last_name":"B","email":"a@example.org","alert":"x"}`),
		http.StatusBadRequest)
	require.Len(t, f.identityWrites(), 1, "only the valid sign-up was recorded")
}

func TestInternalPatients_RefusesAnyoneButTheRegionsServices(t *testing.T) {
	f := newFixture(t)
	owner := f.signIn(authz.RoleOwner, nil, "")

	// A router-signed request, even with an owner's token, never opens it.
	problemOf(t, f.do(&owner, http.MethodPost, "/internal/v1/patients", signUpBody), http.StatusUnauthorized)
	// Nor a router signature passed off as an internal one.
	r := httptest.NewRequest(http.MethodPost, "/internal/v1/patients", bytes.NewReader([]byte(signUpBody)))
	edgeauth.Sign(r, edgeSecret, f.clinicID, region, time.Now())
	r.Header.Set(edgeauth.HeaderInternal, r.Header.Get(edgeauth.HeaderSignature))
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, r)
	problemOf(t, rec, http.StatusUnauthorized)
	// Unsigned.
	rec = httptest.NewRecorder()
	f.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/internal/v1/patients", bytes.NewReader([]byte(signUpBody))))
	problemOf(t, rec, http.StatusUnauthorized)
	// Signed for another region.
	problemOf(t, f.signUp(f.clinicID, "london", signUpBody), http.StatusMisdirectedRequest)

	require.Empty(t, f.identityWrites(), "nothing was created")
	var n int64
	require.NoError(t, f.db.Table("patients").Count(&n).Error)
	require.Zero(t, n)
}

func FuzzInternalPatients(f *testing.F) {
	for _, s := range []string{signUpBody, `{}`, `{"first_name":"A","last_name":"B","email":"a@b.co","phone":"+1"}`,
		`{"date_of_birth":"0000-00-00"}`, `{"first_name":"\u0000"}`, "\x00", `[]`, `{"email":null}`} {
		f.Add(s)
	}
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, body string) {
		fx.t = t
		rec := fx.signUp(fx.clinicID, region, body)
		require.Less(t, rec.Code, 500, "body %q: %s", body, rec.Body.String())
	})
}
