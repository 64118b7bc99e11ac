package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/libs/residency"
	"github.com/havenhealth/haven/services/identity/internal/app"
	"github.com/havenhealth/haven/services/identity/internal/domain"
)

// Personal data the audit tests use; none of it may reach an event.
const (
	staffName  = "Mereana Tautahi"
	staffEmail = "mereana@example.org"
	staffPass  = "front desk long passphrase"
	staffPhone = "+64219876543"
	clientIP   = "203.0.113.77"
)

// personal lists every personal value the fixture and these tests write.
var personal = []string{"Aroha", "Ngata", "example.org", "Mereana", "Tautahi", "Harbour", staffPhone, "+64211234567",
	clientIP, "203.0.113.5", "198.51.100", "passphrase"}

// auditMeta is a request's meta as the HTTP layer would pass it.
var auditMeta = app.RequestMeta{IP: clientIP, UserAgent: "AuditTest/1.0"}

// outbox returns every event in audit_outbox in recorded order, after
// checking each is valid and that no payload holds personal data.
func (f *fixture) outbox(t *testing.T) []audit.Event {
	t.Helper()
	var rows []struct{ Payload string }
	require.NoError(t, f.db.Table("audit_outbox").Order("id").Find(&rows).Error)
	out := make([]audit.Event, 0, len(rows))
	for _, r := range rows {
		for _, p := range personal {
			require.NotContains(t, r.Payload, p, "personal data in an audit event")
		}
		var e audit.Event
		require.NoError(t, json.Unmarshal([]byte(r.Payload), &e))
		require.NoError(t, e.Validate())
		require.Equal(t, f.clinicID, e.ClinicID)
		out = append(out, e)
	}
	return out
}

// want describes one expected event.
type want struct {
	action  audit.Action
	actor   audit.Actor
	typ, id string
	outcome audit.Outcome
}

// requireOnce asserts exactly one event in the outbox is w and returns it.
func (f *fixture) requireOnce(t *testing.T, w want) audit.Event {
	t.Helper()
	var found []audit.Event
	for _, e := range f.outbox(t) {
		if e.Action == w.action && e.Actor == w.actor && e.ResourceType == w.typ && e.ResourceID == w.id && e.Outcome == w.outcome {
			found = append(found, e)
		}
	}
	require.Len(t, found, 1, "events %+v", w)
	return found[0]
}

// count is how many events of action the outbox holds.
func (f *fixture) count(t *testing.T, action audit.Action) int {
	t.Helper()
	n := 0
	for _, e := range f.outbox(t) {
		if e.Action == action {
			n++
		}
	}
	return n
}

func by(p authz.Principal) audit.Actor {
	return audit.Actor{UserID: p.UserID, Role: string(p.Role), SessionID: p.SessionID}
}

// withRequestID is a context as the HTTP layer hands it down.
func withRequestID(id string) context.Context {
	return problem.WithRequestID(httptest.NewRequest("GET", "/", nil), id).Context()
}

// breakOutbox makes every outbox insert fail until the test ends or the
// returned function runs.
func (f *fixture) breakOutbox(t *testing.T) (restore func()) {
	t.Helper()
	require.NoError(t, f.db.Exec("ALTER TABLE audit_outbox RENAME TO audit_outbox_away").Error)
	done := false
	restore = func() {
		if !done {
			done = true
			require.NoError(t, f.db.Exec("ALTER TABLE audit_outbox_away RENAME TO audit_outbox").Error)
		}
	}
	t.Cleanup(restore)
	return restore
}

func (f *fixture) staff(t *testing.T, role string) (domain.User, authz.Principal) {
	t.Helper()
	u, err := f.app.CreateUser(context.Background(), f.owner, app.NewUser{Name: staffName, Email: staffEmail, Role: role, Password: staffPass}, auditMeta)
	require.NoError(t, err)
	return u, f.signIn(t, staffEmail, staffPass)
}

func TestAudit_SignUpIsRecordedByTheRouter(t *testing.T) {
	f := newFixture(t)
	router := audit.Actor{System: "router"}
	f.requireOnce(t, want{audit.ClinicSignup, router, "clinic", f.clinicID, audit.Allowed})
	f.requireOnce(t, want{audit.UserCreate, router, "user", f.ownerID, audit.Allowed})

	_, err := f.app.Provision(context.Background(), nz(f.clinicID, "harbour"))
	require.NoError(t, err)
	require.Equal(t, 1, f.count(t, audit.ClinicSignup), "an idempotent retry changes nothing and records nothing")
}

func TestAudit_ClosureRequestAndCancel(t *testing.T) {
	f := newFixture(t)
	ctx := withRequestID("req-closure-1")
	_, err := f.app.RequestClosure(ctx, f.owner, app.ClosureRequest{Password: ownerPassword}, auditMeta)
	require.NoError(t, err)
	ev := f.requireOnce(t, want{audit.ClinicCloseRequest, by(f.owner), "clinic", f.clinicID, audit.Allowed})
	require.Equal(t, "req-closure-1", ev.RequestID)
	ip, err := audit.OpenClientIP(ctx, f.app.Crypter(), ev)
	require.NoError(t, err)
	require.Equal(t, clientIP, ip, "the client address is sealed under the clinic's key")

	_, err = f.app.CancelClosure(ctx, f.owner, auditMeta)
	require.NoError(t, err)
	f.requireOnce(t, want{audit.ClinicCloseCancel, by(f.owner), "clinic", f.clinicID, audit.Allowed})

	_, err = f.app.CancelClosure(ctx, f.owner, auditMeta)
	require.ErrorIs(t, err, domain.ErrConflict)
	require.Equal(t, 1, f.count(t, audit.ClinicCloseCancel), "a refused change records nothing")
}

func TestAudit_ClinicClosedIsRecordedOnceByTheClosureProcess(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.app.RequestClosure(ctx, f.owner, app.ClosureRequest{Password: ownerPassword}, auditMeta)
	require.NoError(t, err)
	require.NoError(t, f.app.CloseDue(ctx))
	require.Zero(t, f.count(t, audit.ClinicClosed), "not during the grace period")

	f.clock.add(25 * time.Hour)
	require.NoError(t, f.app.CloseDue(ctx))
	require.NoError(t, f.app.CloseDue(ctx))
	ev := f.requireOnce(t, want{audit.ClinicClosed, audit.Actor{System: "identity.closure"}, "clinic", f.clinicID, audit.Allowed})
	require.Empty(t, ev.ClientIP, "nothing sealed under the destroyed key")
}

func TestAudit_KeyRotation(t *testing.T) {
	f := newFixture(t)
	require.NoError(t, f.app.RotateClinicKey(context.Background(), f.owner, auditMeta))
	f.requireOnce(t, want{audit.ClinicKeyRotate, by(f.owner), "clinic", f.clinicID, audit.Allowed})
}

func TestAudit_UserLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	owner := by(f.owner)
	u, _ := f.staff(t, "front_desk")
	f.requireOnce(t, want{audit.UserCreate, owner, "user", u.ID, audit.Allowed})

	name := "Mereana Tautahi-Smith"
	_, err := f.app.UpdateUser(ctx, f.owner, u.ID, app.UserPatch{Name: &name}, auditMeta)
	require.NoError(t, err)
	f.requireOnce(t, want{audit.UserUpdate, owner, "user", u.ID, audit.Allowed})
	require.Zero(t, f.count(t, audit.UserGrantsChange), "a name is not a grant")

	role, other := "billing", "Mereana T."
	_, err = f.app.UpdateUser(ctx, f.owner, u.ID, app.UserPatch{Name: &other, Role: &role}, auditMeta)
	require.NoError(t, err)
	f.requireOnce(t, want{audit.UserGrantsChange, owner, "user", u.ID, audit.Allowed})
	require.Equal(t, 2, f.count(t, audit.UserUpdate), "a patch of both records both")

	_, err = f.app.Deactivate(ctx, f.owner, u.ID, auditMeta)
	require.NoError(t, err)
	f.requireOnce(t, want{audit.UserDeactivate, owner, "user", u.ID, audit.Allowed})
	_, err = f.app.Reactivate(ctx, f.owner, u.ID, auditMeta)
	require.NoError(t, err)
	f.requireOnce(t, want{audit.UserReactivate, owner, "user", u.ID, audit.Allowed})
}

func TestAudit_InvitationAccepted(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u, err := f.app.CreateUser(ctx, f.owner, app.NewUser{Name: staffName, Email: staffEmail, Role: "front_desk"}, auditMeta)
	require.NoError(t, err)
	token := tokenFromLink(t, f.inbox.last(t, "invitation").Body, "/invitations/")
	require.NoError(t, f.app.AcceptInvitation(ctx, f.clinicID, token, staffPass, auditMeta))
	require.ErrorIs(t, f.app.AcceptInvitation(ctx, f.clinicID, token, staffPass, auditMeta), domain.ErrInvalidLink)
	f.requireOnce(t, want{audit.UserInviteAccept, audit.Actor{UserID: u.ID}, "user", u.ID, audit.Allowed})
	for _, e := range f.outbox(t) {
		require.NotContains(t, string(e.Canonical()), token)
	}
}

func TestAudit_Passwords(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	require.NoError(t, f.app.ChangePassword(ctx, f.owner, ownerPassword, "the changed passphrase", auditMeta))
	f.requireOnce(t, want{audit.PasswordChange, by(f.owner), "user", f.ownerID, audit.Allowed})

	require.NoError(t, f.app.RequestPasswordReset(ctx, f.clinicID, "nobody@example.org", auditMeta))
	require.Zero(t, f.count(t, audit.PasswordResetReq), "no account, no event")
	require.NoError(t, f.app.RequestPasswordReset(ctx, f.clinicID, "aroha@example.org", auditMeta))
	f.requireOnce(t, want{audit.PasswordResetReq, audit.Actor{System: "unauthenticated"}, "user", f.ownerID, audit.Allowed})

	token := tokenFromLink(t, f.inbox.last(t, "password_reset").Body, "/password-resets/")
	require.NoError(t, f.app.CompleteReset(ctx, f.clinicID, token, "the reset passphrase", auditMeta))
	f.requireOnce(t, want{audit.PasswordReset, audit.Actor{UserID: f.ownerID}, "user", f.ownerID, audit.Allowed})
	require.Equal(t, 1, f.count(t, audit.SessionCreate), "a reset starts no session (the one is the fixture's sign-in)")
	for _, e := range f.outbox(t) {
		require.NotContains(t, string(e.Canonical()), token)
	}
}

func TestAudit_TwoStepEnrolment(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	owner := by(f.owner)

	require.NoError(t, f.app.EnrollSMS(ctx, f.owner, ownerPassword, staffPhone, auditMeta))
	f.requireOnce(t, want{audit.TwoStepEnroll, owner, "two_step.sms", f.ownerID, audit.Allowed})

	secret, _, err := f.app.BeginTOTP(ctx, f.owner, ownerPassword)
	require.NoError(t, err)
	require.Equal(t, 1, f.count(t, audit.TwoStepEnroll), "beginning stores nothing")
	code, err := totp.GenerateCode(secret, f.clock.now())
	require.NoError(t, err)
	require.NoError(t, f.app.ConfirmTOTP(ctx, f.owner, ownerPassword, secret, code, auditMeta))
	f.requireOnce(t, want{audit.TwoStepEnroll, owner, "two_step.totp", f.ownerID, audit.Allowed})

	_, err = f.app.NewRecoveryCodes(ctx, f.owner, ownerPassword, auditMeta)
	require.NoError(t, err)
	f.requireOnce(t, want{audit.TwoStepEnroll, owner, "two_step.recovery_codes", f.ownerID, audit.Allowed})

	registerPasskey(t, f, auditMeta)
	f.requireOnce(t, want{audit.TwoStepEnroll, owner, "two_step.passkey", f.ownerID, audit.Allowed})
	require.Equal(t, 4, f.count(t, audit.TwoStepEnroll))
}

func TestAudit_SettingsChange(t *testing.T) {
	f := newFixture(t)
	on := true
	_, err := f.app.UpdateSettings(context.Background(), f.owner, app.SettingsPatch{RequireTwoStep: &on}, auditMeta)
	require.NoError(t, err)
	f.requireOnce(t, want{audit.SettingsChange, by(f.owner), "settings", f.clinicID, audit.Allowed})
}

func TestAudit_SecondStepRefreshAndSignOut(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	secret, _, err := f.app.BeginTOTP(ctx, f.owner, ownerPassword)
	require.NoError(t, err)
	code, err := totp.GenerateCode(secret, f.clock.now())
	require.NoError(t, err)
	require.NoError(t, f.app.ConfirmTOTP(ctx, f.owner, ownerPassword, secret, code, auditMeta))

	f.clock.add(time.Minute)
	c := challenge(t, f)
	code, err = totp.GenerateCode(secret, f.clock.now())
	require.NoError(t, err)
	tok, err := f.app.Verify(ctx, f.clinicID, c.ID, domain.MethodTOTP, code, nil, auditMeta)
	require.NoError(t, err)
	other := f.principalOf(t, tok)
	_, err = f.app.Verify(ctx, f.clinicID, c.ID, domain.MethodTOTP, code, nil, auditMeta)
	require.ErrorIs(t, err, domain.ErrChallengeEnded)
	f.requireOnce(t, want{audit.SessionVerify, audit.Actor{UserID: f.ownerID}, "user", f.ownerID, audit.Allowed})

	_, err = f.app.Refresh(ctx, f.owner, auditMeta)
	require.NoError(t, err)
	f.requireOnce(t, want{audit.SessionRefresh, by(f.owner), "session", f.owner.SessionID, audit.Allowed})

	require.NoError(t, f.app.SignOut(ctx, other, auditMeta))
	f.requireOnce(t, want{audit.SessionEnd, by(other), "session", other.SessionID, audit.Allowed})
	require.False(t, f.sessionAlive(other))

	n, err := f.app.SignOutEverywhere(ctx, f.owner, auditMeta)
	require.NoError(t, err)
	require.Positive(t, n)
	f.requireOnce(t, want{audit.SessionEndAll, by(f.owner), "user", f.ownerID, audit.Allowed})
}

func TestAudit_LoginHistoryReadIsRecordedBeforeTheData(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	items, err := f.app.LoginHistory(ctx, f.owner, app.HistoryFilter{}, auditMeta)
	require.NoError(t, err)
	require.NotEmpty(t, items)
	f.requireOnce(t, want{audit.LoginHistoryRead, by(f.owner), "clinic", f.clinicID, audit.Allowed})

	_, err = f.app.LoginHistory(ctx, f.owner, app.HistoryFilter{UserID: f.ownerID}, auditMeta)
	require.NoError(t, err)
	f.requireOnce(t, want{audit.LoginHistoryRead, by(f.owner), "user", f.ownerID, audit.Allowed})
	_, err = f.app.LoginHistory(ctx, f.owner, app.HistoryFilter{UserID: staffEmail}, auditMeta)
	require.NoError(t, err, "a filter that is not a user id is not put in the event") // outbox() checks it

	restore := f.breakOutbox(t)
	items, err = f.app.LoginHistory(ctx, f.owner, app.HistoryFilter{}, auditMeta)
	require.Error(t, err, "no event, no data")
	require.Nil(t, items)
	restore()
	require.Equal(t, 3, f.count(t, audit.LoginHistoryRead))
}

func TestAudit_RefusedAttemptsAreRecordedAsDenied(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u, billing := f.staff(t, "billing")
	_, err := f.app.CreateUser(ctx, billing, app.NewUser{Name: staffName, Email: "second@example.org", Role: "admin", Password: staffPass}, auditMeta)
	require.ErrorIs(t, err, domain.ErrForbidden)
	f.requireOnce(t, want{audit.UserCreate, by(billing), "user", "", audit.Denied})

	_, err = f.app.Deactivate(ctx, billing, f.ownerID, auditMeta)
	require.ErrorIs(t, err, domain.ErrForbidden)
	f.requireOnce(t, want{audit.UserDeactivate, by(billing), "user", f.ownerID, audit.Denied})

	_, err = f.app.LoginHistory(ctx, billing, app.HistoryFilter{}, auditMeta)
	require.ErrorIs(t, err, domain.ErrForbidden)
	f.requireOnce(t, want{audit.LoginHistoryRead, by(billing), "clinic", f.clinicID, audit.Denied})

	_, err = f.app.CancelClosure(ctx, billing, auditMeta)
	require.ErrorIs(t, err, domain.ErrForbidden)
	f.requireOnce(t, want{audit.ClinicCloseCancel, by(billing), "clinic", f.clinicID, audit.Denied})

	// An admin may manage users but not owners: refused inside the change.
	role := "admin"
	_, err = f.app.UpdateUser(ctx, f.owner, u.ID, app.UserPatch{Role: &role}, auditMeta)
	require.NoError(t, err)
	admin := f.signIn(t, staffEmail, staffPass)
	_, err = f.app.Deactivate(ctx, admin, f.ownerID, auditMeta)
	require.ErrorIs(t, err, domain.ErrForbidden)
	f.requireOnce(t, want{audit.UserDeactivate, by(admin), "user", f.ownerID, audit.Denied})
	require.Zero(t, countOutcome(f.outbox(t), audit.UserDeactivate, audit.Allowed), "the refused change recorded no allowed event")
}

func countOutcome(events []audit.Event, action audit.Action, o audit.Outcome) int {
	n := 0
	for _, e := range events {
		if e.Action == action && e.Outcome == o {
			n++
		}
	}
	return n
}

func TestAudit_ChangeDoesNotCommitWithoutItsEvent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	before := len(f.outbox(t))
	restore := f.breakOutbox(t)

	name := "Someone Else Entirely"
	_, err := f.app.UpdateUser(ctx, f.owner, f.ownerID, app.UserPatch{Name: &name}, auditMeta)
	require.Error(t, err)
	_, err = f.app.CreateUser(ctx, f.owner, app.NewUser{Name: staffName, Email: staffEmail, Role: "billing", Password: staffPass}, auditMeta)
	require.Error(t, err)
	on := true
	_, err = f.app.UpdateSettings(ctx, f.owner, app.SettingsPatch{RequireTwoStep: &on}, auditMeta)
	require.Error(t, err)
	require.Error(t, f.app.SignOut(ctx, f.owner, auditMeta), "no event, no sign-out")
	restore()

	u, err := f.store.User(ctx, f.clinicID, f.ownerID)
	require.NoError(t, err)
	require.Equal(t, "Aroha Ngata", u.Name, "the rename rolled back with its event")
	users, err := f.store.ListUsers(ctx, f.clinicID, "", 10)
	require.NoError(t, err)
	require.Len(t, users, 1, "the new user rolled back with its event")
	s, err := f.store.Settings(ctx, f.clinicID)
	require.NoError(t, err)
	require.False(t, s.RequireTwoStep, "the settings change rolled back with its event")
	require.True(t, f.sessionAlive(f.owner), "the session was not ended unaudited")
	require.Len(t, f.outbox(t), before)
}

// brokenSessions is a session store whose revocations fail, as when Redis
// goes away mid-request.
type brokenSessions struct{ app.Sessions }

var errRedisDown = errors.New("redis: connection refused")

func (brokenSessions) Revoke(context.Context, string, string) error { return errRedisDown }

func TestAudit_SessionEndThatFailsIsRecordedAsFailed(t *testing.T) {
	f := newFixture(t)
	a := app.New(app.Deps{Store: f.store, Sessions: brokenSessions{f.sessions}, Region: residency.Sydney,
		Crypter: f.app.Crypter(), Keys: f.keys, Now: f.clock.now})
	ctx := withRequestID("req-signout-1")
	require.ErrorIs(t, a.SignOut(ctx, f.owner, auditMeta), errRedisDown, "the request fails")
	require.True(t, f.sessionAlive(f.owner))

	ended := f.requireOnce(t, want{audit.SessionEnd, by(f.owner), "session", f.owner.SessionID, audit.Allowed})
	failed := f.requireOnce(t, want{audit.SessionEnd, by(f.owner), "session", f.owner.SessionID, audit.Failed})
	require.Equal(t, "req-signout-1", ended.RequestID)
	require.Equal(t, ended.RequestID, failed.RequestID, "the two events are one request's")
	require.Greater(t, failed.ID, ended.ID, "the failure follows the attempt")
}

// The HTTP layer passes each request's meta; the events carry ids only.
func TestAudit_EveryEventHoldsIDsOnly(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u, staff := f.staff(t, "admin")
	name := "Mereana Tautahi Jones"
	_, err := f.app.UpdateUser(ctx, f.owner, u.ID, app.UserPatch{Name: &name}, auditMeta)
	require.NoError(t, err)
	require.NoError(t, f.app.EnrollSMS(ctx, staff, staffPass, staffPhone, auditMeta))
	require.NoError(t, f.app.RequestPasswordReset(ctx, f.clinicID, staffEmail, auditMeta))
	_, err = f.app.LoginHistory(ctx, staff, app.HistoryFilter{}, auditMeta)
	require.NoError(t, err)
	events := f.outbox(t) // checks every payload for the personal values above
	require.GreaterOrEqual(t, len(events), 7)
	for _, e := range events {
		require.False(t, strings.Contains(e.ResourceID, "@") || strings.Contains(e.ResourceID, " "))
	}
}
