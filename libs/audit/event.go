// Package audit is Haven's activity log as its producers see it: the
// versioned [Event] every service records, a transactional outbox in the
// service's own database ([Migrate], [Record], [RecordNow]) and the [Relay]
// that publishes the outbox to the region's Kafka topic ([Topic]), where the
// audit service consumes, de-duplicates, chains and stores it.
//
// # No personal data
//
// An event names who did what to which resource by ids only. Every id field
// must match the id alphabet [A-Za-z0-9._:-] (at most 128 characters), so
// names, e-mail addresses, phone numbers and free text cannot fit;
// [Event.Validate] enforces it and [Record] refuses invalid events. The one
// personal value an event may carry, the client's IP address, is sealed with
// fieldcrypt under the clinic's key ([SealClientIP]) before it is recorded,
// so destroying the clinic's key shreds it with the rest of the clinic's data.
//
// # Delivery
//
// Delivery is at-least-once. An event is written to audit_outbox in the same
// transaction as the change it describes, so it exists if and only if the
// change committed. The relay publishes the outbox's rows in id order (event
// ids are UUIDv7, so id order is time order) and deletes a row only after
// the broker acknowledged it with all in-sync replicas. A crash, a timeout or
// a lost acknowledgement between publishing and deleting makes the relay
// publish the same event again; consumers must de-duplicate by event
// id (the audit service does).
//
// Messages of one clinic share a key (the clinic id) and so a partition, and
// are published in id order. After a failed publish, the retry can place an
// event after a later event of the same clinic that was acknowledged in the
// meantime; consumers that need strict order sort by (occurred_at, id).
package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/residency"
)

// SchemaVersion is the version of the event schema this package writes. It
// travels in every event ("version") and in the haven-schema message header.
const SchemaVersion = 1

// ErrInvalidEvent is returned (wrapped, naming the offending field but never
// its value) for an event that fails [Event.Validate].
var ErrInvalidEvent = errors.New("audit: invalid event")

// Actor is who acted: a signed-in user (UserID, with the Role and SessionID
// they acted under) or a named system component (System: "router",
// "relay", "scheduler", ...). All fields are ids.
type Actor struct {
	UserID    string `json:"user_id,omitempty"`
	Role      string `json:"role,omitempty"`
	SessionID string `json:"session_id,omitempty"`
	System    string `json:"system,omitempty"`
}

// Outcome says how the action ended.
type Outcome string

// The outcomes of an action.
const (
	// Allowed means the action was authorised and done.
	Allowed Outcome = "allowed"
	// Denied means authorisation refused the action.
	Denied Outcome = "denied"
	// Failed means the action was authorised but did not complete.
	Failed Outcome = "failed"
)

// Action names what was done. The set is closed: [Actions] lists it, and
// [Event.Validate] refuses anything else. Adding an action is a change to
// this package, reviewed with the audit service.
type Action string

// The actions Haven audits.
const (
	SessionCreate      Action = "session.create"         // sign-in succeeded
	SessionFail        Action = "session.fail"           // sign-in failed
	SessionLocked      Action = "session.locked"         // account locked after failures
	SessionVerify      Action = "session.verify"         // second step passed
	SessionVerifyFail  Action = "session.verify_fail"    // second step failed
	SessionRefresh     Action = "session.refresh"        // session token refreshed
	SessionEnd         Action = "session.end"            // sign-out
	SessionEndAll      Action = "session.end_all"        // every session of a user ended
	ClinicSignup       Action = "clinic.signup"          // clinic created
	ClinicCloseRequest Action = "clinic.close_request"   // closure requested
	ClinicCloseCancel  Action = "clinic.close_cancel"    // closure cancelled
	ClinicClosed       Action = "clinic.closed"          // clinic closed, keys destroyed
	ClinicKeyRotate    Action = "clinic.key_rotate"      // clinic key rotated
	UserCreate         Action = "user.create"            // staff user created
	UserUpdate         Action = "user.update"            // staff user changed
	UserGrantsChange   Action = "user.grants_change"     // roles or grants changed
	UserDeactivate     Action = "user.deactivate"        // user deactivated
	UserReactivate     Action = "user.reactivate"        // user reactivated
	UserInviteAccept   Action = "user.invite_accept"     // invitation accepted
	PasswordChange     Action = "password.change"        // password changed by its owner
	PasswordResetReq   Action = "password.reset_request" // reset e-mail requested
	PasswordReset      Action = "password.reset"         // password reset with a token
	TwoStepEnroll      Action = "two_step.enroll"        // second factor added
	TwoStepRemove      Action = "two_step.remove"        // second factor removed
	SettingsChange     Action = "settings.change"        // clinic settings changed
	ChartRead          Action = "chart.read"             // chart viewed
	ChartWrite         Action = "chart.write"            // chart entry written
	ChartSign          Action = "chart.sign"             // chart entry signed
	ChartExport        Action = "chart.export"           // chart exported
	PatientRead        Action = "patient.read"           // patient record viewed
	PatientContactRead Action = "patient.contact.read"   // patient contact details revealed
	PatientWrite       Action = "patient.write"          // patient record changed
	AppointmentRead    Action = "appointment.read"       // appointment viewed
	AppointmentWrite   Action = "appointment.write"      // appointment booked or changed
	InvoiceCreate      Action = "invoice.create"         // invoice issued
	InvoiceRead        Action = "invoice.read"           // invoice viewed
	PaymentCreate      Action = "payment.create"         // payment taken
	ClaimRead          Action = "claim.read"             // insurance claim viewed
	LoginHistoryRead   Action = "login_history.read"     // sign-in history viewed
	ActivityRead       Action = "activity.read"          // activity log viewed
)

var actions = []Action{
	SessionCreate, SessionFail, SessionLocked, SessionVerify, SessionVerifyFail,
	SessionRefresh, SessionEnd, SessionEndAll,
	ClinicSignup, ClinicCloseRequest, ClinicCloseCancel, ClinicClosed, ClinicKeyRotate,
	UserCreate, UserUpdate, UserGrantsChange, UserDeactivate, UserReactivate, UserInviteAccept,
	PasswordChange, PasswordResetReq, PasswordReset,
	TwoStepEnroll, TwoStepRemove, SettingsChange,
	ChartRead, ChartWrite, ChartSign, ChartExport,
	PatientRead, PatientContactRead, PatientWrite,
	AppointmentRead, AppointmentWrite,
	InvoiceCreate, InvoiceRead, PaymentCreate, ClaimRead,
	LoginHistoryRead, ActivityRead,
}

// Actions returns every known action, in a fixed order. The caller may
// modify the returned slice.
func Actions() []Action { return slices.Clone(actions) }

// Known reports whether a is one of [Actions].
func (a Action) Known() bool { return slices.Contains(actions, a) }

// Known reports whether o is allowed, denied or failed.
func (o Outcome) Known() bool { return o == Allowed || o == Denied || o == Failed }

// Event is one audited action. Every field except OccurredAt, Version and
// Outcome/Action is an id; none may hold personal data.
type Event struct {
	Version      int     // SchemaVersion
	ID           string  // UUIDv7, unique; consumers de-duplicate by it
	ClinicID     string  // the clinic the action happened in
	Region       string  // the data region (residency.Region name)
	Actor        Actor   // who acted
	Action       Action  // what was done
	ResourceType string  // what kind of thing it was done to ("chart", "patient", ...); optional
	ResourceID   string  // which one; optional
	PatientID    string  // the patient concerned, if any
	Outcome      Outcome // allowed, denied or failed
	RequestID    string  // the request that did it, for correlation; optional
	// ClientIP is the client's address sealed with fieldcrypt under the
	// clinic's key, base64-encoded (see SealClientIP); empty when unknown.
	ClientIP   string
	OccurredAt time.Time // UTC, microsecond precision
}

// New returns an event with a fresh UUIDv7 id, the current schema version
// and the current time (UTC, truncated to microseconds). The caller fills
// the resource, patient and request fields it knows.
func New(clinicID, region string, actor Actor, action Action, outcome Outcome) Event {
	return Event{
		Version:    SchemaVersion,
		ID:         uuid.Must(uuid.NewV7()).String(),
		ClinicID:   clinicID,
		Region:     region,
		Actor:      actor,
		Action:     action,
		Outcome:    outcome,
		OccurredAt: time.Now().UTC().Truncate(time.Microsecond),
	}
}

// maxIDLen bounds every id field.
const maxIDLen = 128

// ValidID reports whether s can be an id in an event: 1–128 characters of
// letters, digits and . _ : -. Spaces, '@' and '+' (and so names, e-mail
// addresses and formatted phone numbers) cannot fit.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// minSealedIP is the shortest sealed client IP (fieldcrypt's header, nonce
// and tag around a value); anything shorter is not a ciphertext.
const minSealedIP = 30

// Validate reports whether e is a well-formed event of this schema version
// that carries ids only. Errors wrap [ErrInvalidEvent] and name the field,
// never its value.
func (e Event) Validate() error {
	bad := func(field, why string) error {
		return fmt.Errorf("%w: %s %s", ErrInvalidEvent, field, why)
	}
	if e.Version != SchemaVersion {
		return bad("version", "is not "+strconv.Itoa(SchemaVersion))
	}
	if u, err := uuid.Parse(e.ID); err != nil || u.Version() != 7 || u.String() != e.ID {
		return bad("id", "is not a lower-case UUIDv7")
	}
	if _, err := residency.ParseRegion(e.Region); err != nil {
		return bad("region", "is not a known region")
	}
	if !e.Action.Known() {
		return bad("action", "is not a known action")
	}
	if !e.Outcome.Known() {
		return bad("outcome", "is not allowed, denied or failed")
	}
	if e.OccurredAt.IsZero() {
		return bad("occurred_at", "is missing")
	}
	if e.Actor.UserID == "" && e.Actor.System == "" {
		return bad("actor", "needs a user_id or a system")
	}
	return e.CheckShape()
}

// CheckShape reports whether e has the shape that keeps personal data out:
// every id field (clinic, actor, resource, patient, request, region, action,
// outcome) in the id alphabet ([ValidID]; the clinic id required, the rest
// optional) and the client address, if any, a sealed value. It checks
// nothing a newer schema version may change (the version, the action list,
// the regions), so the audit service applies it to events from producers
// newer than itself. [Event.Validate] includes it.
func (e Event) CheckShape() error {
	bad := func(field, why string) error {
		return fmt.Errorf("%w: %s %s", ErrInvalidEvent, field, why)
	}
	if !ValidID(e.ClinicID) {
		return bad("clinic_id", "is not an id")
	}
	optional := []struct {
		name, value string
	}{
		{"id", e.ID},
		{"region", e.Region},
		{"action", string(e.Action)},
		{"outcome", string(e.Outcome)},
		{"actor.user_id", e.Actor.UserID},
		{"actor.role", e.Actor.Role},
		{"actor.session_id", e.Actor.SessionID},
		{"actor.system", e.Actor.System},
		{"resource_type", e.ResourceType},
		{"resource_id", e.ResourceID},
		{"patient_id", e.PatientID},
		{"request_id", e.RequestID},
	}
	for _, f := range optional {
		if f.value != "" && !ValidID(f.value) {
			return bad(f.name, "is not an id")
		}
	}
	if e.ClientIP != "" {
		raw, err := base64.StdEncoding.DecodeString(e.ClientIP)
		if err != nil || len(raw) < minSealedIP {
			return bad("client_ip", "is not a sealed value")
		}
	}
	return nil
}

// ClientIPScope is where a sealed client IP lives, for fieldcrypt: the
// clinic, table audit_events, column client_ip and the event id.
func ClientIPScope(e Event) fieldcrypt.Scope {
	return fieldcrypt.Scope{ClinicID: e.ClinicID, Table: "audit_events", Column: "client_ip", RowID: e.ID}
}

// SealClientIP encrypts ip under e's clinic key (scope [ClientIPScope]) and
// stores the base64 ciphertext in e.ClientIP. An empty ip clears the field.
// e's ClinicID and ID must be set. Like fieldcrypt.Crypter.Encrypt, on SQLite
// it must not run inside a write transaction for a clinic's first write.
func SealClientIP(ctx context.Context, c *fieldcrypt.Crypter, e *Event, ip string) error {
	if ip == "" {
		e.ClientIP = ""
		return nil
	}
	ct, err := c.Encrypt(ctx, ClientIPScope(*e), []byte(ip))
	if err != nil {
		return fmt.Errorf("audit: seal client ip of event %s: %w", e.ID, err)
	}
	e.ClientIP = base64.StdEncoding.EncodeToString(ct)
	return nil
}

// OpenClientIP decrypts e.ClientIP sealed by [SealClientIP]; it returns ""
// for an event without one.
func OpenClientIP(ctx context.Context, c *fieldcrypt.Crypter, e Event) (string, error) {
	if e.ClientIP == "" {
		return "", nil
	}
	ct, err := base64.StdEncoding.DecodeString(e.ClientIP)
	if err != nil {
		return "", fmt.Errorf("audit: open client ip of event %s: %w", e.ID, fieldcrypt.ErrMalformed)
	}
	pt, err := c.Decrypt(ctx, ClientIPScope(e), ct)
	if err != nil {
		return "", fmt.Errorf("audit: open client ip of event %s: %w", e.ID, err)
	}
	return string(pt), nil
}

// timeLayout is the wire form of occurred_at: RFC 3339 in UTC with exactly
// six fractional digits, so equal instants always encode equally.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// wireEvent is the JSON form of Event. Field order here is the canonical key
// order; every key is always present.
type wireEvent struct {
	Version      int     `json:"version"`
	ID           string  `json:"id"`
	ClinicID     string  `json:"clinic_id"`
	Region       string  `json:"region"`
	Actor        Actor   `json:"actor"`
	Action       Action  `json:"action"`
	ResourceType string  `json:"resource_type"`
	ResourceID   string  `json:"resource_id"`
	PatientID    string  `json:"patient_id"`
	Outcome      Outcome `json:"outcome"`
	RequestID    string  `json:"request_id"`
	ClientIP     string  `json:"client_ip"`
	OccurredAt   string  `json:"occurred_at"`
}

// JSONKeys returns the top-level keys of an event's JSON, in canonical order.
func JSONKeys() []string {
	return []string{"version", "id", "clinic_id", "region", "actor", "action", "resource_type",
		"resource_id", "patient_id", "outcome", "request_id", "client_ip", "occurred_at"}
}

// Canonical returns the event's canonical encoding: its JSON with keys in
// the fixed order of [JSONKeys] (actor keys user_id, role, session_id,
// system, empty ones omitted), no insignificant whitespace, no HTML
// escaping, and occurred_at in UTC with exactly six fractional digits. Equal
// events encode to equal bytes; the audit service hashes this form.
func (e Event) Canonical() []byte {
	w := wireEvent{
		Version: e.Version, ID: e.ID, ClinicID: e.ClinicID, Region: e.Region,
		Actor: e.Actor, Action: e.Action, ResourceType: e.ResourceType, ResourceID: e.ResourceID,
		PatientID: e.PatientID, Outcome: e.Outcome, RequestID: e.RequestID, ClientIP: e.ClientIP,
		OccurredAt: e.OccurredAt.UTC().Truncate(time.Microsecond).Format(timeLayout),
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		// Only strings, ints and a struct of strings: encoding cannot fail.
		panic("audit: encode event: " + err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// MarshalJSON encodes the event in its canonical form ([Event.Canonical]).
func (e Event) MarshalJSON() ([]byte, error) { return e.Canonical(), nil }

// UnmarshalJSON decodes an event. Unknown keys are refused, so a newer
// schema is not silently truncated; the result is not validated (call
// [Event.Validate]).
func (e *Event) UnmarshalJSON(b []byte) error {
	var w wireEvent
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return fmt.Errorf("audit: decode event: %w", ErrInvalidEvent)
	}
	var at time.Time
	if w.OccurredAt != "" {
		t, err := time.Parse(time.RFC3339Nano, w.OccurredAt)
		if err != nil {
			return fmt.Errorf("%w: occurred_at is not an RFC 3339 time", ErrInvalidEvent)
		}
		at = t.UTC()
	}
	*e = Event{
		Version: w.Version, ID: w.ID, ClinicID: w.ClinicID, Region: w.Region, Actor: w.Actor,
		Action: w.Action, ResourceType: w.ResourceType, ResourceID: w.ResourceID,
		PatientID: w.PatientID, Outcome: w.Outcome, RequestID: w.RequestID, ClientIP: w.ClientIP,
		OccurredAt: at,
	}
	return nil
}
