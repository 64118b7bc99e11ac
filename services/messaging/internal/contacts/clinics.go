package contacts

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/services/messaging/internal/app"
)

// Identity looks up a clinic's slug from the region's identity service
// (GET /internal/v1/clinic, signed with edgeauth.SignInternal), for the
// public links in messages whose sender did not name it. Slugs never
// change once a clinic exists, so answers are kept for the process's life.
type Identity struct {
	BaseURL string // the region's identity service
	Secret  []byte // the region's edge secret
	Region  string
	HTTP    *http.Client

	cache sync.Map // clinic id → slug
}

var _ app.Clinics = (*Identity)(nil)

// Slug implements app.Clinics. Errors name ids and statuses only.
func (c *Identity) Slug(ctx context.Context, clinicID string) (string, error) {
	if s, ok := c.cache.Load(clinicID); ok {
		return s.(string), nil
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.BaseURL, "/")+"/internal/v1/clinic", nil)
	if err != nil {
		return "", fmt.Errorf("identity: %w", err)
	}
	edgeauth.SignInternal(r, c.Secret, clinicID, c.Region, time.Now())
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	resp, err := hc.Do(r)
	if err != nil {
		return "", fmt.Errorf("identity: clinic %s: unreachable", clinicID)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("identity: clinic %s: status %d", clinicID, resp.StatusCode)
	}
	var body struct {
		Slug string `json:"slug"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body); err != nil || body.Slug == "" {
		return "", fmt.Errorf("identity: clinic %s: undecodable answer", clinicID)
	}
	c.cache.Store(clinicID, body.Slug)
	return body.Slug, nil
}
