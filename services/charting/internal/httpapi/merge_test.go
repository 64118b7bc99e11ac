package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
)

func TestMerge_DuplicateBecomesARedirectingTombstone(t *testing.T) {
	f := newFixture(t)
	owner := f.signIn(authz.RoleOwner, nil, "")
	prac := f.signIn(authz.RolePractitioner, nil, "")
	desk := f.signIn(authz.RoleFrontDesk, nil, "")
	kept := f.createPatient(owner)
	dup := f.createPatient(owner)
	onDup := f.entry(prac, dup, "Seen under the duplicate profile.", true)
	onKept := f.entry(prac, kept, "Seen under the kept profile.", true)

	problemOf(t, f.do(&prac, http.MethodPost, "/v1/patients/"+kept+"/merge", `{"duplicate_id":"`+dup+`"}`), http.StatusForbidden)
	problemOf(t, f.do(&desk, http.MethodPost, "/v1/patients/"+kept+"/merge", `{"duplicate_id":"`+dup+`"}`), http.StatusForbidden)
	problemOf(t, f.do(&owner, http.MethodPost, "/v1/patients/"+kept+"/merge", `{"duplicate_id":"`+kept+`"}`), http.StatusBadRequest)

	out := f.ok(&owner, http.StatusOK, http.MethodPost, "/v1/patients/"+kept+"/merge", `{"duplicate_id":"`+dup+`"}`)
	require.Equal(t, kept, out["id"])

	// The duplicate redirects, relative so that it works behind the router too.
	rec := f.do(&owner, http.MethodGet, "/v1/patients/"+dup, "")
	require.Equal(t, http.StatusPermanentRedirect, rec.Code)
	require.Equal(t, "./"+kept, rec.Header().Get("Location"))
	rec = f.do(&owner, http.MethodGet, "/v1/patients/"+dup+"/entries", "")
	require.Equal(t, http.StatusPermanentRedirect, rec.Code)
	require.Equal(t, "../"+kept+"/entries", rec.Header().Get("Location"))

	// The duplicate's chart appears under the kept profile, still verified.
	list := f.ok(&prac, http.StatusOK, http.MethodGet, "/v1/patients/"+kept+"/entries", "")
	var entries []map[string]any
	b, _ := json.Marshal(list["items"])
	require.NoError(t, json.Unmarshal(b, &entries))
	ids := map[string]bool{}
	for _, e := range entries {
		ids[e["id"].(string)] = true
		require.Equal(t, true, e["integrity_verified"], "merging changes nothing signed")
	}
	require.True(t, ids[onDup] && ids[onKept], "%v", ids)

	// No more writes to the tombstone; search finds only the kept profile.
	problemOf(t, f.do(&owner, http.MethodPatch, "/v1/patients/"+dup, `{"preferred_name":"Ro"}`), http.StatusConflict)
	problemOf(t, f.do(&prac, http.MethodPost, "/v1/patients/"+dup+"/entries", `{"notes":"x"}`), http.StatusConflict)
	problemOf(t, f.do(&owner, http.MethodPost, "/v1/patients/"+kept+"/merge", `{"duplicate_id":"`+dup+`"}`), http.StatusConflict)
	found := f.ok(&owner, http.StatusOK, http.MethodGet, "/v1/patients?email=aroha.ngata@example.org", "")
	b, _ = json.Marshal(found)
	require.Contains(t, string(b), kept)
	require.NotContains(t, string(b), dup)

	// Scheduling and billing are told; the merge is audited on both profiles.
	var payloads []string
	require.NoError(t, f.db.Table("charting_outbox").Where("type = ?", "patient.merged").Pluck("payload", &payloads).Error)
	require.Len(t, payloads, 1)
	require.Contains(t, payloads[0], `"duplicate_id":"`+dup+`"`)
	require.Contains(t, payloads[0], `"kept_id":"`+kept+`"`)
	require.False(t, strings.Contains(payloads[0], "Aroha"))
	merged := map[string]bool{}
	for _, e := range f.eventsFor(owner, audit.PatientWrite, audit.Allowed) {
		merged[e.PatientID] = true
	}
	require.True(t, merged[kept] && merged[dup])
}
