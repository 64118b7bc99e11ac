// Package contacts fetches a patient's contact details from the region's
// charting service at send time (GET /internal/v1/patients/{id}/contact,
// signed with edgeauth.SignInternal for the clinic).
package contacts

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/services/messaging/internal/app"
	"github.com/havenhealth/haven/services/messaging/internal/domain"
)

// Charting is the client.
type Charting struct {
	BaseURL string // the region's charting service
	Secret  []byte // the region's edge secret
	Region  string
	HTTP    *http.Client
}

var _ app.Contacts = (*Charting)(nil)

// Contact implements app.Contacts. Errors name ids and statuses only.
func (c *Charting) Contact(ctx context.Context, clinicID, patientID string) (app.Contact, error) {
	u := strings.TrimSuffix(c.BaseURL, "/") + "/internal/v1/patients/" + url.PathEscape(patientID) + "/contact"
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return app.Contact{}, fmt.Errorf("charting: %w", err)
	}
	edgeauth.SignInternal(r, c.Secret, clinicID, c.Region, time.Now())
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	resp, err := hc.Do(r)
	if err != nil {
		return app.Contact{}, fmt.Errorf("charting: contact of patient %s: unreachable", patientID)
	}
	defer func() { _ = resp.Body.Close() }()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return app.Contact{}, fmt.Errorf("charting: patient %s: %w", patientID, domain.ErrNotFound)
	default:
		return app.Contact{}, fmt.Errorf("charting: contact of patient %s: status %d", patientID, resp.StatusCode)
	}
	var body struct {
		PatientID string `json:"patient_id"`
		Email     string `json:"email"`
		Phone     string `json:"phone"`
		FirstName string `json:"first_name"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body); err != nil {
		return app.Contact{}, fmt.Errorf("charting: contact of patient %s: undecodable answer", patientID)
	}
	return app.Contact{PatientID: body.PatientID, Email: body.Email, Phone: body.Phone, FirstName: body.FirstName}, nil
}
