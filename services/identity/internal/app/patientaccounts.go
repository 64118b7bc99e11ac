package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/nyaruka/phonenumbers"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/libs/provisioning"
	"github.com/havenhealth/haven/services/identity/internal/domain"
)

// PatientSignUp is what a new patient submits to create their own account.
type PatientSignUp struct {
	Name  string
	Email string
	Phone string // optional, international form (+country code)
	// DateOfBirth (YYYY-MM-DD) is required: charting requires it on every
	// patient profile.
	DateOfBirth string
}

// Limits of a patient's own sign-up. They are charting's own limits on a
// patient profile, checked here first so that charting never refuses what
// identity accepted: a refusal there would answer differently from an
// e-mail that already has an account, and so reveal it.
const (
	maxPatientName  = 100 // characters; charting allows 100 for each part
	maxPhoneInput   = 40
	earliestBirth   = "1900-01-01"
	nameFieldReason = "must be 1-100 characters, without control characters"
)

// SplitName maps identity's one name onto charting's first and last name:
// everything before the last space is the first name, the last word the
// last name ("Aroha Te Ngata" is "Aroha Te" and "Ngata"). A one-word name
// is both: charting requires both, and a mononymous patient has no other
// name to give (recording the single name as the family name too keeps
// searches by last name working).
func SplitName(name string) (first, last string) {
	words := strings.Fields(name)
	switch len(words) {
	case 0:
		return "", ""
	case 1:
		return words[0], words[0]
	default:
		return strings.Join(words[:len(words)-1], " "), words[len(words)-1]
	}
}

// validate checks a sign-up and returns the profile for charting and the
// account's name, with every value normalised. Reasons name fields, never
// values.
func (in PatientSignUp) validate(today time.Time) (PatientProfile, string, error) {
	var bad []problem.FieldError
	add := func(field, reason string) { bad = append(bad, problem.FieldError{Field: field, Reason: reason}) }

	name := strings.TrimSpace(in.Name)
	if !utf8.ValidString(name) || name == "" || utf8.RuneCountInString(name) > maxPatientName ||
		strings.IndexFunc(name, unicode.IsControl) >= 0 {
		add("name", nameFieldReason)
	}
	email, ok := provisioning.NormalizeEmail(in.Email)
	if !ok {
		add("email", "must be a valid e-mail address")
	}
	phone := ""
	if strings.TrimSpace(in.Phone) != "" {
		if phone, ok = normalizePhone(in.Phone); !ok {
			add("phone", "must be a valid phone number in international form (+country code)")
		}
	}
	dob, ok := fieldcrypt.NormalizeDate(in.DateOfBirth)
	switch {
	case !ok:
		add("date_of_birth", "must be a date written YYYY-MM-DD")
	case dob < earliestBirth || dob > today.UTC().Format(time.DateOnly):
		add("date_of_birth", "must be between 1900-01-01 and today")
	}
	if len(bad) > 0 {
		return PatientProfile{}, "", &ValidationError{Fields: bad}
	}
	first, last := SplitName(name)
	return PatientProfile{FirstName: first, LastName: last, Email: email, Phone: phone, DateOfBirth: dob},
		strings.Join(strings.Fields(name), " "), nil
}

// normalizePhone returns the E.164 form of a number written with its
// country code, valid by libphonenumber: the rule charting applies to a
// patient's phone when it knows no country.
func normalizePhone(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) > maxPhoneInput || !strings.HasPrefix(s, "+") {
		return "", false
	}
	num, err := phonenumbers.Parse(s, "ZZ")
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", false
	}
	return fieldcrypt.NormalizePhone(phonenumbers.Format(num, phonenumbers.E164))
}

// SignUpPatient lets a new patient create their own account at a clinic
// that allows it: charting creates their patient profile, then an invited
// patient account linked to it is created and the invitation e-mailed (the
// patient chooses a password by accepting it; that proves the e-mail).
//
// An e-mail that already has an account in the clinic creates nothing and
// is answered the same (nil): an active account's holder is e-mailed a
// password-reset link instead, an invited one a fresh invitation, a
// deactivated one nothing. So the answer never tells whether someone has
// an account, nor whether they are a patient of the clinic.
//
// The new account's user.create is recorded by the system actor
// "identity.self_signup" (the caller is proven to be no one yet) with the
// new profile as the event's patient; the reset or invitation of an
// existing account as password.reset_request by "unauthenticated", as
// RequestPasswordReset records it.
func (a *App) SignUpPatient(ctx context.Context, clinicID string, in PatientSignUp, meta RequestMeta) error {
	if a.d.Profiles == nil || a.d.Notifier == nil {
		return fmt.Errorf("patient self sign-up needs charting and message delivery: %w", domain.ErrUnavailable)
	}
	clinic, err := a.d.Store.Clinic(ctx, clinicID)
	if err != nil {
		return err
	}
	settings, err := a.d.Store.Settings(ctx, clinicID)
	if err != nil {
		return err
	}
	if !settings.PatientSelfSignup {
		return domain.ErrSelfSignupOff
	}
	profile, name, err := in.validate(a.now())
	if err != nil {
		return err
	}
	lookup, err := a.emailLookup(ctx, clinicID, profile.Email)
	if err != nil {
		return err
	}
	existing, err := a.d.Store.UserByEmailLookup(ctx, clinicID, lookup)
	switch {
	case err == nil:
		return a.alreadyHasAccount(ctx, clinic, existing, meta)
	case !errors.Is(err, domain.ErrNotFound):
		return err
	}

	patientID, err := a.d.Profiles.CreatePatient(ctx, clinicID, profile)
	if err != nil {
		return fmt.Errorf("create patient profile: %w", err)
	}
	now := a.now()
	u := domain.User{
		ID: uuid.Must(uuid.NewV7()).String(), ClinicID: clinicID, Name: name, Email: profile.Email, EmailLookup: lookup,
		PasswordHash: "!", // no password can match until the invitation is accepted
		Role:         authz.RolePatient, Grants: authz.RoleGrants(authz.RolePatient), Status: domain.UserInvited,
		PatientID: patientID, CreatedAt: now, UpdatedAt: now,
	}
	ev, err := a.newEvent(ctx, clinicID, audit.Actor{System: actorSelfSignup}, audit.UserCreate, audit.Allowed, userTarget(u.ID), meta)
	if err != nil {
		return err
	}
	ev.PatientID = patientID
	if err := a.d.Store.CreateUser(ctx, u, ev); err != nil {
		if errors.Is(err, domain.ErrConflict) {
			// A sign-up with the same e-mail committed first: answered as
			// for an existing account. The profile just made stays in
			// charting, unlinked, for the clinic to merge.
			a.d.Logger.WarnContext(ctx, "concurrent patient sign-up; profile left unlinked",
				slog.String("clinic_id", clinicID), slog.String("patient_id", patientID))
			return nil
		}
		return err
	}
	// A delivery failure is logged, not answered: signing up again sends a
	// fresh invitation (and the answer stays the same either way).
	if err := a.invite(ctx, clinic, u, now); err != nil {
		a.d.Logger.ErrorContext(ctx, "patient invitation not delivered", slog.String("clinic_id", clinicID),
			slog.String("user_id", u.ID), slog.String("error", err.Error()))
	}
	return nil
}

// alreadyHasAccount answers a sign-up with the e-mail of an existing
// account: it tells the account's holder, never the caller.
func (a *App) alreadyHasAccount(ctx context.Context, clinic domain.Clinic, u domain.User, meta RequestMeta) error {
	if u.Status == domain.UserDeactivated {
		return nil // a deactivated account is not revived by a sign-up
	}
	now := a.now()
	ev, err := a.newEvent(ctx, clinic.ID, audit.Actor{System: actorUnauthenticated}, audit.PasswordResetReq, audit.Allowed,
		userTarget(u.ID), meta)
	if err != nil {
		return err
	}
	if u.Status == domain.UserInvited {
		err = a.invite(ctx, clinic, u, now, ev)
	} else {
		err = a.resetForSignUp(ctx, clinic, u, now, ev)
	}
	if err != nil {
		a.d.Logger.ErrorContext(ctx, "existing-account notice not delivered", slog.String("clinic_id", clinic.ID),
			slog.String("user_id", u.ID), slog.String("error", err.Error()))
	}
	return nil
}

// resetForSignUp e-mails an active account's holder, who tried to sign up
// again, a single-use password-reset link.
func (a *App) resetForSignUp(ctx context.Context, clinic domain.Clinic, u domain.User, now time.Time, ev audit.Event) error {
	token := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	if err := a.d.Store.CreateAccountToken(ctx, AccountToken{Hash: hashToken(token), ClinicID: u.ClinicID, UserID: u.ID,
		Purpose: domain.PurposeReset, ExpiresAt: now.Add(domain.ResetTokenTTL), CreatedAt: now}, ev); err != nil {
		return err
	}
	link := fmt.Sprintf("%s/c/%s/identity/v1/password-resets/%s", a.d.PublicURL, clinic.Slug, token)
	return a.send(ctx, Message{ClinicID: u.ClinicID, UserID: u.ID, Channel: "email", To: u.Email, Purpose: "password_reset",
		Subject: "You already have an account at " + clinic.Name,
		Body: "Someone, perhaps you, asked to create an account at " + clinic.Name + " with this e-mail address, which already has one. " +
			"Sign in as usual, or choose a new password by POSTing it to " + link + " within 30 minutes. " +
			"If you did not ask for this, ignore this message."})
}
