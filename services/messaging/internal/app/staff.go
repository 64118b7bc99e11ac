package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sort"

	"github.com/google/uuid"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/services/messaging/internal/domain"
)

// RequestMeta is where a request came from, for the audit events (which
// keep the client address sealed under the clinic's key).
type RequestMeta struct{ IP string }

// Paging of the communication log.
const (
	DefaultPage = 50
	MaxPage     = 200
)

// System actors of the events messaging records without a signed-in user.
var (
	// linkActor is the holder of an unsubscribe link.
	linkActor = audit.Actor{System: "unsubscribe_link"}
)

// target is what an audited action was done to, and the patient concerned.
type target struct{ Type, ID, PatientID string }

// event builds an audit event: ids only, the request id from ctx, the
// client address sealed under the clinic's key. Build it before the
// transaction that records it: sealing may write the clinic's first key.
func (a *App) event(ctx context.Context, clinicID string, actor audit.Actor, action audit.Action, outcome audit.Outcome, t target, meta RequestMeta) (audit.Event, error) {
	e := audit.New(clinicID, a.d.Region, actor, action, outcome)
	e.ResourceType, e.ResourceID, e.PatientID = t.Type, t.ID, t.PatientID
	if rid := problem.RequestIDFromContext(ctx); audit.ValidID(rid) {
		e.RequestID = rid
	}
	if meta.IP != "" && a.d.Crypter != nil {
		if err := audit.SealClientIP(ctx, a.d.Crypter, &e, meta.IP); err != nil {
			return audit.Event{}, fmt.Errorf("audit event %s: %w", action, err)
		}
	}
	return e, nil
}

// Who may do what with messaging: staff with contact access read the
// communication log, opt-outs and templates (owners, admins, front desk,
// practitioners); staff who may change contact details manage opt-outs
// and templates (owners, admins, front desk). The billing role never
// reaches either (authz's ceiling on contact details), nor do patients.
const (
	actRead   = authz.ActionPatientContactRead
	actManage = authz.ActionPatientContactWrite
)

// authorize decides; a refusal is recorded as a denied event of ev and
// returned as domain.ErrForbidden.
func (a *App) authorize(ctx context.Context, p authz.Principal, act authz.Action, ev audit.Action, t target, meta RequestMeta) error {
	d := authz.Decide(p, act, authz.Resource{ClinicID: p.ClinicID, PatientID: t.PatientID})
	if d.Allow && p.Role.Staff() {
		return nil
	}
	reason := d.Reason
	if d.Allow {
		reason = "denied: messaging is for staff"
	}
	if e, err := a.event(ctx, p.ClinicID, audit.ActorOf(p), ev, audit.Denied, t, meta); err == nil {
		if err := a.d.Store.RecordAudit(context.WithoutCancel(ctx), e); err != nil {
			a.d.Logger.ErrorContext(ctx, "denied attempt not audited", slog.String("clinic_id", p.ClinicID), slog.String("error", err.Error()))
		}
	}
	return fmt.Errorf("%s: %s: %w", act, reason, domain.ErrForbidden)
}

// recordReads records read events before data leaves; if they cannot be
// recorded, nothing is returned (ErrAuditUnavailable).
func (a *App) recordReads(ctx context.Context, p authz.Principal, meta RequestMeta, ts []target) error {
	evs := make([]audit.Event, 0, len(ts))
	for _, t := range ts {
		e, err := a.event(ctx, p.ClinicID, audit.ActorOf(p), audit.PatientRead, audit.Allowed, t, meta)
		if err != nil {
			return err
		}
		evs = append(evs, e)
	}
	if len(evs) == 0 {
		return nil
	}
	if err := a.d.Store.RecordAudit(ctx, evs...); err != nil {
		a.d.Logger.ErrorContext(ctx, "read not audited; data withheld", slog.String("clinic_id", p.ClinicID), slog.String("error", err.Error()))
		return fmt.Errorf("%w: %w", ErrAuditUnavailable, err)
	}
	return nil
}

func invalid(field, reason string) error {
	return &ValidationError{Fields: []problem.FieldError{{Field: field, Reason: reason}}}
}

// Messages is the communication log, newest first: a page of limit
// messages (every patient's, or patientID's) older than the cursor, and the
// cursor of the next page ("" at the end). Each patient on the page is
// recorded as read.
func (a *App) Messages(ctx context.Context, p authz.Principal, patientID, cursor string, limit int, meta RequestMeta) ([]domain.Message, string, error) {
	t := target{Type: "message_log", ID: patientID, PatientID: patientID}
	if patientID != "" && !audit.ValidID(patientID) {
		return nil, "", invalid("patient_id", "must be an id")
	}
	if err := a.authorize(ctx, p, actRead, audit.PatientRead, t, meta); err != nil {
		return nil, "", err
	}
	if cursor != "" && !audit.ValidID(cursor) {
		return nil, "", invalid("cursor", "is not a cursor from this list")
	}
	if limit <= 0 {
		limit = DefaultPage
	}
	limit = min(limit, MaxPage)
	ms, err := a.d.Store.Messages(ctx, p.ClinicID, MessageQuery{PatientID: patientID, BeforeID: cursor, Limit: limit + 1})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(ms) > limit {
		ms, next = ms[:limit], ms[limit-1].ID
	}
	seen := map[string]bool{}
	var reads []target
	if patientID != "" {
		reads, seen[patientID] = append(reads, t), true
	}
	for _, m := range ms {
		if m.PatientID != "" && !seen[m.PatientID] {
			seen[m.PatientID] = true
			reads = append(reads, target{Type: "message_log", ID: m.PatientID, PatientID: m.PatientID})
		}
	}
	if len(reads) == 0 {
		reads = []target{{Type: "message_log"}}
	}
	if err := a.recordReads(ctx, p, meta, reads); err != nil {
		return nil, "", err
	}
	return ms, next, nil
}

// Message returns one message of the log, recorded as read.
func (a *App) Message(ctx context.Context, p authz.Principal, id string, meta RequestMeta) (domain.Message, error) {
	if !audit.ValidID(id) {
		return domain.Message{}, domain.ErrNotFound
	}
	if err := a.authorize(ctx, p, actRead, audit.PatientRead, target{Type: "message", ID: id}, meta); err != nil {
		return domain.Message{}, err
	}
	m, err := a.d.Store.Message(ctx, p.ClinicID, id)
	if err != nil {
		return domain.Message{}, err
	}
	if err := a.recordReads(ctx, p, meta, []target{{Type: "message", ID: m.ID, PatientID: m.PatientID}}); err != nil {
		return domain.Message{}, err
	}
	return m, nil
}

func optOutTarget(patientID string) target {
	return target{Type: "opt_out", ID: patientID, PatientID: patientID}
}

// OptOuts lists the channels the patient refused, recorded as read.
func (a *App) OptOuts(ctx context.Context, p authz.Principal, patientID string, meta RequestMeta) ([]domain.OptOut, error) {
	if !audit.ValidID(patientID) {
		return nil, domain.ErrNotFound
	}
	t := optOutTarget(patientID)
	if err := a.authorize(ctx, p, actRead, audit.PatientRead, t, meta); err != nil {
		return nil, err
	}
	out, err := a.d.Store.OptOuts(ctx, p.ClinicID, patientID)
	if err != nil {
		return nil, err
	}
	if err := a.recordReads(ctx, p, meta, []target{t}); err != nil {
		return nil, err
	}
	return out, nil
}

func checkChannel(ch domain.Channel) error {
	if !ch.Valid() {
		return invalid("channel", "must be email or sms")
	}
	return nil
}

// SetOptOut records, on a staff member's word, that the patient refuses
// the channel; audited as patient.write.
func (a *App) SetOptOut(ctx context.Context, p authz.Principal, patientID string, ch domain.Channel, meta RequestMeta) (domain.OptOut, error) {
	if !audit.ValidID(patientID) {
		return domain.OptOut{}, domain.ErrNotFound
	}
	t := optOutTarget(patientID)
	if err := a.authorize(ctx, p, actManage, audit.PatientWrite, t, meta); err != nil {
		return domain.OptOut{}, err
	}
	if err := checkChannel(ch); err != nil {
		return domain.OptOut{}, err
	}
	e, err := a.event(ctx, p.ClinicID, audit.ActorOf(p), audit.PatientWrite, audit.Allowed, t, meta)
	if err != nil {
		return domain.OptOut{}, err
	}
	return a.d.Store.SetOptOut(ctx, domain.OptOut{ClinicID: p.ClinicID, PatientID: patientID, Channel: ch,
		Source: domain.OptOutStaff, CreatedBy: p.UserID, CreatedAt: a.now()}, e)
}

// ClearOptOut lets the patient receive the channel again (staff); audited
// as patient.write.
func (a *App) ClearOptOut(ctx context.Context, p authz.Principal, patientID string, ch domain.Channel, meta RequestMeta) error {
	if !audit.ValidID(patientID) {
		return domain.ErrNotFound
	}
	t := optOutTarget(patientID)
	if err := a.authorize(ctx, p, actManage, audit.PatientWrite, t, meta); err != nil {
		return err
	}
	if err := checkChannel(ch); err != nil {
		return err
	}
	e, err := a.event(ctx, p.ClinicID, audit.ActorOf(p), audit.PatientWrite, audit.Allowed, t, meta)
	if err != nil {
		return err
	}
	return a.d.Store.DeleteOptOut(ctx, p.ClinicID, patientID, ch, e)
}

// Unsubscribe records the opt-out an unsubscribe link's token names, for
// the clinic the router resolved (a token of another clinic is refused).
// It is audited as patient.write by the link's holder.
func (a *App) Unsubscribe(ctx context.Context, clinicID, token string, meta RequestMeta) (domain.OptOut, error) {
	u, err := domain.VerifyUnsubscribe(a.d.UnsubscribeKey, token)
	if err != nil {
		return domain.OptOut{}, err
	}
	if u.ClinicID != clinicID || !audit.ValidID(u.PatientID) {
		return domain.OptOut{}, domain.ErrBadToken
	}
	e, err := a.event(ctx, clinicID, linkActor, audit.PatientWrite, audit.Allowed, optOutTarget(u.PatientID), meta)
	if err != nil {
		return domain.OptOut{}, err
	}
	return a.d.Store.SetOptOut(ctx, domain.OptOut{ClinicID: clinicID, PatientID: u.PatientID, Channel: u.Channel,
		Source: domain.OptOutLink, CreatedAt: a.now()}, e)
}

// Templates lists the templates in use: the clinic's own, and the
// built-in default of every channel and name it has not replaced.
func (a *App) Templates(ctx context.Context, p authz.Principal) ([]domain.Template, error) {
	// Templates hold no personal data: reading them is not audited.
	if d := authz.Decide(p, actRead, authz.Resource{ClinicID: p.ClinicID}); !d.Allow || !p.Role.Staff() {
		return nil, fmt.Errorf("%s: %s: %w", actRead, d.Reason, domain.ErrForbidden)
	}
	own, err := a.d.Store.Templates(ctx, p.ClinicID)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, t := range own {
		have[string(t.Channel)+"/"+t.Name] = true
	}
	out := own
	for _, d := range domain.Defaults {
		if !have[string(d.Channel)+"/"+d.Name] {
			d.Default = true
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Channel < out[j].Channel
	})
	return out, nil
}

// SaveTemplate creates or replaces the clinic's template for a channel and
// name (owners, admins, front desk); it must parse and render. Audited as
// settings.change.
func (a *App) SaveTemplate(ctx context.Context, p authz.Principal, ch domain.Channel, name, subject, body string, meta RequestMeta) (domain.Template, error) {
	t := target{Type: "message_template"}
	if err := a.authorize(ctx, p, actManage, audit.SettingsChange, t, meta); err != nil {
		return domain.Template{}, err
	}
	tp := domain.Template{ClinicID: p.ClinicID, Channel: ch, Name: name, Subject: subject, Body: body, UpdatedBy: p.UserID, UpdatedAt: a.now()}
	bad := tp.Check()
	if !ch.Valid() {
		bad["channel"] = "must be email or sms"
	}
	if !domain.ValidName(name) {
		bad["name"] = "must be a lower snake case name of at most 64 characters"
	}
	if len(bad) > 0 {
		fields := make([]problem.FieldError, 0, len(bad))
		for f, r := range bad {
			fields = append(fields, problem.FieldError{Field: f, Reason: r})
		}
		sort.Slice(fields, func(i, j int) bool { return fields[i].Field < fields[j].Field })
		return domain.Template{}, &ValidationError{Fields: fields}
	}
	prev, err := a.d.Store.Template(ctx, p.ClinicID, ch, name)
	switch {
	case err == nil:
		tp.ID = prev.ID
	case errors.Is(err, domain.ErrNotFound):
		tp.ID = uuid.Must(uuid.NewV7()).String()
	default:
		return domain.Template{}, err
	}
	t.ID = tp.ID
	e, err := a.event(ctx, p.ClinicID, audit.ActorOf(p), audit.SettingsChange, audit.Allowed, t, meta)
	if err != nil {
		return domain.Template{}, err
	}
	return a.d.Store.SaveTemplate(ctx, tp, e)
}

// providerStatus maps the SMS provider's statuses to ours.
func providerStatus(s string) (domain.Status, bool) {
	switch s {
	case "accepted", "scheduled", "queued", "sending":
		return domain.Queued, true
	case "sent":
		return domain.Sent, true
	case "delivered", "read":
		return domain.Delivered, true
	case "undelivered", "failed", "canceled":
		return domain.Failed, true
	}
	return "", false
}

// SMSStatus records a status callback of the SMS provider for message id
// (named in the callback URL messaging gave): the signature must verify
// over that URL and the form. It appends to the history, never moves a
// message backwards, and a repeat changes nothing.
func (a *App) SMSStatus(ctx context.Context, clinicID, id string, form url.Values, signature string) error {
	if a.d.Callbacks == nil {
		return fmt.Errorf("%s: %w", domain.SMS, domain.ErrChannelNotConfigured)
	}
	if !audit.ValidID(id) {
		return domain.ErrBadSignature
	}
	m, err := a.d.Store.Message(ctx, clinicID, id)
	if errors.Is(err, domain.ErrNotFound) {
		return domain.ErrBadSignature // nothing to check it against
	}
	if err != nil {
		return err
	}
	if m.Channel != domain.SMS || m.CallbackURL == "" || !a.d.Callbacks.Verify(m.CallbackURL, form, signature) {
		return domain.ErrBadSignature
	}
	st, ok := providerStatus(form.Get("MessageStatus"))
	sid := form.Get("MessageSid")
	if !ok || !audit.ValidID(sid) || (m.ProviderID != "" && m.ProviderID != sid) {
		return invalid("MessageStatus", "is not a status of this message")
	}
	detail := form.Get("ErrorCode")
	if !audit.ValidID(detail) {
		detail = ""
	}
	_, err = a.d.Store.UpdateMessage(ctx, clinicID, id, func(m *domain.Message) ([]domain.Event, error) {
		if m.ProviderID == "" {
			m.ProviderID = sid
		}
		return m.Observe(st, detail, domain.SourceProvider, a.now()), nil
	})
	return err
}
