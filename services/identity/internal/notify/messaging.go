package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/google/uuid"

	"github.com/havenhealth/haven/libs/messagingclient"
	"github.com/havenhealth/haven/services/identity/internal/app"
)

// Templates maps a message's purpose to the messaging service's built-in
// identity template that renders it. Those templates render the subject
// and body identity wrote (Data "subject" and "body"): identity's texts
// carry its codes and links, which messaging cannot make.
var Templates = map[string]string{
	"two_step_code":  "sign_in_code",
	"password_reset": "password_reset",
	"invitation":     "invitation",
}

// Messaging delivers identity's messages through the region's messaging
// service (POST /internal/v1/messages, signed for the clinic).
type Messaging struct {
	Client *messagingclient.Client
	// Tries bounds the attempts at one message (3 when 0); attempts after
	// the first reuse its idempotency key, so messaging sends it once.
	Tries uint
	// FirstRetry is the wait before the second attempt (200 ms when 0); it
	// grows after each failure.
	FirstRetry time.Duration
}

// Send implements app.Notifier. A purpose without a template and a request
// messaging refuses (4xx) are not retried; other failures are, with the
// same idempotency key. Errors never carry the message or its address.
func (m *Messaging) Send(ctx context.Context, msg app.Message) error {
	tpl, ok := Templates[msg.Purpose]
	if !ok {
		return fmt.Errorf("messaging: no template for purpose %q", msg.Purpose)
	}
	req := messagingclient.SendRequest{
		IdempotencyKey: "identity-" + uuid.Must(uuid.NewV7()).String(),
		Channel:        msg.Channel,
		Template:       tpl,
		Trigger:        messagingclient.TriggerIdentity,
		UserID:         msg.UserID,
		To:             msg.To,
		Data:           map[string]string{"subject": msg.Subject, "body": msg.Body, "clinic_id": msg.ClinicID, "purpose": msg.Purpose},
	}
	tries, first := m.Tries, m.FirstRetry
	if tries == 0 {
		tries = 3
	}
	if first <= 0 {
		first = 200 * time.Millisecond
	}
	wait := backoff.NewExponentialBackOff()
	wait.InitialInterval = first
	_, err := backoff.Retry(ctx, func() (messagingclient.SendResult, error) {
		res, err := m.Client.Send(ctx, msg.ClinicID, req)
		if errors.Is(err, messagingclient.ErrRejected) {
			return res, backoff.Permanent(err)
		}
		return res, err
	}, backoff.WithBackOff(wait), backoff.WithMaxTries(tries))
	if err != nil {
		return fmt.Errorf("send %s %s message of user %s: %w", msg.Purpose, msg.Channel, msg.UserID, err)
	}
	return nil
}
