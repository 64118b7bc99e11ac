package mfa

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// CeremonyTimeout is how long a passkey registration or sign-in may take from
// Begin to Finish. The browser is told, and Finish refuses a session older
// than this (by the wall clock). Store sessions for no longer.
const CeremonyTimeout = 5 * time.Minute

// WebAuthn runs passkey ceremonies for one relying party: registering a
// passkey for an account and checking one as a second sign-in step.
type WebAuthn struct{ w *webauthn.WebAuthn }

// NewWebAuthn returns the relying party rpID (the registrable domain the
// passkeys belong to, e.g. "haven.example", with no scheme or port) called
// rpName in browser prompts, accepting responses from the given origins
// (e.g. "https://app.haven.example").
func NewWebAuthn(rpID, rpName string, origins []string) (*WebAuthn, error) {
	if rpName == "" {
		return nil, errors.New("webauthn: relying party name is required")
	}
	timeout := webauthn.TimeoutConfig{Enforce: true, Timeout: CeremonyTimeout, TimeoutUVD: CeremonyTimeout}
	w, err := webauthn.New(&webauthn.Config{
		RPID:                  rpID,
		RPDisplayName:         rpName,
		RPOrigins:             origins,
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationPreferred,
		},
		Timeouts: webauthn.TimeoutsConfig{Login: timeout, Registration: timeout},
	})
	if err != nil {
		return nil, fmt.Errorf("webauthn: %w", err)
	}
	return &WebAuthn{w: w}, nil
}

// Account is a user as the passkey ceremonies see them.
type Account struct {
	// UserID is identity's user id; its bytes are the WebAuthn user handle.
	UserID string
	// DisplayID is the opaque handle the authenticator shows to tell accounts
	// apart. It leaves the server, so it is never an e-mail or a name.
	DisplayID string
	// Credentials are the account's registered passkeys.
	Credentials []webauthn.Credential
}

var _ webauthn.User = Account{}

// WebAuthnID returns the user handle, the bytes of UserID.
func (a Account) WebAuthnID() []byte { return []byte(a.UserID) }

// WebAuthnName returns DisplayID, or UserID when it is empty.
func (a Account) WebAuthnName() string {
	if a.DisplayID == "" {
		return a.UserID
	}
	return a.DisplayID
}

// WebAuthnDisplayName returns the same as WebAuthnName.
func (a Account) WebAuthnDisplayName() string { return a.WebAuthnName() }

// WebAuthnCredentials returns the account's passkeys.
func (a Account) WebAuthnCredentials() []webauthn.Credential { return a.Credentials }

func (a Account) descriptors() []protocol.CredentialDescriptor {
	d := make([]protocol.CredentialDescriptor, 0, len(a.Credentials))
	for _, c := range a.Credentials {
		d = append(d, c.Descriptor())
	}
	return d
}

func (a Account) check() error {
	if a.UserID == "" || len(a.UserID) > 64 {
		return errors.New("webauthn: account user id must be 1 to 64 bytes")
	}
	return nil
}

// BeginRegistration starts adding a passkey to a. It returns the creation
// options for the browser (JSON of {"publicKey": ...}, for
// navigator.credentials.create) and the session to keep server-side until
// FinishRegistration. The account's existing passkeys are excluded, so an
// authenticator is not registered twice.
func (w *WebAuthn) BeginRegistration(a Account) (options []byte, session []byte, err error) {
	if err := a.check(); err != nil {
		return nil, nil, err
	}
	creation, sd, err := w.w.BeginRegistration(a, webauthn.WithExclusions(a.descriptors()))
	if err != nil {
		return nil, nil, fmt.Errorf("webauthn: begin registration: %w", err)
	}
	return marshalCeremony(creation, sd)
}

// FinishRegistration checks the browser's response to BeginRegistration's
// options against session and returns the new passkey for the caller to store
// with the account. The session must be discarded afterwards, whatever the
// outcome. A response that does not verify is ErrRejected.
func (w *WebAuthn) FinishRegistration(a Account, session []byte, response []byte) (webauthn.Credential, error) {
	sd, err := unmarshalSession(session)
	if err != nil {
		return webauthn.Credential{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return webauthn.Credential{}, rejected("parse registration", err)
	}
	cred, err := w.w.CreateCredential(a, sd, parsed)
	if err != nil {
		return webauthn.Credential{}, rejected("verify registration", err)
	}
	for _, c := range a.Credentials {
		if bytes.Equal(c.ID, cred.ID) {
			return webauthn.Credential{}, fmt.Errorf("%w: passkey already registered", ErrRejected)
		}
	}
	return *cred, nil
}

// BeginLogin starts a passkey check for a, allowing any of its passkeys. It
// returns the request options for the browser (JSON of {"publicKey": ...},
// for navigator.credentials.get) and the session to keep server-side until
// FinishLogin. An account without passkeys is ErrNoPasskeys.
func (w *WebAuthn) BeginLogin(a Account) (options []byte, session []byte, err error) {
	if err := a.check(); err != nil {
		return nil, nil, err
	}
	if len(a.Credentials) == 0 {
		return nil, nil, ErrNoPasskeys
	}
	assertion, sd, err := w.w.BeginLogin(a)
	if err != nil {
		return nil, nil, fmt.Errorf("webauthn: begin login: %w", err)
	}
	return marshalCeremony(assertion, sd)
}

// FinishLogin checks the browser's response to BeginLogin's options against
// session and a's passkeys. On success it returns the passkey that answered
// with its new signature counter and flags; the caller stores it in place of
// the old one. The session must be discarded afterwards, whatever the
// outcome: this package keeps no record of used challenges. A response that
// does not verify is ErrRejected; one whose signature counter did not
// advance (a replay or a cloned key) is also ErrSignCount.
func (w *WebAuthn) FinishLogin(a Account, session, response []byte) (updated webauthn.Credential, err error) {
	sd, err := unmarshalSession(session)
	if err != nil {
		return webauthn.Credential{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return webauthn.Credential{}, rejected("parse assertion", err)
	}
	cred, err := w.w.ValidateLogin(a, sd, parsed)
	if err != nil {
		return webauthn.Credential{}, rejected("verify assertion", err)
	}
	// The library only flags a counter that did not advance; refuse it, so a
	// captured response cannot be replayed against a counting authenticator.
	// Authenticators that always report 0 (many synced passkeys) are not
	// counted, and for them discarding the session is the only replay guard.
	for _, old := range a.Credentials {
		if !bytes.Equal(old.ID, cred.ID) {
			continue
		}
		got := parsed.Response.AuthenticatorData.Counter
		if (got != 0 || old.Authenticator.SignCount != 0) && got <= old.Authenticator.SignCount {
			return webauthn.Credential{}, fmt.Errorf("%w: %w (stored %d, got %d)", ErrRejected, ErrSignCount, old.Authenticator.SignCount, got)
		}
	}
	return *cred, nil
}

// marshalCeremony encodes the browser options and the server-side session.
func marshalCeremony(options any, sd *webauthn.SessionData) ([]byte, []byte, error) {
	o, err := json.Marshal(options)
	if err != nil {
		return nil, nil, fmt.Errorf("webauthn: encode options: %w", err)
	}
	s, err := json.Marshal(sd)
	if err != nil {
		return nil, nil, fmt.Errorf("webauthn: encode session: %w", err)
	}
	return o, s, nil
}

func unmarshalSession(b []byte) (webauthn.SessionData, error) {
	var sd webauthn.SessionData
	if err := json.Unmarshal(b, &sd); err != nil {
		return webauthn.SessionData{}, fmt.Errorf("%w: %w", ErrBadSession, err)
	}
	if sd.Challenge == "" || len(sd.UserID) == 0 {
		return webauthn.SessionData{}, fmt.Errorf("%w: no challenge or user", ErrBadSession)
	}
	return sd, nil
}

// rejected wraps a library error as ErrRejected, keeping the library's
// developer detail for logs (it holds no personal data).
func rejected(stage string, err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" {
		return fmt.Errorf("%w: %s: %w (%s)", ErrRejected, stage, err, pe.DevInfo)
	}
	return fmt.Errorf("%w: %s: %w", ErrRejected, stage, err)
}
