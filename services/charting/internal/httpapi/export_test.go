package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/pdfdoc/pdftext"
	"github.com/havenhealth/haven/services/charting/internal/httpapi"
)

// entry writes and, when sign, signs an entry with notes as u.
func (f *fixture) entry(u user, patientID, notes string, sign bool) string {
	f.t.Helper()
	out := f.ok(&u, http.StatusCreated, http.MethodPost, "/v1/patients/"+patientID+"/entries", `{"notes":"`+notes+`"}`)
	id := out["id"].(string)
	if sign {
		f.ok(&u, http.StatusOK, http.MethodPost, "/v1/entries/"+id+"/sign", "")
	}
	return id
}

func TestExport_SelectedEntriesOnlyWatermarkedAndAudited(t *testing.T) {
	f := newFixture(t)
	owner := f.signIn(authz.RoleOwner, nil, "")
	pracA := f.signIn(authz.RolePractitioner, nil, "")
	pracB := f.signIn(authz.RolePractitioner, nil, "")
	pid := f.createPatient(owner)
	e1 := f.entry(pracA, pid, "First visit: shoulder pain on abduction.", true)
	e2 := f.entry(pracA, pid, "Second visit: range of motion improved.", true)
	e3 := f.entry(pracB, pid, "Third visit by B: unrelated knee review.", true)
	f.ok(&pracA, http.StatusCreated, http.MethodPost, "/v1/entries/"+e2+"/amendments", `{"notes":"Addendum: home exercises twice daily."}`)

	q := url.Values{"entry_id": {e1, e2}}
	rec := f.do(&owner, http.MethodGet, "/v1/patients/"+pid+"/chart.pdf?"+q.Encode(), "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "application/pdf", rec.Header().Get("Content-Type"))
	pages, err := pdftext.Pages(rec.Body.Bytes())
	require.NoError(t, err)
	text := strings.Join(pages, "\n")
	// Line breaks in the PDF can split words; compare without white space.
	flat := strings.Join(strings.Fields(text), "")
	for _, want := range []string{"First visit: shoulder pain on abduction.", "Second visit: range of motion improved.",
		"Addendum: home exercises twice daily.", "Chart of Aroha Ngata", "Exported by " + owner.UserID} {
		require.Contains(t, flat, strings.Join(strings.Fields(want), ""))
	}
	require.NotContains(t, flat, "unrelatedkneereview", "the third entry is not exported")
	for i, p := range pages {
		require.Contains(t, strings.Join(strings.Fields(p), ""), "Exportedby"+owner.UserID, "page %d watermark", i+1)
	}
	exports := f.eventsFor(owner, audit.ChartExport, audit.Allowed)
	require.Len(t, exports, 2, "one chart.export event per entry")
	got := []string{exports[0].ResourceID, exports[1].ResourceID}
	require.ElementsMatch(t, []string{e1, e2}, got)
	for _, e := range exports {
		require.Equal(t, pid, e.PatientID)
	}

	// One practitioner's entries.
	rec = f.do(&owner, http.MethodGet, "/v1/patients/"+pid+"/chart.pdf?practitioner_id="+pracB.UserID, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	pages, err = pdftext.Pages(rec.Body.Bytes())
	require.NoError(t, err)
	flat = strings.Join(strings.Fields(strings.Join(pages, "")), "")
	require.Contains(t, flat, "unrelatedkneereview")
	require.NotContains(t, flat, "shoulderpain")
	require.Len(t, f.eventsFor(owner, audit.ChartExport, audit.Allowed), 3)
	_ = e3
}

func TestExport_RefusalsAndBadSelections(t *testing.T) {
	f := newFixture(t)
	owner := f.signIn(authz.RoleOwner, nil, "")
	pracA := f.signIn(authz.RolePractitioner, nil, "")
	pracB := f.signIn(authz.RolePractitioner, nil, "")
	billing := f.signIn(authz.RoleBilling, nil, "")
	pid := f.createPatient(owner)
	signed := f.entry(pracA, pid, "Signed note.", true)
	draft := f.entry(pracA, pid, "Draft note.", false)

	path := "/v1/patients/" + pid + "/chart.pdf?entry_id=" + signed
	problemOf(t, f.do(&billing, http.MethodGet, path, ""), http.StatusForbidden)
	problemOf(t, f.do(&pracB, http.MethodGet, path, ""), http.StatusForbidden)
	require.NotEmpty(t, f.eventsFor(pracB, audit.ChartExport, audit.Denied), "a refused export is audited")
	require.Equal(t, http.StatusOK, f.do(&pracA, http.MethodGet, path, "").Code, "the author exports their own entry")

	problemOf(t, f.do(&owner, http.MethodGet, "/v1/patients/"+pid+"/chart.pdf?entry_id="+draft, ""), http.StatusConflict)
	for _, q := range []string{"", "entry_id=nope", "entry_id=" + signed + "&practitioner_id=" + pracA.UserID, "format=docx", "entry_id=" + url.QueryEscape("a b")} {
		p := problemOf(t, f.do(&owner, http.MethodGet, "/v1/patients/"+pid+"/chart.pdf?"+q, ""), http.StatusBadRequest)
		require.NotEmpty(t, p.Errors, q)
	}
	problemOf(t, f.do(&owner, http.MethodGet, "/v1/patients/"+pid+"/chart.pdf?practitioner_id="+pracB.UserID, ""), http.StatusBadRequest)
	problemOf(t, f.do(&owner, http.MethodGet, "/v1/patients/00000000-0000-0000-0000-000000000000/chart.pdf?entry_id="+signed, ""), http.StatusNotFound)
}

func TestIdentityNames_AsksIdentityWithTheCallersTokenSigned(t *testing.T) {
	f := newFixture(t)
	owner := f.signIn(authz.RoleOwner, nil, "")
	identity := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clinic, err := edgeauth.Verify(r, edgeSecret, region, time.Now())
		if err != nil || clinic != f.clinicID || r.URL.Path != "/v1/me" || r.Header.Get("Authorization") != "Bearer "+owner.token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"user":{"id":"` + owner.UserID + `","name":"Dr Zoë Müller"}}`))
	}))
	defer identity.Close()
	names := httpapi.IdentityNames{URL: identity.URL, Secret: edgeSecret, Region: region}
	r := httptest.NewRequest(http.MethodGet, "/v1/patients/x/chart.pdf", nil)
	r.Header.Set("Authorization", "Bearer "+owner.token)
	require.Equal(t, "Dr Zoë Müller", names.Name(r, owner.Principal))

	other := f.signIn(authz.RoleOwner, nil, "")
	require.Empty(t, names.Name(r, other.Principal), "an answer about someone else is not used")
	require.Empty(t, httpapi.IdentityNames{URL: "http://127.0.0.1:1", Secret: edgeSecret, Region: region}.Name(r, owner.Principal))
}
