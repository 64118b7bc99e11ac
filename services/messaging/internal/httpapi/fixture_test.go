package httpapi_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/audit/audittest"
	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/fieldcrypt/fieldcrypttest"
	"github.com/havenhealth/haven/libs/httpserver"
	"github.com/havenhealth/haven/libs/mailsink"
	"github.com/havenhealth/haven/libs/messagingclient"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/libs/residency"
	"github.com/havenhealth/haven/libs/service/servicetest"
	"github.com/havenhealth/haven/libs/smssink"
	libstore "github.com/havenhealth/haven/libs/store"
	"github.com/havenhealth/haven/libs/store/storetest"
	"github.com/havenhealth/haven/services/messaging/internal/app"
	"github.com/havenhealth/haven/services/messaging/internal/contacts"
	"github.com/havenhealth/haven/services/messaging/internal/delivery"
	"github.com/havenhealth/haven/services/messaging/internal/domain"
	"github.com/havenhealth/haven/services/messaging/internal/httpapi"
	"github.com/havenhealth/haven/services/messaging/internal/store"
	"github.com/havenhealth/haven/services/messaging/migrations"
)

const (
	slug     = "harbour-physio"
	smsSID   = "AC00000000000000000000000000000001"
	smsToken = "0123456789abcdef0123456789abcdef"
	// undeliverable is accepted by the SMS sink, then reported undelivered.
	undeliverable = "+64210000009"
)

// fakeCharting is charting's internal contact endpoint as messaging sees
// it: it answers only requests with a valid service-to-service signature
// for the clinic, and counts the lookups.
type fakeCharting struct {
	mu       sync.Mutex
	contacts map[string]app.Contact
	calls    atomic.Int32
	down     atomic.Bool
	srv      *httptest.Server
}

func newFakeCharting(t *testing.T, secret []byte, region, clinicID string) *fakeCharting {
	c := &fakeCharting{contacts: map[string]app.Contact{}}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, err := edgeauth.VerifyInternal(r, secret, region, time.Now())
		if err != nil || got != clinicID {
			problem.Write(w, r, problem.Unauthorized("not a service of the region"))
			return
		}
		c.calls.Add(1)
		if c.down.Load() {
			problem.Write(w, r, problem.Unavailable("down"))
			return
		}
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/internal/v1/patients/"), "/contact")
		c.mu.Lock()
		ct, ok := c.contacts[id]
		c.mu.Unlock()
		if !ok {
			problem.Write(w, r, problem.NotFound("no such patient"))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"patient_id": ct.PatientID, "email": ct.Email, "phone": ct.Phone, "first_name": ct.FirstName})
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// patient adds a patient to charting and returns their id.
func (c *fakeCharting) patient(email, phone, firstName string) string {
	id := uuid.Must(uuid.NewV7()).String()
	c.mu.Lock()
	c.contacts[id] = app.Contact{PatientID: id, Email: email, Phone: phone, FirstName: firstName}
	c.mu.Unlock()
	return id
}

// merge makes charting answer for dup with kept's details, as it does
// for a profile merged into another.
func (c *fakeCharting) merge(dup, kept string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.contacts[dup] = c.contacts[kept]
}

// clock is the fixture's time, moved by the tests.
type clock struct{ now atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.now.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.now.Add(int64(d)) }

type options struct {
	smtpAddr string // default: the fixture's mail sink
	noSMS    bool
	noMail   bool
}

// fixture is messaging's HTTP API over a fresh database (SQLite, or
// PostgreSQL with HAVEN_TEST_POSTGRES_URL), real router signatures, tokens
// and sessions, a real SMTP sink and SMS sink, a charting that checks the
// internal signature, and a router in front of the public endpoints.
type fixture struct {
	t        *testing.T
	db       *libstore.DB
	dbURL    string
	auth     *servicetest.Auth
	app      *app.App
	handler  http.Handler
	mail     *mailsink.Sink
	sms      *smssink.Sink
	charting *fakeCharting
	router   *httptest.Server
	clock    *clock
	logs     *syncBuffer
	keys     *fieldcrypt.Crypter
	vault    *fieldcrypttest.MemoryKeys
}

// crypter is the fixture's field crypter.
func (f *fixture) crypter() *fieldcrypt.Crypter { return f.keys }

// syncBuffer keeps what the service logged, for tests to read.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newFixture(t *testing.T, o options) *fixture {
	t.Helper()
	ctx := context.Background()
	dbURL := storetest.URL(t)
	db, err := libstore.Open(ctx, dbURL, libstore.Options{Migrations: migrations.FS})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	require.NoError(t, fieldcrypt.Migrate(ctx, db))
	require.NoError(t, audit.Migrate(ctx, db))
	fieldcrypt.RegisterSerializer()
	keys := fieldcrypttest.NewMemoryKeys()
	crypter := fieldcrypt.New(keys, db, fieldcrypt.Options{})
	auth := servicetest.NewAuth(t, residency.Sydney)
	require.NoError(t, keys.CreateKey(ctx, auth.ClinicID))

	f := &fixture{t: t, db: db, dbURL: dbURL, auth: auth, clock: &clock{}, logs: &syncBuffer{}, keys: crypter, vault: keys}
	logger := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("service logs:\n%s", f.logs.String())
		}
	})
	f.clock.now.Store(time.Now().UnixNano())
	f.mail, err = mailsink.Start(mailsink.Options{SMTPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", RejectDomains: []string{"bounce.test"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.mail.Close() })
	f.sms, err = smssink.Start(smssink.Options{Addr: "127.0.0.1:0", AccountSID: smsSID, AuthToken: smsToken,
		Undeliverable: []string{undeliverable}, Delay: 20 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.sms.Close() })
	f.charting = newFakeCharting(t, auth.Secret, string(auth.Region), auth.ClinicID)

	senders := map[domain.Channel]app.Sender{}
	var callbacks app.CallbackVerifier
	if !o.noMail {
		addr := o.smtpAddr
		if addr == "" {
			addr = f.mail.SMTPAddr()
		}
		e, err := delivery.NewEmail(delivery.MailConfig{SMTPAddr: addr, From: "reminders@haven.test", TLS: delivery.TLSNone})
		require.NoError(t, err)
		senders[domain.Email] = e
	}
	if !o.noSMS {
		s, err := delivery.NewSMS(delivery.SMSConfig{AccountSID: smsSID, AuthToken: smsToken, From: "+15005550006", APIURL: f.sms.URL()})
		require.NoError(t, err)
		senders[domain.SMS], callbacks = s, s
	}
	key, err := domain.UnsubscribeKey(auth.Secret)
	require.NoError(t, err)
	f.router = httptest.NewServer(http.HandlerFunc(f.route))
	t.Cleanup(f.router.Close)
	f.app = app.New(app.Deps{
		Store: store.New(db, crypter), Crypter: crypter, Senders: senders, Callbacks: callbacks,
		Contacts: &contacts.Charting{BaseURL: f.charting.srv.URL, Secret: auth.Secret, Region: string(auth.Region)},
		Region:   string(auth.Region), PublicURL: f.router.URL, UnsubscribeKey: key, Now: f.clock.Now, Logger: logger,
	})
	api := &httpapi.API{App: f.app, Authenticated: auth.Deps.Authenticated, Logger: logger,
		EdgeSecret: auth.Secret, Region: string(auth.Region)}
	mux := http.NewServeMux()
	api.Register(mux)
	f.handler = httpserver.New(mux, httpserver.Options{Logger: logger}).Handler()
	return f
}

// route is the residency router for the fixture's clinic: /c/<slug>/messaging/...
// is forwarded with the router's signature and the client's headers
// stripped, as platform/router does.
func (f *fixture) route(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/c/"+slug+"/messaging")
	if !ok {
		problem.Write(w, r, problem.NotFound("no clinic with this slug"))
		return
	}
	out := r.Clone(r.Context())
	out.URL.Path, out.URL.RawPath, out.RequestURI = rest, "", ""
	edgeauth.Sign(out, f.auth.Secret, f.auth.ClinicID, string(f.auth.Region), time.Now())
	f.handler.ServeHTTP(w, out)
}

// do sends a router-signed request as c (anonymous when nil).
func (f *fixture) do(c *servicetest.Caller, method, path, body string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, f.auth.Request(c, method, path, body))
	return w
}

// ok sends a request that must answer status and decodes its JSON into out.
func (f *fixture) ok(c *servicetest.Caller, status int, method, path, body string, out any) {
	f.t.Helper()
	w := f.do(c, method, path, body)
	require.Equal(f.t, status, w.Code, "%s %s: %s", method, path, w.Body.String())
	if out != nil {
		require.NoError(f.t, json.Unmarshal(w.Body.Bytes(), out))
	}
}

// send asks for a message as another of the region's services would,
// with libs/messagingclient's request and signature.
func (f *fixture) send(req messagingclient.SendRequest) *httptest.ResponseRecorder {
	body, err := json.Marshal(req)
	require.NoError(f.t, err)
	r := httptest.NewRequest(http.MethodPost, "/internal/v1/messages", strings.NewReader(string(body)))
	r.Header.Set("Content-Type", "application/json")
	edgeauth.SignInternal(r, f.auth.Secret, f.auth.ClinicID, string(f.auth.Region), time.Now())
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	return w
}

// sent sends req and requires a 201, returning the result.
func (f *fixture) sent(req messagingclient.SendRequest) messagingclient.SendResult {
	f.t.Helper()
	w := f.send(req)
	require.Equal(f.t, http.StatusCreated, w.Code, w.Body.String())
	var res messagingclient.SendResult
	require.NoError(f.t, json.Unmarshal(w.Body.Bytes(), &res))
	require.False(f.t, res.Duplicate)
	return res
}

// reminder is an appointment reminder for patient on channel.
func reminder(patientID string, ch string) messagingclient.SendRequest {
	return messagingclient.SendRequest{
		IdempotencyKey: "reminder-" + uuid.NewString(), Channel: ch, Template: domain.TemplateAppointmentReminder,
		Trigger: messagingclient.TriggerReminder, PatientID: patientID,
		// What scheduling's reminder passes, with the clinic's slug.
		Data: map[string]string{"clinic_slug": slug, "appointment_id": uuid.NewString(), "start": "2026-03-02T21:00:00Z",
			"start_local": "2026-03-03T10:00:00+13:00", "time_zone": "Pacific/Auckland", "offset_minutes": "2880"},
	}
}

type event struct {
	Status string    `json:"status"`
	Detail string    `json:"detail"`
	Source string    `json:"source"`
	At     time.Time `json:"at"`
}

type message struct {
	ID          string     `json:"id"`
	PatientID   string     `json:"patient_id"`
	UserID      string     `json:"user_id"`
	Channel     string     `json:"channel"`
	Template    string     `json:"template"`
	Trigger     string     `json:"trigger"`
	Status      string     `json:"status"`
	ErrorCode   string     `json:"error_code"`
	ProviderID  string     `json:"provider_id"`
	CreatedAt   time.Time  `json:"created_at"`
	SentAt      *time.Time `json:"sent_at"`
	DeliveredAt *time.Time `json:"delivered_at"`
	FailedAt    *time.Time `json:"failed_at"`
	History     []event    `json:"history"`
}

// steps is the history as status/source/detail.
func (m message) steps() []string {
	out := make([]string, len(m.History))
	for i, e := range m.History {
		out[i] = e.Status + "/" + e.Source + "/" + e.Detail
	}
	return out
}

// message reads one message of the log as c.
func (f *fixture) message(c *servicetest.Caller, id string) message {
	f.t.Helper()
	var m message
	f.ok(c, http.StatusOK, http.MethodGet, "/v1/messages/"+id, "", &m)
	return m
}

// How long tests poll for something asynchronous, and how often.
const (
	waitFor = 10 * time.Second
	tick    = 10 * time.Millisecond
)

// waitStatus polls the log until the message has status.
func (f *fixture) waitStatus(c *servicetest.Caller, id, status string) message {
	f.t.Helper()
	var m message
	require.Eventually(f.t, func() bool {
		m = f.message(c, id)
		return m.Status == status
	}, waitFor, tick, "message %s never reached %s", id, status)
	return m
}

// auditEvents returns the audit outbox, oldest first.
func (f *fixture) auditEvents() []audit.Event {
	f.t.Helper()
	return audittest.Outbox(f.t, f.db.DB)
}

// countEvents counts audit events of action and outcome by actor (user id or system name).
func (f *fixture) countEvents(actor string, action audit.Action, outcome audit.Outcome) int {
	n := 0
	for _, e := range f.auditEvents() {
		if (e.Actor.UserID == actor || e.Actor.System == actor) && e.Action == action && e.Outcome == outcome {
			n++
		}
	}
	return n
}

// problemOf requires w to be a problem+json answer of status.
func problemOf(t *testing.T, w *httptest.ResponseRecorder, status int) problem.Problem {
	t.Helper()
	require.Equal(t, status, w.Code, w.Body.String())
	require.Equal(t, problem.ContentType, w.Header().Get("Content-Type"))
	var p problem.Problem
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
	return p
}

func waitMail(t *testing.T, s *mailsink.Sink, to string) mailsink.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := s.WaitFor(ctx, to)
	require.NoError(t, err, "no e-mail to %s", to)
	return m
}

// encodeForm and signature are the provider's side of a callback.
func encodeForm(v map[string][]string) string { return url.Values(v).Encode() }

func signature(token, u string, v map[string][]string) string {
	return smssink.Signature(token, u, url.Values(v))
}
