package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authn"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/password"
	"github.com/havenhealth/haven/libs/provisioning"
	"github.com/havenhealth/haven/services/identity/internal/domain"
	"github.com/havenhealth/haven/services/identity/internal/mfa"
)

// Token is a signed-in session's access token.
type Token struct {
	AccessToken string
	ExpiresAt   time.Time
	SessionID   string
	// EnrollmentRequired: the clinic requires 2-step verification and the
	// user has none yet; the session has no grants until they enrol one.
	EnrollmentRequired bool
}

// restricted are the grants of a session that must enrol a second factor
// first: it may read and change only its own account.
var restricted = authz.Grants{Charts: "none", Billing: "none", Schedule: "none", Contacts: "none"}

// effectiveGrants are the grants a user's sessions carry: their own, or
// none while the clinic requires 2-step verification they lack.
func (a *App) effectiveGrants(ctx context.Context, u domain.User) (authz.Grants, bool, error) {
	if !u.Role.Staff() {
		return u.Grants, false, nil
	}
	settings, err := a.d.Store.Settings(ctx, u.ClinicID)
	if err != nil {
		return authz.Grants{}, false, err
	}
	if !settings.RequireTwoStep {
		return u.Grants, false, nil
	}
	methods, err := a.twoStepMethods(ctx, u)
	if err != nil {
		return authz.Grants{}, false, err
	}
	if len(methods) == 0 {
		return restricted, true, nil
	}
	return u.Grants, false, nil
}

// refreshGrants pushes a user's effective grants to their live sessions.
func (a *App) refreshGrants(ctx context.Context, u domain.User) error {
	g, _, err := a.effectiveGrants(ctx, u)
	if err != nil {
		return err
	}
	return a.d.Sessions.UpdateUser(ctx, u.ClinicID, u.ID, u.Role, g)
}

// SignInResult is either a token or a 2-step challenge.
type SignInResult struct {
	Token     *Token
	Challenge *ChallengeView
}

// ChallengeView is what the client needs to answer a challenge.
type ChallengeView struct {
	ID        string
	Methods   []string
	ExpiresAt time.Time
	// WebAuthnOptions are the passkey request options when a passkey is enrolled.
	WebAuthnOptions json.RawMessage
}

// dummyHash is verified against when the e-mail matches no account, so an
// unknown e-mail costs the same time as a wrong password.
var dummyHash = func() string {
	h, err := password.Hash("haven-dummy-password-for-timing")
	if err != nil {
		panic(err)
	}
	return h
}()

// SignIn checks an e-mail and password. Unknown e-mail, wrong password and
// an account that may not sign in all get domain.ErrInvalidCredentials,
// after the same work. A locked account gets *domain.LockedError even with
// the right password.
func (a *App) SignIn(ctx context.Context, clinicID, email, pw string, meta RequestMeta) (SignInResult, error) {
	if _, err := a.d.Store.Clinic(ctx, clinicID); err != nil {
		return SignInResult{}, fmt.Errorf("sign-in clinic: %w", err)
	}
	norm, _ := provisioning.NormalizeEmail(email)
	lookup, err := a.emailLookup(ctx, clinicID, norm)
	if err != nil {
		return SignInResult{}, err
	}
	lockKey := clinicID + ":" + lookup

	user, uerr := a.d.Store.UserByEmailLookup(ctx, clinicID, lookup)
	if uerr != nil && !errors.Is(uerr, domain.ErrNotFound) {
		return SignInResult{}, uerr
	}
	if left, err := a.d.Lockout.Locked(ctx, lockKey); err != nil {
		return SignInResult{}, err
	} else if left > 0 {
		a.record(ctx, clinicID, user.ID, domain.OutcomeLocked, domain.MethodPassword, meta)
		return SignInResult{}, &domain.LockedError{RetryAfter: left}
	}

	hash := dummyHash
	if uerr == nil {
		hash = user.PasswordHash
	}
	ok, rehash, _ := password.Verify(pw, hash)
	if uerr != nil || !ok || user.Status != domain.UserActive {
		if err := a.d.Lockout.Fail(ctx, lockKey); err != nil {
			return SignInResult{}, err
		}
		a.record(ctx, clinicID, user.ID, domain.OutcomeFailure, domain.MethodPassword, meta)
		return SignInResult{}, domain.ErrInvalidCredentials
	}
	if err := a.d.Lockout.Clear(ctx, lockKey); err != nil {
		return SignInResult{}, err
	}
	if rehash {
		if h, err := password.Hash(pw); err == nil {
			_, _ = a.d.Store.UpdateUser(ctx, clinicID, user.ID, func(u *domain.User, _ int) error { u.PasswordHash = h; return nil })
		}
	}

	methods, err := a.twoStepMethods(ctx, user)
	if err != nil {
		return SignInResult{}, err
	}
	if len(methods) == 0 {
		tok, err := a.startSession(ctx, user)
		if err != nil {
			return SignInResult{}, err
		}
		a.record(ctx, clinicID, user.ID, domain.OutcomeSuccess, domain.MethodPassword, meta)
		return SignInResult{Token: &tok}, nil
	}
	view, err := a.newChallenge(ctx, user, methods, meta)
	if err != nil {
		return SignInResult{}, err
	}
	a.record(ctx, clinicID, user.ID, domain.OutcomeTwoStepPending, domain.MethodPassword, meta)
	return SignInResult{Challenge: &view}, nil
}

func (a *App) twoStepMethods(ctx context.Context, u domain.User) ([]string, error) {
	codes, err := a.d.Store.UnusedRecoveryCodes(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	passkeys, err := a.d.Store.Passkeys(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return u.TwoStepMethods(len(codes) > 0, len(passkeys) > 0 && a.d.WebAuthn != nil), nil
}

func (a *App) newChallenge(ctx context.Context, u domain.User, methods []string, meta RequestMeta) (ChallengeView, error) {
	now := a.now()
	c := domain.Challenge{ID: uuid.Must(uuid.NewV7()).String(), ClinicID: u.ClinicID, UserID: u.ID, Methods: methods,
		IP: meta.IP, UserAgent: meta.UserAgent, CreatedAt: now, ExpiresAt: now.Add(domain.ChallengeTTL)}
	view := ChallengeView{ID: c.ID, Methods: methods, ExpiresAt: c.ExpiresAt}
	for _, m := range methods {
		switch m {
		case domain.MethodSMS:
			code, hash, err := a.codes.NewCode()
			if err != nil {
				return ChallengeView{}, err
			}
			c.SMSCodeHash = hash
			if err := a.send(ctx, Message{ClinicID: u.ClinicID, UserID: u.ID, Channel: "sms", To: u.Phone, Purpose: "two_step_code",
				Body: "Your Haven sign-in code is " + code + ". It expires in 5 minutes."}); err != nil {
				return ChallengeView{}, err
			}
		case domain.MethodWebAuthn:
			acct, err := a.passkeyAccount(ctx, u)
			if err != nil {
				return ChallengeView{}, err
			}
			opts, session, err := a.d.WebAuthn.BeginLogin(acct)
			if err != nil {
				return ChallengeView{}, fmt.Errorf("begin passkey sign-in: %w", err)
			}
			c.WebAuthnSession, view.WebAuthnOptions = session, opts
		}
	}
	if err := a.d.Store.CreateChallenge(ctx, c); err != nil {
		return ChallengeView{}, err
	}
	return view, nil
}

// Verify answers a 2-step challenge. A wrong answer counts against the
// challenge; the fifth ends it. The factor is checked first (its own side
// effects — a TOTP step, a recovery code, a passkey counter — are atomic
// single-use updates), then the challenge is completed in one transaction
// that re-checks it is still open, so an answer completes it at most once.
func (a *App) Verify(ctx context.Context, clinicID, challengeID, method, code string, credential json.RawMessage, meta RequestMeta) (Token, error) {
	user, err := a.answerChallenge(ctx, clinicID, challengeID, method, code, credential, meta)
	if err != nil {
		return Token{}, err
	}
	tok, err := a.startSession(ctx, user)
	if err != nil {
		return Token{}, err
	}
	a.record(ctx, clinicID, user.ID, domain.OutcomeSuccess, method, meta)
	return tok, nil
}

// answerChallenge checks an answer to a 2-step challenge and completes the
// challenge; it returns the user the challenge was for.
func (a *App) answerChallenge(ctx context.Context, clinicID, challengeID, method, code string, credential json.RawMessage, meta RequestMeta) (domain.User, error) {
	switch method {
	case domain.MethodSMS, domain.MethodTOTP, domain.MethodRecovery, domain.MethodWebAuthn:
	default:
		return domain.User{}, invalid("method", "must be sms, totp, recovery_code or webauthn")
	}
	now := a.now()
	open := func(c domain.Challenge) bool {
		return c.CompletedAt == nil && now.Before(c.ExpiresAt) && c.Attempts < domain.MaxChallengeAttempts
	}
	c, err := a.d.Store.Challenge(ctx, clinicID, challengeID)
	if errors.Is(err, domain.ErrNotFound) {
		return domain.User{}, domain.ErrChallengeEnded
	}
	if err != nil {
		return domain.User{}, err
	}
	if !open(c) {
		return domain.User{}, domain.ErrChallengeEnded
	}
	user, err := a.d.Store.User(ctx, clinicID, c.UserID)
	if err != nil {
		return domain.User{}, err
	}
	ok, err := a.checkSecondFactor(ctx, c, user, method, code, credential)
	if err != nil {
		return domain.User{}, err
	}
	// A right answer completes the challenge and records session.verify in
	// the same transaction; an ended challenge changes nothing.
	var events []audit.Event
	if ok {
		ev, err := a.newEvent(ctx, clinicID, audit.Actor{UserID: user.ID}, audit.SessionVerify, audit.Allowed, userTarget(user.ID), meta)
		if err != nil {
			return domain.User{}, err
		}
		events = append(events, ev)
	}
	if _, err := a.d.Store.UpdateChallenge(ctx, clinicID, challengeID, func(c *domain.Challenge) error {
		if !open(*c) {
			return domain.ErrChallengeEnded
		}
		if !ok {
			c.Attempts++
			return nil
		}
		c.CompletedAt, c.SMSCodeHash, c.WebAuthnSession = &now, "", nil
		return nil
	}, events...); err != nil {
		return domain.User{}, err
	}
	if !ok {
		a.record(ctx, clinicID, user.ID, domain.OutcomeTwoStepFailure, method, meta)
		return domain.User{}, domain.ErrInvalidCode
	}
	if user.Status != domain.UserActive {
		return domain.User{}, domain.ErrChallengeEnded
	}
	return user, nil
}

func (a *App) checkSecondFactor(ctx context.Context, c domain.Challenge, u domain.User, method, code string, credential json.RawMessage) (bool, error) {
	offered := false
	for _, m := range c.Methods {
		offered = offered || m == method
	}
	if !offered {
		return false, nil
	}
	switch method {
	case domain.MethodSMS:
		return a.codes.Match(code, c.SMSCodeHash), nil
	case domain.MethodTOTP:
		step, ok := mfa.ValidateTOTP(code, u.TOTPSecret, a.now(), u.TOTPLastStep)
		if !ok {
			return false, nil
		}
		_, err := a.d.Store.UpdateUser(ctx, u.ClinicID, u.ID, func(x *domain.User, _ int) error {
			if step <= x.TOTPLastStep {
				return domain.ErrInvalidCode
			}
			x.TOTPLastStep = step
			return nil
		})
		if errors.Is(err, domain.ErrInvalidCode) {
			return false, nil
		}
		return err == nil, err
	case domain.MethodRecovery:
		unused, err := a.d.Store.UnusedRecoveryCodes(ctx, u.ID)
		if err != nil {
			return false, err
		}
		idxs := make([]int, 0, len(unused))
		hashes := make([]string, 0, len(unused))
		for i, h := range unused {
			idxs, hashes = append(idxs, i), append(hashes, h)
		}
		j, ok := mfa.MatchRecoveryCode(code, hashes)
		if !ok {
			return false, nil
		}
		return a.d.Store.UseRecoveryCode(ctx, u.ID, idxs[j], a.now())
	case domain.MethodWebAuthn:
		if a.d.WebAuthn == nil || len(c.WebAuthnSession) == 0 || len(credential) == 0 {
			return false, nil
		}
		acct, err := a.passkeyAccount(ctx, u)
		if err != nil {
			return false, err
		}
		cred, err := a.d.WebAuthn.FinishLogin(acct, c.WebAuthnSession, credential)
		if errors.Is(err, mfa.ErrRejected) {
			return false, nil // a wrong answer counts against the challenge
		}
		if err != nil {
			return false, fmt.Errorf("finish passkey sign-in: %w", err)
		}
		data, err := json.Marshal(cred)
		if err != nil {
			return false, err
		}
		return true, a.d.Store.UpdatePasskey(ctx, credentialKey(cred.ID), data)
	default:
		return false, nil
	}
}

func (a *App) startSession(ctx context.Context, u domain.User) (Token, error) {
	settings, err := a.d.Store.Settings(ctx, u.ClinicID)
	if err != nil {
		return Token{}, err
	}
	grants, enrol, err := a.effectiveGrants(ctx, u)
	if err != nil {
		return Token{}, err
	}
	now := a.now()
	s := authn.Session{
		ID: uuid.Must(uuid.NewV7()).String(), ClinicID: u.ClinicID, UserID: u.ID, Role: u.Role, Grants: grants,
		PatientID: u.PatientID, CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(settings.SessionMax), IdleTimeout: settings.IdleTimeout,
	}
	if err := a.d.Sessions.Create(ctx, s); err != nil {
		return Token{}, fmt.Errorf("create session: %w", err)
	}
	tok, err := a.tokenFor(s)
	tok.EnrollmentRequired = enrol
	return tok, err
}

func (a *App) tokenFor(s authn.Session) (Token, error) {
	tok, exp, err := a.sign(authn.Claims{Subject: s.UserID, ClinicID: s.ClinicID, SessionID: s.ID, Role: string(s.Role), Grants: s.Grants})
	if err != nil {
		return Token{}, err
	}
	if exp.After(s.ExpiresAt) {
		exp = s.ExpiresAt
	}
	return Token{AccessToken: tok, ExpiresAt: exp, SessionID: s.ID}, nil
}

// Refresh issues a new access token for a live session (the session's idle
// and absolute limits still apply). Sessions live in Redis: the event is
// recorded around the change (see recordAround).
func (a *App) Refresh(ctx context.Context, p authz.Principal, meta RequestMeta) (Token, error) {
	ev, err := a.actedBy(ctx, p, audit.SessionRefresh, sessionTarget(p.SessionID), meta)
	if err != nil {
		return Token{}, err
	}
	var tok Token
	err = a.recordAround(ctx, ev, func() error {
		s, err := a.d.Sessions.Touch(ctx, p.ClinicID, p.SessionID)
		if err != nil {
			return err
		}
		tok, err = a.tokenFor(s)
		return err
	})
	return tok, err
}

// SignOut ends the caller's session (audited around the Redis change).
func (a *App) SignOut(ctx context.Context, p authz.Principal, meta RequestMeta) error {
	ev, err := a.actedBy(ctx, p, audit.SessionEnd, sessionTarget(p.SessionID), meta)
	if err != nil {
		return err
	}
	return a.recordAround(ctx, ev, func() error { return a.d.Sessions.Revoke(ctx, p.ClinicID, p.SessionID) })
}

// SignOutEverywhere ends every session of the caller (audited around the
// Redis change).
func (a *App) SignOutEverywhere(ctx context.Context, p authz.Principal, meta RequestMeta) (int, error) {
	ev, err := a.actedBy(ctx, p, audit.SessionEndAll, userTarget(p.UserID), meta)
	if err != nil {
		return 0, err
	}
	var n int
	err = a.recordAround(ctx, ev, func() error {
		var err error
		n, err = a.d.Sessions.RevokeUser(ctx, p.ClinicID, p.UserID, "")
		return err
	})
	return n, err
}

// Me returns the caller's own account.
func (a *App) Me(ctx context.Context, p authz.Principal) (domain.User, []string, error) {
	u, err := a.d.Store.User(ctx, p.ClinicID, p.UserID)
	if err != nil {
		return domain.User{}, nil, err
	}
	methods, err := a.twoStepMethods(ctx, u)
	return u, methods, err
}

// ChangePassword needs the current password and ends the user's other sessions.
func (a *App) ChangePassword(ctx context.Context, p authz.Principal, current, next string, meta RequestMeta) error {
	u, err := a.d.Store.User(ctx, p.ClinicID, p.UserID)
	if err != nil {
		return err
	}
	if ok, _, _ := password.Verify(current, u.PasswordHash); !ok {
		return domain.ErrWrongPassword
	}
	if err := password.Validate(next); err != nil {
		return invalid("new_password", provisioning.PasswordReason(err))
	}
	hash, err := password.Hash(next)
	if err != nil {
		return err
	}
	ev, err := a.actedBy(ctx, p, audit.PasswordChange, userTarget(p.UserID), meta)
	if err != nil {
		return err
	}
	if _, err := a.d.Store.UpdateUser(ctx, p.ClinicID, p.UserID, func(u *domain.User, _ int) error {
		u.PasswordHash, u.UpdatedAt = hash, a.now()
		return nil
	}, ev); err != nil {
		return err
	}
	_, err = a.d.Sessions.RevokeUser(ctx, p.ClinicID, p.UserID, p.SessionID)
	return err
}

func (a *App) record(ctx context.Context, clinicID, userID string, o domain.Outcome, method string, meta RequestMeta) {
	// A history write that fails does not fail the sign-in, but it is logged.
	ctx = context.WithoutCancel(ctx)
	var events []audit.Event
	// A reset is audited as password.reset with the password change; its
	// history row starts no session and gets no session.create event.
	if method != domain.MethodReset {
		var err error
		if events, err = a.signInEvent(ctx, clinicID, userID, o, meta); err != nil {
			a.d.Logger.ErrorContext(ctx, "sign-in audit event not built", slog.String("clinic_id", clinicID), slog.String("error", err.Error()))
		}
	}
	err := a.d.Store.RecordLogin(ctx, domain.LoginAttempt{
		ID: uuid.Must(uuid.NewV7()).String(), ClinicID: clinicID, UserID: userID, Outcome: o, Method: method,
		IP: meta.IP, UserAgent: truncate(meta.UserAgent, 300), OccurredAt: a.now(),
	}, events...)
	if err != nil {
		a.d.Logger.ErrorContext(ctx, "login history write failed", slog.String("clinic_id", clinicID), slog.String("error", err.Error()))
	}
}

func (a *App) send(ctx context.Context, m Message) error {
	if a.d.Notifier == nil {
		return fmt.Errorf("no way to deliver %s messages: %w", m.Channel, domain.ErrUnavailable)
	}
	return a.d.Notifier.Send(ctx, m)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// signInActions maps sign-in outcomes to audit actions; a pending 2-step
// challenge is not an access and is only in the login history.
var signInActions = map[domain.Outcome]struct {
	action  audit.Action
	outcome audit.Outcome
}{
	domain.OutcomeSuccess:        {audit.SessionCreate, audit.Allowed},
	domain.OutcomeFailure:        {audit.SessionFail, audit.Denied},
	domain.OutcomeLocked:         {audit.SessionLocked, audit.Denied},
	domain.OutcomeTwoStepFailure: {audit.SessionVerifyFail, audit.Denied},
}

// signInEvent is the audit event of a sign-in attempt (none for outcomes
// not audited).
func (a *App) signInEvent(ctx context.Context, clinicID, userID string, o domain.Outcome, meta RequestMeta) ([]audit.Event, error) {
	m, ok := signInActions[o]
	if !ok {
		return nil, nil
	}
	actor, t := audit.Actor{System: actorUnauthenticated}, target{}
	if userID != "" {
		actor, t = audit.Actor{UserID: userID}, userTarget(userID)
	}
	ev, err := a.newEvent(ctx, clinicID, actor, m.action, m.outcome, t, meta)
	if err != nil {
		return nil, err
	}
	return []audit.Event{ev}, nil
}
