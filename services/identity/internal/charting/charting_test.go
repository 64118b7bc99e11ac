package charting

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/services/identity/internal/app"
	"github.com/havenhealth/haven/services/identity/internal/domain"
)

var secret = []byte("sydney-edge-secret-0123456789")

var profile = app.PatientProfile{FirstName: "Hemi Te", LastName: "Rangi", Email: "hemi@example.org", Phone: "+64211234567",
	DateOfBirth: "1990-05-17"}

// server answers status with body after checking the request is identity's
// signed create-patient call; it reports what it saw through seen.
func server(t *testing.T, status int, body string, seen *map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clinicID, err := edgeauth.VerifyInternal(r, secret, "sydney", time.Now())
		if err != nil || r.Method != http.MethodPost || r.URL.Path != Path {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var req struct {
			FirstName   string `json:"first_name"`
			LastName    string `json:"last_name"`
			Email       string `json:"email"`
			Phone       string `json:"phone"`
			DateOfBirth string `json:"date_of_birth"`
		}
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if r.Header.Get("Content-Type") != "application/json" || dec.Decode(&req) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		*seen = map[string]string{"clinic_id": clinicID, "first_name": req.FirstName, "last_name": req.LastName,
			"email": req.Email, "phone": req.Phone, "date_of_birth": req.DateOfBirth}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestCreatePatient_SignsForTheClinicAndReturnsTheID(t *testing.T) {
	id := uuid.Must(uuid.NewV7()).String()
	var seen map[string]string
	srv := server(t, http.StatusCreated, `{"id":"`+id+`"}`, &seen)
	c := &Client{BaseURL: srv.URL + "/", Secret: secret, Region: "sydney"}
	got, err := c.CreatePatient(context.Background(), "clinic-1", profile)
	require.NoError(t, err)
	require.Equal(t, id, got)
	require.Equal(t, map[string]string{"clinic_id": "clinic-1", "first_name": "Hemi Te", "last_name": "Rangi",
		"email": "hemi@example.org", "phone": "+64211234567", "date_of_birth": "1990-05-17"}, seen)
}

func TestCreatePatient_FailuresAreDependencyErrorsWithoutPersonalData(t *testing.T) {
	var seen map[string]string
	for name, c := range map[string]*Client{
		"refused":      {BaseURL: server(t, http.StatusBadRequest, `{}`, &seen).URL, Secret: secret, Region: "sydney"},
		"server error": {BaseURL: server(t, http.StatusInternalServerError, ``, &seen).URL, Secret: secret, Region: "sydney"},
		"no id":        {BaseURL: server(t, http.StatusCreated, `{"id":""}`, &seen).URL, Secret: secret, Region: "sydney"},
		"not an id":    {BaseURL: server(t, http.StatusCreated, `{"id":"Hemi"}`, &seen).URL, Secret: secret, Region: "sydney"},
		"other secret": {BaseURL: server(t, http.StatusCreated, `{}`, &seen).URL, Secret: []byte("another-secret-0123456789"), Region: "sydney"},
		"other region": {BaseURL: server(t, http.StatusCreated, `{}`, &seen).URL, Secret: secret, Region: "london"},
		"stale clock":  {BaseURL: server(t, http.StatusCreated, `{}`, &seen).URL, Secret: secret, Region: "sydney", Now: func() time.Time { return time.Now().Add(-time.Hour) }},
		"nobody there": {BaseURL: "http://127.0.0.1:1", Secret: secret, Region: "sydney"},
	} {
		_, err := c.CreatePatient(context.Background(), "clinic-1", profile)
		require.ErrorIs(t, err, domain.ErrDependency, name)
		for _, v := range []string{"Hemi", "Rangi", "hemi@example.org", "+64211234567", "1990-05-17"} {
			require.NotContains(t, err.Error(), v, name)
		}
	}
}
