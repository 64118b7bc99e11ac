// Package messagingclient is how a region's services ask messaging to send
// an e-mail or SMS: POST /internal/v1/messages on the region's messaging
// service, signed with edgeauth.SignInternal for the clinic.
//
// Requests carry ids and template data, never a patient's name or address:
// messaging fetches the recipient from charting at send time. Only identity,
// whose users are not patient profiles, passes an address (To), which
// messaging keeps encrypted.
package messagingclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/havenhealth/haven/libs/edgeauth"
)

// Channels.
const (
	Email = "email"
	SMS   = "sms"
)

// Triggers: why a message was sent, shown in the communication log.
const (
	TriggerReminder = "reminder" // a reminder workflow
	TriggerIdentity = "identity" // a sign-in code or password reset
	TriggerStaff    = "staff"    // a staff member's action
)

// Statuses of a message in the communication log. A message is "sent" only
// once a provider accepted it, and "delivered" only once the provider (or
// the receiving SMTP server) said so; a refusal is "failed", never "sent".
const (
	StatusQueued     = "queued"
	StatusSent       = "sent"
	StatusDelivered  = "delivered"
	StatusFailed     = "failed"
	StatusSuppressed = "suppressed" // the patient opted out of the channel
)

// SendRequest asks for one message.
type SendRequest struct {
	// IdempotencyKey makes a retried request return the first message
	// instead of sending again (unique per clinic). Ids only, e.g.
	// "reminder-<appointment id>-<start unix>-<offset>".
	IdempotencyKey string `json:"idempotency_key"`
	Channel        string `json:"channel"`
	// Template names the clinic's template, e.g. appointment_reminder.
	Template string `json:"template"`
	Trigger  string `json:"trigger"`
	// PatientID is the recipient: messaging fetches the address from
	// charting at send time and honours the patient's opt-outs.
	PatientID string `json:"patient_id,omitempty"`
	// UserID and To address an account holder that has no patient profile
	// (identity's codes and resets). To is kept only encrypted.
	UserID string `json:"user_id,omitempty"`
	To     string `json:"to,omitempty"`
	// Data fills the template: ids, times, codes. Never logged.
	Data map[string]string `json:"data,omitempty"`
}

// SendResult is the message as messaging recorded it.
type SendResult struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	// Duplicate reports that IdempotencyKey had been seen: nothing was sent.
	Duplicate bool `json:"duplicate"`
}

// ErrRejected is a request messaging refused (4xx): retrying will not help.
var ErrRejected = errors.New("messaging refused the request")

// Client calls the region's messaging service.
type Client struct {
	BaseURL string // e.g. http://messaging:8080
	Secret  []byte // the region's edge secret
	Region  string
	HTTP    *http.Client
}

// Send asks messaging to send req for clinicID. A 4xx answer is wrapped in
// ErrRejected; anything else that fails is worth retrying with the same
// idempotency key.
func (c *Client) Send(ctx context.Context, clinicID string, req SendRequest) (SendResult, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return SendResult{}, err
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.BaseURL, "/")+"/internal/v1/messages", bytes.NewReader(body))
	if err != nil {
		return SendResult{}, err
	}
	r.Header.Set("Content-Type", "application/json")
	edgeauth.SignInternal(r, c.Secret, clinicID, c.Region, time.Now())
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	resp, err := hc.Do(r)
	if err != nil {
		return SendResult{}, fmt.Errorf("messaging: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	switch {
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		return SendResult{}, fmt.Errorf("%w: status %d", ErrRejected, resp.StatusCode)
	case resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated:
		return SendResult{}, fmt.Errorf("messaging: status %d", resp.StatusCode)
	}
	var out SendResult
	if err := json.Unmarshal(raw, &out); err != nil {
		return SendResult{}, fmt.Errorf("messaging: decode answer: %w", err)
	}
	return out, nil
}
