// Package notify delivers identity's messages: Messaging hands them to the
// region's messaging service; without one, the devstack uses Outbox: each
// message is appended as one JSON line to a file in the region's own data
// directory, where a developer (or a test) reads sign-in codes, invitations
// and reset links by user id.
package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/havenhealth/haven/services/identity/internal/app"
)

// Outbox appends messages to <Dir>/outbox.jsonl.
type Outbox struct {
	Dir string
	mu  sync.Mutex
}

// Entry is one line of the outbox file. It names the recipient by user id
// only: an address is personal data and nothing under .haven/ may hold one
// in the clear.
type Entry struct {
	ClinicID string    `json:"clinic_id"`
	UserID   string    `json:"user_id"`
	Channel  string    `json:"channel"`
	Purpose  string    `json:"purpose"`
	Subject  string    `json:"subject,omitempty"`
	Body     string    `json:"body"`
	SentAt   time.Time `json:"sent_at"`
}

// Send implements app.Notifier.
func (o *Outbox) Send(_ context.Context, m app.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(o.Dir, "outbox.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	line, err := json.Marshal(Entry{ClinicID: m.ClinicID, UserID: m.UserID, Channel: m.Channel, Purpose: m.Purpose,
		Subject: m.Subject, Body: m.Body, SentAt: time.Now().UTC()})
	if err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		_ = f.Close()
		return fmt.Errorf("outbox: %w", err)
	}
	return f.Close()
}
