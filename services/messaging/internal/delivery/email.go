// Package delivery hands messages to the channels' providers: e-mail to an
// SMTP server with go-mail, SMS to Twilio's Messages API (or a service
// speaking it) with twilio-go. Errors are classified by code only, never
// with the provider's text, which can quote the recipient.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/wneessen/go-mail"

	"github.com/havenhealth/haven/services/messaging/internal/app"
	"github.com/havenhealth/haven/services/messaging/internal/domain"
)

// TLS policies for the SMTP connection.
const (
	TLSNone     = "none"     // plain SMTP (development sinks only)
	TLSStartTLS = "starttls" // STARTTLS required (the default)
	TLSImplicit = "tls"      // TLS from the first byte (SMTPS, usually port 465)
)

// MailConfig says how to reach the SMTP server.
type MailConfig struct {
	SMTPAddr string // host:port
	From     string
	Username string
	Password string
	TLS      string // none | starttls | tls; empty is starttls
}

// Email sends e-mail through an SMTP server.
type Email struct {
	host    string
	port    int
	from    string
	options []mail.Option
}

// NewEmail checks c and returns the sender.
func NewEmail(c MailConfig) (*Email, error) {
	host, p, err := net.SplitHostPort(c.SMTPAddr)
	if err != nil {
		return nil, fmt.Errorf("mail: SMTP address must be host:port: %w", err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return nil, errors.New("mail: SMTP port must be a number from 1 to 65535")
	}
	if c.From == "" {
		return nil, errors.New("mail: a From address is required")
	}
	if err := mail.NewMsg().From(c.From); err != nil {
		return nil, errors.New("mail: the From address is not valid")
	}
	opts := []mail.Option{mail.WithPort(port)}
	switch c.TLS {
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	case "", TLSStartTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, mail.WithSSL())
	default:
		return nil, errors.New("mail: TLS must be none, starttls or tls")
	}
	if c.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(c.Username), mail.WithPassword(c.Password))
	}
	return &Email{host: host, port: port, from: c.From, options: opts}, nil
}

var _ app.Sender = (*Email)(nil)

// Send implements app.Sender: the server's 250 after DATA is success; a
// 5xx reply is a permanent refusal and a 4xx one a transient one, both by
// code; anything else (the server unreachable) is transient.
func (e *Email) Send(ctx context.Context, m domain.Outgoing) (string, error) {
	msg := mail.NewMsg()
	if err := msg.From(e.from); err != nil {
		return "", &app.DeliveryError{Code: "bad_sender", Permanent: true}
	}
	if err := msg.To(m.Recipient); err != nil {
		return "", &app.DeliveryError{Code: "bad_address", Permanent: true}
	}
	msg.Subject(m.Content.Subject)
	msg.SetMessageIDWithValue(m.ID + "@haven")
	msg.SetDate()
	msg.SetBodyString(mail.TypeTextPlain, m.Content.Body)
	if m.Content.Unsubscribe != "" {
		msg.SetGenHeader(mail.HeaderListUnsubscribe, "<"+m.Content.Unsubscribe+">")
	}
	c, err := mail.NewClient(e.host, e.options...)
	if err != nil {
		return "", fmt.Errorf("mail client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return "", classify(err)
	}
	return "", nil
}

// classify turns go-mail's error into a DeliveryError by SMTP code.
func classify(err error) error {
	var se *mail.SendError
	if !errors.As(err, &se) {
		return &app.DeliveryError{Code: "smtp_unreachable"}
	}
	code := se.ErrorCode()
	switch {
	case code >= 500:
		return &app.DeliveryError{Code: "smtp_" + strconv.Itoa(code), Permanent: true}
	case code >= 400:
		return &app.DeliveryError{Code: "smtp_" + strconv.Itoa(code)}
	case se.IsTemp():
		return &app.DeliveryError{Code: "smtp_temporary"}
	case se.Reason == mail.ErrGetRcpts || se.Reason == mail.ErrGetSender:
		return &app.DeliveryError{Code: "bad_address", Permanent: true}
	default:
		return &app.DeliveryError{Code: "smtp_unreachable"}
	}
}
