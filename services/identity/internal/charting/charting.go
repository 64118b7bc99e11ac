// Package charting is identity's client of the region's charting service:
// it creates the patient profile of a patient's own sign-up through
// charting's internal API (POST /internal/v1/patients), signed with
// edgeauth.SignInternal for the clinic. It implements app.PatientProfiles.
package charting

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/services/identity/internal/app"
	"github.com/havenhealth/haven/services/identity/internal/domain"
)

// Path is charting's internal endpoint that creates a patient profile.
const Path = "/internal/v1/patients"

// Client calls the region's charting service.
type Client struct {
	BaseURL string // e.g. http://charting:8080
	Secret  []byte // the region's edge secret
	Region  string
	// HTTP sends the requests; a client with a 10-second time-out when nil.
	HTTP *http.Client
	// Now signs requests; the wall clock when nil.
	Now func() time.Time
}

var _ app.PatientProfiles = (*Client)(nil)

// newPatient is the body charting receives.
type newPatient struct {
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
	Email       string `json:"email"`
	Phone       string `json:"phone,omitempty"`
	DateOfBirth string `json:"date_of_birth"`
}

// CreatePatient implements app.PatientProfiles. Every failure (no answer,
// a refusal, an answer without a profile id) wraps domain.ErrDependency;
// errors name statuses, never the profile's values.
func (c *Client) CreatePatient(ctx context.Context, clinicID string, p app.PatientProfile) (string, error) {
	body, err := json.Marshal(newPatient{FirstName: p.FirstName, LastName: p.LastName, Email: p.Email, Phone: p.Phone,
		DateOfBirth: p.DateOfBirth})
	if err != nil {
		return "", err
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.BaseURL, "/")+Path, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("charting: %w", err)
	}
	r.Header.Set("Content-Type", "application/json")
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	edgeauth.SignInternal(r, c.Secret, clinicID, c.Region, now())
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(r)
	if err != nil {
		return "", fmt.Errorf("charting: create patient: %w: %w", domain.ErrDependency, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("charting: create patient: status %d: %w", resp.StatusCode, domain.ErrDependency)
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || !domain.ValidPatientID(out.ID) {
		return "", fmt.Errorf("charting: create patient: answer without a profile id: %w", domain.ErrDependency)
	}
	return out.ID, nil
}
