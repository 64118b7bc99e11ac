package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/messagingclient"
)

func TestSend_AcceptedEmailIsDeliveredWithItsHistory(t *testing.T) {
	f := newFixture(t, options{})
	desk := f.auth.SignIn(authz.RoleFrontDesk, nil)
	patient := f.charting.patient("aroha@example.org", "+64211234567", "Ro")

	res := f.sent(reminder(patient, messagingclient.Email))
	require.Equal(t, messagingclient.StatusDelivered, res.Status, "the SMTP server took the data")

	got := waitMail(t, f.mail, "aroha@example.org")
	require.Equal(t, "reminders@haven.test", got.From)
	require.Equal(t, "Appointment reminder", got.Subject)
	require.Contains(t, got.Text, "Hello Ro,")
	require.Contains(t, got.Text, "appointment on Tuesday 3 March 2026 at 10:00.", "in the clinic's time")
	require.Contains(t, got.Text, f.router.URL+"/c/"+slug+"/messaging/v1/public/unsubscribe#t=")

	m := f.message(&desk, res.ID)
	require.Equal(t, "delivered", m.Status)
	require.Equal(t, patient, m.PatientID)
	require.Equal(t, "email", m.Channel)
	require.Equal(t, "appointment_reminder", m.Template)
	require.Equal(t, "reminder", m.Trigger)
	require.Equal(t, []string{"queued/system/", "sent/smtp/250", "delivered/smtp/250"}, m.steps())
	require.NotNil(t, m.SentAt)
	require.NotNil(t, m.DeliveredAt)
	require.Nil(t, m.FailedAt)
	require.Equal(t, int32(1), f.charting.calls.Load(), "the address is fetched at send time")
}

func TestSend_RejectedRecipientFailsAndIsNeverSent(t *testing.T) {
	f := newFixture(t, options{})
	desk := f.auth.SignIn(authz.RoleFrontDesk, nil)
	patient := f.charting.patient("nobody@bounce.test", "", "Sam")

	res := f.sent(reminder(patient, messagingclient.Email))
	require.Equal(t, messagingclient.StatusFailed, res.Status)

	m := f.message(&desk, res.ID)
	require.Equal(t, "failed", m.Status)
	require.Equal(t, "smtp_550", m.ErrorCode)
	require.Nil(t, m.SentAt, "a rejected message is never shown as sent")
	require.NotNil(t, m.FailedAt)
	require.Equal(t, []string{"queued/system/", "failed/smtp/smtp_550"}, m.steps())
	require.Empty(t, f.mail.Messages())
}

func TestSend_PatientWithoutAddressOrUnknownFails(t *testing.T) {
	f := newFixture(t, options{})
	desk := f.auth.SignIn(authz.RoleFrontDesk, nil)
	noPhone := f.charting.patient("sam@example.org", "", "Sam")

	res := f.sent(reminder(noPhone, messagingclient.SMS))
	require.Equal(t, messagingclient.StatusFailed, res.Status)
	require.Equal(t, "no_address", f.message(&desk, res.ID).ErrorCode)

	res = f.sent(reminder(uuid.NewString(), messagingclient.Email))
	require.Equal(t, messagingclient.StatusFailed, res.Status)
	require.Equal(t, "patient_not_found", f.message(&desk, res.ID).ErrorCode)
	require.Empty(t, f.sms.Messages())
	require.Empty(t, f.mail.Messages())

	// Charting down: nothing recorded, 503, and a retry with the same key works.
	patient := f.charting.patient("kim@example.org", "", "Kim")
	req := reminder(patient, messagingclient.Email)
	f.charting.down.Store(true)
	problemOf(t, f.send(req), http.StatusServiceUnavailable)
	f.charting.down.Store(false)
	require.Equal(t, messagingclient.StatusDelivered, f.sent(req).Status)
}

func TestSend_SMSFollowsTheProviderCallbacksInOrder(t *testing.T) {
	f := newFixture(t, options{})
	desk := f.auth.SignIn(authz.RoleFrontDesk, nil)
	patient := f.charting.patient("", "+64211234567", "Ro")

	res := f.sent(reminder(patient, messagingclient.SMS))
	require.Equal(t, messagingclient.StatusSent, res.Status, "the provider accepted it")
	m := f.waitStatus(&desk, res.ID, "delivered")
	require.True(t, strings.HasPrefix(m.ProviderID, "SM"))
	require.Equal(t, []string{"queued/system/", "sent/provider/accepted", "sent/provider/", "delivered/provider/"}, m.steps())

	sink := f.sms.Messages()
	require.Len(t, sink, 1)
	require.Equal(t, m.ProviderID, sink[0].SID)
	require.Equal(t, "+64211234567", sink[0].To)
	require.Contains(t, sink[0].Body, "/c/"+slug+"/messaging/v1/public/unsubscribe#t=")
	for _, h := range sink[0].History[1:] {
		require.Equal(t, http.StatusNoContent, h.CallbackStatus, "every callback (%s) was taken", h.Status)
	}

	// An undeliverable number: sent, then failed with the provider's code.
	other := f.charting.patient("", undeliverable, "Kim")
	res = f.sent(reminder(other, messagingclient.SMS))
	m = f.waitStatus(&desk, res.ID, "failed")
	require.Equal(t, []string{"queued/system/", "sent/provider/accepted", "sent/provider/", "failed/provider/30003"}, m.steps())
	require.Equal(t, "30003", m.ErrorCode)
	require.NotNil(t, m.SentAt)
	require.NotNil(t, m.FailedAt)
	require.Nil(t, m.DeliveredAt)

	// A number the provider refuses: failed at once, never sent.
	refused := f.charting.patient("", "+15005550001", "Lee")
	res = f.sent(reminder(refused, messagingclient.SMS))
	require.Equal(t, messagingclient.StatusFailed, res.Status)
	m = f.message(&desk, res.ID)
	require.Equal(t, "provider_21211", m.ErrorCode)
	require.Nil(t, m.SentAt)
}

// callback posts a status callback for message id through the router, as
// the provider would, signed with token.
func (f *fixture) callback(id, token string, form map[string]string) *http.Response {
	f.t.Helper()
	u := f.router.URL + "/c/" + slug + "/messaging/v1/public/sms/status?m=" + id
	vals := make(map[string][]string, len(form))
	for k, v := range form {
		vals[k] = []string{v}
	}
	body := encodeForm(vals)
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	require.NoError(f.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", signature(token, u, vals))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(f.t, err)
	_ = resp.Body.Close()
	return resp
}

func TestSMSStatus_ForgedCallbacksAreRefusedAndRepeatsChangeNothing(t *testing.T) {
	f := newFixture(t, options{})
	desk := f.auth.SignIn(authz.RoleFrontDesk, nil)
	patient := f.charting.patient("", "+64211234567", "Ro")
	res := f.sent(reminder(patient, messagingclient.SMS))
	m := f.waitStatus(&desk, res.ID, "delivered")
	before := m.steps()
	form := map[string]string{"AccountSid": smsSID, "MessageSid": m.ProviderID, "MessageStatus": "failed", "ErrorCode": "30008"}

	// Signed with another token: refused, nothing recorded.
	require.Equal(t, http.StatusForbidden, f.callback(res.ID, "not-the-auth-token", form).StatusCode)
	// Signed for another message's URL.
	require.Equal(t, http.StatusForbidden, f.callback(uuid.Must(uuid.NewV7()).String(), smsToken, form).StatusCode)
	require.Equal(t, before, f.message(&desk, res.ID).steps())

	// Genuine but late: kept in the history, the message stays delivered;
	// the same report again adds nothing.
	form["MessageStatus"], form["ErrorCode"] = "sent", ""
	require.Equal(t, http.StatusNoContent, f.callback(res.ID, smsToken, form).StatusCode)
	require.Equal(t, http.StatusNoContent, f.callback(res.ID, smsToken, form).StatusCode)
	m = f.message(&desk, res.ID)
	require.Equal(t, "delivered", m.Status)
	require.Equal(t, before, m.steps(), "a repeat of a known report changes nothing")

	// Another message's SID under this message's URL, and an unknown status.
	form["MessageSid"] = "SM" + strings.Repeat("0", 32)
	require.Equal(t, http.StatusBadRequest, f.callback(res.ID, smsToken, form).StatusCode)
	form["MessageSid"], form["MessageStatus"] = m.ProviderID, "exploded"
	require.Equal(t, http.StatusBadRequest, f.callback(res.ID, smsToken, form).StatusCode)

	// Not through the router: no router signature.
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/v1/public/sms/status?m="+res.ID, strings.NewReader("MessageStatus=sent"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	f.handler.ServeHTTP(w, r)
	problemOf(t, w, http.StatusUnauthorized)
}

func TestSend_OptedOutPatientIsSuppressedAndNothingLeaves(t *testing.T) {
	f := newFixture(t, options{})
	desk := f.auth.SignIn(authz.RoleFrontDesk, nil)
	patient := f.charting.patient("aroha@example.org", "+64211234567", "Ro")
	f.ok(&desk, http.StatusOK, http.MethodPut, "/v1/patients/"+patient+"/opt-outs/email", "", nil)
	f.ok(&desk, http.StatusOK, http.MethodPut, "/v1/patients/"+patient+"/opt-outs/sms", "", nil)

	for _, ch := range []string{messagingclient.Email, messagingclient.SMS} {
		res := f.sent(reminder(patient, ch))
		require.Equal(t, messagingclient.StatusSuppressed, res.Status)
		m := f.message(&desk, res.ID)
		require.Equal(t, []string{"suppressed/system/opted_out"}, m.steps())
		require.Nil(t, m.SentAt)
	}
	require.Zero(t, f.charting.calls.Load(), "an opted-out patient's address is not even fetched")
	require.Empty(t, f.mail.Messages())
	require.Empty(t, f.sms.Messages())

	// The staff toggle back: the next message goes.
	require.Equal(t, http.StatusNoContent, f.do(&desk, http.MethodDelete, "/v1/patients/"+patient+"/opt-outs/email", "").Code)
	require.Equal(t, messagingclient.StatusDelivered, f.sent(reminder(patient, messagingclient.Email)).Status)
}

func TestSend_TenConcurrentIdenticalRequestsSendOnce(t *testing.T) {
	f := newFixture(t, options{})
	patient := f.charting.patient("aroha@example.org", "", "Ro")
	req := reminder(patient, messagingclient.Email)

	const n = 10
	codes := make([]int, n)
	results := make([]messagingclient.SendResult, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			w := f.send(req)
			codes[i] = w.Code
			_ = json.Unmarshal(w.Body.Bytes(), &results[i])
		}()
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	ids := map[string]bool{}
	for i, c := range codes {
		count[c]++
		ids[results[i].ID] = true
		require.Equal(t, c == http.StatusOK, results[i].Duplicate)
	}
	require.Equal(t, map[int]int{http.StatusCreated: 1, http.StatusOK: n - 1}, count)
	require.Len(t, ids, 1, "every answer names the one message")
	waitMail(t, f.mail, "aroha@example.org")
	require.Len(t, f.mail.Messages(), 1, "sent once")

	// Later repeats too.
	w := f.send(req)
	require.Equal(t, http.StatusOK, w.Code)
	require.Contains(t, w.Body.String(), `"duplicate":true`)
	require.Len(t, f.mail.Messages(), 1)
}

// identity is a request as identity's notifier makes it: an account
// holder's address, and the subject and body identity wrote.
func identity(ch, template, to, subject, body string) messagingclient.SendRequest {
	return messagingclient.SendRequest{IdempotencyKey: "identity-" + uuid.NewString(), Channel: ch, Template: template,
		Trigger: messagingclient.TriggerIdentity, UserID: uuid.NewString(), To: to,
		Data: map[string]string{"subject": subject, "body": body, "clinic_id": uuid.NewString(), "purpose": template}}
}

func TestSend_IdentitysMessagesToAccountHolders(t *testing.T) {
	f := newFixture(t, options{})
	owner := f.auth.SignIn(authz.RoleOwner, nil)

	req := identity(messagingclient.Email, "password_reset", "staff@example.org", "Reset your Harbour Physio password",
		"Open https://haven.test/reset#k=abc to choose a new password.")
	res := f.sent(req)
	require.Equal(t, messagingclient.StatusDelivered, res.Status)
	got := waitMail(t, f.mail, "staff@example.org")
	require.Equal(t, "Reset your Harbour Physio password", got.Subject)
	require.Contains(t, got.Text, "https://haven.test/reset#k=abc")
	require.NotContains(t, got.Text, "unsubscribe", "account messages carry no unsubscribe link")
	m := f.message(&owner, res.ID)
	require.Equal(t, req.UserID, m.UserID)
	require.Empty(t, m.PatientID)
	require.Equal(t, "identity", m.Trigger)

	inv := f.sent(identity(messagingclient.Email, "invitation", "new@example.org", "You are invited", "Accept: https://haven.test/i"))
	require.Equal(t, messagingclient.StatusDelivered, inv.Status)

	// An SMS code without the clinic's slug: sent, but with no status
	// callback it stays "sent", whatever the provider does next.
	res = f.sent(identity(messagingclient.SMS, "sign_in_code", "+64211234567", "", "Your Haven code is 493027"))
	require.Equal(t, messagingclient.StatusSent, res.Status)
	require.Eventually(t, func() bool {
		ms := f.sms.Messages()
		return len(ms) == 1 && ms[0].Status == "delivered"
	}, waitFor, tick)
	require.Equal(t, "Your Haven code is 493027", f.sms.Messages()[0].Body)
	require.Empty(t, f.sms.Messages()[0].StatusCallback)
	require.Equal(t, "sent", f.message(&owner, res.ID).Status)
}

func TestSend_ChannelNotConfiguredIs503(t *testing.T) {
	f := newFixture(t, options{noSMS: true})
	p := problemOf(t, f.send(identity(messagingclient.SMS, "sign_in_code", "+64211234567", "", "Your code is 493027")),
		http.StatusServiceUnavailable)
	require.Contains(t, p.Detail, "channel not configured")
	patient := f.charting.patient("", "+64211234567", "Ro")
	problemOf(t, f.send(reminder(patient, messagingclient.SMS)), http.StatusServiceUnavailable)
	require.Empty(t, f.sms.Messages())
	require.Zero(t, f.charting.calls.Load(), "nothing fetched for a channel that cannot send")

	// E-mail still works.
	require.Equal(t, messagingclient.StatusDelivered,
		f.sent(identity(messagingclient.Email, "sign_in_code", "staff@example.org", "Code", "Your code is 493027")).Status)
}

func TestSend_RefusesBadRequests(t *testing.T) {
	f := newFixture(t, options{})
	patient := f.charting.patient("aroha@example.org", "", "Ro")
	good := reminder(patient, messagingclient.Email)
	for name, tc := range map[string]struct {
		mutate func(r *messagingclient.SendRequest)
		field  string
	}{
		"no key":           {func(r *messagingclient.SendRequest) { r.IdempotencyKey = "" }, "idempotency_key"},
		"key with spaces":  {func(r *messagingclient.SendRequest) { r.IdempotencyKey = "a b" }, "idempotency_key"},
		"channel":          {func(r *messagingclient.SendRequest) { r.Channel = "fax" }, "channel"},
		"trigger":          {func(r *messagingclient.SendRequest) { r.Trigger = "whim" }, "trigger"},
		"template":         {func(r *messagingclient.SendRequest) { r.Template = "Nope!" }, "template"},
		"unknown template": {func(r *messagingclient.SendRequest) { r.Template = "no_such_template" }, "template"},
		"no recipient":     {func(r *messagingclient.SendRequest) { r.PatientID = "" }, "patient_id"},
		"both recipients":  {func(r *messagingclient.SendRequest) { r.UserID, r.To = "u", "x@example.org" }, "patient_id"},
		"no slug":          {func(r *messagingclient.SendRequest) { delete(r.Data, "clinic_slug") }, "data.clinic_slug"},
		"reserved key":     {func(r *messagingclient.SendRequest) { r.Data["first_name"] = "Eve" }, "data.first_name"},
		"bad address": {func(r *messagingclient.SendRequest) {
			r.PatientID, r.UserID, r.To = "", "u-1", "Eve <eve@example.org>"
		}, "to"},
	} {
		req := good
		req.Data = map[string]string{"clinic_slug": slug}
		tc.mutate(&req)
		p := problemOf(t, f.send(req), http.StatusBadRequest)
		require.NotEmpty(t, p.Errors, name)
		require.Equal(t, tc.field, p.Errors[0].Field, name)
		require.NotContains(t, p.Detail+p.Errors[0].Reason, "eve@example.org", "problems never repeat values")
	}
	for _, body := range []string{`not json`, `{"unknown":1}`, `[]`, ``} {
		r := httptest.NewRequest(http.MethodPost, "/internal/v1/messages", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		edgeauth.SignInternal(r, f.auth.Secret, f.auth.ClinicID, string(f.auth.Region), time.Now())
		w := httptest.NewRecorder()
		f.handler.ServeHTTP(w, r)
		require.Equal(t, http.StatusBadRequest, w.Code, body)
	}
	// A router-signed request, even with a staff token, never sends.
	owner := f.auth.SignIn(authz.RoleOwner, nil)
	b, _ := json.Marshal(good)
	problemOf(t, f.do(&owner, http.MethodPost, "/internal/v1/messages", string(b)), http.StatusUnauthorized)
	require.Empty(t, f.mail.Messages())
	require.Zero(t, f.charting.calls.Load())
}

func TestSend_MergedProfileHonoursTheKeptProfilesOptOut(t *testing.T) {
	f := newFixture(t, options{})
	desk := f.auth.SignIn(authz.RoleFrontDesk, nil)
	kept := f.charting.patient("aroha@example.org", "+64211234567", "Ro")
	dup := uuid.Must(uuid.NewV7()).String()
	f.charting.merge(dup, kept)

	// A message addressed to the merged-away id carries the kept profile's link.
	f.sent(reminder(dup, messagingclient.Email))
	link := linkPattern.FindString(waitMail(t, f.mail, "aroha@example.org").Text)
	page, token, _ := strings.Cut(link, "#t=")
	resp, body := post(t, page, `{"token":"`+token+`"}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var list struct{ Items []map[string]any }
	f.ok(&desk, http.StatusOK, http.MethodGet, "/v1/patients/"+kept+"/opt-outs", "", &list)
	require.Len(t, list.Items, 1, "the opt-out is the kept profile's")

	// And the kept profile's opt-out holds for messages to either id.
	require.Equal(t, messagingclient.StatusSuppressed, f.sent(reminder(dup, messagingclient.Email)).Status)
	require.Equal(t, messagingclient.StatusSuppressed, f.sent(reminder(kept, messagingclient.Email)).Status)
	require.Len(t, f.mail.Messages(), 1)
}
