package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/services/charting/internal/domain"
)

// Form links live 7 days unless the sender says otherwise, 30 at most.
const (
	DefaultFormTTL = 7 * 24 * time.Hour
	MaxFormTTL     = 30 * 24 * time.Hour
)

// formLinkActor is who completes a form: the holder of its link.
var formLinkActor = audit.Actor{System: "form_link"}

func formTarget(f domain.FormRequest) target { return target{"form_request", f.ID, f.PatientID} }

func templateTarget(id string) target { return target{Type: "form_template", ID: id} }

// fieldsErr turns a reason map into a ValidationError (sorted by field).
func fieldsErr(bad map[string]string) error {
	if len(bad) == 0 {
		return nil
	}
	keys := make([]string, 0, len(bad))
	for k := range bad {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]problem.FieldError, 0, len(keys))
	for _, k := range keys {
		out = append(out, problem.FieldError{Field: k, Reason: bad[k]})
	}
	return &ValidationError{Fields: out}
}

// SaveFormTemplate creates a template (id empty) or a new version of one
// (owner and admin: settings.manage). Sent forms keep their version.
func (a *App) SaveFormTemplate(ctx context.Context, c authz.Principal, id, name string, questions []domain.Question, meta RequestMeta) (domain.FormTemplate, error) {
	if err := authorize(c, authz.ActionSettingsManage, authz.Resource{}); err != nil {
		return domain.FormTemplate{}, a.refused(ctx, c, audit.SettingsChange, templateTarget(id), meta, err)
	}
	bad := domain.CheckQuestions(questions)
	if bad == nil {
		bad = map[string]string{}
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 || strings.ContainsAny(name, "\r\n") {
		bad["name"] = "must be one line of 1 to 200 characters"
	}
	if err := fieldsErr(bad); err != nil {
		return domain.FormTemplate{}, err
	}
	t := domain.FormTemplate{ID: id, ClinicID: c.ClinicID, Name: name, Version: 1, Questions: questions, CreatedBy: c.UserID, CreatedAt: a.now()}
	if id == "" {
		t.ID = uuid.Must(uuid.NewV7()).String()
	} else {
		if !audit.ValidID(id) {
			return domain.FormTemplate{}, domain.ErrNotFound
		}
		prev, err := a.d.Store.FormTemplate(ctx, c.ClinicID, id, 0)
		if err != nil {
			return domain.FormTemplate{}, err
		}
		t.Version = prev.Version + 1
	}
	ev, err := a.newEvent(ctx, c, audit.SettingsChange, audit.Allowed, templateTarget(t.ID), meta)
	if err != nil {
		return domain.FormTemplate{}, err
	}
	if err := a.d.Store.CreateFormTemplate(ctx, t, ev); err != nil {
		return domain.FormTemplate{}, err
	}
	return t, nil
}

// FormTemplates lists the clinic's templates, latest versions (any staff).
func (a *App) FormTemplates(ctx context.Context, c authz.Principal) ([]domain.FormTemplate, error) {
	if err := authorize(c, authz.ActionSettingsRead, authz.Resource{}); err != nil {
		return nil, err
	}
	return a.d.Store.FormTemplates(ctx, c.ClinicID)
}

// FormTemplate returns a template's latest version (any staff).
func (a *App) FormTemplate(ctx context.Context, c authz.Principal, id string) (domain.FormTemplate, error) {
	if err := authorize(c, authz.ActionSettingsRead, authz.Resource{}); err != nil {
		return domain.FormTemplate{}, err
	}
	if !audit.ValidID(id) {
		return domain.FormTemplate{}, domain.ErrNotFound
	}
	return a.d.Store.FormTemplate(ctx, c.ClinicID, id, 0)
}

// SendForm creates a single-use link to the template's latest version for
// the patient (patient.write: front desk, owners and admins) and returns the
// request and the link's token, which is shown once and stored only as its
// SHA-256. ttl 0 means DefaultFormTTL.
func (a *App) SendForm(ctx context.Context, c authz.Principal, patientID, templateID string, ttl time.Duration, meta RequestMeta) (domain.FormRequest, string, error) {
	if !audit.ValidID(patientID) {
		return domain.FormRequest{}, "", domain.ErrNotFound
	}
	if err := authorize(c, authz.ActionPatientWrite, authz.Resource{PatientID: patientID}); err != nil {
		return domain.FormRequest{}, "", a.refused(ctx, c, audit.PatientWrite, patientTarget(patientID), meta, err)
	}
	bad := map[string]string{}
	if !audit.ValidID(templateID) {
		bad["template_id"] = "is required: the id of one of the clinic's form templates"
	}
	if ttl == 0 {
		ttl = DefaultFormTTL
	}
	if ttl < time.Hour || ttl > MaxFormTTL {
		bad["expires_in_hours"] = "must be from 1 to 720 hours"
	}
	if err := fieldsErr(bad); err != nil {
		return domain.FormRequest{}, "", err
	}
	if _, err := a.live(ctx, c.ClinicID, patientID); err != nil {
		return domain.FormRequest{}, "", err
	}
	t, err := a.d.Store.FormTemplate(ctx, c.ClinicID, templateID, 0)
	if err != nil {
		if err == domain.ErrNotFound {
			return domain.FormRequest{}, "", fieldsErr(map[string]string{"template_id": "is not one of the clinic's form templates"})
		}
		return domain.FormRequest{}, "", err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return domain.FormRequest{}, "", err
	}
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	now := a.now()
	f := domain.FormRequest{
		ID: uuid.Must(uuid.NewV7()).String(), ClinicID: c.ClinicID, PatientID: patientID, TemplateID: t.ID, TemplateVersion: t.Version,
		TokenHash: domain.TokenHash(token), SentBy: c.UserID, CreatedAt: now, ExpiresAt: now.Add(ttl),
	}
	if err := a.ensureKeys(ctx, c.ClinicID); err != nil {
		return domain.FormRequest{}, "", err
	}
	ev, err := a.newEvent(ctx, c, audit.PatientWrite, audit.Allowed, formTarget(f), meta)
	if err != nil {
		return domain.FormRequest{}, "", err
	}
	if err := a.d.Store.CreateFormRequest(ctx, f, ev); err != nil {
		return domain.FormRequest{}, "", err
	}
	return f, token, nil
}

// openRequest finds the open request of a link, or domain.ErrLinkInvalid.
func (a *App) openRequest(ctx context.Context, clinicID, token string) (domain.FormRequest, domain.FormTemplate, error) {
	if clinicID == "" || len(token) < 20 || len(token) > 100 {
		return domain.FormRequest{}, domain.FormTemplate{}, domain.ErrLinkInvalid
	}
	f, err := a.d.Store.FormRequestByToken(ctx, clinicID, domain.TokenHash(token))
	if err != nil {
		return domain.FormRequest{}, domain.FormTemplate{}, err
	}
	if f.Status(a.now()) != "sent" {
		return domain.FormRequest{}, domain.FormTemplate{}, domain.ErrLinkInvalid
	}
	t, err := a.d.Store.FormTemplate(ctx, clinicID, f.TemplateID, f.TemplateVersion)
	if err != nil {
		return domain.FormRequest{}, domain.FormTemplate{}, err
	}
	return f, t, nil
}

// OpenForm returns the form a link opens, without signing in: the
// template's questions and the link's expiry. Nothing about the patient is
// shown, so a forwarded link reveals nothing.
func (a *App) OpenForm(ctx context.Context, clinicID, token string) (domain.FormTemplate, domain.FormRequest, error) {
	f, t, err := a.openRequest(ctx, clinicID, token)
	return t, f, err
}

// CompleteForm records the patient's answers and typed signature through
// the link, once: the form is then immutable and the link dead. The time,
// the client address (sealed) and a SHA-256 of the completion are kept, and
// a patient.write event by the system actor form_link is recorded with it.
func (a *App) CompleteForm(ctx context.Context, clinicID, token string, answers map[string]json.RawMessage, typedName string, meta RequestMeta) (domain.FormRequest, error) {
	f, t, err := a.openRequest(ctx, clinicID, token)
	if err != nil {
		return domain.FormRequest{}, err
	}
	norm, bad := t.Answers(answers)
	if bad == nil {
		bad = map[string]string{}
	}
	typedName = strings.TrimSpace(typedName)
	if typedName == "" || len(typedName) > 200 || strings.ContainsAny(typedName, "\r\n") {
		bad["signature.typed_name"] = "type your full name (one line, at most 200 characters) to sign"
	}
	if err := fieldsErr(bad); err != nil {
		return domain.FormRequest{}, err
	}
	now := a.now()
	f.CompletedAt, f.Answers, f.SignedName, f.SignedIP = &now, norm, typedName, meta.IP
	f.ContentSHA256 = domain.CompletionHash(f)
	if err := a.ensureKeys(ctx, clinicID); err != nil {
		return domain.FormRequest{}, err
	}
	ev := audit.New(clinicID, string(a.d.Region), formLinkActor, audit.PatientWrite, audit.Allowed)
	ev.ResourceType, ev.ResourceID, ev.PatientID = "form_request", f.ID, f.PatientID
	if meta.IP != "" {
		if err := audit.SealClientIP(ctx, a.d.Crypter, &ev, meta.IP); err != nil {
			return domain.FormRequest{}, err
		}
	}
	if err := a.d.Store.CompleteFormRequest(ctx, f, ev); err != nil {
		return domain.FormRequest{}, err
	}
	return f, nil
}

// PatientForms lists the forms sent to a patient, without answers
// (patient.read; recorded).
func (a *App) PatientForms(ctx context.Context, c authz.Principal, patientID string, meta RequestMeta) ([]domain.FormRequest, error) {
	if !audit.ValidID(patientID) {
		return nil, domain.ErrNotFound
	}
	if err := authorize(c, authz.ActionPatientRead, authz.Resource{PatientID: patientID}); err != nil {
		return nil, a.refused(ctx, c, audit.PatientRead, patientTarget(patientID), meta, err)
	}
	if _, err := a.live(ctx, c.ClinicID, patientID); err != nil {
		return nil, err
	}
	forms, err := a.d.Store.FormRequests(ctx, c.ClinicID, patientID)
	if err != nil {
		return nil, err
	}
	for i := range forms {
		forms[i].Answers, forms[i].SignedName, forms[i].SignedIP = nil, "", ""
	}
	if err := a.recordReads(ctx, c, meta, []readEvent{{audit.PatientRead, patientTarget(patientID)}}); err != nil {
		return nil, err
	}
	return forms, nil
}

// CompletedForm is a form with the questions it was answered against.
type CompletedForm struct {
	Form     domain.FormRequest
	Template domain.FormTemplate
}

// GetForm returns a form with its answers: intake answers are health
// information, so reading them needs access to the patient's chart, and is
// recorded as a chart.read of the form.
func (a *App) GetForm(ctx context.Context, c authz.Principal, id string, meta RequestMeta) (CompletedForm, error) {
	if !audit.ValidID(id) {
		return CompletedForm{}, domain.ErrNotFound
	}
	f, err := a.d.Store.FormRequest(ctx, c.ClinicID, id)
	if err != nil {
		return CompletedForm{}, err
	}
	pr, err := a.d.Store.Practitioners(ctx, c.ClinicID, f.PatientID)
	if err != nil {
		return CompletedForm{}, err
	}
	if !canSeeClinical(c, f.PatientID, pr) {
		return CompletedForm{}, a.refused(ctx, c, audit.ChartRead, formTarget(f), meta,
			fmt.Errorf("form answers need chart access: %w", domain.ErrForbidden))
	}
	t, err := a.d.Store.FormTemplate(ctx, c.ClinicID, f.TemplateID, f.TemplateVersion)
	if err != nil {
		return CompletedForm{}, err
	}
	if err := a.recordReads(ctx, c, meta, []readEvent{{audit.ChartRead, formTarget(f)}}); err != nil {
		return CompletedForm{}, err
	}
	return CompletedForm{Form: f, Template: t}, nil
}
