package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
)

const intakeTemplate = `{"name":"New patient intake","questions":[
	{"id":"reason","type":"long_text","label":"What brings you in?","required":true},
	{"id":"smoker","type":"yes_no","label":"Do you smoke?","required":true},
	{"id":"referral","type":"choice","label":"How did you hear about us?","choices":["friend","web","doctor"]},
	{"id":"injury_date","type":"date","label":"When did it start?"},
	{"id":"consent","type":"consent","label":"Consent to treatment","required":true,
	 "statement":"I consent to assessment and treatment, and to my records being kept as described."}]}`

func TestForms_SentCompletedOnceThenImmutable(t *testing.T) {
	f := newFixture(t)
	owner := f.signIn(authz.RoleOwner, nil, "")
	desk := f.signIn(authz.RoleFrontDesk, nil, "")
	pid := f.createPatient(owner)

	tpl := f.ok(&owner, http.StatusCreated, http.MethodPost, "/v1/form-templates", intakeTemplate)
	tplID := tpl["id"].(string)
	require.EqualValues(t, 1, tpl["version"])
	problemOf(t, f.do(&desk, http.MethodPost, "/v1/form-templates", intakeTemplate), http.StatusForbidden)

	sent := f.ok(&desk, http.StatusCreated, http.MethodPost, "/v1/patients/"+pid+"/forms", `{"template_id":"`+tplID+`","expires_in_hours":48}`)
	token, formID := sent["token"].(string), sent["id"].(string)
	require.Len(t, token, 43)
	require.Equal(t, "sent", sent["status"])

	// A new version afterwards does not change the form already sent.
	v2 := f.ok(&owner, http.StatusOK, http.MethodPut, "/v1/form-templates/"+tplID,
		strings.Replace(intakeTemplate, "What brings you in?", "Why are you here?", 1))
	require.EqualValues(t, 2, v2["version"])

	opened := f.ok(nil, http.StatusOK, http.MethodPost, "/v1/public/forms/open", `{"token":"`+token+`"}`)
	require.Equal(t, "New patient intake", opened["name"])
	require.Contains(t, mustJSON(t, opened["questions"]), "What brings you in?", "the version it was sent with")
	require.NotContains(t, mustJSON(t, opened), "Aroha", "a forwarded link shows nothing about the patient")

	bad := f.do(nil, http.MethodPost, "/v1/public/forms/submit", `{"token":"`+token+`","answers":{"reason":"Sore shoulder","smoker":"maybe"},"signature":{"typed_name":""}}`)
	p := problemOf(t, bad, http.StatusBadRequest)
	fields := map[string]bool{}
	for _, e := range p.Errors {
		fields[e.Field] = true
	}
	require.True(t, fields["answers.smoker"] && fields["answers.consent"] && fields["signature.typed_name"], "%v", p.Errors)

	submit := `{"token":"` + token + `","answers":{"reason":"Sore shoulder since the fall","smoker":false,"referral":"friend",` +
		`"injury_date":"2026-11-01","consent":true},"signature":{"typed_name":"Aroha Ngata"}}`
	done := f.ok(nil, http.StatusCreated, http.MethodPost, "/v1/public/forms/submit", submit)
	require.NotEmpty(t, done["content_sha256"])
	problemOf(t, f.do(nil, http.MethodPost, "/v1/public/forms/submit", submit), http.StatusGone)
	problemOf(t, f.do(nil, http.MethodPost, "/v1/public/forms/open", `{"token":"`+token+`"}`), http.StatusGone)
	problemOf(t, f.do(nil, http.MethodPost, "/v1/public/forms/open", `{"token":"`+strings.Repeat("x", 43)+`"}`), http.StatusGone)

	got := f.ok(&owner, http.StatusOK, http.MethodGet, "/v1/forms/"+formID, "")
	require.Equal(t, "completed", got["status"])
	require.Equal(t, "Aroha Ngata", got["signed_name"])
	require.Equal(t, map[string]any{"reason": "Sore shoulder since the fall", "smoker": "no", "referral": "friend",
		"injury_date": "2026-11-01", "consent": "agreed"}, got["answers"])
	require.Equal(t, done["content_sha256"], got["content_sha256"])
	problemOf(t, f.do(&desk, http.MethodGet, "/v1/forms/"+formID, ""), http.StatusForbidden)
	list := f.ok(&desk, http.StatusOK, http.MethodGet, "/v1/patients/"+pid+"/forms", "")
	require.Len(t, list["forms"], 1)
	require.NotContains(t, mustJSON(t, list), "Sore shoulder", "the list carries no answers")

	// Recorded: the completion by the link, ids only; the token is stored hashed only.
	var completed []audit.Event
	for _, e := range f.auditEvents() {
		if e.Actor.System == "form_link" {
			completed = append(completed, e)
		}
	}
	require.Len(t, completed, 1)
	require.Equal(t, pid, completed[0].PatientID)
	require.Equal(t, formID, completed[0].ResourceID)
	var stored []string
	require.NoError(t, f.db.Raw("SELECT answers || signed_name || token_hash FROM form_requests").Scan(&stored).Error)
	require.Len(t, stored, 1)
	for _, s := range []string{"Sore shoulder", "Aroha Ngata", token} {
		require.NotContains(t, stored[0], s, "stored encrypted or hashed")
	}
}

func TestForms_ExpiredLinkIsGone(t *testing.T) {
	f := newFixture(t)
	owner := f.signIn(authz.RoleOwner, nil, "")
	pid := f.createPatient(owner)
	tplID := f.ok(&owner, http.StatusCreated, http.MethodPost, "/v1/form-templates", intakeTemplate)["id"].(string)
	sent := f.ok(&owner, http.StatusCreated, http.MethodPost, "/v1/patients/"+pid+"/forms", `{"template_id":"`+tplID+`"}`)
	require.NoError(t, f.db.Exec("UPDATE form_requests SET expires_at = ?", time.Now().UTC().Add(-time.Minute)).Error)
	problemOf(t, f.do(nil, http.MethodPost, "/v1/public/forms/open", `{"token":"`+sent["token"].(string)+`"}`), http.StatusGone)

	for body, field := range map[string]string{
		`{"template_id":"nope"}`:                                  "template_id",
		`{"template_id":"` + tplID + `","expires_in_hours":5000}`: "expires_in_hours",
	} {
		p := problemOf(t, f.do(&owner, http.MethodPost, "/v1/patients/"+pid+"/forms", body), http.StatusBadRequest)
		require.Equal(t, field, p.Errors[0].Field)
	}
	for _, tpl := range []string{`{"name":"x","questions":[]}`, `{"name":"x","questions":[{"id":"a","type":"choice","label":"A","choices":["one"]}]}`,
		`{"name":"x","questions":[{"id":"a","type":"consent","label":"A"}]}`, `{"name":"","questions":[{"id":"A B","type":"sing","label":""}]}`} {
		problemOf(t, f.do(&owner, http.MethodPost, "/v1/form-templates", tpl), http.StatusBadRequest)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
