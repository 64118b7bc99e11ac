package httpapi

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/havenhealth/haven/libs/authn"
	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/httpjson"
	"github.com/havenhealth/haven/libs/messagingclient"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/services/messaging/internal/app"
	"github.com/havenhealth/haven/services/messaging/internal/domain"
)

// DecodeSend reads and validates a send request body: a problem (4xx)
// when it is not one.
func DecodeSend(body io.Reader) (messagingclient.SendRequest, *problem.Problem) {
	var req messagingclient.SendRequest
	if p := httpjson.DecodeReader(body, &req); p != nil {
		return messagingclient.SendRequest{}, p
	}
	var verr *app.ValidationError
	if err := app.CheckSend(req); errors.As(err, &verr) {
		return messagingclient.SendRequest{}, problem.Validation(verr.Fields...)
	}
	return req, nil
}

func (a *API) send(w http.ResponseWriter, r *http.Request) {
	var req messagingclient.SendRequest
	if !httpjson.Read(w, r, &req) {
		return
	}
	res, err := a.App.Send(r.Context(), edgeauth.ClinicID(r.Context()), req)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	status := http.StatusCreated
	if res.Duplicate {
		status = http.StatusOK
	}
	httpjson.Write(w, status, messagingclient.SendResult{ID: res.Message.ID, Status: string(res.Message.Status.Public()), Duplicate: res.Duplicate})
}

type eventJSON struct {
	Status string    `json:"status"`
	Detail string    `json:"detail,omitempty"`
	Source string    `json:"source"`
	At     time.Time `json:"at"`
}

type messageJSON struct {
	ID          string      `json:"id"`
	PatientID   string      `json:"patient_id,omitempty"`
	UserID      string      `json:"user_id,omitempty"`
	Channel     string      `json:"channel"`
	Template    string      `json:"template"`
	Trigger     string      `json:"trigger"`
	Status      string      `json:"status"`
	ErrorCode   string      `json:"error_code,omitempty"`
	ProviderID  string      `json:"provider_id,omitempty"`
	CreatedAt   time.Time   `json:"created_at"`
	SentAt      *time.Time  `json:"sent_at,omitempty"`
	DeliveredAt *time.Time  `json:"delivered_at,omitempty"`
	FailedAt    *time.Time  `json:"failed_at,omitempty"`
	History     []eventJSON `json:"history"`
}

func messageToAPI(m domain.Message) messageJSON {
	out := messageJSON{
		ID: m.ID, PatientID: m.PatientID, UserID: m.UserID, Channel: string(m.Channel), Template: m.Template,
		Trigger: string(m.Trigger), Status: string(m.Status.Public()), ErrorCode: m.ErrorCode, ProviderID: m.ProviderID,
		CreatedAt: m.CreatedAt, SentAt: m.SentAt, DeliveredAt: m.DeliveredAt, FailedAt: m.FailedAt,
		History: make([]eventJSON, len(m.History)),
	}
	if m.Status != domain.Failed {
		out.ErrorCode = "" // a retry's last code while still queued is in the history
	}
	for i, e := range m.History {
		out.History[i] = eventJSON{Status: string(e.Status), Detail: e.Detail, Source: string(e.Source), At: e.At}
	}
	return out
}

func (a *API) listMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 0
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > app.MaxPage {
			problem.Write(w, r, problem.Validation(problem.FieldError{Field: "limit", Reason: "must be a number from 1 to 200"}))
			return
		}
		limit = n
	}
	ms, next, err := a.App.Messages(r.Context(), authn.Caller(r), q.Get("patient_id"), q.Get("cursor"), limit, meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	items := make([]messageJSON, len(ms))
	for i, m := range ms {
		items[i] = messageToAPI(m)
	}
	httpjson.Write(w, http.StatusOK, struct {
		Items      []messageJSON `json:"items"`
		NextCursor string        `json:"next_cursor,omitempty"`
	}{items, next})
}

func (a *API) getMessage(w http.ResponseWriter, r *http.Request) {
	m, err := a.App.Message(r.Context(), authn.Caller(r), r.PathValue("id"), meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, messageToAPI(m))
}

type optOutJSON struct {
	PatientID string    `json:"patient_id"`
	Channel   string    `json:"channel"`
	Source    string    `json:"source"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

func optOutToAPI(o domain.OptOut) optOutJSON {
	return optOutJSON{PatientID: o.PatientID, Channel: string(o.Channel), Source: string(o.Source), CreatedBy: o.CreatedBy, CreatedAt: o.CreatedAt}
}

func (a *API) listOptOuts(w http.ResponseWriter, r *http.Request) {
	os, err := a.App.OptOuts(r.Context(), authn.Caller(r), r.PathValue("id"), meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	items := make([]optOutJSON, len(os))
	for i, o := range os {
		items[i] = optOutToAPI(o)
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"items": items})
}

func (a *API) setOptOut(w http.ResponseWriter, r *http.Request) {
	o, err := a.App.SetOptOut(r.Context(), authn.Caller(r), r.PathValue("id"), domain.Channel(r.PathValue("channel")), meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, optOutToAPI(o))
}

func (a *API) clearOptOut(w http.ResponseWriter, r *http.Request) {
	if err := a.App.ClearOptOut(r.Context(), authn.Caller(r), r.PathValue("id"), domain.Channel(r.PathValue("channel")), meta(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type templateJSON struct {
	Channel   string     `json:"channel"`
	Name      string     `json:"name"`
	Subject   string     `json:"subject,omitempty"`
	Body      string     `json:"body"`
	Default   bool       `json:"default"`
	UpdatedBy string     `json:"updated_by,omitempty"`
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
}

func templateToAPI(t domain.Template) templateJSON {
	out := templateJSON{Channel: string(t.Channel), Name: t.Name, Subject: t.Subject, Body: t.Body, Default: t.Default, UpdatedBy: t.UpdatedBy}
	if !t.UpdatedAt.IsZero() {
		out.UpdatedAt = &t.UpdatedAt
	}
	return out
}

func (a *API) listTemplates(w http.ResponseWriter, r *http.Request) {
	ts, err := a.App.Templates(r.Context(), authn.Caller(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	items := make([]templateJSON, len(ts))
	for i, t := range ts {
		items[i] = templateToAPI(t)
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"items": items})
}

func (a *API) saveTemplate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Subject string `json:"subject"`
		Body    string `json:"body"`
	}
	if !httpjson.Read(w, r, &req) {
		return
	}
	t, err := a.App.SaveTemplate(r.Context(), authn.Caller(r), domain.Channel(r.PathValue("channel")), r.PathValue("name"),
		req.Subject, req.Body, meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, templateToAPI(t))
}
