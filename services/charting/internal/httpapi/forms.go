package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/havenhealth/haven/libs/authn"
	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/httpjson"
	"github.com/havenhealth/haven/services/charting/internal/domain"
)

type templateRequest struct {
	Name      string            `json:"name"`
	Questions []domain.Question `json:"questions"`
}

type templateJSON struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Version   int               `json:"version"`
	Questions []domain.Question `json:"questions"`
	CreatedBy string            `json:"created_by"`
	CreatedAt time.Time         `json:"created_at"`
}

func templateToAPI(t domain.FormTemplate) templateJSON {
	return templateJSON{ID: t.ID, Name: t.Name, Version: t.Version, Questions: t.Questions, CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt}
}

func (a *API) saveTemplate(w http.ResponseWriter, r *http.Request, id string, status int) {
	var req templateRequest
	if !httpjson.Read(w, r, &req) {
		return
	}
	t, err := a.App.SaveFormTemplate(r.Context(), authn.Caller(r), id, req.Name, req.Questions, meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, status, templateToAPI(t))
}

func (a *API) createTemplate(w http.ResponseWriter, r *http.Request) {
	a.saveTemplate(w, r, "", http.StatusCreated)
}

func (a *API) updateTemplate(w http.ResponseWriter, r *http.Request) {
	a.saveTemplate(w, r, r.PathValue("id"), http.StatusOK)
}

func (a *API) listTemplates(w http.ResponseWriter, r *http.Request) {
	ts, err := a.App.FormTemplates(r.Context(), authn.Caller(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]templateJSON, len(ts))
	for i, t := range ts {
		out[i] = templateToAPI(t)
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"templates": out})
}

func (a *API) getTemplate(w http.ResponseWriter, r *http.Request) {
	t, err := a.App.FormTemplate(r.Context(), authn.Caller(r), r.PathValue("id"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, templateToAPI(t))
}

type formJSON struct {
	ID              string            `json:"id"`
	PatientID       string            `json:"patient_id"`
	TemplateID      string            `json:"template_id"`
	TemplateVersion int               `json:"template_version"`
	Status          string            `json:"status"`
	SentBy          string            `json:"sent_by"`
	CreatedAt       time.Time         `json:"created_at"`
	ExpiresAt       time.Time         `json:"expires_at"`
	CompletedAt     *time.Time        `json:"completed_at,omitempty"`
	Answers         map[string]string `json:"answers,omitempty"`
	SignedName      string            `json:"signed_name,omitempty"`
	ContentSHA256   string            `json:"content_sha256,omitempty"`
	Token           string            `json:"token,omitempty"`
	Questions       []domain.Question `json:"questions,omitempty"`
}

func formToAPI(f domain.FormRequest, now time.Time) formJSON {
	return formJSON{
		ID: f.ID, PatientID: f.PatientID, TemplateID: f.TemplateID, TemplateVersion: f.TemplateVersion, Status: f.Status(now),
		SentBy: f.SentBy, CreatedAt: f.CreatedAt, ExpiresAt: f.ExpiresAt, CompletedAt: f.CompletedAt, Answers: f.Answers,
		SignedName: f.SignedName, ContentSHA256: f.ContentSHA256,
	}
}

func (a *API) sendForm(w http.ResponseWriter, r *http.Request) {
	var req struct {
		TemplateID     string `json:"template_id"`
		ExpiresInHours int    `json:"expires_in_hours"`
	}
	if !httpjson.Read(w, r, &req) {
		return
	}
	f, token, err := a.App.SendForm(r.Context(), authn.Caller(r), r.PathValue("id"), req.TemplateID,
		time.Duration(req.ExpiresInHours)*time.Hour, meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := formToAPI(f, time.Now())
	out.Token = token
	w.Header().Set("Cache-Control", "no-store")
	httpjson.Write(w, http.StatusCreated, out)
}

func (a *API) patientForms(w http.ResponseWriter, r *http.Request) {
	fs, err := a.App.PatientForms(r.Context(), authn.Caller(r), r.PathValue("id"), meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	now := time.Now()
	out := make([]formJSON, len(fs))
	for i, f := range fs {
		out[i] = formToAPI(f, now)
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"forms": out})
}

func (a *API) getForm(w http.ResponseWriter, r *http.Request) {
	cf, err := a.App.GetForm(r.Context(), authn.Caller(r), r.PathValue("id"), meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := formToAPI(cf.Form, time.Now())
	out.Questions = cf.Template.Questions
	httpjson.Write(w, http.StatusOK, out)
}

// openForm and submitForm are the patient's side: no sign-in, only the
// router's signature (which names the clinic) and the link's token, sent
// in the body so that it never appears in a URL or an access log.
func (a *API) openForm(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Token string `json:"token"`
	}
	if !httpjson.Read(w, r, &req) {
		return
	}
	t, f, err := a.App.OpenForm(r.Context(), edgeauth.ClinicID(r.Context()), req.Token)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	httpjson.Write(w, http.StatusOK, map[string]any{"name": t.Name, "questions": t.Questions, "expires_at": f.ExpiresAt})
}

func (a *API) submitForm(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Token     string                     `json:"token"`
		Answers   map[string]json.RawMessage `json:"answers"`
		Signature struct {
			TypedName string `json:"typed_name"`
		} `json:"signature"`
	}
	if !httpjson.Read(w, r, &req) {
		return
	}
	f, err := a.App.CompleteForm(r.Context(), edgeauth.ClinicID(r.Context()), req.Token, req.Answers, req.Signature.TypedName, meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusCreated, map[string]any{"id": f.ID, "completed_at": f.CompletedAt, "content_sha256": f.ContentSHA256})
}
