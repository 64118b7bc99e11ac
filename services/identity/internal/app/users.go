package app

import (
	"context"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/password"
	"github.com/havenhealth/haven/libs/provisioning"
	"github.com/havenhealth/haven/services/identity/internal/domain"
)

// NewUser is what an owner or admin submits to create an account.
type NewUser struct {
	Name     string
	Email    string
	Role     string
	Password string        // empty: an invitation is e-mailed instead
	Grants   *authz.Grants // nil: the role's template
	// PatientID links a patient account to its patient profile (only with
	// role patient; empty: not linked).
	PatientID string
}

// checkPatientLink validates a link to patient profile id for an account
// of role: only a patient account may be linked, and only to an id of the
// right shape (whether charting holds such a profile is not checked here).
func checkPatientLink(role authz.Role, id string) error {
	if id == "" {
		return nil
	}
	if !domain.ValidPatientID(id) {
		return invalid("patient_id", "must be a patient profile id (a lower-case UUID)")
	}
	if role != authz.RolePatient {
		return invalid("patient_id", "only an account with role patient may be linked to a patient profile")
	}
	return nil
}

// CreateUser creates a staff or patient account in the actor's clinic. With
// a password the account is active at once (the "create a staff user, give
// it Billing" model); without one an invitation goes out.
func (a *App) CreateUser(ctx context.Context, actor authz.Principal, in NewUser, meta RequestMeta) (domain.User, error) {
	if err := authorize(actor, authz.ActionUserManage, authz.Resource{}); err != nil {
		return domain.User{}, a.refused(ctx, actor, audit.UserCreate, target{Type: "user"}, meta, err)
	}
	name := trimmed(in.Name)
	if name == "" || len(name) > 200 {
		return domain.User{}, invalid("name", "must be 1-200 characters")
	}
	email, ok := provisioning.NormalizeEmail(in.Email)
	if !ok {
		return domain.User{}, invalid("email", "must be a valid e-mail address")
	}
	role, err := authz.ParseRole(in.Role)
	if err != nil {
		return domain.User{}, invalid("role", "must be one of owner, admin, practitioner, front_desk, billing, patient")
	}
	if role == authz.RoleOwner && actor.Role != authz.RoleOwner {
		return domain.User{}, a.refused(ctx, actor, audit.UserCreate, target{Type: "user"}, meta,
			fmt.Errorf("only an owner may create an owner: %w", domain.ErrForbidden))
	}
	if err := checkPatientLink(role, in.PatientID); err != nil {
		return domain.User{}, err
	}
	grants := authz.RoleGrants(role)
	if in.Grants != nil {
		if err := in.Grants.Validate(); err != nil {
			return domain.User{}, invalid("grants", "has an unknown value")
		}
		grants = *in.Grants
	}
	if in.Password == "" && a.d.Notifier == nil {
		return domain.User{}, fmt.Errorf("invitations cannot be delivered; set a password instead: %w", domain.ErrUnavailable)
	}
	clinic, err := a.d.Store.Clinic(ctx, actor.ClinicID)
	if err != nil {
		return domain.User{}, err
	}
	lookup, err := a.emailLookup(ctx, actor.ClinicID, email)
	if err != nil {
		return domain.User{}, err
	}
	now := a.now()
	u := domain.User{
		ID: uuid.Must(uuid.NewV7()).String(), ClinicID: actor.ClinicID, Name: name, Email: email,
		EmailLookup: lookup, Role: role, Grants: grants, Status: domain.UserActive, PatientID: in.PatientID,
		CreatedAt: now, UpdatedAt: now,
	}
	if in.Password != "" {
		if err := password.Validate(in.Password); err != nil {
			return domain.User{}, invalid("password", provisioning.PasswordReason(err))
		}
		if u.PasswordHash, err = password.Hash(in.Password); err != nil {
			return domain.User{}, err
		}
	} else {
		u.Status = domain.UserInvited
		u.PasswordHash = "!" // no password can match until the invitation is accepted
	}
	ev, err := a.actedBy(ctx, actor, audit.UserCreate, userTarget(u.ID), meta)
	if err != nil {
		return domain.User{}, err
	}
	ev.PatientID = u.PatientID
	if err := a.d.Store.CreateUser(ctx, u, ev); err != nil {
		return domain.User{}, err
	}
	if u.Status == domain.UserInvited {
		if err := a.invite(ctx, clinic, u, now); err != nil {
			return domain.User{}, err
		}
	}
	return u, nil
}

// invite creates a single-use invitation token for invited user u (valid
// for domain.InviteTokenTTL) and e-mails its link, with which the user
// chooses a password (AcceptInvitation). A token already sent stays valid.
func (a *App) invite(ctx context.Context, clinic domain.Clinic, u domain.User, now time.Time, events ...audit.Event) error {
	token := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	if err := a.d.Store.CreateAccountToken(ctx, AccountToken{Hash: hashToken(token), ClinicID: u.ClinicID, UserID: u.ID,
		Purpose: domain.PurposeInvite, ExpiresAt: now.Add(domain.InviteTokenTTL), CreatedAt: now}, events...); err != nil {
		return err
	}
	link := fmt.Sprintf("%s/c/%s/identity/v1/invitations/%s", a.d.PublicURL, clinic.Slug, token)
	return a.send(ctx, Message{ClinicID: u.ClinicID, UserID: u.ID, Channel: "email", To: u.Email, Purpose: "invitation",
		Subject: "You are invited to " + clinic.Name + " on Haven",
		Body:    "Set your password to join " + clinic.Name + ": POST a new password to " + link + " within 7 days."})
}

// AcceptInvitation sets an invited user's password and activates the
// account. The token proves the caller is the invited user: the event's actor.
func (a *App) AcceptInvitation(ctx context.Context, clinicID, token, pw string, meta RequestMeta) error {
	if err := password.Validate(pw); err != nil {
		return invalid("password", provisioning.PasswordReason(err))
	}
	hash, err := password.Hash(pw)
	if err != nil {
		return err
	}
	t, err := a.d.Store.UseAccountToken(ctx, clinicID, hashToken(token), domain.PurposeInvite, a.now())
	if err != nil {
		return err
	}
	ev, err := a.newEvent(ctx, clinicID, audit.Actor{UserID: t.UserID}, audit.UserInviteAccept, audit.Allowed, userTarget(t.UserID), meta)
	if err != nil {
		return err
	}
	_, err = a.d.Store.UpdateUser(ctx, clinicID, t.UserID, func(u *domain.User, _ int) error {
		if u.Status != domain.UserInvited {
			return domain.ErrInvalidLink
		}
		u.PasswordHash, u.Status, u.UpdatedAt = hash, domain.UserActive, a.now()
		return nil
	}, ev)
	return err
}

// GetUser returns an account of the actor's clinic (any account with
// user.read; one's own always).
func (a *App) GetUser(ctx context.Context, actor authz.Principal, id string) (domain.User, error) {
	if id != actor.UserID {
		if err := authorize(actor, authz.ActionUserRead, authz.Resource{}); err != nil {
			return domain.User{}, err
		}
	}
	return a.d.Store.User(ctx, actor.ClinicID, id)
}

// ListUsers pages through the clinic's accounts in id order.
func (a *App) ListUsers(ctx context.Context, actor authz.Principal, after string, limit int) ([]domain.User, error) {
	if err := authorize(actor, authz.ActionUserRead, authz.Resource{}); err != nil {
		return nil, err
	}
	return a.d.Store.ListUsers(ctx, actor.ClinicID, after, limit)
}

// UserPatch changes an account; nil fields stay as they are.
type UserPatch struct {
	Name   *string
	Role   *string
	Grants *authz.Grants
	// PatientID links a patient account to a patient profile; "" unlinks.
	PatientID *string
}

// patchActions are the audit actions of a patch, by the fields it sets: a
// role, grants or patient link is user.grants_change (the link decides
// whose records a patient account may open: it is access, like a grant),
// a name user.update; both are both.
func patchActions(p UserPatch) []audit.Action {
	var out []audit.Action
	if p.Role != nil || p.Grants != nil || p.PatientID != nil {
		out = append(out, audit.UserGrantsChange)
	}
	if p.Name != nil || len(out) == 0 {
		out = append(out, audit.UserUpdate)
	}
	return out
}

// UpdateUser changes name, role, grants or patient link. A new role
// without grants takes the role's template. Live sessions see new grants at
// once. A session cannot be given a new patient link (authn.Sessions
// updates role and grants only), so a changed link ends the account's
// sessions instead: none keeps opening the records of a profile it is no
// longer linked to, and the next sign-in carries the new link.
func (a *App) UpdateUser(ctx context.Context, actor authz.Principal, id string, p UserPatch, meta RequestMeta) (domain.User, error) {
	actions := patchActions(p)
	if err := authorize(actor, authz.ActionUserManage, authz.Resource{}); err != nil {
		return domain.User{}, a.refused(ctx, actor, actions[0], userTarget(id), meta, err)
	}
	var role authz.Role
	if p.Role != nil {
		r, err := authz.ParseRole(*p.Role)
		if err != nil {
			return domain.User{}, invalid("role", "must be one of owner, admin, practitioner, front_desk, billing, patient")
		}
		role = r
	}
	if p.Grants != nil {
		if err := p.Grants.Validate(); err != nil {
			return domain.User{}, invalid("grants", "has an unknown value")
		}
	}
	if p.Name != nil {
		if n := trimmed(*p.Name); n == "" || len(n) > 200 {
			return domain.User{}, invalid("name", "must be 1-200 characters")
		}
	}
	if p.PatientID != nil && *p.PatientID != "" && !domain.ValidPatientID(*p.PatientID) {
		return domain.User{}, invalid("patient_id", "must be a patient profile id (a lower-case UUID)")
	}
	events := make([]audit.Event, len(actions))
	for i, action := range actions {
		ev, err := a.actedBy(ctx, actor, action, userTarget(id), meta)
		if err != nil {
			return domain.User{}, err
		}
		if action == audit.UserGrantsChange && p.PatientID != nil {
			ev.PatientID = *p.PatientID
		}
		events[i] = ev
	}
	relinked := false
	u, err := a.d.Store.UpdateUser(ctx, actor.ClinicID, id, func(u *domain.User, activeOwners int) error {
		if (role == authz.RoleOwner || u.Role == authz.RoleOwner) && actor.Role != authz.RoleOwner {
			return fmt.Errorf("only an owner may change an owner: %w", domain.ErrForbidden)
		}
		if role != "" && role != u.Role {
			if u.Role == authz.RoleOwner && u.Status == domain.UserActive && activeOwners <= 1 {
				return domain.ErrLastOwner
			}
			u.Role, u.Grants = role, authz.RoleGrants(role)
		}
		if p.Grants != nil {
			u.Grants = *p.Grants
		}
		if p.Name != nil {
			u.Name = trimmed(*p.Name)
		}
		if p.PatientID != nil {
			if err := checkPatientLink(u.Role, *p.PatientID); err != nil {
				return err
			}
			relinked = *p.PatientID != u.PatientID
			u.PatientID = *p.PatientID
		}
		if u.PatientID != "" && u.Role != authz.RolePatient {
			return invalid("role", `a linked patient account must be unlinked (patient_id "") before its role changes`)
		}
		u.UpdatedAt = a.now()
		return nil
	}, events...)
	if err != nil {
		return domain.User{}, a.refused(ctx, actor, actions[0], userTarget(id), meta, err)
	}
	if err := a.refreshGrants(ctx, u); err != nil {
		return domain.User{}, fmt.Errorf("apply new grants to live sessions: %w", err)
	}
	if relinked {
		if _, err := a.d.Sessions.RevokeUser(ctx, u.ClinicID, u.ID, ""); err != nil {
			return domain.User{}, fmt.Errorf("end sessions of relinked account: %w", err)
		}
	}
	return u, nil
}

// Deactivate ends an account's access at once: status, then every session.
func (a *App) Deactivate(ctx context.Context, actor authz.Principal, id string, meta RequestMeta) (domain.User, error) {
	if err := authorize(actor, authz.ActionUserManage, authz.Resource{}); err != nil {
		return domain.User{}, a.refused(ctx, actor, audit.UserDeactivate, userTarget(id), meta, err)
	}
	ev, err := a.actedBy(ctx, actor, audit.UserDeactivate, userTarget(id), meta)
	if err != nil {
		return domain.User{}, err
	}
	u, err := a.d.Store.UpdateUser(ctx, actor.ClinicID, id, func(u *domain.User, activeOwners int) error {
		if u.Role == authz.RoleOwner && actor.Role != authz.RoleOwner {
			return fmt.Errorf("only an owner may deactivate an owner: %w", domain.ErrForbidden)
		}
		if u.Role == authz.RoleOwner && u.Status == domain.UserActive && activeOwners <= 1 {
			return domain.ErrLastOwner
		}
		u.Status, u.UpdatedAt = domain.UserDeactivated, a.now()
		return nil
	}, ev)
	if err != nil {
		return domain.User{}, a.refused(ctx, actor, audit.UserDeactivate, userTarget(id), meta, err)
	}
	if _, err := a.d.Sessions.RevokeUser(ctx, u.ClinicID, u.ID, ""); err != nil {
		return domain.User{}, fmt.Errorf("end sessions of deactivated user: %w", err)
	}
	return u, nil
}

// Reactivate lets a deactivated account sign in again.
func (a *App) Reactivate(ctx context.Context, actor authz.Principal, id string, meta RequestMeta) (domain.User, error) {
	if err := authorize(actor, authz.ActionUserManage, authz.Resource{}); err != nil {
		return domain.User{}, a.refused(ctx, actor, audit.UserReactivate, userTarget(id), meta, err)
	}
	ev, err := a.actedBy(ctx, actor, audit.UserReactivate, userTarget(id), meta)
	if err != nil {
		return domain.User{}, err
	}
	u, err := a.d.Store.UpdateUser(ctx, actor.ClinicID, id, func(u *domain.User, _ int) error {
		if u.Status != domain.UserDeactivated {
			return fmt.Errorf("user is %s: %w", u.Status, domain.ErrConflict)
		}
		if u.Role == authz.RoleOwner && actor.Role != authz.RoleOwner {
			return fmt.Errorf("only an owner may reactivate an owner: %w", domain.ErrForbidden)
		}
		u.Status, u.UpdatedAt = domain.UserActive, a.now()
		return nil
	}, ev)
	if err != nil {
		return domain.User{}, a.refused(ctx, actor, audit.UserReactivate, userTarget(id), meta, err)
	}
	return u, nil
}
