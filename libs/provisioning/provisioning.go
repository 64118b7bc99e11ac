// Package provisioning is the contract between the residency router and a
// region's identity service for creating a clinic: the request and response
// bodies, the validation both sides apply, and the router's client.
package provisioning

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/havenhealth/haven/libs/password"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/libs/residency"
)

// Path is identity's provisioning endpoint; only the router may call it.
const Path = "/internal/v1/clinics"

// ClosedPath lists a region's closed clinics, for the router's directory.
const ClosedPath = "/internal/v1/closed-clinics"

// Owner is the clinic's first account.
type Owner struct {
	Name     string `json:"name"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// Clinic is a clinic to create: the sign-up body plus the id the directory
// assigned.
type Clinic struct {
	ID       string `json:"id,omitempty"`
	Slug     string `json:"slug"`
	Name     string `json:"name"`
	Country  string `json:"country"`
	TimeZone string `json:"time_zone"`
	Owner    Owner  `json:"owner"`
}

// Result is identity's answer: ids and non-personal facts only.
type Result struct {
	ClinicID string    `json:"clinic_id"`
	Slug     string    `json:"slug"`
	Region   string    `json:"region"`
	OwnerID  string    `json:"owner_id"`
	Created  time.Time `json:"created_at"`
}

// Validate checks every field and returns the failures by field name; the
// reasons never repeat the submitted values. The region is derived from the
// country, which must be valid.
func (c *Clinic) Validate() (residency.Region, []problem.FieldError) {
	var errs []problem.FieldError
	add := func(field, reason string) { errs = append(errs, problem.FieldError{Field: field, Reason: reason}) }

	if !ValidSlug(c.Slug) {
		add("slug", "must be 3-63 characters of a-z, 0-9 and '-', not starting or ending with '-'")
	}
	if n := strings.TrimSpace(c.Name); n == "" || len(n) > 200 {
		add("name", "must be 1-200 characters")
	}
	region, err := residency.RegionForCountry(c.Country)
	if err != nil {
		add("country", "must be an assigned ISO 3166-1 alpha-2 country code")
	} else {
		c.Country, _ = residency.NormalizeCountry(c.Country)
	}
	if !ValidTimeZone(c.TimeZone) {
		add("time_zone", "must be an IANA time zone name such as Pacific/Auckland")
	}
	if n := strings.TrimSpace(c.Owner.Name); n == "" || len(n) > 200 {
		add("owner.name", "must be 1-200 characters")
	}
	if e, ok := NormalizeEmail(c.Owner.Email); ok {
		c.Owner.Email = e
	} else {
		add("owner.email", "must be a valid e-mail address")
	}
	if err := password.Validate(c.Owner.Password); err != nil {
		add("owner.password", PasswordReason(err))
	}
	c.Name = strings.TrimSpace(c.Name)
	c.Owner.Name = strings.TrimSpace(c.Owner.Name)
	return region, errs
}

// ValidSlug reports whether s is 3-63 characters of [a-z0-9-], not starting
// or ending with '-'.
func ValidSlug(s string) bool {
	if len(s) < 3 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

// ValidTimeZone reports whether s names an IANA zone (not "Local").
func ValidTimeZone(s string) bool {
	if s == "" || s == "Local" || len(s) > 64 {
		return false
	}
	_, err := time.LoadLocation(s)
	return err == nil
}

// NormalizeEmail trims and lower-cases an address and checks its shape.
func NormalizeEmail(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || len(s) > 254 {
		return "", false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", false
	}
	return s, true
}

// PasswordReason is the client-facing reason for a rejected password.
func PasswordReason(err error) string {
	switch {
	case errors.Is(err, password.ErrTooShort):
		return fmt.Sprintf("must be at least %d characters", password.MinLength)
	case errors.Is(err, password.ErrTooLong):
		return "is too long"
	case errors.Is(err, password.ErrCommon):
		return "is a commonly used password; choose a longer, uncommon passphrase"
	default:
		return "is not acceptable"
	}
}
