package stack_test

import (
	"net/http"
	"net/smtp"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDevstack_FormsAndMerge, through the router: an intake form is sent,
// completed once by the patient through its link without signing in, then
// immutable; a duplicate profile is merged and redirects to the kept one.
func TestDevstack_FormsAndMerge(t *testing.T) {
	d, _, _, _ := bootDevstack(t)
	router := d.manifest.RouterURL
	run := token(t)
	const ownerPW = "owner passphrase for the forms e2e"
	ca := signup{country: "CA", zone: "America/Toronto", region: "montreal", slug: "forms-ca-" + run,
		ownerName: "OwnerForms" + run, ownerEmail: "owner-forms-" + run + "@example.org"}
	r := call(t, http.MethodPost, router+"/v1/clinics", signupBody(ca, ownerPW))
	require.Equal(t, http.StatusCreated, r.status, "%v", r.body)
	base := router + "/c/" + ca.slug
	charting := base + "/charting/v1"
	owner := signInAs(t, base, ca.ownerEmail, ownerPW)

	patient := func() string {
		t.Helper()
		p := callAs(t, http.MethodPost, charting+"/patients", owner, map[string]any{
			"first_name": "Jean", "last_name": "Tremblay" + run, "date_of_birth": "1979-06-01",
			"email": "jean-" + run + "@example.net", "phone": "+1 514 555 0142"})
		require.Equal(t, http.StatusCreated, p.status, "%v", p.body)
		return p.body["id"].(string)
	}
	kept, dup := patient(), patient()

	// The owner defines an intake form and sends it to the patient.
	tpl := callAs(t, http.MethodPost, charting+"/form-templates", owner, map[string]any{
		"name": "Intake", "questions": []map[string]any{
			{"id": "reason", "type": "long_text", "label": "What brings you in?", "required": true},
			{"id": "consent", "type": "consent", "label": "Consent", "required": true, "statement": "I consent to treatment."},
		}})
	require.Equal(t, http.StatusCreated, tpl.status, "%v", tpl.body)
	sent := callAs(t, http.MethodPost, charting+"/patients/"+dup+"/forms", owner, map[string]any{"template_id": tpl.body["id"]})
	require.Equal(t, http.StatusCreated, sent.status, "%v", sent.body)
	tok, formID := sent.body["token"].(string), sent.body["id"].(string)

	// The patient, with no account, opens and completes it once.
	opened := call(t, http.MethodPost, charting+"/public/forms/open", map[string]string{"token": tok})
	require.Equal(t, http.StatusOK, opened.status, "%v", opened.body)
	require.Equal(t, "Intake", opened.body["name"])
	answers := map[string]any{"token": tok, "answers": map[string]any{"reason": "Back pain " + run, "consent": true},
		"signature": map[string]string{"typed_name": "Jean Tremblay"}}
	done := call(t, http.MethodPost, charting+"/public/forms/submit", answers)
	require.Equal(t, http.StatusCreated, done.status, "%v", done.body)
	again := call(t, http.MethodPost, charting+"/public/forms/submit", answers)
	require.Equal(t, http.StatusGone, again.status, "the link works once")
	require.Equal(t, "application/problem+json", again.ctype)
	form := callAs(t, http.MethodGet, charting+"/forms/"+formID, owner, nil)
	require.Equal(t, http.StatusOK, form.status, "%v", form.body)
	require.Equal(t, "completed", form.body["status"])
	require.Equal(t, "Back pain "+run, form.body["answers"].(map[string]any)["reason"])

	// The duplicate, with its form, is merged into the kept profile.
	m := callAs(t, http.MethodPost, charting+"/patients/"+kept+"/merge", owner, map[string]string{"duplicate_id": dup})
	require.Equal(t, http.StatusOK, m.status, "%v", m.body)
	req, err := http.NewRequest(http.MethodGet, charting+"/patients/"+dup, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+owner)
	resp, err := http.DefaultClient.Do(req) // follows the 308
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "/c/"+ca.slug+"/charting/v1/patients/"+kept, resp.Request.URL.Path, "the duplicate redirects to the kept profile")
	forms := callAs(t, http.MethodGet, charting+"/patients/"+kept+"/forms", owner, nil)
	require.Equal(t, http.StatusOK, forms.status, "%v", forms.body)
	require.Len(t, forms.body["forms"], 1, "the duplicate's form is under the kept profile")

	// Every region has its mail and SMS sinks up for messaging.
	for name, reg := range d.manifest.Regions {
		to := "patient-" + run + "@example.net"
		require.NoError(t, smtp.SendMail(reg.MailSMTP, nil, "clinic@example.org", []string{to},
			[]byte("Subject: hello\r\n\r\nsee you soon\r\n")), name)
		got := call(t, http.MethodGet, reg.MailAPI+"/api/messages?to="+to, nil)
		require.Equal(t, http.StatusOK, got.status, name)
		require.Len(t, got.body["messages"], 1, name)
		sms := call(t, http.MethodGet, reg.SMSAPI+"/api/messages", nil)
		require.Equal(t, http.StatusOK, sms.status, name)
	}
}
