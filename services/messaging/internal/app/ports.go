package app

import (
	"context"
	"net/url"
	"time"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/services/messaging/internal/domain"
)

// Store is what the use cases need from persistence.
//
// Methods that change state take the audit events describing the change
// and record them in the audit outbox in the same transaction.
type Store interface {
	// CreateMessage stores a new message with its first history events,
	// its recipient and rendered content sealed under the clinic's key
	// (either may be empty). A clinic's second message with the same
	// idempotency key is domain.ErrDuplicate and stores nothing.
	CreateMessage(ctx context.Context, m domain.Message, recipient string, content *domain.Content) error
	// MessageByKey finds a message by its idempotency key.
	MessageByKey(ctx context.Context, clinicID, key string) (domain.Message, error)
	// Message returns a message with its history.
	Message(ctx context.Context, clinicID, id string) (domain.Message, error)
	// Messages lists messages newest first, with their history.
	Messages(ctx context.Context, clinicID string, q MessageQuery) ([]domain.Message, error)
	// UpdateMessage runs fn on the message (with its history) inside one
	// transaction that holds the row, saves its fields and appends the
	// events fn returns. Once the message is final its sealed content is
	// dropped.
	UpdateMessage(ctx context.Context, clinicID, id string, fn func(m *domain.Message) ([]domain.Event, error)) (domain.Message, error)
	// ClaimMessage takes a due queued message for sending until until and
	// returns it with its recipient and content opened; false when it is
	// not queued or not due (someone else has it).
	ClaimMessage(ctx context.Context, clinicID, id string, now, until time.Time) (domain.Outgoing, bool, error)
	// Due lists queued messages due at now, oldest first; Expired lists
	// sending messages whose claim lapsed before now.
	Due(ctx context.Context, now time.Time, limit int) ([]MessageRef, error)
	Expired(ctx context.Context, now time.Time, limit int) ([]MessageRef, error)

	// OptedOut reports whether the patient refused the channel.
	OptedOut(ctx context.Context, clinicID, patientID string, ch domain.Channel) (bool, error)
	OptOuts(ctx context.Context, clinicID, patientID string) ([]domain.OptOut, error)
	// SetOptOut records o unless the patient already refused the channel,
	// and returns the opt-out in force.
	SetOptOut(ctx context.Context, o domain.OptOut, events ...audit.Event) (domain.OptOut, error)
	// DeleteOptOut removes an opt-out; none is not an error.
	DeleteOptOut(ctx context.Context, clinicID, patientID string, ch domain.Channel, events ...audit.Event) error

	// Templates lists the clinic's own templates; Template finds one
	// (domain.ErrNotFound when the clinic has none of that channel and name).
	Templates(ctx context.Context, clinicID string) ([]domain.Template, error)
	Template(ctx context.Context, clinicID string, ch domain.Channel, name string) (domain.Template, error)
	// SaveTemplate creates or replaces the clinic's template of t's channel
	// and name.
	SaveTemplate(ctx context.Context, t domain.Template, events ...audit.Event) (domain.Template, error)

	// RecordAudit records events on their own (reads and refusals).
	RecordAudit(ctx context.Context, events ...audit.Event) error
}

// MessageQuery filters and pages the communication log.
type MessageQuery struct {
	PatientID string // empty: every message
	BeforeID  string // the cursor: messages older than this id
	Limit     int
}

// MessageRef names a message of a clinic.
type MessageRef struct{ ClinicID, ID string }

// Contact is a patient's address as charting gives it at send time.
type Contact struct {
	PatientID string
	Email     string
	Phone     string
	FirstName string
}

// Contacts fetches a patient's contact details from charting. An unknown
// patient is domain.ErrNotFound; any other error means charting could not
// answer (worth retrying).
type Contacts interface {
	Contact(ctx context.Context, clinicID, patientID string) (Contact, error)
}

// Clinics names a clinic's slug, which public links (unsubscribe, SMS
// status callbacks) need because the router resolves slugs only.
type Clinics interface {
	Slug(ctx context.Context, clinicID string) (string, error)
}

// Sender hands a message to a channel's provider and returns the
// provider's id for it (empty for e-mail). A refusal is a *DeliveryError;
// any other error is treated as transient.
type Sender interface {
	Send(ctx context.Context, m domain.Outgoing) (providerID string, err error)
}

// CallbackVerifier checks a provider's signature on a status callback to
// callbackURL.
type CallbackVerifier interface {
	Verify(callbackURL string, form url.Values, signature string) bool
}

// DeliveryError is a provider's refusal of a message. Code is an SMTP
// reply code or a provider error code ("smtp_550", "provider_21211"),
// never the provider's text, which can quote the address.
type DeliveryError struct {
	Code      string
	Permanent bool
}

func (e *DeliveryError) Error() string {
	if e.Permanent {
		return "refused: " + e.Code
	}
	return "temporarily refused: " + e.Code
}
