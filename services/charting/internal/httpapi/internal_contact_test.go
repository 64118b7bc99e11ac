package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/edgeauth"
)

// internal calls charting as another of the region's services would.
func (f *fixture) internal(path, clinicID, signedRegion string) *httptest.ResponseRecorder {
	f.t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	edgeauth.SignInternal(r, edgeSecret, clinicID, signedRegion, time.Now())
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, r)
	return rec
}

type contact struct {
	PatientID  string `json:"patient_id"`
	Email      string `json:"email"`
	Phone      string `json:"phone"`
	FirstName  string `json:"first_name"`
	MergedInto string `json:"merged_into"`
}

// contactReads are the patient.contact.read events of the messaging actor.
func (f *fixture) contactReads() []audit.Event {
	var out []audit.Event
	for _, e := range f.auditEvents() {
		if e.Action == audit.PatientContactRead && e.Actor.System == "messaging" {
			out = append(out, e)
		}
	}
	return out
}

func TestInternalContact_GivesMessagingTheAddressAndRecordsTheRead(t *testing.T) {
	f := newFixture(t)
	owner := f.signIn(authz.RoleOwner, nil, "")
	id := f.createPatient(owner)

	rec := f.internal("/internal/v1/patients/"+id+"/contact", f.clinicID, region)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var c contact
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &c))
	require.Equal(t, contact{PatientID: id, Email: "aroha.ngata@example.org", Phone: "+6493001234", FirstName: "Ro"}, c,
		"normalised address, E.164 phone, preferred name first")
	require.NotContains(t, rec.Body.String(), "merged_into")

	reads := f.contactReads()
	require.Len(t, reads, 1, "the read is recorded before the answer")
	require.Equal(t, id, reads[0].PatientID)
	require.Equal(t, audit.Allowed, reads[0].Outcome)
	require.Empty(t, reads[0].Actor.UserID)

	// Without a preferred name, the first name.
	f.ok(&owner, http.StatusOK, http.MethodPatch, "/v1/patients/"+id, `{"preferred_name":""}`)
	rec = f.internal("/internal/v1/patients/"+id+"/contact", f.clinicID, region)
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &c))
	require.Equal(t, "Aroha", c.FirstName)
}

func TestInternalContact_FollowsMergesToTheKeptProfile(t *testing.T) {
	f := newFixture(t)
	owner := f.signIn(authz.RoleOwner, nil, "")
	kept := f.createPatient(owner)
	dup := f.createPatient(owner)
	f.ok(&owner, http.StatusOK, http.MethodPatch, "/v1/patients/"+kept, `{"email":"kept@example.org"}`)
	f.ok(&owner, http.StatusOK, http.MethodPost, "/v1/patients/"+kept+"/merge", `{"duplicate_id":"`+dup+`"}`)

	rec := f.internal("/internal/v1/patients/"+dup+"/contact", f.clinicID, region)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var c contact
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &c))
	require.Equal(t, kept, c.PatientID)
	require.Equal(t, kept, c.MergedInto)
	require.Equal(t, "kept@example.org", c.Email, "the kept profile's address")
	reads := f.contactReads()
	require.Len(t, reads, 1)
	require.Equal(t, kept, reads[0].PatientID)
}

func TestInternalContact_RefusesOthersAndUnknownPatients(t *testing.T) {
	f := newFixture(t)
	owner := f.signIn(authz.RoleOwner, nil, "")
	id := f.createPatient(owner)
	path := "/internal/v1/patients/" + id + "/contact"

	// A router-signed request (even with a staff token) never opens it.
	problemOf(t, f.do(&owner, http.MethodGet, path, ""), http.StatusUnauthorized)
	// Unsigned.
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	problemOf(t, rec, http.StatusUnauthorized)
	// Signed for another region.
	problemOf(t, f.internal(path, f.clinicID, "london"), http.StatusMisdirectedRequest)
	// Another clinic does not see this clinic's patient.
	problemOf(t, f.internal(path, uuid.NewString(), region), http.StatusNotFound)
	problemOf(t, f.internal("/internal/v1/patients/"+uuid.NewString()+"/contact", f.clinicID, region), http.StatusNotFound)
	problemOf(t, f.internal("/internal/v1/patients/not%20an%20id/contact", f.clinicID, region), http.StatusNotFound)
	require.Empty(t, f.contactReads(), "nothing was read")
}
