package delivery

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	twclient "github.com/twilio/twilio-go/client"
	twapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/havenhealth/haven/services/messaging/internal/app"
	"github.com/havenhealth/haven/services/messaging/internal/domain"
)

// SMSConfig says how to reach the SMS provider.
type SMSConfig struct {
	AccountSID string
	AuthToken  string
	From       string // E.164 sender number
	// APIURL replaces https://api.twilio.com (a local sink); empty is the
	// provider's real API.
	APIURL string
}

// SMS sends text messages through Twilio's Messages API with twilio-go,
// and checks the provider's status callbacks.
type SMS struct {
	api       *twapi.ApiService
	from      string
	validator twclient.RequestValidator
}

// NewSMS checks c and returns the sender.
func NewSMS(c SMSConfig) (*SMS, error) {
	if c.AccountSID == "" || c.AuthToken == "" || c.From == "" {
		return nil, errors.New("sms: account SID, auth token and From number are all required")
	}
	cl := &twclient.Client{Credentials: twclient.NewCredentials(c.AccountSID, c.AuthToken),
		HTTPClient: &http.Client{Timeout: 15 * time.Second}}
	cl.SetAccountSid(c.AccountSID)
	var base twclient.BaseClient = cl
	if c.APIURL != "" {
		u, err := url.Parse(c.APIURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("sms: API URL must be an http(s) base URL")
		}
		base = redirect{Client: cl, base: u}
	}
	return &SMS{api: twapi.NewApiServiceWithClient(base), from: c.From, validator: twclient.NewRequestValidator(c.AuthToken)}, nil
}

// redirect is twilio-go's own client with its requests sent to another
// host that speaks the same API.
type redirect struct {
	*twclient.Client
	base *url.URL
}

// SendRequest implements twilio-go's BaseClient.
func (r redirect) SendRequest(method, rawURL string, data url.Values, headers map[string]interface{}, body ...byte) (*http.Response, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	u.Scheme, u.Host = r.base.Scheme, r.base.Host
	return r.Client.SendRequest(method, u.String(), data, headers, body...)
}

var (
	_ app.Sender           = (*SMS)(nil)
	_ app.CallbackVerifier = (*SMS)(nil)
)

// Send implements app.Sender: the provider's acceptance gives the message
// SID; a 4xx refusal is permanent (by the provider's error code), a 429 or
// 5xx or no answer transient.
func (s *SMS) Send(_ context.Context, m domain.Outgoing) (string, error) {
	p := &twapi.CreateMessageParams{}
	p.SetTo(m.Recipient)
	p.SetFrom(s.from)
	p.SetBody(m.Content.Body)
	if m.CallbackURL != "" {
		p.SetStatusCallback(m.CallbackURL)
	}
	res, err := s.api.CreateMessage(p)
	if err != nil {
		var te *twclient.TwilioRestError
		if errors.As(err, &te) {
			code := "provider_" + strconv.Itoa(te.Code)
			return "", &app.DeliveryError{Code: code, Permanent: te.Status >= 400 && te.Status < 500 && te.Status != http.StatusTooManyRequests}
		}
		return "", &app.DeliveryError{Code: "provider_unreachable"}
	}
	if res.Sid == nil || *res.Sid == "" {
		return "", &app.DeliveryError{Code: "provider_no_sid"}
	}
	return *res.Sid, nil
}

// Verify implements app.CallbackVerifier with twilio-go's RequestValidator:
// X-Twilio-Signature over the callback URL the provider was given and the
// form it posted.
func (s *SMS) Verify(callbackURL string, form url.Values, signature string) bool {
	params := make(map[string]string, len(form))
	for k, v := range form {
		if len(v) > 0 {
			params[k] = v[0]
		}
	}
	return s.validator.Validate(callbackURL, params, signature)
}
