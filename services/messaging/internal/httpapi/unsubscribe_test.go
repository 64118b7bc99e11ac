package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/messagingclient"
	"github.com/havenhealth/haven/services/messaging/internal/domain"
)

var linkPattern = regexp.MustCompile(`https?://\S+/v1/public/unsubscribe#t=[A-Za-z0-9_.-]+`)

// post sends body to u (through the test router) and returns the answer.
func post(t *testing.T, u, body string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func TestUnsubscribe_LinkRoundTrip(t *testing.T) {
	f := newFixture(t, options{})
	desk := f.auth.SignIn(authz.RoleFrontDesk, nil)
	patient := f.charting.patient("aroha@example.org", "+64211234567", "Ro")
	f.sent(reminder(patient, messagingclient.Email))

	link := linkPattern.FindString(waitMail(t, f.mail, "aroha@example.org").Text)
	require.NotEmpty(t, link, "the reminder carries an unsubscribe link")
	page, token, ok := strings.Cut(link, "#t=")
	require.True(t, ok)
	require.Equal(t, f.router.URL+"/c/"+slug+"/messaging/v1/public/unsubscribe", page)

	// What a browser does: fetch the page (the fragment stays behind)...
	resp, err := http.Get(page)
	require.NoError(t, err)
	html, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'sha256-")
	require.Contains(t, string(html), "location.hash")
	require.Contains(t, string(html), `method: "POST"`)

	// ...whose script posts the token to the same address.
	resp, body := post(t, page, `{"token":"`+token+`"}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.JSONEq(t, `{"unsubscribed":true,"channel":"email"}`, body)
	resp, _ = post(t, page, `{"token":"`+token+`"}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, "a second click is fine")

	var list struct{ Items []map[string]any }
	f.ok(&desk, http.StatusOK, http.MethodGet, "/v1/patients/"+patient+"/opt-outs", "", &list)
	require.Len(t, list.Items, 1)
	require.Equal(t, "email", list.Items[0]["channel"])
	require.Equal(t, "link", list.Items[0]["source"])
	require.Equal(t, 2, f.countEvents("unsubscribe_link", audit.PatientWrite, audit.Allowed))

	require.Equal(t, messagingclient.StatusSuppressed, f.sent(reminder(patient, messagingclient.Email)).Status)
	require.Equal(t, messagingclient.StatusSent, f.sent(reminder(patient, messagingclient.SMS)).Status, "only the link's channel")
	require.NotContains(t, f.logs.String(), token, "the token reaches no log")

	// The SMS's own link names the SMS channel.
	var smsLink string
	require.Eventually(t, func() bool {
		for _, m := range f.sms.Messages() {
			smsLink = linkPattern.FindString(m.Body)
		}
		return smsLink != ""
	}, waitFor, tick)
	_, smsToken, _ := strings.Cut(smsLink, "#t=")
	_, body = post(t, page, `{"token":"`+smsToken+`"}`)
	require.JSONEq(t, `{"unsubscribed":true,"channel":"sms"}`, body)
}

func TestUnsubscribe_RefusesForgedAndForeignTokens(t *testing.T) {
	f := newFixture(t, options{})
	page := f.router.URL + "/c/" + slug + "/messaging/v1/public/unsubscribe"
	key, err := domain.UnsubscribeKey(f.auth.Secret)
	require.NoError(t, err)
	patient := uuid.NewString()
	good := domain.SignUnsubscribe(key, domain.Unsubscription{ClinicID: f.auth.ClinicID, PatientID: patient, Channel: domain.Email})
	otherClinic := domain.SignUnsubscribe(key, domain.Unsubscription{ClinicID: uuid.NewString(), PatientID: patient, Channel: domain.Email})
	otherKey, _ := domain.UnsubscribeKey([]byte("another-region-edge-secret-0123"))
	foreign := domain.SignUnsubscribe(otherKey, domain.Unsubscription{ClinicID: f.auth.ClinicID, PatientID: patient, Channel: domain.Email})

	for name, tok := range map[string]string{
		"tampered":       good[:len(good)-2] + "AA",
		"another clinic": otherClinic,
		"another key":    foreign,
		"empty":          "",
		"not a token":    "hello",
	} {
		resp, body := post(t, page, `{"token":"`+tok+`"}`)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, name)
		require.Contains(t, body, "urn:haven:problem:validation", name)
	}
	resp, _ := post(t, page, `not json`)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	// Not through the router: refused.
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/v1/public/unsubscribe", strings.NewReader(`{"token":"`+good+`"}`))
	r.Header.Set("Content-Type", "application/json")
	f.handler.ServeHTTP(w, r)
	problemOf(t, w, http.StatusUnauthorized)

	owner := f.auth.SignIn(authz.RoleOwner, nil)
	var list struct{ Items []json.RawMessage }
	f.ok(&owner, http.StatusOK, http.MethodGet, "/v1/patients/"+patient+"/opt-outs", "", &list)
	require.Empty(t, list.Items, "nothing was recorded")

	resp, body := post(t, page, `{"token":"`+good+`"}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
}
