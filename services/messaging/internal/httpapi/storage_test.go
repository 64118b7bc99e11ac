package httpapi_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/mailsink"
	"github.com/havenhealth/haven/libs/messagingclient"
	libstore "github.com/havenhealth/haven/libs/store"
	"github.com/havenhealth/haven/services/messaging/internal/app"
	"github.com/havenhealth/haven/services/messaging/internal/store"
)

// databaseText is everything the database holds, as text: the SQLite
// files' bytes (with the write-ahead log), or every row of every table on
// PostgreSQL.
func (f *fixture) databaseText() string {
	f.t.Helper()
	if f.db.Dialect() == libstore.SQLite {
		path := strings.TrimPrefix(f.dbURL, "sqlite://")
		var all bytes.Buffer
		for _, p := range []string{path, path + "-wal"} {
			b, err := os.ReadFile(p)
			if err == nil {
				all.Write(b)
			}
		}
		require.NotZero(f.t, all.Len())
		return all.String()
	}
	var tables []string
	require.NoError(f.t, f.db.Raw(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`).
		Scan(&tables).Error)
	var all strings.Builder
	for _, tb := range tables {
		var rows []string
		require.NoError(f.t, f.db.Raw(`SELECT t::text FROM "`+tb+`" t`).Scan(&rows).Error)
		all.WriteString(strings.Join(rows, "\n"))
	}
	require.Contains(f.t, all.String(), "appointment_reminder", "the dump holds the rows")
	return all.String()
}

func TestStorage_RecipientAndContentAreKeptOnlyEncrypted(t *testing.T) {
	f := newFixture(t, options{})
	desk := f.auth.SignIn(authz.RoleFrontDesk, nil)
	const email, phone, name, when = "aroha.secret@example.org", "+64219876543", "Arohanui", "2026-03-04T11:15:00+13:00"
	patient := f.charting.patient(email, phone, name)
	for _, ch := range []string{messagingclient.Email, messagingclient.SMS} {
		req := reminder(patient, ch)
		req.Data["start_local"] = when
		f.sent(req)
	}
	user := f.sent(messagingclient.SendRequest{IdempotencyKey: "code-1", Channel: messagingclient.Email, Template: "sign_in_code",
		Trigger: messagingclient.TriggerIdentity, UserID: "u-1", To: "owner.secret@example.org", Data: map[string]string{"code": "771203"}})
	waitMail(t, f.mail, email)
	var list page
	require.Eventually(t, func() bool {
		f.ok(&desk, http.StatusOK, http.MethodGet, "/v1/messages?patient_id="+patient, "", &list)
		return len(list.Items) == 2 && list.Items[0].Status == "delivered"
	}, waitFor, tick)

	text := f.databaseText()
	require.Contains(t, text, patient, "the scan sees the rows (ids are kept in the clear)")
	for _, secret := range []string{email, phone, strings.TrimPrefix(phone, "+"), name, when, "Wednesday 4 March 2026",
		"owner.secret@example.org", "771203"} {
		require.NotContains(t, text, secret, "the database holds %q in plaintext", secret)
	}
	// It is there, sealed, and opens under the clinic's key.
	var sealed []string
	require.NoError(t, f.db.Table("messages").Where("id = ?", user.ID).Pluck("recipient", &sealed).Error)
	require.Len(t, sealed, 1)
	require.NotEmpty(t, sealed[0])
	var content []string
	require.NoError(t, f.db.Table("messages").Pluck("content", &content).Error)
	for _, c := range content {
		require.Empty(t, c, "a final message's rendered text is dropped")
	}
	for _, secret := range []string{email, phone, name, "owner.secret@example.org", "771203"} {
		require.NotContains(t, f.logs.String(), secret, "logs hold no personal data")
	}
}

// deadAddr is a local address nothing listens on (yet).
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func startSink(t *testing.T, addr string) *mailsink.Sink {
	t.Helper()
	s, err := mailsink.Start(mailsink.Options{SMTPAddr: addr, HTTPAddr: "127.0.0.1:0"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestDispatcher_RetriesWhatTheServerCouldNotTake(t *testing.T) {
	addr := deadAddr(t)
	f := newFixture(t, options{smtpAddr: addr})
	desk := f.auth.SignIn(authz.RoleFrontDesk, nil)
	patient := f.charting.patient("aroha@example.org", "", "Ro")

	res := f.sent(reminder(patient, messagingclient.Email))
	require.Equal(t, messagingclient.StatusQueued, res.Status, "the SMTP server is down: kept for a retry")
	m := f.message(&desk, res.ID)
	require.Equal(t, []string{"queued/system/", "queued/smtp/smtp_unreachable"}, m.steps())
	require.Nil(t, m.SentAt)

	sink := startSink(t, addr)
	ctx := context.Background()
	f.app.Dispatch(ctx)
	require.Empty(t, sink.Messages(), "not due before the back-off")
	f.clock.Advance(app.DefaultRetryBase + time.Second)
	f.app.Dispatch(ctx)
	require.Len(t, sink.Messages(), 1)
	m = f.message(&desk, res.ID)
	require.Equal(t, "delivered", m.Status)
	require.Equal(t, []string{"queued/system/", "queued/smtp/smtp_unreachable", "sent/smtp/250", "delivered/smtp/250"}, m.steps())
	f.clock.Advance(time.Hour)
	f.app.Dispatch(ctx)
	require.Len(t, sink.Messages(), 1, "sent once")
}

func TestDispatcher_SendsWhatAStoppedWorkerHeldOnce(t *testing.T) {
	addr := deadAddr(t)
	f := newFixture(t, options{smtpAddr: addr})
	desk := f.auth.SignIn(authz.RoleFrontDesk, nil)
	patient := f.charting.patient("aroha@example.org", "", "Ro")
	res := f.sent(reminder(patient, messagingclient.Email))
	require.Equal(t, messagingclient.StatusQueued, res.Status)
	sink := startSink(t, addr)

	// A worker claims the message, then stops before it sends.
	keys := f.crypter()
	f.clock.Advance(app.DefaultRetryBase + time.Second)
	now := f.clock.Now()
	_, ok, err := store.New(f.db, keys).ClaimMessage(context.Background(), f.auth.ClinicID, res.ID, now, now.Add(app.DefaultLease))
	require.NoError(t, err)
	require.True(t, ok)

	f.app.Dispatch(context.Background())
	require.Empty(t, sink.Messages(), "held: nobody else sends it")
	require.Equal(t, "queued", f.message(&desk, res.ID).Status, "a held message shows as queued")

	f.clock.Advance(app.DefaultLease + time.Second)
	f.app.Dispatch(context.Background())
	require.Len(t, sink.Messages(), 1)
	m := f.message(&desk, res.ID)
	require.Equal(t, "delivered", m.Status)
	require.Contains(t, m.steps(), "queued/system/claim_expired")
	f.app.Dispatch(context.Background())
	require.Len(t, sink.Messages(), 1, "sent once")
}

func TestDispatcher_FailsWhatAClosedClinicLeftQueued(t *testing.T) {
	f := newFixture(t, options{smtpAddr: deadAddr(t)})
	patient := f.charting.patient("aroha@example.org", "", "Ro")
	res := f.sent(reminder(patient, messagingclient.Email))
	require.Equal(t, messagingclient.StatusQueued, res.Status)

	// The clinic closes: its key is destroyed (crypto-shredding).
	require.NoError(t, f.vault.Destroy(context.Background(), f.auth.ClinicID))
	f.crypter().Forget(f.auth.ClinicID)
	f.clock.Advance(app.DefaultRetryBase + time.Second)
	f.app.Dispatch(context.Background())

	var row struct{ Status, ErrorCode string }
	require.NoError(t, f.db.Table("messages").Select("status", "error_code").Where("id = ?", res.ID).Take(&row).Error)
	require.Equal(t, "failed", row.Status)
	require.Equal(t, "clinic_closed", row.ErrorCode)
}
