package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/havenhealth/haven/libs/authn"
	"github.com/havenhealth/haven/libs/httpjson"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/services/charting/internal/app"
	"github.com/havenhealth/haven/services/charting/internal/domain"
)

type addressJSON struct {
	Line1      string `json:"line1"`
	Line2      string `json:"line2"`
	City       string `json:"city"`
	Region     string `json:"region"`
	PostalCode string `json:"postal_code"`
	Country    string `json:"country"`
}

type emergencyJSON struct {
	Name         string `json:"name"`
	Phone        string `json:"phone"`
	Relationship string `json:"relationship"`
}

// patientRequest is the body of POST and PATCH /v1/patients. Absent (or
// null) fields are left as they are on PATCH; "" clears an optional one.
type patientRequest struct {
	FirstName        *string        `json:"first_name"`
	LastName         *string        `json:"last_name"`
	PreferredName    *string        `json:"preferred_name"`
	DateOfBirth      *string        `json:"date_of_birth"`
	Sex              *string        `json:"sex"`
	Gender           *string        `json:"gender"`
	Email            *string        `json:"email"`
	Phone            *string        `json:"phone"`
	Address          *addressJSON   `json:"address"`
	EmergencyContact *emergencyJSON `json:"emergency_contact"`
	Alert            *string        `json:"alert"`
}

func (q patientRequest) toApp() app.PatientInput {
	in := app.PatientInput{
		FirstName: q.FirstName, LastName: q.LastName, PreferredName: q.PreferredName, DateOfBirth: q.DateOfBirth,
		Sex: q.Sex, Gender: q.Gender, Email: q.Email, Phone: q.Phone, Alert: q.Alert,
	}
	if q.Address != nil {
		in.Address = &domain.Address{Line1: q.Address.Line1, Line2: q.Address.Line2, City: q.Address.City,
			Region: q.Address.Region, PostalCode: q.Address.PostalCode, Country: q.Address.Country}
	}
	if q.EmergencyContact != nil {
		in.EmergencyContact = &domain.EmergencyContact{Name: q.EmergencyContact.Name, Phone: q.EmergencyContact.Phone,
			Relationship: q.EmergencyContact.Relationship}
	}
	return in
}

// patientResponse is a patient as the caller may see them: groups the
// caller may not see are absent, not empty.
type patientResponse struct {
	ID               string         `json:"id"`
	FirstName        string         `json:"first_name"`
	LastName         string         `json:"last_name"`
	PreferredName    string         `json:"preferred_name"`
	DateOfBirth      string         `json:"date_of_birth"`
	Sex              *string        `json:"sex,omitempty"`
	Gender           *string        `json:"gender,omitempty"`
	Email            *string        `json:"email,omitempty"`
	Phone            *string        `json:"phone,omitempty"`
	Address          *addressJSON   `json:"address,omitempty"`
	EmergencyContact *emergencyJSON `json:"emergency_contact,omitempty"`
	Alert            *string        `json:"alert,omitempty"`
	PractitionerIDs  []string       `json:"practitioner_ids,omitempty"`
	CreatedAt        time.Time      `json:"created_at"`
	UpdatedAt        time.Time      `json:"updated_at"`
}

func patientToAPI(v app.PatientView) patientResponse {
	p := v.Patient
	out := patientResponse{ID: p.ID, FirstName: p.FirstName, LastName: p.LastName, PreferredName: p.PreferredName,
		DateOfBirth: p.DateOfBirth, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	if v.Demographics {
		sex, gender := string(p.Sex), p.Gender
		out.Sex, out.Gender = &sex, &gender
	}
	if v.Contacts {
		email, phone := p.Email, p.Phone
		out.Email, out.Phone = &email, &phone
		a, ec := p.Address, p.EmergencyContact
		out.Address = &addressJSON{Line1: a.Line1, Line2: a.Line2, City: a.City, Region: a.Region, PostalCode: a.PostalCode, Country: a.Country}
		out.EmergencyContact = &emergencyJSON{Name: ec.Name, Phone: ec.Phone, Relationship: ec.Relationship}
	}
	if v.Clinical {
		alert := p.Alert
		out.Alert = &alert
		out.PractitionerIDs = v.Practitioners
		if out.PractitionerIDs == nil {
			out.PractitionerIDs = []string{}
		}
	}
	return out
}

func (a *API) createPatient(w http.ResponseWriter, r *http.Request) {
	var req patientRequest
	if !httpjson.Read(w, r, &req) {
		return
	}
	v, err := a.App.CreatePatient(r.Context(), authn.Caller(r), req.toApp(), meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/patients/"+v.Patient.ID)
	httpjson.Write(w, http.StatusCreated, patientToAPI(v))
}

func (a *API) getPatient(w http.ResponseWriter, r *http.Request) {
	v, err := a.App.GetPatient(r.Context(), authn.Caller(r), r.PathValue("id"), meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, patientToAPI(v))
}

func (a *API) patchPatient(w http.ResponseWriter, r *http.Request) {
	var req patientRequest
	if !httpjson.Read(w, r, &req) {
		return
	}
	v, err := a.App.UpdatePatient(r.Context(), authn.Caller(r), r.PathValue("id"), req.toApp(), meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, patientToAPI(v))
}

type patientList struct {
	Items      []patientResponse `json:"items"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

func (a *API) searchPatients(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s := app.PatientSearch{Name: q.Get("name"), Email: q.Get("email"), Phone: q.Get("phone"),
		PhoneCountry: q.Get("phone_country"), DateOfBirth: q.Get("date_of_birth"), After: q.Get("cursor")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 100 {
			problem.Write(w, r, problem.Validation(problem.FieldError{Field: "limit", Reason: "must be a number from 1 to 100"}))
			return
		}
		s.Limit = n
	}
	vs, err := a.App.SearchPatients(r.Context(), authn.Caller(r), s, meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := patientList{Items: make([]patientResponse, len(vs))}
	for i, v := range vs {
		out.Items[i] = patientToAPI(v)
	}
	limit := s.Limit
	if limit == 0 {
		limit = 100
	}
	if len(vs) == limit {
		out.NextCursor = vs[len(vs)-1].Patient.ID
	}
	httpjson.Write(w, http.StatusOK, out)
}

func (a *API) assignPractitioner(w http.ResponseWriter, r *http.Request) {
	if err := a.App.AssignPractitioner(r.Context(), authn.Caller(r), r.PathValue("id"), r.PathValue("user_id"), meta(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) unassignPractitioner(w http.ResponseWriter, r *http.Request) {
	if err := a.App.UnassignPractitioner(r.Context(), authn.Caller(r), r.PathValue("id"), r.PathValue("user_id"), meta(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// entryRequest is the body of POST /v1/patients/{id}/entries and PATCH
// /v1/entries/{id}.
type entryRequest struct {
	Notes           *string   `json:"notes"`
	AppointmentID   *string   `json:"appointment_id"`
	OccurredOn      *string   `json:"occurred_on"`
	DurationMinutes *int      `json:"duration_minutes"`
	Attendees       *[]string `json:"attendees"`
}

func (q entryRequest) toApp() app.EntryInput {
	return app.EntryInput{Notes: q.Notes, AppointmentID: q.AppointmentID, OccurredOn: q.OccurredOn,
		DurationMinutes: q.DurationMinutes, Attendees: q.Attendees}
}

type amendmentResponse struct {
	ID            string    `json:"id"`
	Seq           int       `json:"seq"`
	Notes         string    `json:"notes"`
	AuthorID      string    `json:"author_id"`
	SignedBy      string    `json:"signed_by"`
	SignedAt      time.Time `json:"signed_at"`
	ContentSHA256 string    `json:"content_sha256"`
	SignEventID   string    `json:"sign_event_id"`
}

type entryResponse struct {
	ID              string              `json:"id"`
	PatientID       string              `json:"patient_id"`
	AuthorID        string              `json:"author_id"`
	Status          string              `json:"status"`
	Notes           string              `json:"notes"`
	AppointmentID   string              `json:"appointment_id,omitempty"`
	OccurredOn      string              `json:"occurred_on"`
	DurationMinutes *int                `json:"duration_minutes,omitempty"`
	Attendees       []string            `json:"attendees"`
	CreatedAt       time.Time           `json:"created_at"`
	UpdatedAt       time.Time           `json:"updated_at"`
	SignedAt        *time.Time          `json:"signed_at,omitempty"`
	SignedBy        string              `json:"signed_by,omitempty"`
	ContentSHA256   string              `json:"content_sha256,omitempty"`
	SignEventID     string              `json:"sign_event_id,omitempty"`
	Verified        bool                `json:"integrity_verified"`
	Amendments      []amendmentResponse `json:"amendments"`
}

func entryToAPI(e domain.Entry) entryResponse {
	out := entryResponse{
		ID: e.ID, PatientID: e.PatientID, AuthorID: e.AuthorID, Status: string(e.Status), Notes: e.Notes,
		AppointmentID: e.AppointmentID, OccurredOn: e.OccurredOn, DurationMinutes: e.DurationMinutes,
		Attendees: e.Attendees, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, SignedAt: e.SignedAt,
		SignedBy: e.SignedBy, ContentSHA256: e.ContentSHA256, SignEventID: e.SignEventID, Verified: e.Verify(),
		Amendments: make([]amendmentResponse, len(e.Amendments)),
	}
	if out.Attendees == nil {
		out.Attendees = []string{}
	}
	for i, am := range e.Amendments {
		out.Amendments[i] = amendmentResponse{ID: am.ID, Seq: am.Seq, Notes: am.Notes, AuthorID: am.AuthorID, SignedBy: am.AuthorID,
			SignedAt: am.SignedAt, ContentSHA256: am.ContentSHA256, SignEventID: am.SignEventID}
	}
	return out
}

func (a *API) createEntry(w http.ResponseWriter, r *http.Request) {
	var req entryRequest
	if !httpjson.Read(w, r, &req) {
		return
	}
	e, err := a.App.CreateEntry(r.Context(), authn.Caller(r), r.PathValue("id"), req.toApp(), meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/entries/"+e.ID)
	httpjson.Write(w, http.StatusCreated, entryToAPI(e))
}

type entryList struct {
	Items []entryResponse `json:"items"`
}

func (a *API) listEntries(w http.ResponseWriter, r *http.Request) {
	es, err := a.App.ListEntries(r.Context(), authn.Caller(r), r.PathValue("id"), meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := entryList{Items: make([]entryResponse, len(es))}
	for i, e := range es {
		out.Items[i] = entryToAPI(e)
	}
	httpjson.Write(w, http.StatusOK, out)
}

func (a *API) getEntry(w http.ResponseWriter, r *http.Request) {
	e, err := a.App.GetEntry(r.Context(), authn.Caller(r), r.PathValue("id"), meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, entryToAPI(e))
}

func (a *API) patchEntry(w http.ResponseWriter, r *http.Request) {
	var req entryRequest
	if !httpjson.Read(w, r, &req) {
		return
	}
	e, err := a.App.UpdateEntry(r.Context(), authn.Caller(r), r.PathValue("id"), req.toApp(), meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, entryToAPI(e))
}

func (a *API) signEntry(w http.ResponseWriter, r *http.Request) {
	e, err := a.App.SignEntry(r.Context(), authn.Caller(r), r.PathValue("id"), meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, entryToAPI(e))
}

func (a *API) amendEntry(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Notes string `json:"notes"`
	}
	if !httpjson.Read(w, r, &req) {
		return
	}
	e, err := a.App.AmendEntry(r.Context(), authn.Caller(r), r.PathValue("id"), req.Notes, meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusCreated, entryToAPI(e))
}

func (a *API) mergePatient(w http.ResponseWriter, r *http.Request) {
	var req struct {
		DuplicateID string `json:"duplicate_id"`
	}
	if !httpjson.Read(w, r, &req) {
		return
	}
	v, err := a.App.MergePatients(r.Context(), authn.Caller(r), r.PathValue("id"), req.DuplicateID, meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, patientToAPI(v))
}
