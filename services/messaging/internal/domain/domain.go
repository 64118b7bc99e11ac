// Package domain holds messaging's types and rules: messages and their
// status history, opt-outs, templates and unsubscribe tokens. It imports no
// infrastructure.
package domain

import (
	"errors"
	"slices"
	"time"

	"github.com/havenhealth/haven/libs/messagingclient"
)

// Sentinel errors the HTTP layer maps to status codes in one place.
var (
	// ErrNotFound is a message or patient that does not exist in the clinic.
	ErrNotFound = errors.New("not found")
	// ErrForbidden is a caller whose grants do not allow the action.
	ErrForbidden = errors.New("forbidden")
	// ErrDuplicate is a message whose idempotency key the clinic used before.
	ErrDuplicate = errors.New("idempotency key already used")
	// ErrChannelNotConfigured is a channel without provider settings.
	ErrChannelNotConfigured = errors.New("channel not configured")
	// ErrBadToken is an unsubscribe token that does not verify.
	ErrBadToken = errors.New("unsubscribe token does not verify")
	// ErrBadSignature is a provider callback whose signature does not verify.
	ErrBadSignature = errors.New("provider signature does not verify")
)

// Channel is how a message travels.
type Channel string

// The channels.
const (
	Email Channel = messagingclient.Email
	SMS   Channel = messagingclient.SMS
)

// Valid reports whether c is a known channel.
func (c Channel) Valid() bool { return c == Email || c == SMS }

// Trigger says why a message was sent.
type Trigger string

// Valid reports whether t is one of messagingclient's triggers.
func (t Trigger) Valid() bool {
	switch t {
	case messagingclient.TriggerReminder, messagingclient.TriggerIdentity, messagingclient.TriggerStaff:
		return true
	}
	return false
}

// Status is where a message is. Sending is internal (a worker holds the
// message) and shows as queued.
type Status string

// The statuses.
const (
	Queued     Status = messagingclient.StatusQueued
	Sending    Status = "sending"
	Sent       Status = messagingclient.StatusSent
	Delivered  Status = messagingclient.StatusDelivered
	Failed     Status = messagingclient.StatusFailed
	Suppressed Status = messagingclient.StatusSuppressed
)

// Public is the status as the API shows it.
func (s Status) Public() Status {
	if s == Sending {
		return Queued
	}
	return s
}

// Final reports whether nothing can change s any more.
func (s Status) Final() bool { return s == Delivered || s == Failed || s == Suppressed }

// rank orders the statuses a message moves through; it never moves down
// (except a retry, see Message.Retry).
func (s Status) rank() int {
	switch s {
	case Queued:
		return 0
	case Sending:
		return 1
	case Sent:
		return 2
	default:
		return 3
	}
}

// Source says who reported a status.
type Source string

// The sources of status history.
const (
	SourceSystem   Source = "system"   // messaging itself
	SourceSMTP     Source = "smtp"     // the SMTP server's answer
	SourceProvider Source = "provider" // the SMS provider's API or callbacks
)

// Event is one step of a message's status history. Detail is a code
// (an SMTP reply code, a provider error code), never personal data.
type Event struct {
	ID        string
	MessageID string
	ClinicID  string
	Status    Status
	Detail    string
	Source    Source
	At        time.Time
}

// Message is one e-mail or SMS in the communication log. Its recipient
// and rendered content are kept only sealed, in the store.
type Message struct {
	ID             string
	ClinicID       string
	PatientID      string
	UserID         string
	Channel        Channel
	Template       string
	Trigger        Trigger
	IdempotencyKey string
	Status         Status
	ProviderID     string
	ErrorCode      string
	// CallbackURL is the public URL the SMS provider reports status to
	// (ids only); its signature is checked against it.
	CallbackURL string
	Attempts    int
	// NextAttemptAt is when a queued message is due; ClaimedUntil is when
	// a worker's hold on a sending message lapses.
	NextAttemptAt time.Time
	ClaimedUntil  *time.Time
	CreatedAt     time.Time
	SentAt        *time.Time
	DeliveredAt   *time.Time
	FailedAt      *time.Time
	UpdatedAt     time.Time
	// History is the status history, oldest first.
	History []Event
}

// Outgoing is a claimed message with what is needed to send it.
type Outgoing struct {
	Message
	Recipient string
	Content   Content
}

// Content is a rendered message.
type Content struct {
	Subject string `json:"subject,omitempty"`
	Body    string `json:"body"`
	// Unsubscribe is the message's unsubscribe link, when it has one.
	Unsubscribe string `json:"unsubscribe,omitempty"`
}

func (m *Message) addEvent(s Status, detail string, src Source, at time.Time) Event {
	e := Event{MessageID: m.ID, ClinicID: m.ClinicID, Status: s, Detail: detail, Source: src, At: at}
	m.History = append(m.History, e)
	return e
}

func (m *Message) setStatus(s Status, at time.Time) {
	m.Status, m.UpdatedAt = s, at
	switch s {
	case Sent:
		if m.SentAt == nil {
			m.SentAt = &at
		}
	case Delivered:
		if m.SentAt == nil {
			m.SentAt = &at
		}
		m.DeliveredAt = &at
	case Failed:
		m.FailedAt = &at
	}
	if s != Sending {
		m.ClaimedUntil = nil
	}
}

// Observe records a status a channel reported and moves the message when
// it is news: a message never moves backwards (a late "sent" after
// "delivered" is kept in the history only) and a repeat of a provider's
// report changes nothing. It returns the new history events (none for a
// repeat).
func (m *Message) Observe(s Status, detail string, src Source, at time.Time) []Event {
	if src == SourceProvider && slices.ContainsFunc(m.History, func(e Event) bool {
		return e.Status == s && e.Detail == detail && e.Source == src
	}) {
		return nil
	}
	ev := m.addEvent(s, detail, src, at)
	if !m.Status.Final() && s.rank() > m.Status.rank() {
		m.setStatus(s, at)
		if s.Final() {
			m.ErrorCode = ""
			if s == Failed {
				m.ErrorCode = detail
			}
		}
	}
	return []Event{ev}
}

// Claim makes a queued message a worker's to send until until; false when
// it is not queued or not yet due.
func (m *Message) Claim(now, until time.Time) bool {
	if m.Status != Queued || m.NextAttemptAt.After(now) {
		return false
	}
	m.Status, m.ClaimedUntil, m.UpdatedAt = Sending, &until, now
	m.Attempts++
	return true
}

// Retry puts a sending message back in the queue for next after a
// transient failure (code says which); after maxAttempts it fails instead.
func (m *Message) Retry(code string, src Source, now, next time.Time, maxAttempts int) []Event {
	if m.Status != Sending {
		return nil
	}
	if m.Attempts >= maxAttempts {
		return m.Observe(Failed, code, src, now)
	}
	ev := m.addEvent(Queued, code, src, now)
	m.setStatus(Queued, now)
	m.NextAttemptAt, m.ErrorCode = next, code
	return []Event{ev}
}

// Reclaim returns a message whose worker's hold lapsed (the worker
// stopped mid-send) to the queue, due at once.
func (m *Message) Reclaim(now time.Time) []Event {
	if m.Status != Sending || m.ClaimedUntil == nil || m.ClaimedUntil.After(now) {
		return nil
	}
	ev := m.addEvent(Queued, "claim_expired", SourceSystem, now)
	m.setStatus(Queued, now)
	m.NextAttemptAt = now
	return []Event{ev}
}

// OptOutSource says how a patient opted out.
type OptOutSource string

// The opt-out sources.
const (
	OptOutStaff OptOutSource = "staff" // a staff member's toggle
	OptOutLink  OptOutSource = "link"  // the unsubscribe link in a message
)

// OptOut is a patient's refusal of a channel.
type OptOut struct {
	ClinicID  string
	PatientID string
	Channel   Channel
	Source    OptOutSource
	// CreatedBy is the staff user who set it (empty for a link).
	CreatedBy string
	CreatedAt time.Time
}
