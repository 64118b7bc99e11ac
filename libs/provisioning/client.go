package provisioning

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/problem"
)

// ErrRejected wraps a definite 4xx refusal from identity, carrying its problem.
var ErrRejected = errors.New("provisioning rejected")

// RejectedError is identity's 4xx answer.
type RejectedError struct{ Problem problem.Problem }

func (e *RejectedError) Error() string {
	return fmt.Sprintf("provisioning rejected: %d %s", e.Problem.Status, e.Problem.Type)
}

// Unwrap lets errors.Is(err, ErrRejected) match.
func (e *RejectedError) Unwrap() error { return ErrRejected }

// Client calls one region's identity service, signing each request with the
// region's edge secret.
type Client struct {
	BaseURL string // identity's base URL in that region
	Region  string
	Secret  []byte
	HTTP    *http.Client
}

// Provision creates the clinic and its owner in the region.
func (c *Client) Provision(ctx context.Context, clinic Clinic) (Result, error) {
	body, err := json.Marshal(clinic)
	if err != nil {
		return Result{}, fmt.Errorf("encode provisioning: %w", err)
	}
	var res Result
	if err := c.do(ctx, http.MethodPost, Path, body, &res); err != nil {
		return Result{}, err
	}
	return res, nil
}

// Undo removes a clinic provisioned moments ago; identity refuses it for
// older clinics.
func (c *Client) Undo(ctx context.Context, clinicID string) error {
	return c.do(ctx, http.MethodDelete, Path+"/"+url.PathEscape(clinicID), nil, nil)
}

// ClosedClinics lists the region's closed clinics (their keys destroyed).
func (c *Client) ClosedClinics(ctx context.Context) ([]string, error) {
	var out struct {
		ClinicIDs []string `json:"clinic_ids"`
	}
	if err := c.do(ctx, http.MethodGet, ClosedPath, nil, &out); err != nil {
		return nil, err
	}
	return out.ClinicIDs, nil
}

func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("provisioning request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if id := problem.RequestIDFromContext(ctx); id != "" {
		req.Header.Set(problem.RequestIDHeader, id)
	}
	edgeauth.Sign(req, c.Secret, "", c.Region, time.Now())
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("call %s identity: %w", c.Region, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read %s identity answer: %w", c.Region, err)
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		if out == nil || len(data) == 0 {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode %s identity answer: %w", c.Region, err)
		}
		return nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		var p problem.Problem
		if json.Unmarshal(data, &p) != nil || p.Status == 0 {
			p = problem.Problem{Status: resp.StatusCode, Type: "about:blank", Title: http.StatusText(resp.StatusCode)}
		}
		return &RejectedError{Problem: p}
	default:
		return fmt.Errorf("%s identity answered %d", c.Region, resp.StatusCode)
	}
}
