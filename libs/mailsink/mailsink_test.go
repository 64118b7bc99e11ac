package mailsink_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/smtp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/wneessen/go-mail"

	"github.com/havenhealth/haven/libs/mailsink"
)

func start(t *testing.T, dir string) *mailsink.Sink {
	t.Helper()
	s, err := mailsink.Start(mailsink.Options{SMTPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Dir: dir, RejectDomains: []string{"bounce.test"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func client(t *testing.T, s *mailsink.Sink) *mail.Client {
	t.Helper()
	host, port, err := net.SplitHostPort(s.SMTPAddr())
	require.NoError(t, err)
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	c, err := mail.NewClient(host, mail.WithPort(p), mail.WithTLSPolicy(mail.NoTLS), mail.WithTimeout(5*time.Second))
	require.NoError(t, err)
	return c
}

func TestSink_KeepsWhatGoMailSendsAndServesIt(t *testing.T) {
	s := start(t, t.TempDir())
	m := mail.NewMsg()
	require.NoError(t, m.From("reminders@clinic.test"))
	require.NoError(t, m.To("aroha@example.org"))
	m.Subject("Your appointment tomorrow — 10:00")
	m.SetBodyString(mail.TypeTextPlain, "Kia ora Aroha,\nsee you tomorrow at 10:00.\n")
	m.AddAlternativeString(mail.TypeTextHTML, "<p>Kia ora Aroha</p>")
	require.NoError(t, client(t, s).DialAndSend(m))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := s.WaitFor(ctx, "aroha@example.org")
	require.NoError(t, err)
	require.Equal(t, "Your appointment tomorrow — 10:00", got.Subject)
	require.Equal(t, "reminders@clinic.test", got.From)
	require.Contains(t, got.Text, "see you tomorrow at 10:00.")

	resp, err := http.Get(s.URL() + "/api/messages?to=aroha@example.org")
	require.NoError(t, err)
	defer resp.Body.Close()
	var list struct{ Messages []mailsink.Message }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	require.Len(t, list.Messages, 1)
	require.Equal(t, got.ID, list.Messages[0].ID)

	raw, err := http.Get(s.URL() + "/api/messages/" + got.ID + "/raw")
	require.NoError(t, err)
	defer raw.Body.Close()
	require.Equal(t, http.StatusOK, raw.StatusCode)
	require.Equal(t, "message/rfc822", raw.Header.Get("Content-Type"))
}

func TestSink_RefusesRejectedDomainsWith550(t *testing.T) {
	s := start(t, "")
	err := smtp.SendMail(s.SMTPAddr(), nil, "a@clinic.test", []string{"nobody@bounce.test"}, []byte("Subject: x\r\n\r\nhi\r\n"))
	require.Error(t, err)
	require.Contains(t, err.Error(), "550")
	require.Empty(t, s.Messages())
}

func TestSink_KeepsMessagesAcrossARestart(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir)
	require.NoError(t, smtp.SendMail(s.SMTPAddr(), nil, "a@clinic.test", []string{"b@example.org"}, []byte("Subject: kept\r\n\r\nbody\r\n")))
	require.NoError(t, s.Close())
	again := start(t, dir)
	msgs := again.Messages()
	require.Len(t, msgs, 1)
	require.Equal(t, "kept", msgs[0].Subject)
	require.Equal(t, []string{"b@example.org"}, msgs[0].To)
}

func TestSink_UnknownMessageIs404(t *testing.T) {
	s := start(t, "")
	resp, err := http.Get(s.URL() + "/api/messages/nope")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}
