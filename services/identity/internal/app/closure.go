package app

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/services/identity/internal/domain"
)

// StartClosureChallenge re-authenticates the owner with their password and,
// when they have a second factor, opens a 2-step challenge (sending an SMS
// code if that is one of their methods). Nil: no second factor to answer.
func (a *App) StartClosureChallenge(ctx context.Context, actor authz.Principal, pw string, meta RequestMeta) (*ChallengeView, error) {
	if actor.Role != authz.RoleOwner {
		return nil, a.refused(ctx, actor, audit.ClinicCloseRequest, clinicTarget(actor.ClinicID), meta,
			fmt.Errorf("only an owner may close the clinic: %w", domain.ErrForbidden))
	}
	u, err := a.reauthenticate(ctx, actor, pw)
	if err != nil {
		return nil, err
	}
	methods, err := a.twoStepMethods(ctx, u)
	if err != nil || len(methods) == 0 {
		return nil, err
	}
	view, err := a.newChallenge(ctx, u, methods, meta)
	if err != nil {
		return nil, err
	}
	return &view, nil
}

// ClosureRequest is the owner's confirmation: the password again and, when
// they have a second factor, the answer to a closure challenge.
type ClosureRequest struct {
	Password    string
	ChallengeID string
	Method      string
	Code        string
	Credential  json.RawMessage
}

// RequestClosure starts closing the clinic: after the grace period its key
// is destroyed in Vault and everything encrypted under it becomes
// unreadable for ever, backups included. During the grace period the
// clinic works as before (export its records), and the owner may cancel.
// With no grace period the key is destroyed at once.
func (a *App) RequestClosure(ctx context.Context, actor authz.Principal, req ClosureRequest, meta RequestMeta) (domain.Clinic, error) {
	if actor.Role != authz.RoleOwner {
		return domain.Clinic{}, a.refused(ctx, actor, audit.ClinicCloseRequest, clinicTarget(actor.ClinicID), meta,
			fmt.Errorf("only an owner may close the clinic: %w", domain.ErrForbidden))
	}
	u, err := a.reauthenticate(ctx, actor, req.Password)
	if err != nil {
		return domain.Clinic{}, err
	}
	methods, err := a.twoStepMethods(ctx, u)
	if err != nil {
		return domain.Clinic{}, err
	}
	if len(methods) > 0 {
		if req.ChallengeID == "" {
			return domain.Clinic{}, invalid("challenge_id", "2-step verification is required: start with POST /v1/clinic/closure/challenge")
		}
		who, err := a.answerChallenge(ctx, actor.ClinicID, req.ChallengeID, req.Method, req.Code, req.Credential, meta)
		if err != nil {
			return domain.Clinic{}, err
		}
		if who.ID != actor.UserID {
			return domain.Clinic{}, domain.ErrChallengeEnded
		}
	}
	ev, err := a.actedBy(ctx, actor, audit.ClinicCloseRequest, clinicTarget(actor.ClinicID), meta)
	if err != nil {
		return domain.Clinic{}, err
	}
	now := a.now()
	c, err := a.d.Store.UpdateClinic(ctx, actor.ClinicID, func(c *domain.Clinic) error {
		if c.Status != domain.ClinicActive {
			return fmt.Errorf("clinic is %s: %w", c.Status, domain.ErrConflict)
		}
		at := now.Add(a.d.ClosureGrace)
		c.Status, c.ClosesAt = domain.ClinicClosing, &at
		return nil
	}, ev)
	if err != nil {
		return domain.Clinic{}, err
	}
	a.d.Logger.InfoContext(ctx, "clinic closure requested", "clinic_id", c.ID, "user_id", actor.UserID, "closes_at", c.ClosesAt)
	if a.d.ClosureGrace <= 0 {
		return a.closeClinic(ctx, c.ID)
	}
	return c, nil
}

// CancelClosure stops a closure during its grace period.
func (a *App) CancelClosure(ctx context.Context, actor authz.Principal, meta RequestMeta) (domain.Clinic, error) {
	if actor.Role != authz.RoleOwner {
		return domain.Clinic{}, a.refused(ctx, actor, audit.ClinicCloseCancel, clinicTarget(actor.ClinicID), meta,
			fmt.Errorf("only an owner may cancel a closure: %w", domain.ErrForbidden))
	}
	ev, err := a.actedBy(ctx, actor, audit.ClinicCloseCancel, clinicTarget(actor.ClinicID), meta)
	if err != nil {
		return domain.Clinic{}, err
	}
	return a.d.Store.UpdateClinic(ctx, actor.ClinicID, func(c *domain.Clinic) error {
		if c.Status != domain.ClinicClosing {
			return fmt.Errorf("clinic is %s: %w", c.Status, domain.ErrConflict)
		}
		c.Status, c.ClosesAt = domain.ClinicActive, nil
		return nil
	}, ev)
}

// CloseDue destroys the keys of clinics whose grace period has ended. The
// service runs it periodically; it is idempotent.
func (a *App) CloseDue(ctx context.Context) error {
	due, err := a.d.Store.ClinicsToClose(ctx, a.now())
	if err != nil {
		return err
	}
	for _, c := range due {
		if _, err := a.closeClinic(ctx, c.ID); err != nil {
			return err
		}
	}
	return nil
}

// closeClinic is the crypto-shredding step: destroy the clinic's key in
// Vault, forget its cached data keys, mark it closed, end its sessions.
//
// clinic.closed ("clinic closed, keys destroyed") is recorded, by the
// closure process, in the transaction that marks the clinic closed, which
// runs only after Vault destroyed the key: the event exists if and only if
// the clinic is recorded closed, so it never claims a destruction that then
// failed. It needs no key: a system actor has no client address to seal, so
// the event is built (before the key goes) with nothing encrypted. Should
// the status write fail after the key is gone, the clinic stays closing and
// the next CloseDue run destroys (again) and records then.
func (a *App) closeClinic(ctx context.Context, clinicID string) (domain.Clinic, error) {
	ev, err := a.newEvent(ctx, clinicID, audit.Actor{System: actorClosure}, audit.ClinicClosed, audit.Allowed, clinicTarget(clinicID), RequestMeta{})
	if err != nil {
		return domain.Clinic{}, err
	}
	if err := a.d.Keys.Destroy(ctx, clinicID); err != nil {
		return domain.Clinic{}, fmt.Errorf("destroy key of clinic %s: %w", clinicID, err)
	}
	a.d.Crypter.Forget(clinicID)
	now := a.now()
	c, err := a.d.Store.UpdateClinic(ctx, clinicID, func(c *domain.Clinic) error {
		c.Status, c.ClosedAt = domain.ClinicClosed, &now
		return nil
	}, ev)
	if err != nil {
		return domain.Clinic{}, err
	}
	ids, err := a.d.Store.UserIDs(ctx, clinicID)
	if err != nil {
		return domain.Clinic{}, err
	}
	for _, id := range ids {
		if _, err := a.d.Sessions.RevokeUser(ctx, clinicID, id, ""); err != nil {
			return domain.Clinic{}, err
		}
	}
	a.d.Logger.InfoContext(ctx, "clinic closed: key destroyed", "clinic_id", clinicID)
	return c, nil
}

// ClosedClinics lists the region's closed clinics, for the router's directory.
func (a *App) ClosedClinics(ctx context.Context) ([]string, error) {
	return a.d.Store.ClosedClinics(ctx)
}

// RotateClinicKey rotates the clinic's key in Vault and rewraps the data
// keys identity stored under it. Reads keep working throughout: old wraps
// stay valid until rewrapped. (Each other service rewraps its own data keys
// with fieldcrypt's RewrapClinic.) The key lives in Vault and the rewrap
// in fieldcrypt's own writes, so the event is recorded around the change
// (see recordAround).
func (a *App) RotateClinicKey(ctx context.Context, actor authz.Principal, meta RequestMeta) error {
	if err := authorize(actor, authz.ActionSettingsManage, authz.Resource{}); err != nil {
		return a.refused(ctx, actor, audit.ClinicKeyRotate, clinicTarget(actor.ClinicID), meta, err)
	}
	ev, err := a.actedBy(ctx, actor, audit.ClinicKeyRotate, clinicTarget(actor.ClinicID), meta)
	if err != nil {
		return err
	}
	if err := a.recordAround(ctx, ev, func() error { return a.d.Crypter.RotateClinic(ctx, actor.ClinicID) }); err != nil {
		return fmt.Errorf("rotate key of clinic %s: %w", actor.ClinicID, err)
	}
	a.d.Logger.InfoContext(ctx, "clinic key rotated", "clinic_id", actor.ClinicID, "user_id", actor.UserID)
	return nil
}
