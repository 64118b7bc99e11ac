package fieldcrypt

import (
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/havenhealth/haven/libs/provisioning"
)

// The normalizers turn a user-typed value into the one form that is
// blind-indexed with Lookup, so the same person typed twice finds the same
// row. They report false for a value that cannot be normalized. Every
// service uses these, never its own, or lookups stop matching.

// NormalizeEmail trims and lower-cases an e-mail address and checks its
// shape; it is the same rule the provisioning contract applies.
func NormalizeEmail(s string) (string, bool) {
	return provisioning.NormalizeEmail(s)
}

// NormalizePhone returns an E.164 number: "+" and 8 to 15 digits, the first
// not 0. Spaces, dashes, dots and parentheses are removed; a number without
// a leading "+" (national format, "00" prefix) is refused, since the country
// cannot be guessed here. Full-width digits are folded to ASCII.
func NormalizePhone(s string) (string, bool) {
	s = norm.NFKC.String(strings.TrimSpace(s))
	if !strings.HasPrefix(s, "+") {
		return "", false
	}
	var b strings.Builder
	b.Grow(16)
	b.WriteByte('+')
	digits := 0
	for _, r := range s[1:] {
		switch {
		case r >= '0' && r <= '9':
			if digits == 0 && r == '0' {
				return "", false
			}
			digits++
			if digits > 15 {
				return "", false
			}
			b.WriteRune(r)
		case r == '-' || r == '(' || r == ')' || r == '.' || unicode.IsSpace(r):
		default:
			return "", false
		}
	}
	if digits < 8 {
		return "", false
	}
	return b.String(), true
}

// NormalizeName folds a personal name for matching: Unicode NFKC,
// lower-cased, trimmed, inner runs of white space collapsed to one space.
// Accents are kept ("José" and "Jose" differ).
func NormalizeName(s string) (string, bool) {
	s = norm.NFKC.String(strings.ToLower(norm.NFKC.String(s)))
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "", false
	}
	return s, true
}

// NormalizeDate checks a calendar date written YYYY-MM-DD (surrounding
// spaces allowed) and returns it in that form.
func NormalizeDate(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) != len("2006-01-02") {
		return "", false
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return "", false
	}
	return t.Format(time.DateOnly), true
}
