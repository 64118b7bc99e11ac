// Package mailsink is the development stack's mail server: a real SMTP
// server (github.com/emersion/go-smtp) that keeps every message it accepts
// and serves them over a small HTTP read API, for developers and for tests
// that must see what was really sent. Recipients at a domain listed in
// Options.RejectDomains are refused with 550, so that senders can be tested
// against a refusal too.
//
// It is for development and tests only: no TLS, no authentication, and it
// keeps the mail it receives (in memory, and under Options.Dir if set).
package mailsink

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Options configure a Sink.
type Options struct {
	// SMTPAddr and HTTPAddr are where to listen; "127.0.0.1:0" picks ports.
	SMTPAddr, HTTPAddr string
	// Dir, when set, keeps every message there as <id>.eml plus an index
	// line in messages.jsonl, and reloads them at start.
	Dir string
	// RejectDomains are recipient domains refused at RCPT with 550.
	RejectDomains []string
	// MaxBytes bounds a message's size (default 10 MiB).
	MaxBytes int64
	Logger   *slog.Logger
}

// Message is one accepted message as the read API shows it.
type Message struct {
	ID         string    `json:"id"`
	From       string    `json:"from"`
	To         []string  `json:"to"`
	Subject    string    `json:"subject"`
	MessageID  string    `json:"message_id,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
	Size       int       `json:"size"`
	// Text is the plain-text body (the text/plain part of a multipart
	// message), decoded.
	Text string `json:"text,omitempty"`
	// Headers holds the top-level headers (first value of each).
	Headers map[string]string `json:"headers,omitempty"`
	raw     []byte
}

// Sink is a running mail sink.
type Sink struct {
	o      Options
	smtp   *smtp.Server
	smtpLn net.Listener
	http   *http.Server
	httpLn net.Listener

	mu   sync.Mutex
	msgs []Message
	wait chan struct{} // closed and replaced on every new message
}

// Start listens on both addresses and serves until Close.
func Start(o Options) (*Sink, error) {
	if o.MaxBytes <= 0 {
		o.MaxBytes = 10 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Sink{o: o, wait: make(chan struct{})}
	if o.Dir != "" {
		if err := s.load(); err != nil {
			return nil, err
		}
	}
	var err error
	if s.smtpLn, err = net.Listen("tcp", o.SMTPAddr); err != nil {
		return nil, fmt.Errorf("mailsink: smtp listen: %w", err)
	}
	if s.httpLn, err = net.Listen("tcp", o.HTTPAddr); err != nil {
		_ = s.smtpLn.Close()
		return nil, fmt.Errorf("mailsink: http listen: %w", err)
	}
	s.smtp = smtp.NewServer(backend{s})
	s.smtp.Domain = "mailsink.localhost"
	s.smtp.MaxMessageBytes = o.MaxBytes
	s.smtp.MaxRecipients = 100
	s.smtp.ReadTimeout = 30 * time.Second
	s.smtp.WriteTimeout = 30 * time.Second
	s.smtp.AllowInsecureAuth = true
	s.http = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.smtp.Serve(s.smtpLn) }()
	go func() { _ = s.http.Serve(s.httpLn) }()
	return s, nil
}

// SMTPAddr is the SMTP listener's address (host:port).
func (s *Sink) SMTPAddr() string { return s.smtpLn.Addr().String() }

// URL is the read API's base URL.
func (s *Sink) URL() string { return "http://" + s.httpLn.Addr().String() }

// Close stops both servers.
func (s *Sink) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return errors.Join(s.smtp.Close(), s.http.Shutdown(ctx))
}

// Messages returns the messages received so far, oldest first.
func (s *Sink) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

// WaitFor waits until a message to addr has arrived (or ctx ends) and
// returns the newest one.
func (s *Sink) WaitFor(ctx context.Context, addr string) (Message, error) {
	for {
		s.mu.Lock()
		for i := len(s.msgs) - 1; i >= 0; i-- {
			if slices.ContainsFunc(s.msgs[i].To, func(t string) bool { return strings.EqualFold(t, addr) }) {
				m := s.msgs[i]
				s.mu.Unlock()
				return m, nil
			}
		}
		wait := s.wait
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return Message{}, ctx.Err()
		case <-wait:
		}
	}
}

func (s *Sink) add(m Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.o.Dir != "" {
		if err := s.persist(m); err != nil {
			return err
		}
	}
	s.msgs = append(s.msgs, m)
	close(s.wait)
	s.wait = make(chan struct{})
	return nil
}

// backend and session implement go-smtp's server side.
type backend struct{ s *Sink }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s    *Sink
	from string
	to   []string
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	at := strings.LastIndexByte(to, '@')
	if at < 1 || at == len(to)-1 {
		return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "bad recipient address syntax"}
	}
	if slices.Contains(x.s.o.RejectDomains, strings.ToLower(to[at+1:])) {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox here"}
	}
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(io.LimitReader(r, x.s.o.MaxBytes+1))
	if err != nil {
		return err
	}
	if int64(len(raw)) > x.s.o.MaxBytes {
		return smtp.ErrDataTooLarge
	}
	m := parse(raw)
	m.ID, m.From, m.To, m.ReceivedAt, m.Size = newID(), x.from, slices.Clone(x.to), time.Now().UTC(), len(raw)
	if err := x.s.add(m); err != nil {
		x.s.o.Logger.Error("mailsink: keeping a message failed", slog.String("error", err.Error()))
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "could not store the message; try again"}
	}
	return nil
}

// parse reads the headers and the plain-text body of raw.
func parse(raw []byte) Message {
	m := Message{raw: raw, Headers: map[string]string{}}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		m.Text = string(raw)
		return m
	}
	dec := new(mime.WordDecoder)
	for k, v := range msg.Header {
		if len(v) > 0 {
			if d, err := dec.DecodeHeader(v[0]); err == nil {
				m.Headers[k] = d
			} else {
				m.Headers[k] = v[0]
			}
		}
	}
	m.Subject, m.MessageID = m.Headers["Subject"], m.Headers["Message-Id"]
	m.Text = plainText(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	return m
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

// routes is the read API.
func (s *Sink) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/messages", func(w http.ResponseWriter, r *http.Request) {
		to := r.URL.Query().Get("to")
		out := []Message{}
		for _, m := range s.Messages() {
			if to == "" || slices.ContainsFunc(m.To, func(t string) bool { return strings.EqualFold(t, to) }) {
				m.Headers = nil
				out = append(out, m)
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"messages": out})
	})
	mux.HandleFunc("GET /api/messages/{id}", func(w http.ResponseWriter, r *http.Request) {
		if m, ok := s.byID(r.PathValue("id")); ok {
			writeJSON(w, http.StatusOK, m)
			return
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such message"})
	})
	mux.HandleFunc("GET /api/messages/{id}/raw", func(w http.ResponseWriter, r *http.Request) {
		if m, ok := s.byID(r.PathValue("id")); ok {
			w.Header().Set("Content-Type", "message/rfc822")
			_, _ = w.Write(m.raw)
			return
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such message"})
	})
	mux.HandleFunc("DELETE /api/messages", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		s.msgs = nil
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

func (s *Sink) byID(id string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if m.ID == id {
			return m, true
		}
	}
	return Message{}, false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// persist writes m under Dir: the raw message and an index line.
func (s *Sink) persist(m Message) error {
	if err := os.MkdirAll(s.o.Dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.o.Dir, m.ID+".eml"), m.raw, 0o600); err != nil {
		return err
	}
	line, err := json.Marshal(struct {
		ID         string    `json:"id"`
		From       string    `json:"from"`
		To         []string  `json:"to"`
		ReceivedAt time.Time `json:"received_at"`
	}{m.ID, m.From, m.To, m.ReceivedAt})
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(s.o.Dir, "messages.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(append(line, '\n'))
	return errors.Join(werr, f.Sync(), f.Close())
}

// load reads back what persist wrote.
func (s *Sink) load() error {
	b, err := os.ReadFile(filepath.Join(s.o.Dir, "messages.jsonl"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mailsink: load: %w", err)
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var idx struct {
			ID         string    `json:"id"`
			From       string    `json:"from"`
			To         []string  `json:"to"`
			ReceivedAt time.Time `json:"received_at"`
		}
		if json.Unmarshal(line, &idx) != nil || strings.ContainsAny(idx.ID, `/\.`) {
			continue // a torn last line after a crash
		}
		raw, err := os.ReadFile(filepath.Join(s.o.Dir, idx.ID+".eml"))
		if err != nil {
			continue
		}
		m := parse(raw)
		m.ID, m.From, m.To, m.ReceivedAt, m.Size = idx.ID, idx.From, idx.To, idx.ReceivedAt, len(raw)
		s.msgs = append(s.msgs, m)
	}
	return nil
}
