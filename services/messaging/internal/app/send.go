package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/messagingclient"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/libs/provisioning"
	"github.com/havenhealth/haven/services/messaging/internal/domain"
)

// Error codes a message can end with that come from messaging itself.
const (
	CodeOptedOut        = "opted_out"
	CodePatientNotFound = "patient_not_found"
	CodeNoAddress       = "no_address"
	CodeTemplate        = "template_error"
	CodeNotConfigured   = "channel_not_configured"
	CodeClinicClosed    = "clinic_closed"
)

// SendResult is a message as the sender sees it.
type SendResult struct {
	Message domain.Message
	// Duplicate: the idempotency key was used before; nothing was sent.
	Duplicate bool
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// checkSend validates a request by field name, never echoing values.
func checkSend(in messagingclient.SendRequest) error {
	var f []problem.FieldError
	add := func(field, reason string) { f = append(f, problem.FieldError{Field: field, Reason: reason}) }
	if !audit.ValidID(in.IdempotencyKey) {
		add("idempotency_key", "is required: 1 to 128 letters, digits and . _ : -")
	}
	ch := domain.Channel(in.Channel)
	if !ch.Valid() {
		add("channel", "must be email or sms")
	}
	if !domain.ValidName(in.Template) {
		add("template", "is required: a template name in lower snake case")
	}
	if !domain.Trigger(in.Trigger).Valid() {
		add("trigger", "must be reminder, identity or staff")
	}
	switch {
	case in.PatientID != "" && (in.UserID != "" || in.To != ""):
		add("patient_id", "give either patient_id, or user_id with to, not both")
	case in.PatientID != "":
		if !audit.ValidID(in.PatientID) {
			add("patient_id", "must be an id")
		}
	case in.UserID == "" || in.To == "":
		add("patient_id", "is required (or user_id with to)")
	default:
		if !audit.ValidID(in.UserID) {
			add("user_id", "must be an id")
		}
		switch ch {
		case domain.Email:
			if a, err := mail.ParseAddress(in.To); err != nil || a.Name != "" || a.Address != in.To || len(in.To) > 254 {
				add("to", "must be a bare e-mail address")
			}
		case domain.SMS:
			if !e164.MatchString(in.To) {
				add("to", "must be a phone number in E.164 form (+ and digits)")
			}
		}
	}
	if len(in.Data) > domain.MaxDataKeys {
		add("data", fmt.Sprintf("has more than %d entries", domain.MaxDataKeys))
	}
	keys := make([]string, 0, len(in.Data))
	for k := range in.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch {
		case !domain.ValidName(k):
			add("data", "keys must be lower snake case names")
		case len(in.Data[k]) > domain.MaxDataValue:
			add("data."+k, fmt.Sprintf("is longer than %d bytes", domain.MaxDataValue))
		case k == domain.KeyFirstName || k == domain.KeyUnsubscribeURL:
			add("data."+k, "is set by messaging")
		}
	}
	// A public link names the clinic by slug, since the router resolves
	// slugs only: the unsubscribe link every message to a patient carries
	// (required), and the SMS provider's status callback (without a slug,
	// an SMS stays "sent": no delivery report can reach messaging).
	if slug, ok := in.Data[domain.KeyClinicSlug]; ok {
		if !provisioning.ValidSlug(slug) {
			add("data.clinic_slug", "is required for messages to patients: the clinic's slug, for the unsubscribe link")
		}
	}
	if len(f) > 0 {
		return &ValidationError{Fields: f}
	}
	return nil
}

// CheckSend validates a send request as Send does, without sending.
func CheckSend(in messagingclient.SendRequest) error { return checkSend(in) }

// Send records and sends one message for clinicID on behalf of another of
// the region's services. A patient who opted out of the channel gets
// nothing (the message is logged as suppressed, and their address is not
// even fetched); otherwise the address is fetched from charting, sealed,
// the template rendered and the message handed to the channel. A repeated
// idempotency key returns the first message and sends nothing, however
// many requests race.
func (a *App) Send(ctx context.Context, clinicID string, in messagingclient.SendRequest) (SendResult, error) {
	if err := checkSend(in); err != nil {
		return SendResult{}, err
	}
	if prev, err := a.d.Store.MessageByKey(ctx, clinicID, in.IdempotencyKey); err == nil {
		return SendResult{Message: prev, Duplicate: true}, nil
	} else if !errors.Is(err, domain.ErrNotFound) {
		return SendResult{}, err
	}
	ch := domain.Channel(in.Channel)
	if a.d.Senders[ch] == nil {
		return SendResult{}, fmt.Errorf("%s: %w", ch, domain.ErrChannelNotConfigured)
	}
	tmpl, err := a.template(ctx, clinicID, ch, in.Template)
	if errors.Is(err, domain.ErrNotFound) {
		return SendResult{}, &ValidationError{Fields: []problem.FieldError{{Field: "template", Reason: "the clinic has no such template for this channel"}}}
	}
	if err != nil {
		return SendResult{}, err
	}
	now := a.now()
	m := domain.Message{
		ID: uuid.Must(uuid.NewV7()).String(), ClinicID: clinicID, PatientID: in.PatientID, UserID: in.UserID,
		Channel: ch, Template: in.Template, Trigger: domain.Trigger(in.Trigger), IdempotencyKey: in.IdempotencyKey,
		Status: domain.Queued, CreatedAt: now, UpdatedAt: now, NextAttemptAt: now,
	}
	data := make(map[string]string, len(in.Data)+2)
	for k, v := range in.Data {
		data[k] = v
	}
	slug := in.Data[domain.KeyClinicSlug]
	if slug == "" && a.d.Clinics != nil {
		if slug, err = a.d.Clinics.Slug(ctx, clinicID); err != nil {
			return SendResult{}, fmt.Errorf("clinic slug: %w", err)
		}
	}
	if slug == "" && in.PatientID != "" {
		return SendResult{}, &ValidationError{Fields: []problem.FieldError{{Field: "data.clinic_slug",
			Reason: "is required for messages to patients: the clinic's slug, for the unsubscribe link"}}}
	}
	recipient := in.To
	if in.PatientID != "" {
		var done bool
		recipient, done, err = a.patientRecipient(ctx, &m, slug, data)
		if err != nil || done {
			return a.created(ctx, m, "", nil, err)
		}
	}
	if err := a.ensureKeys(ctx, clinicID); err != nil {
		return SendResult{}, err
	}
	content, err := tmpl.Render(data)
	if err != nil {
		m.Observe(domain.Failed, CodeTemplate, domain.SourceSystem, now)
		return a.created(ctx, m, recipient, nil, nil)
	}
	if ch == domain.SMS && slug != "" {
		m.CallbackURL = a.publicURL(slug, "/v1/public/sms/status") + "?m=" + m.ID
	}
	m.History = append(m.History, domain.Event{MessageID: m.ID, ClinicID: clinicID, Status: domain.Queued, Source: domain.SourceSystem, At: now})
	res, err := a.created(ctx, m, recipient, &content, nil)
	if err != nil || res.Duplicate {
		return res, err
	}
	sent, err := a.deliver(ctx, clinicID, m.ID)
	if err != nil {
		// It is recorded and queued: the dispatcher will send it.
		a.d.Logger.ErrorContext(ctx, "inline send failed; left to the dispatcher", slog.String("clinic_id", clinicID),
			slog.String("message_id", m.ID), slog.String("error", err.Error()))
		return res, nil
	}
	return SendResult{Message: sent}, nil
}

// patientRecipient resolves the address of m's patient and fills data
// with what messaging adds for a patient (first_name, unsubscribe_url).
// An opted-out patient's message is suppressed before anything is
// fetched; an unknown patient or one without an address for the channel
// fails it. done reports that m got its final status here.
func (a *App) patientRecipient(ctx context.Context, m *domain.Message, slug string, data map[string]string) (recipient string, done bool, err error) {
	if a.d.Contacts == nil {
		return "", false, fmt.Errorf("%w: no charting configured", ErrUpstream)
	}
	if done, err := a.suppressed(ctx, m, m.PatientID); done || err != nil {
		return "", done, err
	}
	c, err := a.d.Contacts.Contact(ctx, m.ClinicID, m.PatientID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		m.Observe(domain.Failed, CodePatientNotFound, domain.SourceSystem, m.CreatedAt)
		return "", true, nil
	case err != nil:
		a.d.Logger.WarnContext(ctx, "recipient lookup failed", slog.String("clinic_id", m.ClinicID),
			slog.String("message_id", m.ID), slog.String("error", err.Error()))
		return "", false, fmt.Errorf("%w: %w", ErrUpstream, err)
	}
	// A merged-away profile: the kept one's opt-outs count too, and its
	// link records the opt-out there.
	patientID := m.PatientID
	if c.PatientID != "" && c.PatientID != patientID && audit.ValidID(c.PatientID) {
		patientID = c.PatientID
		if done, err := a.suppressed(ctx, m, patientID); done || err != nil {
			return "", done, err
		}
	}
	recipient = c.Email
	if m.Channel == domain.SMS {
		recipient = c.Phone
	}
	if recipient == "" {
		m.Observe(domain.Failed, CodeNoAddress, domain.SourceSystem, m.CreatedAt)
		return "", true, nil
	}
	data[domain.KeyFirstName] = c.FirstName
	data[domain.KeyUnsubscribeURL] = a.unsubscribeURL(slug, domain.Unsubscription{ClinicID: m.ClinicID, PatientID: patientID, Channel: m.Channel})
	return recipient, false, nil
}

// suppressed reports (and records on m) that the patient refused m's
// channel.
func (a *App) suppressed(ctx context.Context, m *domain.Message, patientID string) (bool, error) {
	out, err := a.d.Store.OptedOut(ctx, m.ClinicID, patientID, m.Channel)
	if err != nil || !out {
		return false, err
	}
	m.Observe(domain.Suppressed, CodeOptedOut, domain.SourceSystem, m.CreatedAt)
	return true, nil
}

// created stores m, or answers the message that won the idempotency key.
func (a *App) created(ctx context.Context, m domain.Message, recipient string, content *domain.Content, err error) (SendResult, error) {
	if err != nil {
		return SendResult{}, err
	}
	if recipient != "" {
		if err := a.ensureKeys(ctx, m.ClinicID); err != nil {
			return SendResult{}, err
		}
	}
	err = a.d.Store.CreateMessage(context.WithoutCancel(ctx), m, recipient, content)
	if errors.Is(err, domain.ErrDuplicate) {
		prev, perr := a.d.Store.MessageByKey(ctx, m.ClinicID, m.IdempotencyKey)
		if perr != nil {
			return SendResult{}, perr
		}
		return SendResult{Message: prev, Duplicate: true}, nil
	}
	if err != nil {
		return SendResult{}, err
	}
	if m.Status.Final() {
		a.d.Logger.InfoContext(ctx, "message not sent", slog.String("clinic_id", m.ClinicID), slog.String("message_id", m.ID),
			slog.String("status", string(m.Status)), slog.String("code", m.History[len(m.History)-1].Detail))
	}
	return SendResult{Message: m}, nil
}

// template returns the clinic's template, or the built-in default.
func (a *App) template(ctx context.Context, clinicID string, ch domain.Channel, name string) (domain.Template, error) {
	t, err := a.d.Store.Template(ctx, clinicID, ch, name)
	if errors.Is(err, domain.ErrNotFound) {
		if d, ok := domain.DefaultTemplate(ch, name); ok {
			return d, nil
		}
	}
	return t, err
}

// publicURL is path of messaging under the router's public address for
// the clinic named by slug.
func (a *App) publicURL(slug, path string) string {
	return strings.TrimSuffix(a.d.PublicURL, "/") + "/c/" + url.PathEscape(slug) + "/messaging" + path
}

// unsubscribeURL is the signed opt-out link of a message. The token rides
// in the fragment, which browsers never send to a server, so it reaches no
// access log; the page's script posts it.
func (a *App) unsubscribeURL(slug string, u domain.Unsubscription) string {
	return a.publicURL(slug, "/v1/public/unsubscribe") + "#t=" + domain.SignUnsubscribe(a.d.UnsubscribeKey, u)
}

// deliver sends a queued message once: claim it, hand it to its channel,
// record what the channel said. A message someone else holds is returned
// as it is.
func (a *App) deliver(ctx context.Context, clinicID, id string) (domain.Message, error) {
	ctx = context.WithoutCancel(ctx) // what the provider said must be recorded
	now := a.now()
	out, ok, err := a.d.Store.ClaimMessage(ctx, clinicID, id, now, now.Add(a.d.Lease))
	if errors.Is(err, fieldcrypt.ErrKeyDestroyed) {
		// The clinic closed: its messages can no longer be opened, or sent.
		return a.d.Store.UpdateMessage(ctx, clinicID, id, func(m *domain.Message) ([]domain.Event, error) {
			return m.Observe(domain.Failed, CodeClinicClosed, domain.SourceSystem, now), nil
		})
	}
	if err != nil {
		return domain.Message{}, err
	}
	if !ok {
		return a.d.Store.Message(ctx, clinicID, id)
	}
	var (
		pid  string
		serr error
	)
	sender := a.d.Senders[out.Channel]
	if sender == nil {
		serr = &DeliveryError{Code: CodeNotConfigured}
	} else {
		sctx, cancel := context.WithTimeout(ctx, sendTimeout)
		pid, serr = sender.Send(sctx, out)
		cancel()
	}
	src := domain.SourceSMTP
	if out.Channel == domain.SMS {
		src = domain.SourceProvider
	}
	var derr *DeliveryError
	if serr != nil && !errors.As(serr, &derr) {
		a.d.Logger.WarnContext(ctx, "send failed; will retry", slog.String("clinic_id", clinicID), slog.String("message_id", id),
			slog.String("channel", string(out.Channel)))
		derr = &DeliveryError{Code: string(src) + "_unreachable"}
	}
	return a.d.Store.UpdateMessage(ctx, clinicID, id, func(m *domain.Message) ([]domain.Event, error) {
		at := a.now()
		switch {
		case serr == nil && m.Channel == domain.Email:
			// The SMTP server's 250 after DATA is the hand-over we can
			// observe: sent, and delivered to the receiving server.
			return append(m.Observe(domain.Sent, "250", src, at), m.Observe(domain.Delivered, "250", src, at)...), nil
		case serr == nil:
			if m.ProviderID == "" {
				m.ProviderID = pid
			}
			return m.Observe(domain.Sent, "accepted", src, at), nil
		case derr.Permanent:
			return m.Observe(domain.Failed, derr.Code, src, at), nil
		default:
			return m.Retry(derr.Code, src, at, at.Add(a.backoff(m.Attempts)), a.d.MaxAttempts), nil
		}
	})
}

// Dispatch is one pass of the background dispatcher: messages whose
// worker stopped mid-send go back to the queue, then every due message is
// sent. A message is held by one worker at a time (the claim), so several
// replicas may dispatch together.
func (a *App) Dispatch(ctx context.Context) {
	now := a.now()
	expired, err := a.d.Store.Expired(ctx, now, 100)
	if err != nil {
		a.d.Logger.ErrorContext(ctx, "dispatcher: list lapsed claims", slog.String("error", err.Error()))
	}
	for _, r := range expired {
		if _, err := a.d.Store.UpdateMessage(ctx, r.ClinicID, r.ID, func(m *domain.Message) ([]domain.Event, error) {
			return m.Reclaim(now), nil
		}); err != nil {
			a.d.Logger.ErrorContext(ctx, "dispatcher: reclaim", slog.String("message_id", r.ID), slog.String("error", err.Error()))
		}
	}
	due, err := a.d.Store.Due(ctx, now, 50)
	if err != nil {
		a.d.Logger.ErrorContext(ctx, "dispatcher: list due messages", slog.String("error", err.Error()))
		return
	}
	for _, r := range due {
		if ctx.Err() != nil {
			return
		}
		if _, err := a.deliver(ctx, r.ClinicID, r.ID); err != nil {
			a.d.Logger.ErrorContext(ctx, "dispatcher: send", slog.String("clinic_id", r.ClinicID), slog.String("message_id", r.ID),
				slog.String("error", err.Error()))
		}
	}
}
