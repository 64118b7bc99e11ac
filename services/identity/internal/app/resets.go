package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/password"
	"github.com/havenhealth/haven/libs/provisioning"
	"github.com/havenhealth/haven/services/identity/internal/domain"
)

// RequestPasswordReset e-mails a single-use link when the e-mail belongs to
// an active account. It answers the same whether or not it does; only a
// request for an account is audited (with the token it creates), by an
// unauthenticated actor: asking proves nothing about who asked.
func (a *App) RequestPasswordReset(ctx context.Context, clinicID, email string, meta RequestMeta) error {
	if a.d.Notifier == nil {
		return fmt.Errorf("no way to deliver reset links: %w", domain.ErrUnavailable)
	}
	clinic, err := a.d.Store.Clinic(ctx, clinicID)
	if err != nil {
		return err
	}
	norm, ok := provisioning.NormalizeEmail(email)
	if !ok {
		return nil
	}
	lookup, err := a.emailLookup(ctx, clinicID, norm)
	if err != nil {
		return err
	}
	u, err := a.d.Store.UserByEmailLookup(ctx, clinicID, lookup)
	if errors.Is(err, domain.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if u.Status != domain.UserActive {
		return nil
	}
	now := a.now()
	token := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	ev, err := a.newEvent(ctx, clinicID, audit.Actor{System: actorUnauthenticated}, audit.PasswordResetReq, audit.Allowed, userTarget(u.ID), meta)
	if err != nil {
		return err
	}
	if err := a.d.Store.CreateAccountToken(ctx, AccountToken{Hash: hashToken(token), ClinicID: clinicID, UserID: u.ID,
		Purpose: domain.PurposeReset, ExpiresAt: now.Add(domain.ResetTokenTTL), CreatedAt: now}, ev); err != nil {
		return err
	}
	link := fmt.Sprintf("%s/c/%s/identity/v1/password-resets/%s", a.d.PublicURL, clinic.Slug, token)
	// A delivery failure is logged, not answered: the answer must not tell
	// whether the account exists.
	err = a.send(ctx, Message{ClinicID: clinicID, UserID: u.ID, Channel: "email", To: u.Email, Purpose: "password_reset",
		Subject: "Reset your Haven password",
		Body:    "To choose a new password, POST it to " + link + " within 30 minutes. If you did not ask for this, ignore this message."})
	if err != nil {
		a.d.Logger.ErrorContext(ctx, "reset link not delivered", "clinic_id", clinicID, "user_id", u.ID, "error", err.Error())
	}
	return nil
}

// CompleteReset sets a new password with a reset token and ends every
// session of the account.
func (a *App) CompleteReset(ctx context.Context, clinicID, token, pw string, meta RequestMeta) error {
	if err := password.Validate(pw); err != nil {
		return invalid("password", provisioning.PasswordReason(err))
	}
	hash, err := password.Hash(pw)
	if err != nil {
		return err
	}
	t, err := a.d.Store.UseAccountToken(ctx, clinicID, hashToken(token), domain.PurposeReset, a.now())
	if err != nil {
		return err
	}
	if t.UserID == "" {
		return domain.ErrInvalidLink
	}
	// The token proves the caller is the account's user: the event's actor.
	ev, err := a.newEvent(ctx, clinicID, audit.Actor{UserID: t.UserID}, audit.PasswordReset, audit.Allowed, userTarget(t.UserID), meta)
	if err != nil {
		return err
	}
	u, err := a.d.Store.UpdateUser(ctx, clinicID, t.UserID, func(u *domain.User, _ int) error {
		u.PasswordHash, u.UpdatedAt = hash, a.now()
		return nil
	}, ev)
	if err != nil {
		return err
	}
	if _, err := a.d.Sessions.RevokeUser(ctx, clinicID, u.ID, ""); err != nil {
		return fmt.Errorf("end sessions after reset: %w", err)
	}
	a.record(ctx, clinicID, u.ID, domain.OutcomeSuccess, domain.MethodReset, meta)
	return nil
}
