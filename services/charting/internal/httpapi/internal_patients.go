package httpapi

import (
	"net/http"

	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/httpjson"
	"github.com/havenhealth/haven/services/charting/internal/app"
)

// signUpPatientRequest is the body of POST /internal/v1/patients: the
// profile of a patient who signed themselves up, relayed by identity.
type signUpPatientRequest struct {
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
	Email       string `json:"email"`
	Phone       string `json:"phone"`
	DateOfBirth string `json:"date_of_birth"`
}

// createSignUpPatient serves POST /internal/v1/patients (mounted behind
// edgeauth.RequireInternal): 201 with the new profile's id.
func (a *API) createSignUpPatient(w http.ResponseWriter, r *http.Request) {
	var req signUpPatientRequest
	if !httpjson.Read(w, r, &req) {
		return
	}
	id, err := a.App.CreateSignUpPatient(r.Context(), edgeauth.ClinicID(r.Context()), app.SignUpProfile{FirstName: req.FirstName,
		LastName: req.LastName, Email: req.Email, Phone: req.Phone, DateOfBirth: req.DateOfBirth})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusCreated, map[string]string{"id": id})
}
