package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/messagingclient"
	"github.com/havenhealth/haven/services/identity/internal/app"
)

var secret = []byte("sydney-edge-secret-0123456789")

// fakeMessaging is the region's messaging service as identity sees it: it
// accepts only an internal signature for the sydney region on
// POST /internal/v1/messages, decodes the request strictly and answers
// with the statuses queued (first) or refuses.
type fakeMessaging struct {
	srv *httptest.Server
	mu  sync.Mutex
	// answers are the statuses of the next requests; 201 once they run out.
	answers []int
	got     []received
	refused int
}

type received struct {
	clinicID string
	req      messagingclient.SendRequest
}

func newFakeMessaging(t *testing.T, answers ...int) *fakeMessaging {
	t.Helper()
	fm := &fakeMessaging{answers: answers}
	fm.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clinicID, err := edgeauth.VerifyInternal(r, secret, "sydney", time.Now())
		var req messagingclient.SendRequest
		if err == nil {
			dec := json.NewDecoder(r.Body)
			dec.DisallowUnknownFields()
			err = dec.Decode(&req)
		}
		fm.mu.Lock()
		defer fm.mu.Unlock()
		if err != nil || r.Method != http.MethodPost || r.URL.Path != "/internal/v1/messages" {
			fm.refused++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fm.got = append(fm.got, received{clinicID: clinicID, req: req})
		status := http.StatusCreated
		if len(fm.answers) > 0 {
			status, fm.answers = fm.answers[0], fm.answers[1:]
		}
		w.WriteHeader(status)
		if status == http.StatusCreated {
			_ = json.NewEncoder(w).Encode(messagingclient.SendResult{ID: "m1", Status: messagingclient.StatusQueued})
		}
	}))
	t.Cleanup(fm.srv.Close)
	return fm
}

func (fm *fakeMessaging) received() []received {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	return append([]received(nil), fm.got...)
}

func (fm *fakeMessaging) notifier(s []byte) *Messaging {
	return &Messaging{Client: &messagingclient.Client{BaseURL: fm.srv.URL, Secret: s, Region: "sydney"}, FirstRetry: time.Millisecond}
}

func TestMessaging_SendsEachPurposeWithItsTemplateSignedForTheClinic(t *testing.T) {
	fm := newFakeMessaging(t)
	n := fm.notifier(secret)
	for _, m := range []app.Message{
		{ClinicID: "c1", UserID: "u1", Channel: "sms", To: "+64211234567", Purpose: "two_step_code", Body: "Your code is 123456"},
		{ClinicID: "c1", UserID: "u2", Channel: "email", To: "aroha@example.org", Purpose: "password_reset", Subject: "Reset", Body: "POST to /r/tok"},
		{ClinicID: "c2", UserID: "u3", Channel: "email", To: "hemi@example.org", Purpose: "invitation", Subject: "Join", Body: "POST to /i/tok"},
	} {
		require.NoError(t, n.Send(context.Background(), m))
	}
	got := fm.received()
	require.Zero(t, fm.refused)
	require.Len(t, got, 3)
	require.Equal(t, "c1", got[0].clinicID)
	require.Equal(t, "c2", got[2].clinicID)
	first := got[0].req
	require.True(t, strings.HasPrefix(first.IdempotencyKey, "identity-"), first.IdempotencyKey)
	first.IdempotencyKey = ""
	require.Equal(t, messagingclient.SendRequest{Channel: "sms", Template: "sign_in_code", Trigger: messagingclient.TriggerIdentity,
		UserID: "u1", To: "+64211234567", Data: map[string]string{"subject": "", "body": "Your code is 123456", "clinic_id": "c1",
			"purpose": "two_step_code"}}, first)
	require.Equal(t, "password_reset", got[1].req.Template)
	require.Equal(t, "Reset", got[1].req.Data["subject"])
	require.Equal(t, "aroha@example.org", got[1].req.To)
	require.Equal(t, "invitation", got[2].req.Template)
	require.Empty(t, got[2].req.PatientID, "an account holder, addressed directly")
	keys := map[string]bool{}
	for _, g := range got {
		keys[g.req.IdempotencyKey] = true
	}
	require.Len(t, keys, 3, "a new key per message")
}

func TestMessaging_RetriesWithTheSameKeyButNotARefusal(t *testing.T) {
	msg := app.Message{ClinicID: "c1", UserID: "u1", Channel: "email", To: "aroha@example.org", Purpose: "password_reset", Body: "x"}

	fm := newFakeMessaging(t, http.StatusServiceUnavailable, http.StatusBadGateway)
	require.NoError(t, fm.notifier(secret).Send(context.Background(), msg))
	got := fm.received()
	require.Len(t, got, 3, "two failures, then sent")
	require.Equal(t, got[0].req.IdempotencyKey, got[2].req.IdempotencyKey, "a retry is the same message")

	fm = newFakeMessaging(t, http.StatusUnprocessableEntity)
	err := fm.notifier(secret).Send(context.Background(), msg)
	require.ErrorIs(t, err, messagingclient.ErrRejected)
	require.Len(t, fm.received(), 1, "a refusal is not retried")
	require.NotContains(t, err.Error(), "aroha", "errors carry ids only")

	fm = newFakeMessaging(t, 500, 500, 500, 500)
	require.Error(t, fm.notifier(secret).Send(context.Background(), msg))
	require.Len(t, fm.received(), 3, "three tries at most")

	// Signed with another secret: refused by messaging, not retried.
	fm = newFakeMessaging(t)
	require.ErrorIs(t, fm.notifier([]byte("another-secret-entirely-0000")).Send(context.Background(), msg), messagingclient.ErrRejected)
	require.Equal(t, 1, fm.refused)

	bad := msg
	bad.Purpose = "newsletter"
	require.Error(t, newFakeMessaging(t).notifier(secret).Send(context.Background(), bad), "no template, nothing sent")
}
