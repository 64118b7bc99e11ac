package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/messagingclient"
	"github.com/havenhealth/haven/libs/service/servicetest"
)

type page struct {
	Items      []message `json:"items"`
	NextCursor string    `json:"next_cursor"`
}

func TestLog_NewestFirstPagedPerPatientAndAudited(t *testing.T) {
	f := newFixture(t, options{})
	prac := f.auth.SignIn(authz.RolePractitioner, nil)
	a := f.charting.patient("a@example.org", "", "A")
	b := f.charting.patient("b@example.org", "", "B")
	var ids []string
	for _, p := range []string{a, b, a, a} {
		ids = append(ids, f.sent(reminder(p, messagingclient.Email)).ID)
	}

	var all page
	f.ok(&prac, http.StatusOK, http.MethodGet, "/v1/messages?limit=3", "", &all)
	require.Len(t, all.Items, 3)
	require.Equal(t, []string{ids[3], ids[2], ids[1]}, []string{all.Items[0].ID, all.Items[1].ID, all.Items[2].ID}, "newest first")
	require.NotEmpty(t, all.NextCursor)
	var rest page
	f.ok(&prac, http.StatusOK, http.MethodGet, "/v1/messages?limit=3&cursor="+all.NextCursor, "", &rest)
	require.Len(t, rest.Items, 1)
	require.Equal(t, ids[0], rest.Items[0].ID)
	require.Empty(t, rest.NextCursor)
	require.Len(t, rest.Items[0].History, 3, "each message comes with its history")

	var onlyA page
	f.ok(&prac, http.StatusOK, http.MethodGet, "/v1/messages?patient_id="+a, "", &onlyA)
	require.Len(t, onlyA.Items, 3)
	for _, m := range onlyA.Items {
		require.Equal(t, a, m.PatientID)
	}
	// Reads are recorded per patient shown: a and b on the first page, a
	// on the second and the filtered one.
	require.Equal(t, 4, f.countEvents(prac.UserID, audit.PatientRead, audit.Allowed))

	require.Equal(t, http.StatusBadRequest, f.do(&prac, http.MethodGet, "/v1/messages?limit=0", "").Code)
	require.Equal(t, http.StatusBadRequest, f.do(&prac, http.MethodGet, "/v1/messages?cursor=not%20a%20cursor", "").Code)
	require.Equal(t, http.StatusNotFound, f.do(&prac, http.MethodGet, "/v1/messages/"+uuid.NewString(), "").Code)
}

func TestStaff_WhoMayDoWhat(t *testing.T) {
	f := newFixture(t, options{})
	owner := f.auth.SignIn(authz.RoleOwner, nil)
	desk := f.auth.SignIn(authz.RoleFrontDesk, nil)
	prac := f.auth.SignIn(authz.RolePractitioner, nil)
	billing := f.auth.SignIn(authz.RoleBilling, nil)
	patientUser := f.auth.SignIn(authz.RolePatient, nil)
	patient := f.charting.patient("a@example.org", "", "A")
	id := f.sent(reminder(patient, messagingclient.Email)).ID

	optOut := "/v1/patients/" + patient + "/opt-outs/sms"
	tmpl := "/v1/templates/sms/appointment_reminder"
	body := `{"body":"See you {{datetime .start_local}}."}`
	cases := []struct {
		name         string
		caller       *servicetest.Caller
		read, manage int
	}{
		{"owner", &owner, http.StatusOK, http.StatusOK},
		{"front desk", &desk, http.StatusOK, http.StatusOK},
		{"practitioner", &prac, http.StatusOK, http.StatusForbidden},
		{"billing", &billing, http.StatusForbidden, http.StatusForbidden},
		{"patient", &patientUser, http.StatusForbidden, http.StatusForbidden},
	}
	for _, tc := range cases {
		caller := tc.caller
		require.Equal(t, tc.read, f.do(caller, http.MethodGet, "/v1/messages", "").Code, tc.name)
		require.Equal(t, tc.read, f.do(caller, http.MethodGet, "/v1/messages/"+id, "").Code, tc.name)
		require.Equal(t, tc.read, f.do(caller, http.MethodGet, "/v1/patients/"+patient+"/opt-outs", "").Code, tc.name)
		require.Equal(t, tc.read, f.do(caller, http.MethodGet, "/v1/templates", "").Code, tc.name)
		require.Equal(t, tc.manage, f.do(caller, http.MethodPut, optOut, "").Code, tc.name)
		want := tc.manage
		if want == http.StatusOK {
			want = http.StatusNoContent
		}
		require.Equal(t, want, f.do(caller, http.MethodDelete, optOut, "").Code, tc.name)
		require.Equal(t, tc.manage, f.do(caller, http.MethodPut, tmpl, body).Code, tc.name)
	}
	require.Equal(t, http.StatusUnauthorized, f.do(nil, http.MethodGet, "/v1/messages", "").Code)

	// Refusals are recorded as denied; changes as allowed.
	require.Positive(t, f.countEvents(billing.UserID, audit.PatientRead, audit.Denied))
	require.Positive(t, f.countEvents(prac.UserID, audit.PatientWrite, audit.Denied))
	require.Positive(t, f.countEvents(patientUser.UserID, audit.PatientRead, audit.Denied))
	require.Equal(t, 2, f.countEvents(desk.UserID, audit.PatientWrite, audit.Allowed), "opt-out set and cleared")
	require.Equal(t, 1, f.countEvents(desk.UserID, audit.SettingsChange, audit.Allowed))
}

func TestOptOuts_StaffToggle(t *testing.T) {
	f := newFixture(t, options{})
	desk := f.auth.SignIn(authz.RoleFrontDesk, nil)
	patient := uuid.NewString()
	var o map[string]any
	f.ok(&desk, http.StatusOK, http.MethodPut, "/v1/patients/"+patient+"/opt-outs/sms", "", &o)
	require.Equal(t, "staff", o["source"])
	require.Equal(t, desk.UserID, o["created_by"])
	f.ok(&desk, http.StatusOK, http.MethodPut, "/v1/patients/"+patient+"/opt-outs/sms", "", nil) // idempotent

	var list struct{ Items []map[string]any }
	f.ok(&desk, http.StatusOK, http.MethodGet, "/v1/patients/"+patient+"/opt-outs", "", &list)
	require.Len(t, list.Items, 1)
	require.Equal(t, "sms", list.Items[0]["channel"])

	require.Equal(t, http.StatusNoContent, f.do(&desk, http.MethodDelete, "/v1/patients/"+patient+"/opt-outs/sms", "").Code)
	f.ok(&desk, http.StatusOK, http.MethodGet, "/v1/patients/"+patient+"/opt-outs", "", &list)
	require.Empty(t, list.Items)
	require.Equal(t, http.StatusBadRequest, f.do(&desk, http.MethodPut, "/v1/patients/"+patient+"/opt-outs/fax", "").Code)
	require.Equal(t, http.StatusNotFound, f.do(&desk, http.MethodPut, "/v1/patients/a%20b/opt-outs/sms", "").Code)
}

func TestTemplates_ClinicTemplateReplacesTheDefault(t *testing.T) {
	f := newFixture(t, options{})
	owner := f.auth.SignIn(authz.RoleOwner, nil)

	var list struct{ Items []map[string]any }
	f.ok(&owner, http.StatusOK, http.MethodGet, "/v1/templates", "", &list)
	require.Len(t, list.Items, 7, "the built-in defaults")
	for _, it := range list.Items {
		require.Equal(t, true, it["default"])
	}

	for body, field := range map[string]string{
		`{"subject":"Hi","body":"{{.first_name"}`:                      "body",
		`{"subject":"Hi","body":"{{.first_name.x}}"}`:                  "body",
		`{"subject":"","body":"fine"}`:                                 "subject",
		`{"subject":"a\nb","body":"fine"}`:                             "subject",
		`{"subject":"Hi","body":""}`:                                   "body",
		`{"subject":"Hi","body":"` + strings.Repeat("x", 10001) + `"}`: "body",
	} {
		p := problemOf(t, f.do(&owner, http.MethodPut, "/v1/templates/email/appointment_reminder", body), http.StatusBadRequest)
		require.Equal(t, field, p.Errors[0].Field, body)
	}
	problemOf(t, f.do(&owner, http.MethodPut, "/v1/templates/fax/appointment_reminder", `{"body":"x"}`), http.StatusBadRequest)
	problemOf(t, f.do(&owner, http.MethodPut, "/v1/templates/sms/Bad-Name", `{"body":"x"}`), http.StatusBadRequest)
	problemOf(t, f.do(&owner, http.MethodPut, "/v1/templates/sms/x", `{"body":"x","extra":1}`), http.StatusBadRequest)

	var saved map[string]any
	f.ok(&owner, http.StatusOK, http.MethodPut, "/v1/templates/email/appointment_reminder",
		`{"subject":"Harbour Physio: see you {{datetime .start_local}}","body":"Kia ora {{.first_name}}, see you {{datetime .start_local}}."}`, &saved)
	require.Equal(t, false, saved["default"])
	f.ok(&owner, http.StatusOK, http.MethodPut, "/v1/templates/email/appointment_reminder",
		`{"subject":"Harbour Physio: {{datetime .start_local}}","body":"Kia ora {{.first_name}}, see you {{datetime .start_local}}."}`, &saved)
	f.ok(&owner, http.StatusOK, http.MethodGet, "/v1/templates", "", &list)
	require.Len(t, list.Items, 7, "replaced, not added")

	patient := f.charting.patient("aroha@example.org", "", "Aroha")
	f.sent(reminder(patient, messagingclient.Email))
	got := waitMail(t, f.mail, "aroha@example.org")
	require.Equal(t, "Harbour Physio: Tuesday 3 March 2026 at 10:00", got.Subject)
	require.Contains(t, got.Text, "Kia ora Aroha, see you Tuesday 3 March 2026 at 10:00.")
	require.Contains(t, got.Text, "/messaging/v1/public/unsubscribe#t=", "the link is added to a template that leaves it out")
}
