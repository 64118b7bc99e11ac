package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authn"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/fieldcrypt/fieldcrypttest"
	"github.com/havenhealth/haven/libs/password"
	"github.com/havenhealth/haven/libs/provisioning"
	"github.com/havenhealth/haven/libs/redisclient/redistest"
	"github.com/havenhealth/haven/libs/residency"
	libstore "github.com/havenhealth/haven/libs/store"
	"github.com/havenhealth/haven/libs/store/storetest"
	"github.com/havenhealth/haven/services/identity/internal/app"
	"github.com/havenhealth/haven/services/identity/internal/domain"
	"github.com/havenhealth/haven/services/identity/internal/mfa"
	"github.com/havenhealth/haven/services/identity/internal/store"
	"github.com/havenhealth/haven/services/identity/migrations"
)

const (
	ownerPassword = "a perfectly long passphrase"
	origin        = "http://localhost:8080"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// inbox records what would be delivered; it stands in for the messaging
// service, which does not exist yet.
type inbox struct {
	mu   sync.Mutex
	msgs []app.Message
}

func (i *inbox) Send(_ context.Context, m app.Message) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.msgs = append(i.msgs, m)
	return nil
}

func (i *inbox) last(t *testing.T, purpose string) app.Message {
	t.Helper()
	i.mu.Lock()
	defer i.mu.Unlock()
	for j := len(i.msgs) - 1; j >= 0; j-- {
		if i.msgs[j].Purpose == purpose {
			return i.msgs[j]
		}
	}
	t.Fatalf("no %s message sent", purpose)
	return app.Message{}
}

type fixture struct {
	keys     *fieldcrypttest.MemoryKeys
	db       *libstore.DB
	app      *app.App
	store    *store.Store
	sessions *authn.Sessions
	clock    *clock
	inbox    *inbox
	clinicID string
	ownerID  string
	owner    authz.Principal
}

func newFixture(t *testing.T) *fixture { return newFixtureWith(t, nil) }

// newFixtureWith is newFixture with deps adjusted by with (when not nil)
// before the App is built.
func newFixtureWith(t *testing.T, with func(*app.Deps)) *fixture {
	t.Helper()
	rdb, prefix := redistest.New(t)
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	db := storetest.Open(t, migrations.FS)
	require.NoError(t, fieldcrypt.Migrate(context.Background(), db))
	require.NoError(t, audit.Migrate(context.Background(), db))
	fieldcrypt.RegisterSerializer()
	keys := fieldcrypttest.NewMemoryKeys()
	crypter := fieldcrypt.New(keys, db, fieldcrypt.Options{})
	st := store.New(db, crypter)
	sessions := &authn.Sessions{Redis: rdb, Prefix: prefix, Now: clk.now}
	wa, err := mfa.NewWebAuthn("localhost", "Haven", []string{origin})
	require.NoError(t, err)
	in := &inbox{}
	deps := app.Deps{
		Store: st, Sessions: sessions, Lockout: &store.Lockout{Redis: rdb, Prefix: prefix}, Notifier: in,
		Region: residency.Sydney, Issuer: origin + "/r/sydney", PublicURL: origin,
		CodeKey: []byte(strings.Repeat("k", 32)), WebAuthn: wa, Now: clk.now, Keys: keys, Crypter: crypter,
		ClosureGrace: 24 * time.Hour,
	}
	if with != nil {
		with(&deps)
	}
	a := app.New(deps)
	require.NoError(t, a.LoadKeys(context.Background()))
	f := &fixture{keys: keys, db: db, app: a, store: st, sessions: sessions, clock: clk, inbox: in}
	f.clinicID = uuid.NewString()
	res, err := a.Provision(context.Background(), nz(f.clinicID, "harbour"))
	require.NoError(t, err)
	f.ownerID = res.OwnerID
	f.owner = f.signIn(t, "aroha@example.org", ownerPassword)
	return f
}

func nz(id, slug string) provisioning.Clinic {
	return provisioning.Clinic{ID: id, Slug: slug, Name: "Harbour Physio", Country: "NZ", TimeZone: "Pacific/Auckland",
		Owner: provisioning.Owner{Name: "Aroha Ngata", Email: "aroha@example.org", Password: ownerPassword}}
}

// principalOf turns a token into the principal the middleware would build.
func (f *fixture) principalOf(t *testing.T, tok app.Token) authz.Principal {
	t.Helper()
	v := &authn.Verifier{Issuer: origin + "/r/sydney", Keys: f.app.KeySource(), Now: f.clock.now}
	c, err := v.Verify(context.Background(), tok.AccessToken)
	require.NoError(t, err)
	s, err := f.sessions.Touch(context.Background(), c.ClinicID, c.SessionID)
	require.NoError(t, err)
	return authz.Principal{ClinicID: s.ClinicID, UserID: s.UserID, SessionID: s.ID, Role: s.Role, Grants: s.Grants, PatientID: s.PatientID}
}

func (f *fixture) signIn(t *testing.T, email, pw string) authz.Principal {
	t.Helper()
	res, err := f.app.SignIn(context.Background(), f.clinicID, email, pw, app.RequestMeta{IP: "203.0.113.5", UserAgent: "test"})
	require.NoError(t, err)
	require.NotNil(t, res.Token, "expected a token, got a 2-step challenge")
	return f.principalOf(t, *res.Token)
}

func (f *fixture) sessionAlive(p authz.Principal) bool {
	_, err := f.sessions.Touch(context.Background(), p.ClinicID, p.SessionID)
	return err == nil
}

func TestProvision_IsIdempotentAndChecksRegion(t *testing.T) {
	f := newFixture(t)
	again, err := f.app.Provision(context.Background(), nz(f.clinicID, "harbour"))
	require.NoError(t, err)
	require.False(t, again.Created)
	require.Equal(t, f.ownerID, again.OwnerID)

	other := nz(uuid.NewString(), "harbour")
	_, err = f.app.Provision(context.Background(), other)
	require.ErrorIs(t, err, domain.ErrConflict, "slug taken by another clinic")

	gb := nz(uuid.NewString(), "london-clinic")
	gb.Country, gb.TimeZone = "GB", "Europe/London"
	_, err = f.app.Provision(context.Background(), gb)
	var verr *app.ValidationError
	require.True(t, errors.As(err, &verr), "a clinic of another region is refused")
}

func TestUndoProvision_OnlyWhileFresh(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	fresh := uuid.NewString()
	_, err := f.app.Provision(ctx, nz(fresh, "fresh-clinic"))
	require.NoError(t, err)
	require.NoError(t, f.app.UndoProvision(ctx, fresh))
	_, err = f.store.Clinic(ctx, fresh)
	require.ErrorIs(t, err, domain.ErrNotFound)

	f.clock.add(time.Hour)
	require.ErrorIs(t, f.app.UndoProvision(ctx, f.clinicID), domain.ErrTooLate)
}

func TestSignIn_WrongPasswordAndUnknownEmailAnswerTheSame(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, errWrong := f.app.SignIn(ctx, f.clinicID, "aroha@example.org", "not the right passphrase", app.RequestMeta{})
	_, errUnknown := f.app.SignIn(ctx, f.clinicID, "nobody@example.org", "not the right passphrase", app.RequestMeta{})
	require.ErrorIs(t, errWrong, domain.ErrInvalidCredentials)
	require.ErrorIs(t, errUnknown, domain.ErrInvalidCredentials)
	require.Equal(t, errWrong.Error(), errUnknown.Error())
}

func TestSignIn_LocksAfterFiveFailuresEvenForTheRightPassword(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i := 0; i < domain.MaxFailures; i++ {
		_, err := f.app.SignIn(ctx, f.clinicID, "aroha@example.org", "wrong passphrase number x", app.RequestMeta{})
		require.ErrorIs(t, err, domain.ErrInvalidCredentials, "attempt %d", i+1)
	}
	_, err := f.app.SignIn(ctx, f.clinicID, "aroha@example.org", ownerPassword, app.RequestMeta{})
	var locked *domain.LockedError
	require.True(t, errors.As(err, &locked), "6th attempt must be locked, got %v", err)
	require.Greater(t, locked.RetryAfter, 14*time.Minute)

	// An unknown e-mail locks the same way: no enumeration by lock-out.
	for i := 0; i < domain.MaxFailures; i++ {
		_, _ = f.app.SignIn(ctx, f.clinicID, "ghost@example.org", "wrong passphrase number x", app.RequestMeta{})
	}
	_, err = f.app.SignIn(ctx, f.clinicID, "ghost@example.org", "wrong passphrase number x", app.RequestMeta{})
	require.True(t, errors.As(err, &locked))
}

func TestUsers_BillingRoleAndInstantDeactivation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u, err := f.app.CreateUser(ctx, f.owner, app.NewUser{Name: "Caretrics Billing", Email: "billing@example.org", Role: "billing", Password: "billing helper passphrase"}, app.RequestMeta{})
	require.NoError(t, err)
	require.Equal(t, authz.RoleGrants(authz.RoleBilling), u.Grants)

	billing := f.signIn(t, "billing@example.org", "billing helper passphrase")
	require.False(t, authz.Decide(billing, authz.ActionChartRead, authz.Resource{ClinicID: f.clinicID}).Allow)
	require.False(t, authz.Decide(billing, authz.ActionPatientContactRead, authz.Resource{ClinicID: f.clinicID}).Allow)
	require.True(t, authz.Decide(billing, authz.ActionBillingRead, authz.Resource{ClinicID: f.clinicID}).Allow)

	_, err = f.app.CreateUser(ctx, billing, app.NewUser{Name: "X", Email: "x@example.org", Role: "admin", Password: "billing helper passphrase"}, app.RequestMeta{})
	require.ErrorIs(t, err, domain.ErrForbidden, "billing may not manage users")

	_, err = f.app.Deactivate(ctx, f.owner, u.ID, app.RequestMeta{})
	require.NoError(t, err)
	require.False(t, f.sessionAlive(billing), "deactivation ends the session at once")
	_, err = f.app.SignIn(ctx, f.clinicID, "billing@example.org", "billing helper passphrase", app.RequestMeta{})
	require.ErrorIs(t, err, domain.ErrInvalidCredentials)

	_, err = f.app.Reactivate(ctx, f.owner, u.ID, app.RequestMeta{})
	require.NoError(t, err)
	f.signIn(t, "billing@example.org", "billing helper passphrase")
}

func TestUsers_GrantChangesReachLiveSessions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u, err := f.app.CreateUser(ctx, f.owner, app.NewUser{Name: "Pat", Email: "pat@example.org", Role: "practitioner", Password: "practitioner passphrase"}, app.RequestMeta{})
	require.NoError(t, err)
	pat := f.signIn(t, "pat@example.org", "practitioner passphrase")
	require.Equal(t, authz.ChartAccess("own"), pat.Grants.Charts)

	g := authz.RoleGrants(authz.RolePractitioner)
	g.Charts = "all"
	_, err = f.app.UpdateUser(ctx, f.owner, u.ID, app.UserPatch{Grants: &g}, app.RequestMeta{})
	require.NoError(t, err)
	s, err := f.sessions.Touch(ctx, pat.ClinicID, pat.SessionID)
	require.NoError(t, err)
	require.Equal(t, authz.ChartAccess("all"), s.Grants.Charts)
}

func TestUsers_LastOwnerCannotBeRemoved(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.app.Deactivate(ctx, f.owner, f.ownerID, app.RequestMeta{})
	require.ErrorIs(t, err, domain.ErrLastOwner)
	role := "admin"
	_, err = f.app.UpdateUser(ctx, f.owner, f.ownerID, app.UserPatch{Role: &role}, app.RequestMeta{})
	require.ErrorIs(t, err, domain.ErrLastOwner)

	second, err := f.app.CreateUser(ctx, f.owner, app.NewUser{Name: "Co", Email: "co@example.org", Role: "owner", Password: "co-owner passphrase"}, app.RequestMeta{})
	require.NoError(t, err)
	_, err = f.app.Deactivate(ctx, f.owner, second.ID, app.RequestMeta{})
	require.NoError(t, err, "with two owners one may go")
}

func TestUsers_DuplicateEmailInClinicIsAConflictButAnotherClinicMayReuseIt(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.app.CreateUser(ctx, f.owner, app.NewUser{Name: "Dup", Email: "ARoha@example.org", Role: "admin", Password: "some long passphrase"}, app.RequestMeta{})
	require.ErrorIs(t, err, domain.ErrConflict)

	other := uuid.NewString()
	_, err = f.app.Provision(ctx, nz(other, "another-clinic"))
	require.NoError(t, err, "the same e-mail is a separate account in another clinic")
}

func TestInvitation_SetsPasswordOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u, err := f.app.CreateUser(ctx, f.owner, app.NewUser{Name: "New", Email: "new@example.org", Role: "front_desk"}, app.RequestMeta{})
	require.NoError(t, err)
	require.Equal(t, domain.UserInvited, u.Status)
	token := tokenFromLink(t, f.inbox.last(t, "invitation").Body, "/invitations/")

	_, err = f.app.SignIn(ctx, f.clinicID, "new@example.org", "anything at all really", app.RequestMeta{})
	require.ErrorIs(t, err, domain.ErrInvalidCredentials)
	require.NoError(t, f.app.AcceptInvitation(ctx, f.clinicID, token, "front desk passphrase", app.RequestMeta{}))
	f.signIn(t, "new@example.org", "front desk passphrase")
	require.ErrorIs(t, f.app.AcceptInvitation(ctx, f.clinicID, token, "front desk passphrase", app.RequestMeta{}), domain.ErrInvalidLink)
}

func tokenFromLink(t *testing.T, body, marker string) string {
	t.Helper()
	i := strings.Index(body, marker)
	require.GreaterOrEqual(t, i, 0, "no link in message")
	return strings.Fields(body[i+len(marker):])[0]
}

func TestIdleTimeout_EndsSessionAfterIdleMinutesAndNotBefore(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	five := 5
	_, err := f.app.UpdateSettings(ctx, f.owner, app.SettingsPatch{IdleTimeoutMinutes: &five}, app.RequestMeta{})
	require.NoError(t, err)
	p := f.signIn(t, "aroha@example.org", ownerPassword)

	f.clock.add(4*time.Minute + 59*time.Second)
	require.True(t, f.sessionAlive(p), "alive at 4m59s idle")
	f.clock.add(4*time.Minute + 59*time.Second)
	require.True(t, f.sessionAlive(p), "activity restarted the idle clock")
	f.clock.add(5*time.Minute + 1*time.Second)
	require.False(t, f.sessionAlive(p), "ended after 5 idle minutes")

	for _, bad := range []int{4, 181, 0, -1} {
		_, err := f.app.UpdateSettings(ctx, f.owner, app.SettingsPatch{IdleTimeoutMinutes: &bad}, app.RequestMeta{})
		var verr *app.ValidationError
		require.True(t, errors.As(err, &verr), "%d minutes must be refused", bad)
	}
}

func TestPasswordChange_NeedsCurrentAndEndsOtherSessions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	other := f.signIn(t, "aroha@example.org", ownerPassword)
	require.ErrorIs(t, f.app.ChangePassword(ctx, f.owner, "wrong current passphrase", "a brand new passphrase", app.RequestMeta{}), domain.ErrWrongPassword)
	require.NoError(t, f.app.ChangePassword(ctx, f.owner, ownerPassword, "a brand new passphrase", app.RequestMeta{}))
	require.False(t, f.sessionAlive(other))
	require.True(t, f.sessionAlive(f.owner), "the session that changed it stays")
}

func TestPasswordReset_EndToEndEndsSessions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	require.NoError(t, f.app.RequestPasswordReset(ctx, f.clinicID, "nobody@example.org", app.RequestMeta{}), "unknown e-mail answers the same")
	require.NoError(t, f.app.RequestPasswordReset(ctx, f.clinicID, "Aroha@Example.org", app.RequestMeta{}))
	msg := f.inbox.last(t, "password_reset")
	require.Equal(t, "aroha@example.org", msg.To)
	token := tokenFromLink(t, msg.Body, "/password-resets/")

	require.NoError(t, f.app.CompleteReset(ctx, f.clinicID, token, "the reset passphrase", app.RequestMeta{}))
	require.False(t, f.sessionAlive(f.owner), "a reset ends every session")
	require.ErrorIs(t, f.app.CompleteReset(ctx, f.clinicID, token, "another passphrase again", app.RequestMeta{}), domain.ErrInvalidLink, "single use")
	f.signIn(t, "aroha@example.org", "the reset passphrase")

	require.NoError(t, f.app.RequestPasswordReset(ctx, f.clinicID, "aroha@example.org", app.RequestMeta{}))
	late := tokenFromLink(t, f.inbox.last(t, "password_reset").Body, "/password-resets/")
	f.clock.add(31 * time.Minute)
	require.ErrorIs(t, f.app.CompleteReset(ctx, f.clinicID, late, "too late passphrase", app.RequestMeta{}), domain.ErrInvalidLink, "expired after 30 minutes")
}

func challenge(t *testing.T, f *fixture) *app.ChallengeView {
	t.Helper()
	res, err := f.app.SignIn(context.Background(), f.clinicID, "aroha@example.org", ownerPassword, app.RequestMeta{})
	require.NoError(t, err)
	require.NotNil(t, res.Challenge, "2-step must be required")
	return res.Challenge
}

func TestTwoStep_SMS(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	require.NoError(t, f.app.EnrollSMS(ctx, f.owner, ownerPassword, "+64211234567", app.RequestMeta{}))

	c := challenge(t, f)
	require.Contains(t, c.Methods, domain.MethodSMS)
	code := strings.Fields(strings.TrimPrefix(f.inbox.last(t, "two_step_code").Body, "Your Haven sign-in code is "))[0]
	code = strings.TrimSuffix(code, ".")
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	_, err := f.app.Verify(ctx, f.clinicID, c.ID, domain.MethodSMS, wrong, nil, app.RequestMeta{})
	require.ErrorIs(t, err, domain.ErrInvalidCode, "wrong code")
	tok, err := f.app.Verify(ctx, f.clinicID, c.ID, domain.MethodSMS, code, nil, app.RequestMeta{})
	require.NoError(t, err)
	require.NotEmpty(t, tok.AccessToken)
	_, err = f.app.Verify(ctx, f.clinicID, c.ID, domain.MethodSMS, code, nil, app.RequestMeta{})
	require.ErrorIs(t, err, domain.ErrChallengeEnded, "a used code fails")

	c = challenge(t, f)
	for i := 0; i < domain.MaxChallengeAttempts; i++ {
		_, err = f.app.Verify(ctx, f.clinicID, c.ID, domain.MethodSMS, wrong, nil, app.RequestMeta{})
		require.ErrorIs(t, err, domain.ErrInvalidCode)
	}
	code = strings.TrimSuffix(strings.Fields(strings.TrimPrefix(f.inbox.last(t, "two_step_code").Body, "Your Haven sign-in code is "))[0], ".")
	_, err = f.app.Verify(ctx, f.clinicID, c.ID, domain.MethodSMS, code, nil, app.RequestMeta{})
	require.ErrorIs(t, err, domain.ErrChallengeEnded, "too many wrong codes end the challenge")
}

func TestTwoStep_TOTPAndRecoveryCodes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	secret, uri, err := f.app.BeginTOTP(ctx, f.owner, ownerPassword)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(uri, "otpauth://totp/"))
	require.NotContains(t, uri, "example.org", "the URI names the user by id, not e-mail")
	code, err := totp.GenerateCode(secret, f.clock.now())
	require.NoError(t, err)
	require.NoError(t, f.app.ConfirmTOTP(ctx, f.owner, ownerPassword, secret, code, app.RequestMeta{}))

	codes, err := f.app.NewRecoveryCodes(ctx, f.owner, ownerPassword, app.RequestMeta{})
	require.NoError(t, err)
	require.Len(t, codes, 10)

	f.clock.add(time.Minute)
	c := challenge(t, f)
	require.ElementsMatch(t, []string{domain.MethodTOTP, domain.MethodRecovery}, c.Methods)
	code, err = totp.GenerateCode(secret, f.clock.now())
	require.NoError(t, err)
	_, err = f.app.Verify(ctx, f.clinicID, c.ID, domain.MethodTOTP, code, nil, app.RequestMeta{})
	require.NoError(t, err, "TOTP completes a sign-in")

	c = challenge(t, f)
	_, err = f.app.Verify(ctx, f.clinicID, c.ID, domain.MethodTOTP, code, nil, app.RequestMeta{})
	require.ErrorIs(t, err, domain.ErrInvalidCode, "a TOTP code is not accepted twice")

	_, err = f.app.Verify(ctx, f.clinicID, c.ID, domain.MethodRecovery, codes[3], nil, app.RequestMeta{})
	require.NoError(t, err, "a recovery code completes a sign-in")
	c = challenge(t, f)
	_, err = f.app.Verify(ctx, f.clinicID, c.ID, domain.MethodRecovery, codes[3], nil, app.RequestMeta{})
	require.ErrorIs(t, err, domain.ErrInvalidCode, "a recovery code is single-use")
}

// registerPasskey gives the owner a passkey held by the returned
// software authenticator.
func registerPasskey(t *testing.T, f *fixture, meta app.RequestMeta) *mfa.SoftAuthenticator {
	t.Helper()
	ctx := context.Background()
	authr, err := mfa.NewSoftAuthenticator(origin)
	require.NoError(t, err)
	challengeID, opts, err := f.app.BeginPasskey(ctx, f.owner, ownerPassword)
	require.NoError(t, err)
	reg, err := authr.Register(opts)
	require.NoError(t, err)
	require.NoError(t, f.app.FinishPasskey(ctx, f.owner, challengeID, reg, meta))
	return authr
}

func TestTwoStep_Passkey(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	authr := registerPasskey(t, f, app.RequestMeta{})

	c := challenge(t, f)
	require.Contains(t, c.Methods, domain.MethodWebAuthn)
	assertion, err := authr.Login(c.WebAuthnOptions)
	require.NoError(t, err)
	tok, err := f.app.Verify(ctx, f.clinicID, c.ID, domain.MethodWebAuthn, "", json.RawMessage(assertion), app.RequestMeta{})
	require.NoError(t, err, "a passkey completes a sign-in")
	require.NotEmpty(t, tok.AccessToken)
}

func TestLoginHistory_FiltersByUserOutcomeAndDates(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	start := f.clock.now()
	_, _ = f.app.SignIn(ctx, f.clinicID, "aroha@example.org", "wrong passphrase entirely", app.RequestMeta{IP: "198.51.100.9"})
	_, _ = f.app.SignIn(ctx, f.clinicID, "ghost@example.org", "wrong passphrase entirely", app.RequestMeta{})
	f.clock.add(time.Hour)
	f.signIn(t, "aroha@example.org", ownerPassword)

	all, err := f.app.LoginHistory(ctx, f.owner, app.HistoryFilter{}, app.RequestMeta{})
	require.NoError(t, err)
	require.Len(t, all, 4) // the fixture's sign-in, two failures, one success
	failures, err := f.app.LoginHistory(ctx, f.owner, app.HistoryFilter{Outcome: domain.OutcomeFailure}, app.RequestMeta{})
	require.NoError(t, err)
	require.Len(t, failures, 2)
	mine, err := f.app.LoginHistory(ctx, f.owner, app.HistoryFilter{UserID: f.ownerID, Outcome: domain.OutcomeFailure}, app.RequestMeta{})
	require.NoError(t, err)
	require.Len(t, mine, 1)
	require.Equal(t, "198.51.100.9", mine[0].IP)
	early, err := f.app.LoginHistory(ctx, f.owner, app.HistoryFilter{From: start, To: start.Add(30 * time.Minute)}, app.RequestMeta{})
	require.NoError(t, err)
	require.Len(t, early, 3)

	page, err := f.app.LoginHistory(ctx, f.owner, app.HistoryFilter{Limit: 2}, app.RequestMeta{})
	require.NoError(t, err)
	require.Len(t, page, 2)
	rest, err := f.app.LoginHistory(ctx, f.owner, app.HistoryFilter{Limit: 2, AfterTime: page[1].OccurredAt, AfterID: page[1].ID}, app.RequestMeta{})
	require.NoError(t, err)
	require.Len(t, rest, 2)
	require.NotEqual(t, page[1].ID, rest[0].ID)
}

func TestPasswordsAreStoredHashed(t *testing.T) {
	f := newFixture(t)
	u, err := f.store.User(context.Background(), f.clinicID, f.ownerID)
	require.NoError(t, err)
	ok, _, err := password.Verify(ownerPassword, u.PasswordHash)
	require.NoError(t, err)
	require.True(t, ok)
	require.NotContains(t, u.PasswordHash, ownerPassword)
	require.NotEmpty(t, u.EmailLookup)
	require.NotContains(t, u.EmailLookup, "aroha")
}

func TestPersonalFieldsAreStoredEncrypted(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	require.NoError(t, f.app.EnrollSMS(ctx, f.owner, ownerPassword, "+64211234567", app.RequestMeta{}))
	_, _ = f.app.SignIn(ctx, f.clinicID, "aroha@example.org", "wrong passphrase here", app.RequestMeta{IP: "198.51.100.77", UserAgent: "FancyBrowser/1.0"})

	var rows []map[string]any
	for _, table := range []string{"users", "login_attempts", "two_step_challenges"} {
		var got []map[string]any
		require.NoError(t, f.db.Table(table).Find(&got).Error)
		rows = append(rows, got...)
	}
	require.NotEmpty(t, rows)
	dump := fmt.Sprint(rows)
	for _, plain := range []string{"aroha@example.org", "Aroha Ngata", "+64211234567", "198.51.100.77", "FancyBrowser"} {
		require.NotContains(t, dump, plain, "plaintext in the database")
	}
	// …and yet everything reads back and sign-in by e-mail works.
	u, err := f.store.User(ctx, f.clinicID, f.ownerID)
	require.NoError(t, err)
	require.Equal(t, "aroha@example.org", u.Email)
	require.Equal(t, "+64211234567", u.Phone)
}

func TestRequireTwoStep_RestrictsUntilEnrolled(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	on := true
	_, err := f.app.UpdateSettings(ctx, f.owner, app.SettingsPatch{RequireTwoStep: &on}, app.RequestMeta{})
	require.NoError(t, err)

	res, err := f.app.SignIn(ctx, f.clinicID, "aroha@example.org", ownerPassword, app.RequestMeta{})
	require.NoError(t, err)
	require.NotNil(t, res.Token)
	require.True(t, res.Token.EnrollmentRequired)
	p := f.principalOf(t, *res.Token)
	require.False(t, authz.Decide(p, authz.ActionChartRead, authz.Resource{ClinicID: f.clinicID}).Allow, "no grants before enrolment")
	_, err = f.app.CreateUser(ctx, p, app.NewUser{Name: "X", Email: "x@example.org", Role: "admin", Password: "some long passphrase"}, app.RequestMeta{})
	require.ErrorIs(t, err, domain.ErrForbidden)

	require.NoError(t, f.app.EnrollSMS(ctx, p, ownerPassword, "+64211234567", app.RequestMeta{}))
	s, err := f.sessions.Touch(ctx, p.ClinicID, p.SessionID)
	require.NoError(t, err)
	require.Equal(t, authz.ChartAccess("all"), s.Grants.Charts, "enrolment lifts the restriction on the live session")
}

func TestVaultDown_NewClinicGets503AndNothingIsWritten(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.keys.Down.Store(true)
	id := uuid.NewString()
	_, err := f.app.Provision(ctx, nz(id, "while-vault-is-down"))
	require.ErrorIs(t, err, fieldcrypt.ErrUnavailable)
	_, err = f.store.Clinic(ctx, id)
	require.ErrorIs(t, err, domain.ErrNotFound, "nothing may be written without the clinic's key")

	// The existing clinic's keys are cached: its users can still be read.
	u, err := f.store.User(ctx, f.clinicID, f.ownerID)
	require.NoError(t, err)
	require.Equal(t, "aroha@example.org", u.Email)
}

func TestClosure_DestroysTheKeyAfterTheGracePeriod(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	// Only the owner, with the password and their second factor.
	_, err := f.app.RequestClosure(ctx, f.owner, app.ClosureRequest{Password: "wrong passphrase here"}, app.RequestMeta{})
	require.ErrorIs(t, err, domain.ErrWrongPassword)
	secret, _, err := f.app.BeginTOTP(ctx, f.owner, ownerPassword)
	require.NoError(t, err)
	code, err := totp.GenerateCode(secret, f.clock.now())
	require.NoError(t, err)
	require.NoError(t, f.app.ConfirmTOTP(ctx, f.owner, ownerPassword, secret, code, app.RequestMeta{}))
	_, err = f.app.RequestClosure(ctx, f.owner, app.ClosureRequest{Password: ownerPassword}, app.RequestMeta{})
	var verr *app.ValidationError
	require.True(t, errors.As(err, &verr), "2-step is required once enrolled")

	// A copy of the data taken before closure: the raw, encrypted e-mail.
	var raw struct{ Email string }
	require.NoError(t, f.db.Table("users").Select("email").Where("id = ?", f.ownerID).Take(&raw).Error)
	sealed, err := base64.StdEncoding.DecodeString(raw.Email)
	require.NoError(t, err)

	f.clock.add(time.Minute)
	c, err := f.app.StartClosureChallenge(ctx, f.owner, ownerPassword, app.RequestMeta{})
	require.NoError(t, err)
	require.NotNil(t, c)
	code, err = totp.GenerateCode(secret, f.clock.now())
	require.NoError(t, err)
	clinic, err := f.app.RequestClosure(ctx, f.owner, app.ClosureRequest{Password: ownerPassword, ChallengeID: c.ID, Method: domain.MethodTOTP, Code: code}, app.RequestMeta{})
	require.NoError(t, err)
	require.Equal(t, domain.ClinicClosing, clinic.Status)

	// During the grace period everything still works.
	f.clock.add(23 * time.Hour)
	require.NoError(t, f.app.CloseDue(ctx))
	_, err = f.store.User(ctx, f.clinicID, f.ownerID)
	require.NoError(t, err)

	f.clock.add(2 * time.Hour)
	require.NoError(t, f.app.CloseDue(ctx))
	closed, err := f.app.ClosedClinics(ctx)
	require.NoError(t, err)
	require.Contains(t, closed, f.clinicID)

	_, err = f.store.User(ctx, f.clinicID, f.ownerID)
	require.ErrorIs(t, err, fieldcrypt.ErrKeyDestroyed, "live reads fail clearly")
	_, err = f.app.SignIn(ctx, f.clinicID, "aroha@example.org", ownerPassword, app.RequestMeta{})
	require.ErrorIs(t, err, fieldcrypt.ErrKeyDestroyed)
	require.False(t, f.sessionAlive(f.owner), "sessions end with the clinic")

	fresh := fieldcrypt.New(f.keys, f.db, fieldcrypt.Options{})
	_, err = fresh.Decrypt(ctx, fieldcrypt.Scope{ClinicID: f.clinicID, Table: "users", Column: "email", RowID: f.ownerID}, sealed)
	require.ErrorIs(t, err, fieldcrypt.ErrKeyDestroyed, "a copy taken before closure is unreadable too")
}

func TestClosure_CanBeCancelledDuringGrace(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c, err := f.app.RequestClosure(ctx, f.owner, app.ClosureRequest{Password: ownerPassword}, app.RequestMeta{})
	require.NoError(t, err)
	require.Equal(t, domain.ClinicClosing, c.Status)
	c, err = f.app.CancelClosure(ctx, f.owner, app.RequestMeta{})
	require.NoError(t, err)
	require.Equal(t, domain.ClinicActive, c.Status)
	f.clock.add(48 * time.Hour)
	require.NoError(t, f.app.CloseDue(ctx))
	_, err = f.store.User(ctx, f.clinicID, f.ownerID)
	require.NoError(t, err)
}

func TestRotateClinicKey_KeepsEverythingReadable(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	require.NoError(t, f.app.RotateClinicKey(ctx, f.owner, app.RequestMeta{}))
	u, err := f.store.User(ctx, f.clinicID, f.ownerID)
	require.NoError(t, err)
	require.Equal(t, "aroha@example.org", u.Email)
	f.signIn(t, "aroha@example.org", ownerPassword)

	_, err = f.app.CreateUser(ctx, f.owner, app.NewUser{Name: "B", Email: "b@example.org", Role: "billing", Password: "billing helper passphrase"}, app.RequestMeta{})
	require.NoError(t, err)
	billing := f.signIn(t, "b@example.org", "billing helper passphrase")
	require.ErrorIs(t, f.app.RotateClinicKey(ctx, billing, app.RequestMeta{}), domain.ErrForbidden)
}

func TestSignIn_AttemptsAreAuditedInTheOutboxWithIDsOnly(t *testing.T) {
	f := newFixture(t) // its owner signed in once
	ctx := context.Background()
	meta := app.RequestMeta{IP: "198.51.100.23", UserAgent: "test"}
	_, _ = f.app.SignIn(ctx, f.clinicID, "aroha@example.org", "wrong passphrase here", meta)
	_, _ = f.app.SignIn(ctx, f.clinicID, "nobody@example.org", "wrong passphrase here", meta)

	var rows []struct{ Payload string }
	require.NoError(t, f.db.Table("audit_outbox").Order("id").Find(&rows).Error)
	var events []audit.Event
	for _, r := range rows {
		require.NotContains(t, r.Payload, "example.org")
		require.NotContains(t, r.Payload, "198.51.100.23")
		var e audit.Event
		require.NoError(t, json.Unmarshal([]byte(r.Payload), &e))
		require.NoError(t, e.Validate())
		if strings.HasPrefix(string(e.Action), "session.") { // not the sign-up's events
			events = append(events, e)
		}
	}
	require.Len(t, events, 3)
	require.Equal(t, audit.SessionCreate, events[0].Action)
	require.Equal(t, f.ownerID, events[0].Actor.UserID)
	require.Equal(t, audit.SessionFail, events[1].Action)
	require.Equal(t, f.ownerID, events[1].Actor.UserID)
	require.Equal(t, audit.SessionFail, events[2].Action)
	require.Equal(t, "unauthenticated", events[2].Actor.System, "an unknown e-mail names no user")
	ip, err := audit.OpenClientIP(ctx, f.app.Crypter(), events[1])
	require.NoError(t, err)
	require.Equal(t, "198.51.100.23", ip, "the address is kept, sealed under the clinic's key")
}
