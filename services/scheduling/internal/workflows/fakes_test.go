package workflows

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/havenhealth/haven/libs/messagingclient"
	"github.com/havenhealth/haven/services/scheduling/internal/domain"
)

// Contact details the messaging stand-in knows for every patient. They
// must never appear in a workflow's history, input or logs.
const (
	markerName    = "Zelda Quintanilla-Marker"
	markerEmail   = "zelda.marker@example.org"
	markerPhone   = "+15555550199"
	markerAddress = "77 Marker Lane, Springfield"
)

var markers = []string{markerName, markerEmail, markerPhone, markerAddress, "Zelda", "Quintanilla"}

// memAppointments is an in-memory Appointments.
type memAppointments struct {
	mu sync.Mutex
	m  map[string]domain.Appointment
}

func newMemAppointments(as ...domain.Appointment) *memAppointments {
	s := &memAppointments{m: map[string]domain.Appointment{}}
	for _, a := range as {
		s.put(a)
	}
	return s
}

func (s *memAppointments) put(a domain.Appointment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[a.ClinicID+"/"+a.ID] = a
}

func (s *memAppointments) Appointment(_ context.Context, clinicID, id string) (domain.Appointment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.m[clinicID+"/"+id]
	if !ok {
		return domain.Appointment{}, domain.ErrNotFound
	}
	return a, nil
}

// sent is one request the messaging stand-in accepted.
type sent struct {
	At       time.Time
	ClinicID string
	Req      messagingclient.SendRequest
}

// messagingStandIn behaves like messaging for reminders: one message per
// idempotency key (a repeat is a duplicate and sends nothing), nothing for
// a patient who opted out ("suppressed"), and a configurable failure.
type messagingStandIn struct {
	mu       sync.Mutex
	now      func() time.Time
	sent     []sent
	attempts map[string]int // per idempotency key, including failures
	perKey   map[string]int // real sends per idempotency key
	optedOut map[string]bool
	contacts map[string]string // patient id → the address messaging would look up
	// fail, when set, is asked before each attempt; a non-nil error is returned.
	fail func(key string, attempt int) error
}

func newMessaging(now func() time.Time) *messagingStandIn {
	return &messagingStandIn{now: now, attempts: map[string]int{}, perKey: map[string]int{},
		optedOut: map[string]bool{}, contacts: map[string]string{}}
}

func (m *messagingStandIn) Send(_ context.Context, clinicID string, req messagingclient.SendRequest) (messagingclient.SendResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.attempts[req.IdempotencyKey]++
	if m.fail != nil {
		if err := m.fail(req.IdempotencyKey, m.attempts[req.IdempotencyKey]); err != nil {
			return messagingclient.SendResult{}, err
		}
	}
	if req.PatientID == "" || req.Template == "" {
		return messagingclient.SendResult{}, fmt.Errorf("%w: incomplete request", messagingclient.ErrRejected)
	}
	id := "msg-" + req.IdempotencyKey
	if m.perKey[req.IdempotencyKey] > 0 {
		return messagingclient.SendResult{ID: id, Status: messagingclient.StatusSent, Duplicate: true}, nil
	}
	if m.optedOut[req.PatientID] {
		m.perKey[req.IdempotencyKey] = 0
		return messagingclient.SendResult{ID: id, Status: messagingclient.StatusSuppressed}, nil
	}
	_ = m.contacts[req.PatientID] // where the address would be looked up, at send time
	m.perKey[req.IdempotencyKey]++
	m.sent = append(m.sent, sent{At: m.now(), ClinicID: clinicID, Req: req})
	return messagingclient.SendResult{ID: id, Status: messagingclient.StatusSent}, nil
}

func (m *messagingStandIn) setContact(patientID, contact string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.contacts[patientID] = contact
}

func (m *messagingStandIn) Sent() []sent {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]sent(nil), m.sent...)
}

func (m *messagingStandIn) Attempts(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.attempts[key]
}

func (m *messagingStandIn) SendsFor(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.perKey[key]
}

var errTransient = errors.New("messaging: status 503")

// lockedBuffer is a log destination safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
