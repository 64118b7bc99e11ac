package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/services/identity/internal/app"
	"github.com/havenhealth/haven/services/identity/internal/charting"
	"github.com/havenhealth/haven/services/identity/internal/domain"
)

// regionSecret is the edge secret identity and the fake charting share.
var regionSecret = []byte("sydney-edge-secret-0123456789")

// profileCall is one request the fake charting accepted.
type profileCall struct {
	clinicID string
	body     map[string]string
	id       string
}

// fakeCharting stands in for the region's charting service: it accepts
// only identity's internal signature for the sydney region on
// POST /internal/v1/patients, and answers a new profile id (or status when
// set).
type fakeCharting struct {
	srv     *httptest.Server
	mu      sync.Mutex
	calls   []profileCall
	refused int
	status  int
}

func newFakeCharting(t *testing.T) *fakeCharting {
	t.Helper()
	fc := &fakeCharting{}
	fc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clinicID, err := edgeauth.VerifyInternal(r, regionSecret, "sydney", time.Now())
		var body map[string]string
		if err == nil && (r.Method != http.MethodPost || r.URL.Path != charting.Path ||
			r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&body) != nil) {
			err = errors.New("not the create-patient call")
		}
		fc.mu.Lock()
		defer fc.mu.Unlock()
		if err != nil {
			fc.refused++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if fc.status != 0 {
			w.WriteHeader(fc.status)
			return
		}
		id := uuid.Must(uuid.NewV7()).String()
		fc.calls = append(fc.calls, profileCall{clinicID: clinicID, body: body, id: id})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]string{"id": id})
	}))
	t.Cleanup(fc.srv.Close)
	return fc
}

func (fc *fakeCharting) client() *charting.Client {
	return &charting.Client{BaseURL: fc.srv.URL, Secret: regionSecret, Region: "sydney"}
}

func (fc *fakeCharting) created() []profileCall {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return append([]profileCall(nil), fc.calls...)
}

// newSignUpFixture is a fixture whose App creates profiles in fc.
func newSignUpFixture(t *testing.T) (*fixture, *fakeCharting) {
	t.Helper()
	fc := newFakeCharting(t)
	return newFixtureWith(t, func(d *app.Deps) { d.Profiles = fc.client() }), fc
}

// userByEmail finds the clinic's account with e-mail, or fails.
func (f *fixture) userByEmail(t *testing.T, email string) domain.User {
	t.Helper()
	var found []domain.User
	for _, u := range f.users(t) {
		if u.Email == email {
			found = append(found, u)
		}
	}
	require.Len(t, found, 1, "accounts with the e-mail")
	return found[0]
}

func (f *fixture) users(t *testing.T) []domain.User {
	t.Helper()
	us, err := f.store.ListUsers(context.Background(), f.clinicID, "", 200)
	require.NoError(t, err)
	return us
}

// messagesTo are the messages sent to address, in order.
func (i *inbox) messagesTo(address string) []app.Message {
	i.mu.Lock()
	defer i.mu.Unlock()
	var out []app.Message
	for _, m := range i.msgs {
		if m.To == address {
			out = append(out, m)
		}
	}
	return out
}

const patientPass = "patient portal passphrase"

var newPatient = app.PatientSignUp{Name: "Hemi Te Rangi", Email: " Hemi@Example.org ", Phone: "+64 21 123 4567", DateOfBirth: "1990-05-17"}

func TestSignUpPatient_CreatesAnInvitedAccountLinkedToANewProfile(t *testing.T) {
	f, fc := newSignUpFixture(t)
	ctx := context.Background()
	require.NoError(t, f.app.SignUpPatient(withRequestID("req-signup-1"), f.clinicID, newPatient, auditMeta))

	calls := fc.created()
	require.Len(t, calls, 1)
	require.Zero(t, fc.refused)
	require.Equal(t, f.clinicID, calls[0].clinicID, "signed for the clinic")
	require.Equal(t, map[string]string{"first_name": "Hemi Te", "last_name": "Rangi", "email": "hemi@example.org",
		"phone": "+64211234567", "date_of_birth": "1990-05-17"}, calls[0].body, "normalised, the name split at its last space")

	u := f.userByEmail(t, "hemi@example.org")
	require.Equal(t, authz.RolePatient, u.Role)
	require.Equal(t, authz.RoleGrants(authz.RolePatient), u.Grants)
	require.Equal(t, domain.UserInvited, u.Status)
	require.Equal(t, calls[0].id, u.PatientID, "linked to the new profile")
	require.Equal(t, "Hemi Te Rangi", u.Name)

	ev := f.requireOnce(t, want{audit.UserCreate, audit.Actor{System: "identity.self_signup"}, "user", u.ID, audit.Allowed})
	require.Equal(t, u.PatientID, ev.PatientID)
	require.Equal(t, "req-signup-1", ev.RequestID)
	require.NotEmpty(t, ev.ClientIP, "the caller's address, sealed")

	// The invitation is the way in: it sets the password, and the session
	// carries the link.
	msgs := f.inbox.messagesTo("hemi@example.org")
	require.Len(t, msgs, 1)
	require.Equal(t, "invitation", msgs[0].Purpose)
	require.Equal(t, u.ID, msgs[0].UserID)
	_, err := f.app.SignIn(ctx, f.clinicID, "hemi@example.org", patientPass, app.RequestMeta{})
	require.ErrorIs(t, err, domain.ErrInvalidCredentials, "no password before the invitation is accepted")
	require.NoError(t, f.app.AcceptInvitation(ctx, f.clinicID, tokenFromLink(t, msgs[0].Body, "/invitations/"), patientPass, app.RequestMeta{}))
	p := f.signIn(t, "hemi@example.org", patientPass)
	require.Equal(t, u.PatientID, p.PatientID)
	require.True(t, authz.Decide(p, authz.ActionPatientRead, authz.Resource{ClinicID: f.clinicID, PatientID: u.PatientID}).Allow)
	require.False(t, authz.Decide(p, authz.ActionPatientRead, authz.Resource{ClinicID: f.clinicID, PatientID: uuid.NewString()}).Allow)
}

func TestSignUpPatient_AnExistingEmailCreatesNothingAndTellsOnlyItsHolder(t *testing.T) {
	f, fc := newSignUpFixture(t)
	ctx := context.Background()
	before := len(f.users(t))

	// The owner's e-mail: an active account gets a reset link, nothing else.
	owner := newPatient
	owner.Email = "ARoha@example.org"
	require.NoError(t, f.app.SignUpPatient(ctx, f.clinicID, owner, auditMeta))
	require.Empty(t, fc.created(), "no profile")
	require.Len(t, f.users(t), before, "no account")
	msgs := f.inbox.messagesTo("aroha@example.org")
	require.Len(t, msgs, 1)
	require.Equal(t, "password_reset", msgs[0].Purpose)
	require.NotContains(t, msgs[0].Body, "Hemi", "nothing of the caller's details reaches the holder")
	f.requireOnce(t, want{audit.PasswordResetReq, audit.Actor{System: "unauthenticated"}, "user", f.ownerID, audit.Allowed})
	require.NoError(t, f.app.CompleteReset(ctx, f.clinicID, tokenFromLink(t, msgs[0].Body, "/password-resets/"), "the owner's new passphrase", app.RequestMeta{}))

	// A second sign-up with a new patient's e-mail (not yet accepted): one
	// account, one profile, a fresh invitation.
	require.NoError(t, f.app.SignUpPatient(ctx, f.clinicID, newPatient, auditMeta))
	again := newPatient
	again.Name, again.DateOfBirth = "Someone Else", "2001-01-01"
	require.NoError(t, f.app.SignUpPatient(ctx, f.clinicID, again, auditMeta))
	require.Len(t, fc.created(), 1, "one profile")
	u := f.userByEmail(t, "hemi@example.org")
	require.Equal(t, "Hemi Te Rangi", u.Name, "the first sign-up's account, unchanged")
	invites := f.inbox.messagesTo("hemi@example.org")
	require.Len(t, invites, 2)
	require.Equal(t, "invitation", invites[1].Purpose)
	require.Equal(t, 1, f.count(t, audit.UserCreate)-1, "one user.create besides the owner's")
	require.NoError(t, f.app.AcceptInvitation(ctx, f.clinicID, tokenFromLink(t, invites[1].Body, "/invitations/"), patientPass, app.RequestMeta{}))

	// A deactivated account is not revived, and its holder hears nothing.
	_, err := f.app.Deactivate(ctx, f.owner, u.ID, app.RequestMeta{})
	require.NoError(t, err)
	require.NoError(t, f.app.SignUpPatient(ctx, f.clinicID, newPatient, auditMeta))
	require.Len(t, f.inbox.messagesTo("hemi@example.org"), 2)
	require.Len(t, fc.created(), 1)
}

func TestSignUpPatient_ValidatesLikeChartingBeforeLookingAtAccounts(t *testing.T) {
	f, fc := newSignUpFixture(t)
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		in    app.PatientSignUp
		field string
	}{
		{"no name", app.PatientSignUp{Name: "  ", Email: "a@example.org", DateOfBirth: "1990-01-01"}, "name"},
		{"long name", app.PatientSignUp{Name: strings.Repeat("é", 101), Email: "a@example.org", DateOfBirth: "1990-01-01"}, "name"},
		{"control character", app.PatientSignUp{Name: "Hemi\u0007 Rangi", Email: "a@example.org", DateOfBirth: "1990-01-01"}, "name"},
		{"bad e-mail", app.PatientSignUp{Name: "Hemi", Email: "hemi at example", DateOfBirth: "1990-01-01"}, "email"},
		{"national phone", app.PatientSignUp{Name: "Hemi", Email: "a@example.org", Phone: "021 123 4567", DateOfBirth: "1990-01-01"}, "phone"},
		{"impossible phone", app.PatientSignUp{Name: "Hemi", Email: "a@example.org", Phone: "+64 1", DateOfBirth: "1990-01-01"}, "phone"},
		{"no date of birth", app.PatientSignUp{Name: "Hemi", Email: "a@example.org"}, "date_of_birth"},
		{"future birth", app.PatientSignUp{Name: "Hemi", Email: "a@example.org", DateOfBirth: "2999-01-01"}, "date_of_birth"},
		{"not a date", app.PatientSignUp{Name: "Hemi", Email: "a@example.org", DateOfBirth: "17/05/1990"}, "date_of_birth"},
		// The same answer for an e-mail that has an account: validation
		// comes first and does not depend on it.
		{"owner's e-mail, bad date", app.PatientSignUp{Name: "Hemi", Email: "aroha@example.org", DateOfBirth: "1899-12-31"}, "date_of_birth"},
	} {
		err := f.app.SignUpPatient(ctx, f.clinicID, c.in, auditMeta)
		var verr *app.ValidationError
		require.True(t, errors.As(err, &verr), "%s: %v", c.name, err)
		require.Len(t, verr.Fields, 1, c.name)
		require.Equal(t, c.field, verr.Fields[0].Field, c.name)
	}
	require.Empty(t, fc.created())
	require.Empty(t, f.inbox.messagesTo("aroha@example.org"))

	// A one-word name is both names.
	require.NoError(t, f.app.SignUpPatient(ctx, f.clinicID, app.PatientSignUp{Name: "Madonna", Email: "m@example.org", DateOfBirth: "1958-08-16"}, auditMeta))
	require.Equal(t, "Madonna", fc.created()[0].body["first_name"])
	require.Equal(t, "Madonna", fc.created()[0].body["last_name"])
	require.NotContains(t, fc.created()[0].body, "phone", "no phone given, none sent")
}

func TestSplitName(t *testing.T) {
	for name, want := range map[string][2]string{
		"Aroha Ngata":          {"Aroha", "Ngata"},
		"Aroha Te Ngata":       {"Aroha Te", "Ngata"},
		"  Aroha   Ngata  ":    {"Aroha", "Ngata"},
		"Madonna":              {"Madonna", "Madonna"},
		"":                     {"", ""},
		"María José García":    {"María José", "García"},
		"Jean-Luc\u00a0Picard": {"Jean-Luc", "Picard"},
	} {
		first, last := app.SplitName(name)
		require.Equal(t, want, [2]string{first, last}, name)
	}
}

func TestSignUpPatient_ClinicSettingAndMissingPieces(t *testing.T) {
	f, fc := newSignUpFixture(t)
	ctx := context.Background()
	s, err := f.app.Settings(ctx, f.owner)
	require.NoError(t, err)
	require.True(t, s.PatientSelfSignup, "on by default")
	off := false
	_, err = f.app.UpdateSettings(ctx, f.owner, app.SettingsPatch{PatientSelfSignup: &off}, auditMeta)
	require.NoError(t, err)
	require.ErrorIs(t, f.app.SignUpPatient(ctx, f.clinicID, newPatient, auditMeta), domain.ErrSelfSignupOff)
	require.Empty(t, fc.created())

	// Charting failing: no account, a retryable error.
	on := true
	_, err = f.app.UpdateSettings(ctx, f.owner, app.SettingsPatch{PatientSelfSignup: &on}, auditMeta)
	require.NoError(t, err)
	fc.mu.Lock()
	fc.status = http.StatusInternalServerError
	fc.mu.Unlock()
	before := len(f.users(t))
	require.ErrorIs(t, f.app.SignUpPatient(ctx, f.clinicID, newPatient, auditMeta), domain.ErrDependency)
	require.Len(t, f.users(t), before)

	// Without charting configured, or anything to deliver with: unavailable.
	noCharting := newFixture(t)
	require.ErrorIs(t, noCharting.app.SignUpPatient(ctx, noCharting.clinicID, newPatient, auditMeta), domain.ErrUnavailable)
	noNotifier := newFixtureWith(t, func(d *app.Deps) { d.Profiles, d.Notifier = fc.client(), nil })
	require.ErrorIs(t, noNotifier.app.SignUpPatient(ctx, noNotifier.clinicID, newPatient, auditMeta), domain.ErrUnavailable)
}

func TestPatientLink_OnlyPatientAccountsAndWellFormedIDs(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	profile := uuid.Must(uuid.NewV7()).String()
	for _, c := range []struct {
		role, id string
	}{
		{"practitioner", profile}, {"front_desk", profile}, {"patient", "not-a-profile"},
		{"patient", strings.ToUpper(profile)}, {"patient", "{" + profile + "}"}, {"patient", profile + " "},
	} {
		_, err := f.app.CreateUser(ctx, f.owner, app.NewUser{Name: "Hemi", Email: "hemi@example.org", Role: c.role,
			Password: patientPass, PatientID: c.id}, app.RequestMeta{})
		var verr *app.ValidationError
		require.True(t, errors.As(err, &verr), "%+v: %v", c, err)
		require.Equal(t, "patient_id", verr.Fields[0].Field)
	}
	u, err := f.app.CreateUser(ctx, f.owner, app.NewUser{Name: "Hemi", Email: "hemi@example.org", Role: "patient",
		Password: patientPass, PatientID: profile}, auditMeta)
	require.NoError(t, err)
	require.Equal(t, profile, u.PatientID)
	ev := f.requireOnce(t, want{audit.UserCreate, by(f.owner), "user", u.ID, audit.Allowed})
	require.Equal(t, profile, ev.PatientID)

	p := f.signIn(t, "hemi@example.org", patientPass)
	require.Equal(t, profile, p.PatientID, "sign-in puts the link in the session")

	// One profile, one account.
	_, err = f.app.CreateUser(ctx, f.owner, app.NewUser{Name: "Hemi 2", Email: "hemi2@example.org", Role: "patient",
		Password: patientPass, PatientID: profile}, app.RequestMeta{})
	require.ErrorIs(t, err, domain.ErrConflict)
}

func TestPatientLink_PatchLinksAndUnlinksAndEndsSessions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u, err := f.app.CreateUser(ctx, f.owner, app.NewUser{Name: "Hemi", Email: "hemi@example.org", Role: "patient", Password: patientPass}, app.RequestMeta{})
	require.NoError(t, err)
	p := f.signIn(t, "hemi@example.org", patientPass)
	require.Empty(t, p.PatientID)

	profile := uuid.Must(uuid.NewV7()).String()
	linked, err := f.app.UpdateUser(ctx, f.owner, u.ID, app.UserPatch{PatientID: &profile}, auditMeta)
	require.NoError(t, err)
	require.Equal(t, profile, linked.PatientID)
	require.False(t, f.sessionAlive(p), "a session cannot take a new link, so it ends")
	ev := f.requireOnce(t, want{audit.UserGrantsChange, by(f.owner), "user", u.ID, audit.Allowed})
	require.Equal(t, profile, ev.PatientID)
	require.Zero(t, f.count(t, audit.UserUpdate), "a link is access, not a detail")
	p = f.signIn(t, "hemi@example.org", patientPass)
	require.Equal(t, profile, p.PatientID)

	// The same link again changes no session.
	_, err = f.app.UpdateUser(ctx, f.owner, u.ID, app.UserPatch{PatientID: &profile}, auditMeta)
	require.NoError(t, err)
	require.True(t, f.sessionAlive(p))

	// A linked account keeps its role until unlinked; unlinking ends its sessions.
	role := "front_desk"
	_, err = f.app.UpdateUser(ctx, f.owner, u.ID, app.UserPatch{Role: &role}, auditMeta)
	var verr *app.ValidationError
	require.True(t, errors.As(err, &verr), "%v", err)
	require.Equal(t, "role", verr.Fields[0].Field)
	unlink := ""
	un, err := f.app.UpdateUser(ctx, f.owner, u.ID, app.UserPatch{PatientID: &unlink}, auditMeta)
	require.NoError(t, err)
	require.Empty(t, un.PatientID)
	require.False(t, f.sessionAlive(p))
	require.Empty(t, f.signIn(t, "hemi@example.org", patientPass).PatientID)

	// Staff accounts are never linked; bad ids are refused before anything.
	staff, _ := f.staff(t, "practitioner")
	for _, id := range []string{profile, "nope"} {
		_, err = f.app.UpdateUser(ctx, f.owner, staff.ID, app.UserPatch{PatientID: &id}, auditMeta)
		require.True(t, errors.As(err, &verr), "%v", err)
		require.Equal(t, "patient_id", verr.Fields[0].Field)
	}
	// Role and link in one patch: a staff account becomes a linked patient.
	patient := "patient"
	moved, err := f.app.UpdateUser(ctx, f.owner, staff.ID, app.UserPatch{Role: &patient, PatientID: &profile}, auditMeta)
	require.NoError(t, err)
	require.Equal(t, authz.RolePatient, moved.Role)
	require.Equal(t, profile, moved.PatientID)
	// Another account may not take the same profile.
	_, err = f.app.UpdateUser(ctx, f.owner, u.ID, app.UserPatch{PatientID: &profile}, auditMeta)
	require.ErrorIs(t, err, domain.ErrConflict)

	// Only user managers link.
	_, front := f.staffAs(t, "front_desk", "desk@example.org")
	_, err = f.app.UpdateUser(ctx, front, u.ID, app.UserPatch{PatientID: &profile}, auditMeta)
	require.ErrorIs(t, err, domain.ErrForbidden)
}

// staffAs creates and signs in a staff account of role with e-mail.
func (f *fixture) staffAs(t *testing.T, role, email string) (domain.User, authz.Principal) {
	t.Helper()
	u, err := f.app.CreateUser(context.Background(), f.owner, app.NewUser{Name: staffName, Email: email, Role: role, Password: staffPass}, auditMeta)
	require.NoError(t, err)
	return u, f.signIn(t, email, staffPass)
}
