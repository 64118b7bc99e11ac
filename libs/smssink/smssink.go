// Package smssink is the development stack's SMS provider: it speaks the
// shape of Twilio's Programmable Messaging REST API (2010-04-01) — create a
// message, fetch it — and then reports delivery to the message's
// StatusCallback the way Twilio does (form-encoded, signed with
// X-Twilio-Signature), so that a sender's whole path, including status
// callbacks and failures, runs against it. It keeps every message for a
// small read API.
//
// Behaviour by recipient (the same numbers Twilio's test credentials use):
// +15005550001 is refused as invalid (400, code 21211), +15005550009 as
// unable to receive SMS (400, code 21614); numbers in
// Options.Undeliverable are accepted and then reported undelivered
// (ErrorCode 30003); anything else is sent, then delivered.
//
// Development and tests only.
package smssink

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // Twilio's request signature is HMAC-SHA1; this reproduces it
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Options configure a Sink.
type Options struct {
	Addr       string // listen address; "127.0.0.1:0" picks a port
	AccountSID string // e.g. "AC" + 32 hex digits
	AuthToken  string
	// Undeliverable numbers are accepted and then reported undelivered.
	Undeliverable []string
	// Delay is how long each status step takes (default 50ms).
	Delay  time.Duration
	Logger *slog.Logger
}

// Message is one message as the API and the read API show it.
type Message struct {
	SID            string    `json:"sid"`
	AccountSID     string    `json:"account_sid"`
	To             string    `json:"to"`
	From           string    `json:"from"`
	Body           string    `json:"body"`
	Status         string    `json:"status"`
	ErrorCode      *int      `json:"error_code"`
	ErrorMessage   *string   `json:"error_message"`
	DateCreated    string    `json:"date_created"`
	DateUpdated    string    `json:"date_updated"`
	Direction      string    `json:"direction"`
	NumSegments    string    `json:"num_segments"`
	URI            string    `json:"uri"`
	StatusCallback string    `json:"-"`
	History        []Status  `json:"-"`
	created        time.Time `json:"-"`
}

// Status is one step a message went through, with the callback's outcome.
type Status struct {
	Status         string    `json:"status"`
	At             time.Time `json:"at"`
	CallbackStatus int       `json:"callback_status,omitempty"` // HTTP status the callback got; 0 if none
}

// Sink is a running SMS sink.
type Sink struct {
	o    Options
	ln   net.Listener
	srv  *http.Server
	hc   *http.Client
	mu   sync.Mutex
	msgs []*Message
	wg   sync.WaitGroup
	stop chan struct{}
}

// Start listens and serves until Close.
func Start(o Options) (*Sink, error) {
	if o.AccountSID == "" || o.AuthToken == "" {
		return nil, errors.New("smssink: AccountSID and AuthToken are required")
	}
	if o.Delay <= 0 {
		o.Delay = 50 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("smssink: listen: %w", err)
	}
	s := &Sink{o: o, ln: ln, hc: &http.Client{Timeout: 5 * time.Second}, stop: make(chan struct{})}
	s.srv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL is the API's base URL (use it as the provider's base URL).
func (s *Sink) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops the server and waits for pending callbacks.
func (s *Sink) Close() error {
	close(s.stop)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	s.wg.Wait()
	return err
}

// Messages returns copies of the messages received, oldest first.
func (s *Sink) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.msgs))
	for i, m := range s.msgs {
		out[i] = *m
		out[i].History = slices.Clone(m.History)
	}
	return out
}

var accountPath = regexp.MustCompile(`^/2010-04-01/Accounts/([^/]+)/Messages(?:/([^/]+))?\.json$`)

func (s *Sink) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/2010-04-01/Accounts/", s.api)
	mux.HandleFunc("GET /api/messages", func(w http.ResponseWriter, r *http.Request) {
		to := r.URL.Query().Get("to")
		type entry struct {
			Message
			History []Status `json:"history"`
		}
		out := []entry{}
		for _, m := range s.Messages() {
			if to == "" || m.To == to {
				out = append(out, entry{m, m.History})
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"messages": out})
	})
	return mux
}

// api serves Twilio's Messages resource: POST (create) and GET (fetch).
func (s *Sink) api(w http.ResponseWriter, r *http.Request) {
	m := accountPath.FindStringSubmatch(r.URL.Path)
	if m == nil {
		twilioError(w, http.StatusNotFound, 20404, "The requested resource was not found")
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(s.o.AccountSID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(pass), []byte(s.o.AuthToken)) != 1 || m[1] != s.o.AccountSID {
		twilioError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	switch {
	case r.Method == http.MethodPost && m[2] == "":
		s.create(w, r)
	case r.Method == http.MethodGet && m[2] != "":
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, msg := range s.msgs {
			if msg.SID == m[2] {
				writeJSON(w, http.StatusOK, msg)
				return
			}
		}
		twilioError(w, http.StatusNotFound, 20404, "The requested resource was not found")
	default:
		twilioError(w, http.StatusMethodNotAllowed, 20004, "Method not allowed")
	}
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

func (s *Sink) create(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		twilioError(w, http.StatusBadRequest, 20001, "Invalid form body")
		return
	}
	to, from, body := r.PostForm.Get("To"), r.PostForm.Get("From"), r.PostForm.Get("Body")
	if from == "" {
		from = r.PostForm.Get("MessagingServiceSid")
	}
	switch {
	case to == "":
		twilioError(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
		return
	case from == "":
		twilioError(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.")
		return
	case body == "":
		twilioError(w, http.StatusBadRequest, 21602, "Message body is required.")
		return
	case len([]rune(body)) > 1600:
		twilioError(w, http.StatusBadRequest, 21617, "The concatenated message body exceeds the 1600 character limit.")
		return
	case to == "+15005550001" || !e164.MatchString(to):
		twilioError(w, http.StatusBadRequest, 21211, "The 'To' number is not a valid phone number.")
		return
	case to == "+15005550009":
		twilioError(w, http.StatusBadRequest, 21614, "'To' number is not a valid mobile number")
		return
	}
	now := time.Now().UTC()
	msg := &Message{
		SID: "SM" + randomHex(16), AccountSID: s.o.AccountSID, To: to, From: from, Body: body,
		Status: "queued", DateCreated: now.Format(time.RFC1123Z), DateUpdated: now.Format(time.RFC1123Z),
		Direction: "outbound-api", NumSegments: fmt.Sprint(1 + len([]rune(body))/160),
		StatusCallback: r.PostForm.Get("StatusCallback"), History: []Status{{Status: "queued", At: now}}, created: now,
	}
	msg.URI = fmt.Sprintf("/2010-04-01/Accounts/%s/Messages/%s.json", s.o.AccountSID, msg.SID)
	s.mu.Lock()
	s.msgs = append(s.msgs, msg)
	resp := *msg
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, resp)

	final := "delivered"
	if slices.Contains(s.o.Undeliverable, to) {
		final = "undelivered"
	}
	s.wg.Add(1)
	go s.progress(msg, []string{"sent", final})
}

// progress moves msg through steps, calling its StatusCallback at each.
func (s *Sink) progress(msg *Message, steps []string) {
	defer s.wg.Done()
	for _, step := range steps {
		select {
		case <-s.stop:
			return
		case <-time.After(s.o.Delay):
		}
		now := time.Now().UTC()
		s.mu.Lock()
		msg.Status, msg.DateUpdated = step, now.Format(time.RFC1123Z)
		if step == "undelivered" {
			code, text := 30003, "Unreachable destination handset"
			msg.ErrorCode, msg.ErrorMessage = &code, &text
		}
		msg.History = append(msg.History, Status{Status: step, At: now})
		idx := len(msg.History) - 1
		cb := msg.StatusCallback
		form := url.Values{
			"AccountSid": {s.o.AccountSID}, "MessageSid": {msg.SID}, "SmsSid": {msg.SID}, "MessageStatus": {step},
			"SmsStatus": {step}, "To": {msg.To}, "From": {msg.From}, "ApiVersion": {"2010-04-01"},
		}
		if msg.ErrorCode != nil {
			form.Set("ErrorCode", fmt.Sprint(*msg.ErrorCode))
		}
		s.mu.Unlock()
		if cb == "" {
			continue
		}
		status := s.callback(cb, form)
		s.mu.Lock()
		msg.History[idx].CallbackStatus = status
		s.mu.Unlock()
	}
}

// callback POSTs form to cb, signed as Twilio signs it, and returns the
// HTTP status (0 when the request failed).
func (s *Sink) callback(cb string, form url.Values) int {
	req, err := http.NewRequest(http.MethodPost, cb, strings.NewReader(form.Encode()))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", Signature(s.o.AuthToken, cb, form))
	resp, err := s.hc.Do(req)
	if err != nil {
		s.o.Logger.Warn("smssink: status callback failed", slog.String("error", err.Error()))
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// Signature is Twilio's X-Twilio-Signature for a form POST to fullURL:
// base64(HMAC-SHA1(authToken, fullURL + each parameter name and value, in
// name order)).
func Signature(authToken, fullURL string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range keys {
		for _, v := range form[k] {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ValidSignature reports whether sig is Twilio's signature of the request.
func ValidSignature(authToken, fullURL string, form url.Values, sig string) bool {
	return hmac.Equal([]byte(Signature(authToken, fullURL, form)), []byte(sig))
}

func twilioError(w http.ResponseWriter, status, code int, message string) {
	writeJSON(w, status, map[string]any{
		"code": code, "message": message, "more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), "status": status,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
