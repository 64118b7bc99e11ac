// Package password holds Haven's password policy and password storage.
//
// Validate applies the NIST SP 800-63B rules to a new password: a minimum
// length, a maximum size, and a check against a list of passwords known from
// breaches, with no composition rules. Hash stores a password as an argon2id
// hash in the PHC string format, and Verify checks a login attempt against a
// stored hash and says when the hash should be upgraded.
//
// Passwords are normalised to Unicode NFKC before they are measured, compared
// or hashed, so the same password typed on different keyboards or devices
// (composed or decomposed accents, full-width digits) is the same password.
//
// No error returned by this package contains the password or the hash.
package password

import (
	_ "embed"
	"errors"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MinLength is the fewest Unicode code points a password may have, counted
// after NFKC normalisation.
const MinLength = 12

// MaxLength is the most bytes a password may have, before normalisation. It
// bounds the work and memory one request can cause; it is not a policy on
// how long a good password is.
const MaxLength = 1024

var (
	// ErrTooShort reports a password with fewer than MinLength code points.
	ErrTooShort = errors.New("password: too short: at least 12 characters are required")
	// ErrTooLong reports a password longer than MaxLength bytes.
	ErrTooLong = errors.New("password: too long: at most 1024 bytes are allowed")
	// ErrCommon reports a password found in the list of common and
	// breached passwords.
	ErrCommon = errors.New("password: too common: it appears in lists of breached passwords")
	// ErrMismatch reports that a password does not match a stored hash.
	ErrMismatch = errors.New("password: does not match")
)

// Validate reports whether pw may be chosen as a new password: at most
// MaxLength bytes, at least MinLength code points after NFKC normalisation,
// and not in the common-password list (compared case-insensitively, before
// and after normalisation). It returns nil, ErrTooLong, ErrTooShort or
// ErrCommon. It makes no demands on character classes, per SP 800-63B.
func Validate(pw string) error {
	if len(pw) > MaxLength {
		return ErrTooLong
	}
	n := normalize(pw)
	if utf8.RuneCountInString(n) < MinLength {
		return ErrTooShort
	}
	if isCommon(pw, n) {
		return ErrCommon
	}
	return nil
}

// normalize returns the form of pw that is measured, compared and hashed.
func normalize(pw string) string {
	return norm.NFKC.String(pw)
}

// isCommon reports whether pw, or its NFKC form n, is in the common list,
// ignoring case.
func isCommon(pw, n string) bool {
	list := commonPasswords()
	lower := strings.ToLower(n)
	for _, k := range []string{lower, norm.NFKC.String(lower), strings.ToLower(pw)} {
		if _, ok := list[k]; ok {
			return true
		}
	}
	return false
}

// commonPasswordsFile is the shipped list; see README.md for its sources.
//
//go:embed common-passwords.txt
var commonPasswordsFile string

// commonPasswords loads the shipped list into a set the first time it is
// needed. Blank lines and lines starting with '#' are skipped.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	return parseList(commonPasswordsFile)
})

// parseList turns the text of a password list into a set.
func parseList(text string) map[string]struct{} {
	set := make(map[string]struct{}, strings.Count(text, "\n"))
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		set[line] = struct{}{}
	}
	return set
}
