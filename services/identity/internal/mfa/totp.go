package mfa

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters. They are the ones every authenticator app understands
// (RFC 6238 defaults): HMAC-SHA-1, 6 digits, 30-second steps, 160-bit secret.
const (
	TOTPPeriod     = 30 * time.Second
	TOTPDigits     = 6
	TOTPSecretSize = 20
	// TOTPSkew is how many steps either side of now a code may come from, to
	// allow for a phone clock that is a little off.
	TOTPSkew = 1
)

// NewTOTP makes a new TOTP secret for an account and the otpauth:// URI an
// authenticator app enrols from (shown as a QR code). Store the secret
// (encrypted at rest) only once the user has proved enrolment with a valid
// code. accountID labels the entry in the app; it must be an opaque user id,
// never an e-mail or a name, because the URI leaves the server.
func NewTOTP(issuer, accountID string) (secret string, uri string, err error) {
	if strings.Contains(accountID, "@") {
		return "", "", errors.New("totp: account id must be an opaque id, not an e-mail")
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      issuer,
		AccountName: accountID,
		Period:      uint(TOTPPeriod / time.Second),
		SecretSize:  TOTPSecretSize,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", "", fmt.Errorf("totp: generate key: %w", err)
	}
	return key.Secret(), key.URL(), nil
}

// TOTPStep is the time step now falls in.
func TOTPStep(now time.Time) int64 {
	return now.Unix() / int64(TOTPPeriod/time.Second)
}

// ValidateTOTP checks a code from an authenticator app against secret at time
// now, allowing TOTPSkew steps either side. A step at or before lastUsedStep
// is refused, so a code (or an older one) cannot be used twice. On success it
// returns the step the code belongs to; the caller stores it as the new
// lastUsedStep, atomically with accepting the sign-in. Spaces in code are
// ignored ("123 456" as some apps show it); anything else but six ASCII
// digits is refused.
func ValidateTOTP(code, secret string, now time.Time, lastUsedStep int64) (step int64, ok bool) {
	code = strings.ReplaceAll(code, " ", "")
	if secret == "" || !isDigits(code, TOTPDigits) {
		return 0, false
	}
	cur := TOTPStep(now)
	for s := cur - TOTPSkew; s <= cur+TOTPSkew; s++ {
		if s < 0 {
			continue
		}
		want, err := hotp.GenerateCodeCustom(secret, uint64(s), hotp.ValidateOpts{
			Digits:    otp.DigitsSix,
			Algorithm: otp.AlgorithmSHA1,
		})
		if err != nil {
			return 0, false
		}
		// Every candidate is computed and compared, so the time taken does not
		// say which step matched; the earliest unused matching step wins.
		if subtle.ConstantTimeCompare([]byte(code), []byte(want)) == 1 && s > lastUsedStep && !ok {
			step, ok = s, true
		}
	}
	return step, ok
}
