package httpapi

import (
	"net/http"

	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/httpjson"
	"github.com/havenhealth/haven/libs/httpserver"
)

// registerInternal adds the endpoints only the region's own services may
// call (edgeauth.RequireInternal): messaging fetches a recipient's address
// at send time.
func (a *API) registerInternal(mux httpserver.Routes) {
	mux.Handle("GET /internal/v1/patients/{id}/contact",
		edgeauth.RequireInternal(a.EdgeSecret, a.Region, http.HandlerFunc(a.patientContact)))
}

// contactJSON is a patient's contact details as messaging receives them.
type contactJSON struct {
	PatientID  string `json:"patient_id"`
	Email      string `json:"email"`
	Phone      string `json:"phone"`
	FirstName  string `json:"first_name"`
	MergedInto string `json:"merged_into,omitempty"`
}

func (a *API) patientContact(w http.ResponseWriter, r *http.Request) {
	c, err := a.App.PatientContact(r.Context(), edgeauth.ClinicID(r.Context()), r.PathValue("id"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, contactJSON{PatientID: c.PatientID, Email: c.Email, Phone: c.Phone,
		FirstName: c.FirstName, MergedInto: c.MergedInto})
}
