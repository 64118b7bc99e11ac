package mfa_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/services/identity/internal/mfa"
)

const (
	testRPID   = "haven.example"
	testOrigin = "https://app.haven.example"
)

func newRP(t *testing.T) *mfa.WebAuthn {
	t.Helper()
	rp, err := mfa.NewWebAuthn(testRPID, "Haven", []string{testOrigin})
	require.NoError(t, err)
	return rp
}

func newAuthenticator(t *testing.T) *mfa.SoftAuthenticator {
	t.Helper()
	a, err := mfa.NewSoftAuthenticator(testOrigin)
	require.NoError(t, err)
	return a
}

func testAccount() mfa.Account {
	return mfa.Account{UserID: testUserID, DisplayID: "user-7b4d"}
}

// register enrols auth's passkey on acct and returns acct with it added.
func register(t *testing.T, rp *mfa.WebAuthn, acct mfa.Account, auth *mfa.SoftAuthenticator) mfa.Account {
	t.Helper()
	opts, session, err := rp.BeginRegistration(acct)
	require.NoError(t, err)
	resp, err := auth.Register(opts)
	require.NoError(t, err)
	cred, err := rp.FinishRegistration(acct, session, resp)
	require.NoError(t, err)
	acct.Credentials = append(acct.Credentials, cred)
	return acct
}

// login answers one sign-in challenge and returns its session and response.
func login(t *testing.T, rp *mfa.WebAuthn, acct mfa.Account, auth *mfa.SoftAuthenticator) (session, resp []byte) {
	t.Helper()
	opts, session, err := rp.BeginLogin(acct)
	require.NoError(t, err)
	resp, err = auth.Login(opts)
	require.NoError(t, err)
	return session, resp
}

// store puts the updated credential back, as the app layer does.
func store(acct mfa.Account, cred webauthn.Credential) mfa.Account {
	for i, c := range acct.Credentials {
		if string(c.ID) == string(cred.ID) {
			acct.Credentials[i] = cred
		}
	}
	return acct
}

func requireRejected(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	require.True(t, errors.Is(err, mfa.ErrRejected), "want ErrRejected, got %v", err)
	t.Logf("rejected: %v", err)
}

func TestWebAuthn_RegisterThenSignIn(t *testing.T) {
	rp, auth := newRP(t), newAuthenticator(t)
	acct := register(t, rp, testAccount(), auth)

	require.Len(t, acct.Credentials, 1)
	cred := acct.Credentials[0]
	require.Equal(t, auth.CredentialID(), cred.ID)
	require.Equal(t, "none", cred.AttestationFormat)
	require.NotEmpty(t, cred.PublicKey)
	require.True(t, cred.Flags.UserPresent)
	require.True(t, cred.Flags.UserVerified)
	require.Equal(t, uint32(0), cred.Authenticator.SignCount)

	for want := uint32(1); want <= 3; want++ {
		session, resp := login(t, rp, acct, auth)
		updated, err := rp.FinishLogin(acct, session, resp)
		require.NoError(t, err)
		require.Equal(t, cred.ID, updated.ID)
		require.Equal(t, want, updated.Authenticator.SignCount)
		require.False(t, updated.Authenticator.CloneWarning)
		acct = store(acct, updated)
	}
}

func TestWebAuthn_StoredCredentialSurvivesJSON(t *testing.T) {
	rp, auth := newRP(t), newAuthenticator(t)
	acct := register(t, rp, testAccount(), auth)

	data, err := json.Marshal(acct.Credentials[0])
	require.NoError(t, err)
	var loaded webauthn.Credential
	require.NoError(t, json.Unmarshal(data, &loaded))
	acct.Credentials = []webauthn.Credential{loaded}

	session, resp := login(t, rp, acct, auth)
	_, err = rp.FinishLogin(acct, session, resp)
	require.NoError(t, err)
}

func TestWebAuthn_OptionsCarryNoPersonalData(t *testing.T) {
	rp := newRP(t)
	acct := testAccount()
	opts, session, err := rp.BeginRegistration(acct)
	require.NoError(t, err)

	var o struct {
		PublicKey struct {
			RP        struct{ ID, Name string }
			User      struct{ ID, Name, DisplayName string }
			Challenge string
			Timeout   int
		} `json:"publicKey"`
	}
	require.NoError(t, json.Unmarshal(opts, &o))
	require.Equal(t, testRPID, o.PublicKey.RP.ID)
	require.Equal(t, "Haven", o.PublicKey.RP.Name)
	require.Equal(t, base64.RawURLEncoding.EncodeToString([]byte(testUserID)), o.PublicKey.User.ID)
	require.Equal(t, "user-7b4d", o.PublicKey.User.Name)
	require.Equal(t, "user-7b4d", o.PublicKey.User.DisplayName)
	require.Equal(t, int(mfa.CeremonyTimeout/time.Millisecond), o.PublicKey.Timeout)
	require.NotContains(t, string(opts), "@")

	var sd webauthn.SessionData
	require.NoError(t, json.Unmarshal(session, &sd))
	require.Equal(t, o.PublicKey.Challenge, sd.Challenge)
	require.Equal(t, []byte(testUserID), sd.UserID)
	require.WithinDuration(t, time.Now().Add(mfa.CeremonyTimeout), sd.Expires, time.Minute)
}

func TestFinishLogin_RejectsTamperedSignature(t *testing.T) {
	rp, auth := newRP(t), newAuthenticator(t)
	acct := register(t, rp, testAccount(), auth)
	session, resp := login(t, rp, acct, auth)

	_, err := rp.FinishLogin(acct, session, tamper(t, resp, "signature", 10))
	requireRejected(t, err)
	// The signature's last byte is in the middle of the S integer, so the
	// DER still parses and only the cryptographic check fails.
	_, err = rp.FinishLogin(acct, session, tamper(t, resp, "signature", -1))
	requireRejected(t, err)
	_, err = rp.FinishLogin(acct, session, tamper(t, resp, "authenticatorData", 36)) // sign count
	requireRejected(t, err)

	_, err = rp.FinishLogin(acct, session, resp)
	require.NoError(t, err, "the untampered response still verifies")
}

func TestFinishLogin_RejectsWrongOrigin(t *testing.T) {
	rp, auth := newRP(t), newAuthenticator(t)
	acct := register(t, rp, testAccount(), auth)

	auth.SetOrigin("https://haven-example.evil")
	session, resp := login(t, rp, acct, auth)
	_, err := rp.FinishLogin(acct, session, resp)
	requireRejected(t, err)
}

func TestFinishRegistration_RejectsWrongOrigin(t *testing.T) {
	rp := newRP(t)
	auth, err := mfa.NewSoftAuthenticator("https://haven-example.evil")
	require.NoError(t, err)
	opts, session, err := rp.BeginRegistration(testAccount())
	require.NoError(t, err)
	resp, err := auth.Register(opts)
	require.NoError(t, err)
	_, err = rp.FinishRegistration(testAccount(), session, resp)
	requireRejected(t, err)
}

func TestFinishLogin_RejectsReplayAfterSuccess(t *testing.T) {
	rp, auth := newRP(t), newAuthenticator(t)
	acct := register(t, rp, testAccount(), auth)
	session, resp := login(t, rp, acct, auth)
	updated, err := rp.FinishLogin(acct, session, resp)
	require.NoError(t, err)
	acct = store(acct, updated)

	_, err = rp.FinishLogin(acct, session, resp)
	requireRejected(t, err)
	require.True(t, errors.Is(err, mfa.ErrSignCount), "got %v", err)
}

func TestFinishLogin_RejectsAnswerToAnotherChallenge(t *testing.T) {
	rp, auth := newRP(t), newAuthenticator(t)
	acct := register(t, rp, testAccount(), auth)
	_, resp := login(t, rp, acct, auth)
	_, otherSession, err := rp.BeginLogin(acct)
	require.NoError(t, err)

	_, err = rp.FinishLogin(acct, otherSession, resp)
	requireRejected(t, err)
}

func TestFinishLogin_RejectsAnotherAccount(t *testing.T) {
	rp := newRP(t)
	alice, mallory := newAuthenticator(t), newAuthenticator(t)
	aliceAcct := register(t, rp, testAccount(), alice)
	malloryAcct := register(t, rp, mfa.Account{UserID: "0192f1e2-0000-7000-8000-000000000000", DisplayID: "user-0000"}, mallory)

	// Mallory answers Alice's challenge with her own passkey.
	opts, session, err := rp.BeginLogin(aliceAcct)
	require.NoError(t, err)
	var o map[string]map[string]any
	require.NoError(t, json.Unmarshal(opts, &o))
	delete(o["publicKey"], "allowCredentials")
	opts, err = json.Marshal(o)
	require.NoError(t, err)
	resp, err := mallory.Login(opts)
	require.NoError(t, err)
	_, err = rp.FinishLogin(aliceAcct, session, resp)
	requireRejected(t, err)

	// A session begun for Alice does not finish for Mallory.
	session, resp = login(t, rp, aliceAcct, alice)
	_, err = rp.FinishLogin(malloryAcct, session, resp)
	requireRejected(t, err)
}

func TestFinishLogin_RejectsExpiredSession(t *testing.T) {
	rp, auth := newRP(t), newAuthenticator(t)
	acct := register(t, rp, testAccount(), auth)
	session, resp := login(t, rp, acct, auth)

	var sd webauthn.SessionData
	require.NoError(t, json.Unmarshal(session, &sd))
	sd.Expires = time.Now().Add(-time.Second)
	expired, err := json.Marshal(sd)
	require.NoError(t, err)

	_, err = rp.FinishLogin(acct, expired, resp)
	requireRejected(t, err)
}

func TestFinishLogin_RejectsBadSession(t *testing.T) {
	rp, auth := newRP(t), newAuthenticator(t)
	acct := register(t, rp, testAccount(), auth)
	_, resp := login(t, rp, acct, auth)

	for _, s := range []string{"", "null", "{}", "not json"} {
		_, err := rp.FinishLogin(acct, []byte(s), resp)
		require.True(t, errors.Is(err, mfa.ErrBadSession), "session %q: %v", s, err)
	}
}

func TestFinishRegistration_RejectsReusedSession(t *testing.T) {
	rp, auth := newRP(t), newAuthenticator(t)
	acct := testAccount()
	opts, session, err := rp.BeginRegistration(acct)
	require.NoError(t, err)
	resp, err := auth.Register(opts)
	require.NoError(t, err)
	cred, err := rp.FinishRegistration(acct, session, resp)
	require.NoError(t, err)
	acct.Credentials = append(acct.Credentials, cred)

	_, err = rp.FinishRegistration(acct, session, resp)
	requireRejected(t, err)
}

func TestBeginRegistration_ExcludesExistingPasskeys(t *testing.T) {
	rp, auth := newRP(t), newAuthenticator(t)
	acct := register(t, rp, testAccount(), auth)

	opts, _, err := rp.BeginRegistration(acct)
	require.NoError(t, err)
	require.Contains(t, string(opts), base64.RawURLEncoding.EncodeToString(auth.CredentialID()))
	_, err = auth.Register(opts)
	require.Error(t, err, "the authenticator refuses to register twice")

	// A second authenticator can still be added.
	acct = register(t, rp, acct, newAuthenticator(t))
	require.Len(t, acct.Credentials, 2)
}

func TestBeginLogin_RefusesAccountWithoutPasskeys(t *testing.T) {
	_, _, err := newRP(t).BeginLogin(testAccount())
	require.True(t, errors.Is(err, mfa.ErrNoPasskeys))
}

func TestNewWebAuthn_RefusesBadConfig(t *testing.T) {
	for name, c := range map[string]struct {
		rpID, name string
		origins    []string
	}{
		"no origins":      {testRPID, "Haven", nil},
		"no name":         {testRPID, "", []string{testOrigin}},
		"rp id with port": {"haven.example:8443", "Haven", []string{testOrigin}},
		"rp id is a URL":  {"https://haven.example", "Haven", []string{testOrigin}},
	} {
		_, err := mfa.NewWebAuthn(c.rpID, c.name, c.origins)
		require.Error(t, err, name)
	}
}

func TestSoftAuthenticator_RefusesWhatABrowserWould(t *testing.T) {
	rp, auth := newRP(t), newAuthenticator(t)
	acct := testAccount()

	// Not registered yet.
	acct.Credentials = []webauthn.Credential{{ID: []byte("someone-elses-key")}}
	opts, _, err := rp.BeginLogin(acct)
	require.NoError(t, err)
	_, err = auth.Login(opts)
	require.Error(t, err)

	acct = register(t, rp, testAccount(), auth)
	// Another relying party.
	other, err := mfa.NewWebAuthn("other.example", "Other", []string{"https://other.example"})
	require.NoError(t, err)
	opts, _, err = other.BeginLogin(acct)
	require.NoError(t, err)
	_, err = auth.Login(opts)
	require.Error(t, err)

	// Options that allow only other credentials.
	acct.Credentials[0].ID = []byte("another-credential")
	opts, _, err = rp.BeginLogin(acct)
	require.NoError(t, err)
	_, err = auth.Login(opts)
	require.Error(t, err)

	require.Equal(t, uint32(0), auth.SignCount(), "refusals do not count")
}

// tamper flips one byte (at index i, or from the end when i < 0) of the
// base64url member field of an assertion's response.
func tamper(t *testing.T, resp []byte, field string, i int) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(resp, &m))
	r := m["response"].(map[string]any)
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(r[field].(string), "="))
	require.NoError(t, err)
	if i < 0 {
		i += len(b)
	}
	b[i] ^= 0x01
	r[field] = base64.RawURLEncoding.EncodeToString(b)
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return out
}
