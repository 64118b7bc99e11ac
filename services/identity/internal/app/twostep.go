package app

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/password"
	"github.com/havenhealth/haven/services/identity/internal/domain"
	"github.com/havenhealth/haven/services/identity/internal/mfa"
)

// e164 is the shape of a phone number in international form. A phone-number
// library arrives with patient contact details; SMS codes need only this.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// reauthenticate guards changes to a user's 2-step setup with their password.
func (a *App) reauthenticate(ctx context.Context, p authz.Principal, pw string) (domain.User, error) {
	u, err := a.d.Store.User(ctx, p.ClinicID, p.UserID)
	if err != nil {
		return domain.User{}, err
	}
	if ok, _, _ := password.Verify(pw, u.PasswordHash); !ok {
		return domain.User{}, domain.ErrWrongPassword
	}
	return u, nil
}

// factorTarget is a user's second factor of a kind (sms, totp, passkey,
// recovery_codes), the resource of two_step events: the user's id under a
// type naming the factor. (A passkey's credential id may exceed an event
// id's 128 characters.)
func factorTarget(kind, userID string) target { return target{"two_step." + kind, userID} }

// enrolled is the two_step.enroll event of p adding a factor of kind.
func (a *App) enrolled(ctx context.Context, p authz.Principal, kind string, meta RequestMeta) (audit.Event, error) {
	return a.actedBy(ctx, p, audit.TwoStepEnroll, factorTarget(kind, p.UserID), meta)
}

// EnrollSMS sets the phone that receives sign-in codes.
func (a *App) EnrollSMS(ctx context.Context, p authz.Principal, pw, phone string, meta RequestMeta) error {
	if !e164.MatchString(phone) {
		return invalid("phone", "must be in international form, e.g. +64211234567")
	}
	if _, err := a.reauthenticate(ctx, p, pw); err != nil {
		return err
	}
	ev, err := a.enrolled(ctx, p, "sms", meta)
	if err != nil {
		return err
	}
	u, err := a.d.Store.UpdateUser(ctx, p.ClinicID, p.UserID, func(u *domain.User, _ int) error {
		u.Phone, u.UpdatedAt = phone, a.now()
		return nil
	}, ev)
	if err != nil {
		return err
	}
	return a.refreshGrants(ctx, u)
}

// BeginTOTP returns a new authenticator-app secret and its otpauth:// URI.
// Nothing is stored until ConfirmTOTP proves the app has it.
func (a *App) BeginTOTP(ctx context.Context, p authz.Principal, pw string) (secret, uri string, err error) {
	if _, err := a.reauthenticate(ctx, p, pw); err != nil {
		return "", "", err
	}
	return mfa.NewTOTP("Haven", p.UserID)
}

// ConfirmTOTP stores the secret once a code from it validates. It needs
// the password again: the secret comes back from the client.
func (a *App) ConfirmTOTP(ctx context.Context, p authz.Principal, pw, secret, code string, meta RequestMeta) error {
	if _, err := a.reauthenticate(ctx, p, pw); err != nil {
		return err
	}
	step, ok := mfa.ValidateTOTP(code, secret, a.now(), 0)
	if !ok {
		return invalid("code", "does not match the secret; check the authenticator app's clock")
	}
	ev, err := a.enrolled(ctx, p, "totp", meta)
	if err != nil {
		return err
	}
	u, err := a.d.Store.UpdateUser(ctx, p.ClinicID, p.UserID, func(u *domain.User, _ int) error {
		u.TOTPSecret, u.TOTPLastStep, u.UpdatedAt = secret, step, a.now()
		return nil
	}, ev)
	if err != nil {
		return err
	}
	return a.refreshGrants(ctx, u)
}

// NewRecoveryCodes replaces the user's recovery codes with 10 new ones,
// shown once. Recovery codes are a second factor (they complete a sign-in),
// so a new set is audited as two_step.enroll.
func (a *App) NewRecoveryCodes(ctx context.Context, p authz.Principal, pw string, meta RequestMeta) ([]string, error) {
	if _, err := a.reauthenticate(ctx, p, pw); err != nil {
		return nil, err
	}
	codes, hashes, err := mfa.NewRecoveryCodes(10)
	if err != nil {
		return nil, err
	}
	ev, err := a.enrolled(ctx, p, "recovery_codes", meta)
	if err != nil {
		return nil, err
	}
	if err := a.d.Store.ReplaceRecoveryCodes(ctx, p.UserID, hashes, ev); err != nil {
		return nil, err
	}
	return codes, nil
}

// BeginPasskey starts registering a passkey; the answer goes to FinishPasskey.
func (a *App) BeginPasskey(ctx context.Context, p authz.Principal, pw string) (challengeID string, options json.RawMessage, err error) {
	if a.d.WebAuthn == nil {
		return "", nil, fmt.Errorf("passkeys are not configured: %w", domain.ErrUnavailable)
	}
	u, err := a.reauthenticate(ctx, p, pw)
	if err != nil {
		return "", nil, err
	}
	acct, err := a.passkeyAccount(ctx, u)
	if err != nil {
		return "", nil, err
	}
	opts, session, err := a.d.WebAuthn.BeginRegistration(acct)
	if err != nil {
		return "", nil, fmt.Errorf("begin passkey registration: %w", err)
	}
	now := a.now()
	c := domain.Challenge{ID: uuid.Must(uuid.NewV7()).String(), ClinicID: p.ClinicID, UserID: p.UserID,
		Methods: []string{"passkey_registration"}, WebAuthnSession: session, CreatedAt: now, ExpiresAt: now.Add(domain.ChallengeTTL)}
	if err := a.d.Store.CreateChallenge(ctx, c); err != nil {
		return "", nil, err
	}
	return c.ID, opts, nil
}

// FinishPasskey verifies the authenticator's answer and stores the passkey.
func (a *App) FinishPasskey(ctx context.Context, p authz.Principal, challengeID string, response json.RawMessage, meta RequestMeta) error {
	if a.d.WebAuthn == nil {
		return fmt.Errorf("passkeys are not configured: %w", domain.ErrUnavailable)
	}
	u, err := a.d.Store.User(ctx, p.ClinicID, p.UserID)
	if err != nil {
		return err
	}
	acct, err := a.passkeyAccount(ctx, u)
	if err != nil {
		return err
	}
	var cred webauthn.Credential
	now := a.now()
	_, err = a.d.Store.UpdateChallenge(ctx, p.ClinicID, challengeID, func(c *domain.Challenge) error {
		if c.UserID != p.UserID || c.CompletedAt != nil || !now.Before(c.ExpiresAt) || len(c.WebAuthnSession) == 0 {
			return invalid("challenge_id", "is unknown, used or expired; start the registration again")
		}
		cr, err := a.d.WebAuthn.FinishRegistration(acct, c.WebAuthnSession, response)
		if err != nil {
			return invalid("credential", "the authenticator's answer did not verify")
		}
		cred, c.CompletedAt, c.WebAuthnSession = cr, &now, nil
		return nil
	})
	if err != nil {
		return err
	}
	data, err := json.Marshal(cred)
	if err != nil {
		return err
	}
	ev, err := a.enrolled(ctx, p, "passkey", meta)
	if err != nil {
		return err
	}
	if err := a.d.Store.AddPasskey(ctx, p.UserID, credentialKey(cred.ID), data, now, ev); err != nil {
		return err
	}
	return a.refreshGrants(ctx, u)
}

func (a *App) passkeyAccount(ctx context.Context, u domain.User) (mfa.Account, error) {
	raw, err := a.d.Store.Passkeys(ctx, u.ID)
	if err != nil {
		return mfa.Account{}, err
	}
	acct := mfa.Account{UserID: u.ID, DisplayID: u.ID}
	for _, r := range raw {
		var c webauthn.Credential
		if err := json.Unmarshal(r, &c); err != nil {
			return mfa.Account{}, fmt.Errorf("decode passkey: %w", err)
		}
		acct.Credentials = append(acct.Credentials, c)
	}
	return acct, nil
}

func credentialKey(id []byte) string { return base64.RawURLEncoding.EncodeToString(id) }
