package app

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/problem"
)

// Field limits, in characters.
const (
	maxName         = 100
	maxShort        = 200
	maxAlert        = 2000
	maxNotes        = 100_000
	maxAttendees    = 20
	maxDuration     = 24 * 60
	maxPhoneInput   = 40
	earliestBirth   = "1900-01-01"
	maxSearchResult = 100
)

// fieldErrors collects invalid fields; reasons are fixed phrases, never
// the submitted value.
type fieldErrors []problem.FieldError

func (f *fieldErrors) add(field, reason string) {
	*f = append(*f, problem.FieldError{Field: field, Reason: reason})
}

func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	return &ValidationError{Fields: f}
}

// text trims s and checks it has at most max characters and no control
// characters (new lines allowed when multiline). It reports the cleaned
// value and whether it is acceptable.
func text(s string, max int, multiline bool) (string, bool) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return "", false
	}
	for _, r := range s {
		allowedSpace := multiline && (r == '\n' || r == '\r' || r == '\t')
		if unicode.IsControl(r) && !allowedSpace {
			return "", false
		}
	}
	return s, true
}

// requiredText is text that must not be empty.
func (f *fieldErrors) requiredText(field, s string, max int) string {
	v, ok := text(s, max, false)
	switch {
	case !ok:
		f.add(field, "must be at most "+strconv.Itoa(max)+" characters, without control characters")
	case v == "":
		f.add(field, "is required")
	}
	return v
}

// optionalText is text that may be empty.
func (f *fieldErrors) optionalText(field, s string, max int, multiline bool) string {
	v, ok := text(s, max, multiline)
	if !ok {
		f.add(field, "must be at most "+strconv.Itoa(max)+" characters, without control characters")
	}
	return v
}

// birthDate checks a date of birth: YYYY-MM-DD, not before 1900 and not
// after today.
func (f *fieldErrors) birthDate(field, s string, today time.Time) string {
	d, ok := fieldcrypt.NormalizeDate(s)
	if !ok {
		f.add(field, "must be a date written YYYY-MM-DD")
		return ""
	}
	if d < earliestBirth || d > today.Format(time.DateOnly) {
		f.add(field, "must be between 1900-01-01 and today")
		return ""
	}
	return d
}

// email normalises an optional e-mail address (lower-cased).
func (f *fieldErrors) email(field, s string) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	e, ok := fieldcrypt.NormalizeEmail(s)
	if !ok {
		f.add(field, "must be a valid e-mail address")
	}
	return e
}

// phone normalises an optional phone number to E.164 with libphonenumber.
// A number written with a leading + (or 00) needs no country; a national
// number is read in country (ISO 3166-1 alpha-2, e.g. the patient's address
// country) and refused when there is none: charting does not know the
// clinic's country yet.
func (f *fieldErrors) phone(field, s, country string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	e, ok := NormalizePhone(s, country)
	if !ok {
		f.add(field, "must be a valid phone number, in international format (+country code) unless a country is given")
	}
	return e
}

// NormalizePhone returns the E.164 form of a phone number, reading a number
// without a country code in country (ISO 3166-1 alpha-2; empty: such
// numbers are refused). It reports false for anything that is not a valid
// number.
func NormalizePhone(s, country string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > maxPhoneInput {
		return "", false
	}
	region := strings.ToUpper(strings.TrimSpace(country))
	if strings.HasPrefix(s, "+") {
		region = "ZZ"
	} else if region == "" || len(region) != 2 {
		return "", false
	}
	num, err := phonenumbers.Parse(s, region)
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", false
	}
	// The same normaliser every service uses accepts the E.164 form as is.
	return fieldcrypt.NormalizePhone(phonenumbers.Format(num, phonenumbers.E164))
}

// country checks an optional ISO 3166-1 alpha-2 code and upper-cases it.
func (f *fieldErrors) country(field, s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "" {
		return ""
	}
	if len(s) != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' {
		f.add(field, "must be an ISO 3166-1 alpha-2 country code")
		return ""
	}
	return s
}

// id checks an optional opaque id (the audit id alphabet, as every Haven
// id satisfies).
func (f *fieldErrors) id(field, s string) string {
	if s == "" {
		return ""
	}
	if !audit.ValidID(s) {
		f.add(field, "must be an id")
		return ""
	}
	return s
}
