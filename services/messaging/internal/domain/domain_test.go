package domain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/services/messaging/internal/domain"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func statuses(m domain.Message) []string {
	var out []string
	for _, e := range m.History {
		out = append(out, string(e.Status)+"/"+string(e.Source)+"/"+e.Detail)
	}
	return out
}

func TestObserve_NeverMovesBackwardsAndIgnoresRepeats(t *testing.T) {
	tests := []struct {
		name    string
		steps   []domain.Status
		want    domain.Status
		history int
	}{
		{"in order", []domain.Status{domain.Sent, domain.Delivered}, domain.Delivered, 2},
		{"late sent after delivered is history only", []domain.Status{domain.Sent, domain.Delivered, domain.Queued}, domain.Delivered, 3},
		{"failed after sent", []domain.Status{domain.Sent, domain.Failed}, domain.Failed, 2},
		{"delivered is final", []domain.Status{domain.Delivered, domain.Failed}, domain.Delivered, 2},
		{"repeats change nothing", []domain.Status{domain.Sent, domain.Sent, domain.Delivered, domain.Delivered}, domain.Delivered, 2},
		{"delivered before sent", []domain.Status{domain.Delivered, domain.Sent}, domain.Delivered, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := domain.Message{ID: "m", ClinicID: "c", Status: domain.Sending}
			for i, s := range tc.steps {
				m.Observe(s, "", domain.SourceProvider, t0.Add(time.Duration(i)*time.Second))
			}
			require.Equal(t, tc.want, m.Status)
			require.Len(t, m.History, tc.history, statuses(m))
			if tc.want == domain.Delivered {
				require.NotNil(t, m.DeliveredAt)
				require.NotNil(t, m.SentAt, "delivered implies sent")
				require.Nil(t, m.FailedAt)
			}
		})
	}
}

func TestObserve_FailedIsNeverSent(t *testing.T) {
	m := domain.Message{ID: "m", ClinicID: "c", Status: domain.Sending}
	m.Observe(domain.Failed, "smtp_550", domain.SourceSMTP, t0)
	require.Equal(t, domain.Failed, m.Status)
	require.Equal(t, "smtp_550", m.ErrorCode)
	require.Nil(t, m.SentAt)
	require.NotNil(t, m.FailedAt)
	m.Observe(domain.Sent, "", domain.SourceSMTP, t0)
	require.Equal(t, domain.Failed, m.Status)
	require.Nil(t, m.SentAt)
}

func TestClaimRetryReclaim(t *testing.T) {
	m := domain.Message{ID: "m", ClinicID: "c", Status: domain.Queued, NextAttemptAt: t0}
	require.False(t, m.Claim(t0.Add(-time.Second), t0.Add(time.Minute)), "not due yet")
	require.True(t, m.Claim(t0, t0.Add(time.Minute)))
	require.False(t, m.Claim(t0, t0.Add(time.Minute)), "held")
	require.Equal(t, domain.Queued, m.Status.Public())
	require.Len(t, m.Reclaim(t0.Add(30*time.Second)), 0, "the hold has not lapsed")

	evs := m.Retry("smtp_451", domain.SourceSMTP, t0, t0.Add(30*time.Second), 3)
	require.Len(t, evs, 1)
	require.Equal(t, domain.Queued, m.Status)
	require.Equal(t, t0.Add(30*time.Second), m.NextAttemptAt)

	require.True(t, m.Claim(t0.Add(30*time.Second), t0.Add(time.Minute)))
	require.Len(t, m.Reclaim(t0.Add(2*time.Minute)), 1, "a stopped worker's hold lapses")
	require.Equal(t, domain.Queued, m.Status)

	require.True(t, m.Claim(t0.Add(2*time.Minute), t0.Add(3*time.Minute)))
	require.Equal(t, 3, m.Attempts)
	m.Retry("smtp_451", domain.SourceSMTP, t0.Add(2*time.Minute), t0.Add(time.Hour), 3)
	require.Equal(t, domain.Failed, m.Status, "out of attempts")
	require.Equal(t, "smtp_451", m.ErrorCode)
}

func TestTemplates_DefaultsRenderAndCarryTheUnsubscribeLink(t *testing.T) {
	for _, d := range domain.Defaults {
		require.Empty(t, d.Check(), "%s/%s", d.Channel, d.Name)
	}
	tp, ok := domain.DefaultTemplate(domain.SMS, domain.TemplateAppointmentReminder)
	require.True(t, ok)
	c, err := tp.Render(map[string]string{"start_local": "2026-03-03T10:00:00+13:00", domain.KeyUnsubscribeURL: "https://x.test/u#t=abc"})
	require.NoError(t, err)
	require.Contains(t, c.Body, "on Tuesday 3 March 2026 at 10:00.", "in the clinic's own time")

	require.Contains(t, c.Body, "https://x.test/u#t=abc")

	own := domain.Template{Channel: domain.Email, Name: "custom", Subject: "Hi {{.first_name}}", Body: "No link placed here."}
	require.Empty(t, own.Check())
	c, err = own.Render(map[string]string{domain.KeyFirstName: "Ro", domain.KeyUnsubscribeURL: "https://x.test/u#t=abc"})
	require.NoError(t, err)
	require.Equal(t, "Hi Ro", c.Subject)
	require.True(t, strings.HasSuffix(strings.TrimSpace(c.Body), "https://x.test/u#t=abc"), "the link is added: %q", c.Body)

	// Identity's texts pass through its templates; without them, the built-in text.
	code, _ := domain.DefaultTemplate(domain.Email, domain.TemplateSignInCode)
	c, err = code.Render(map[string]string{"subject": "Your Harbour Physio code", "body": "Code: 123456"})
	require.NoError(t, err)
	require.Equal(t, domain.Content{Subject: "Your Harbour Physio code", Body: "Code: 123456"}, c)
	c, err = code.Render(map[string]string{"code": "654321"})
	require.NoError(t, err)
	require.Equal(t, "Your sign-in code", c.Subject)
	require.Contains(t, c.Body, "654321")
}

func TestTemplates_CheckRefusesWhatDoesNotRender(t *testing.T) {
	for name, tc := range map[string]struct {
		t     domain.Template
		field string
	}{
		"syntax":           {domain.Template{Channel: domain.SMS, Body: "Hi {{.first_name"}, "body"},
		"runtime":          {domain.Template{Channel: domain.SMS, Body: "{{.first_name.x}}"}, "body"},
		"unknown function": {domain.Template{Channel: domain.SMS, Body: "{{shell .code}}"}, "body"},
		"empty":            {domain.Template{Channel: domain.SMS, Body: ""}, "body"},
		"sms subject":      {domain.Template{Channel: domain.SMS, Subject: "x", Body: "y"}, "subject"},
		"email no subject": {domain.Template{Channel: domain.Email, Body: "y"}, "subject"},
		"two lines":        {domain.Template{Channel: domain.Email, Subject: "a\nb", Body: "y"}, "subject"},
	} {
		require.Contains(t, tc.t.Check(), tc.field, name)
	}
}

func TestUnsubscribeToken_RoundTripAndForgeries(t *testing.T) {
	key, err := domain.UnsubscribeKey([]byte("sydney-edge-secret-0123456789"))
	require.NoError(t, err)
	u := domain.Unsubscription{ClinicID: "0b6d3c1e-6a51-4a8e-9b43-5d7d7c1f0e11", PatientID: "p-1", Channel: domain.SMS}
	tok := domain.SignUnsubscribe(key, u)
	got, err := domain.VerifyUnsubscribe(key, tok)
	require.NoError(t, err)
	require.Equal(t, u, got)

	other, _ := domain.UnsubscribeKey([]byte("london-edge-secret-0123456789"))
	_, err = domain.VerifyUnsubscribe(other, tok)
	require.ErrorIs(t, err, domain.ErrBadToken, "another region's key")
	forged := domain.SignUnsubscribe(key, domain.Unsubscription{ClinicID: u.ClinicID, PatientID: "p-2", Channel: domain.SMS})
	payload, _, _ := strings.Cut(forged, ".")
	_, sig, _ := strings.Cut(tok, ".")
	_, err = domain.VerifyUnsubscribe(key, payload+"."+sig)
	require.ErrorIs(t, err, domain.ErrBadToken, "another patient under the first signature")
	for _, bad := range []string{"", ".", "abc", tok + "x", "x" + tok, strings.Repeat("a", 600)} {
		_, err = domain.VerifyUnsubscribe(key, bad)
		require.ErrorIs(t, err, domain.ErrBadToken, bad)
	}
}

func FuzzVerifyUnsubscribe(f *testing.F) {
	key, _ := domain.UnsubscribeKey([]byte("sydney-edge-secret-0123456789"))
	f.Add(domain.SignUnsubscribe(key, domain.Unsubscription{ClinicID: "c", PatientID: "p", Channel: domain.Email}))
	f.Add("dTF-Yy1wfmVtYWls.AAAA")
	f.Fuzz(func(t *testing.T, tok string) {
		u, err := domain.VerifyUnsubscribe(key, tok)
		if err == nil && (!u.Channel.Valid() || u.ClinicID == "" || u.PatientID == "") {
			t.Fatalf("accepted an incomplete token")
		}
	})
}
