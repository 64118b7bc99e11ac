package mfa_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/services/identity/internal/mfa"
)

const testUserID = "0192f1e2-7c3a-7b4d-9e8f-123456789abc"

var t0 = time.Date(2026, 11, 24, 9, 0, 10, 0, time.UTC)

func enrolTOTP(t *testing.T) string {
	t.Helper()
	secret, _, err := mfa.NewTOTP("Haven", testUserID)
	require.NoError(t, err)
	return secret
}

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	require.NoError(t, err)
	return c
}

func TestNewTOTP_GivesAnAuthenticatorAppURI(t *testing.T) {
	secret, uri, err := mfa.NewTOTP("Haven", testUserID)
	require.NoError(t, err)
	require.Regexp(t, `^[A-Z2-7]{32}$`, secret, "160-bit base32 secret")

	key, err := otp.NewKeyFromURL(uri)
	require.NoError(t, err)
	require.Equal(t, "totp", key.Type())
	require.Equal(t, "Haven", key.Issuer())
	require.Equal(t, testUserID, key.AccountName())
	require.Equal(t, secret, key.Secret())
	require.Equal(t, uint64(30), key.Period())
	require.Equal(t, otp.DigitsSix, key.Digits())
	require.Equal(t, otp.AlgorithmSHA1, key.Algorithm())

	u, err := url.Parse(uri)
	require.NoError(t, err)
	require.Equal(t, "otpauth", u.Scheme)

	other, _, err := mfa.NewTOTP("Haven", testUserID)
	require.NoError(t, err)
	require.NotEqual(t, secret, other)
}

func TestNewTOTP_RefusesAnEmailAsAccount(t *testing.T) {
	_, _, err := mfa.NewTOTP("Haven", "aroha@example.org")
	require.Error(t, err)
}

func TestValidateTOTP_AcceptsTheCurrentCode(t *testing.T) {
	secret := enrolTOTP(t)
	step, ok := mfa.ValidateTOTP(code(t, secret, t0), secret, t0, 0)
	require.True(t, ok)
	require.Equal(t, t0.Unix()/30, step)
	require.Equal(t, mfa.TOTPStep(t0), step)
}

func TestValidateTOTP_AllowsOneStepOfSkewOnly(t *testing.T) {
	secret := enrolTOTP(t)
	for _, c := range []struct {
		offset time.Duration
		ok     bool
	}{
		{-60 * time.Second, false},
		{-30 * time.Second, true},
		{0, true},
		{30 * time.Second, true},
		{60 * time.Second, false},
	} {
		step, ok := mfa.ValidateTOTP(code(t, secret, t0.Add(c.offset)), secret, t0, 0)
		require.Equal(t, c.ok, ok, "code from %v", c.offset)
		if ok {
			require.Equal(t, mfa.TOTPStep(t0.Add(c.offset)), step)
		}
	}
}

func TestValidateTOTP_RefusesReplay(t *testing.T) {
	secret := enrolTOTP(t)
	c := code(t, secret, t0)
	step, ok := mfa.ValidateTOTP(c, secret, t0, 0)
	require.True(t, ok)

	_, ok = mfa.ValidateTOTP(c, secret, t0.Add(5*time.Second), step)
	require.False(t, ok, "the same code again")
	_, ok = mfa.ValidateTOTP(code(t, secret, t0.Add(-30*time.Second)), secret, t0, step)
	require.False(t, ok, "an older code after a newer one was used")

	next, ok := mfa.ValidateTOTP(code(t, secret, t0.Add(30*time.Second)), secret, t0.Add(30*time.Second), step)
	require.True(t, ok, "the next step's code")
	require.Equal(t, step+1, next)
}

func TestValidateTOTP_RefusesMalformedInput(t *testing.T) {
	secret := enrolTOTP(t)
	c := code(t, secret, t0)
	_, ok := mfa.ValidateTOTP(c[:3]+" "+c[3:], secret, t0, 0)
	require.True(t, ok, "spaces as apps display them are ignored")

	for name, in := range map[string]struct{ code, secret string }{
		"wrong code":   {string('0'+(c[0]-'0'+1)%10) + c[1:], secret},
		"short":        {c[:5], secret},
		"letters":      {"abcdef", secret},
		"no secret":    {c, ""},
		"other secret": {c, enrolTOTP(t)},
		"bad secret":   {c, "not base32!"},
	} {
		_, ok := mfa.ValidateTOTP(in.code, in.secret, t0, 0)
		require.False(t, ok, name)
	}
}

func BenchmarkValidateTOTP(b *testing.B) {
	secret, _, err := mfa.NewTOTP("Haven", testUserID)
	if err != nil {
		b.Fatal(err)
	}
	c, err := totp.GenerateCode(secret, t0)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		mfa.ValidateTOTP(c, secret, t0, 0)
	}
}
