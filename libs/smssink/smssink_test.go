package smssink_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	twclient "github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/havenhealth/haven/libs/smssink"
)

const (
	sid   = "AC00000000000000000000000000000001"
	token = "0123456789abcdef0123456789abcdef"
)

// redirect is Twilio's own REST client with its requests sent to the sink
// instead of api.twilio.com: what the messaging service will do.
type redirect struct {
	*twclient.Client
	base *url.URL
}

func (r redirect) SendRequest(method, rawURL string, data url.Values, headers map[string]interface{}, body ...byte) (*http.Response, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	u.Scheme, u.Host = r.base.Scheme, r.base.Host
	return r.Client.SendRequest(method, u.String(), data, headers, body...)
}

func twilio(t *testing.T, s *smssink.Sink) *api.ApiService {
	t.Helper()
	base, err := url.Parse(s.URL())
	require.NoError(t, err)
	c := &twclient.Client{Credentials: twclient.NewCredentials(sid, token), HTTPClient: &http.Client{Timeout: 5 * time.Second}}
	c.SetAccountSid(sid)
	return api.NewApiServiceWithClient(redirect{Client: c, base: base})
}

// callbacks records the status callbacks it receives, checking signatures.
type callbacks struct {
	mu       sync.Mutex
	statuses []string
	badSig   int
	srv      *httptest.Server
}

func newCallbacks(t *testing.T) *callbacks {
	c := &callbacks{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(b))
		c.mu.Lock()
		defer c.mu.Unlock()
		if !smssink.ValidSignature(token, c.srv.URL+r.URL.String(), form, r.Header.Get("X-Twilio-Signature")) {
			c.badSig++
		}
		c.statuses = append(c.statuses, form.Get("MessageStatus")+"/"+form.Get("ErrorCode"))
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *callbacks) seen() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.statuses...)
}

func start(t *testing.T) *smssink.Sink {
	t.Helper()
	s, err := smssink.Start(smssink.Options{Addr: "127.0.0.1:0", AccountSID: sid, AuthToken: token,
		Undeliverable: []string{"+64210000009"}, Delay: 10 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestSink_TwilioClientSendsAndStatusCallbacksFollow(t *testing.T) {
	s := start(t)
	cb := newCallbacks(t)
	p := &api.CreateMessageParams{}
	p.SetTo("+64211234567")
	p.SetFrom("+15005550006")
	p.SetBody("Your code is 123456")
	p.SetStatusCallback(cb.srv.URL + "/sms/status?clinic=c1")
	m, err := twilio(t, s).CreateMessage(p)
	require.NoError(t, err)
	require.NotNil(t, m.Sid)
	require.True(t, strings.HasPrefix(*m.Sid, "SM"))
	require.Equal(t, "queued", *m.Status)

	require.Eventually(t, func() bool { return len(cb.seen()) == 2 }, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, []string{"sent/", "delivered/"}, cb.seen())
	require.Zero(t, cb.badSig, "callbacks carry a valid X-Twilio-Signature")

	got, err := twilio(t, s).FetchMessage(*m.Sid, &api.FetchMessageParams{})
	require.NoError(t, err)
	require.Equal(t, "delivered", *got.Status)
	require.Len(t, s.Messages(), 1)
	require.Equal(t, "Your code is 123456", s.Messages()[0].Body)
}

func TestSink_UndeliverableIsReportedAndInvalidIsRefused(t *testing.T) {
	s := start(t)
	cb := newCallbacks(t)
	p := &api.CreateMessageParams{}
	p.SetTo("+64210000009")
	p.SetFrom("+15005550006")
	p.SetBody("reminder")
	p.SetStatusCallback(cb.srv.URL + "/sms/status")
	_, err := twilio(t, s).CreateMessage(p)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(cb.seen()) == 2 }, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, []string{"sent/", "undelivered/30003"}, cb.seen())

	bad := &api.CreateMessageParams{}
	bad.SetTo("+15005550001")
	bad.SetFrom("+15005550006")
	bad.SetBody("x")
	_, err = twilio(t, s).CreateMessage(bad)
	var terr *twclient.TwilioRestError
	require.ErrorAs(t, err, &terr)
	require.Equal(t, 21211, terr.Code)
	require.Len(t, s.Messages(), 1, "a refused message is not kept")
}

func TestSink_RefusesWrongCredentials(t *testing.T) {
	s := start(t)
	req, err := http.NewRequest(http.MethodPost, s.URL()+"/2010-04-01/Accounts/"+sid+"/Messages.json",
		strings.NewReader(url.Values{"To": {"+64211234567"}, "From": {"+15005550006"}, "Body": {"x"}}.Encode()))
	require.NoError(t, err)
	req.SetBasicAuth(sid, "wrong")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}
