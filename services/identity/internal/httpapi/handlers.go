package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/havenhealth/haven/libs/authn"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/httpjson"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/libs/provisioning"
	"github.com/havenhealth/haven/services/identity/internal/app"
	"github.com/havenhealth/haven/services/identity/internal/domain"
)

type clinicResponse struct {
	ID        string     `json:"id"`
	Slug      string     `json:"slug"`
	Name      string     `json:"name"`
	Country   string     `json:"country"`
	TimeZone  string     `json:"time_zone"`
	Region    string     `json:"region"`
	Status    string     `json:"status"`
	ClosesAt  *time.Time `json:"closes_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
}

func (a *API) clinicToAPI(c domain.Clinic) clinicResponse {
	return clinicResponse{ID: c.ID, Slug: c.Slug, Name: c.Name, Country: c.Country, TimeZone: c.TimeZone, Region: a.Region,
		Status: string(c.Status), ClosesAt: c.ClosesAt, CreatedAt: c.CreatedAt}
}

func (a *API) closedClinics(w http.ResponseWriter, r *http.Request) {
	ids, err := a.App.ClosedClinics(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if ids == nil {
		ids = []string{}
	}
	httpjson.Write(w, http.StatusOK, map[string][]string{"clinic_ids": ids})
}

func (a *API) closureChallenge(w http.ResponseWriter, r *http.Request) {
	var req passwordOnly
	if !httpjson.Read(w, r, &req) {
		return
	}
	c, err := a.App.StartClosureChallenge(r.Context(), authn.Caller(r), req.Password, meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if c == nil {
		w.WriteHeader(http.StatusNoContent) // no second factor to answer
		return
	}
	out := map[string]any{"challenge_id": c.ID, "methods": c.Methods, "expires_at": c.ExpiresAt}
	if len(c.WebAuthnOptions) > 0 {
		out["webauthn"] = c.WebAuthnOptions
	}
	httpjson.Write(w, http.StatusOK, out)
}

func (a *API) requestClosure(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Password    string          `json:"password"`
		ChallengeID string          `json:"challenge_id"`
		Method      string          `json:"method"`
		Code        string          `json:"code"`
		Credential  json.RawMessage `json:"credential"`
	}
	if !httpjson.Read(w, r, &req) {
		return
	}
	c, err := a.App.RequestClosure(r.Context(), authn.Caller(r), app.ClosureRequest{Password: req.Password, ChallengeID: req.ChallengeID,
		Method: req.Method, Code: req.Code, Credential: req.Credential}, meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	status := http.StatusAccepted
	if c.Status == domain.ClinicClosed {
		status = http.StatusOK
	}
	httpjson.Write(w, status, a.clinicToAPI(c))
}

func (a *API) rotateKey(w http.ResponseWriter, r *http.Request) {
	if err := a.App.RotateClinicKey(r.Context(), authn.Caller(r), meta(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) cancelClosure(w http.ResponseWriter, r *http.Request) {
	c, err := a.App.CancelClosure(r.Context(), authn.Caller(r), meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, a.clinicToAPI(c))
}

func (a *API) provision(w http.ResponseWriter, r *http.Request) {
	var req provisioning.Clinic
	if !httpjson.Read(w, r, &req) {
		return
	}
	res, err := a.App.Provision(r.Context(), req)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
		a.Logger.InfoContext(r.Context(), "clinic provisioned", "clinic_id", res.Clinic.ID, "owner_id", res.OwnerID)
	}
	httpjson.Write(w, status, provisioning.Result{
		ClinicID: res.Clinic.ID, Slug: res.Clinic.Slug, Region: a.Region, OwnerID: res.OwnerID, Created: res.Clinic.CreatedAt,
	})
}

func (a *API) undoProvision(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := a.App.UndoProvision(r.Context(), id); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.Logger.InfoContext(r.Context(), "clinic provisioning undone", "clinic_id", id)
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) getClinic(w http.ResponseWriter, r *http.Request) {
	c, err := a.App.Clinic(r.Context(), edgeauth.ClinicID(r.Context()))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, a.clinicToAPI(c))
}

// discovery is the OpenID Connect Discovery document of the region's issuer.
func (a *API) discovery(w http.ResponseWriter, _ *http.Request) {
	iss := a.App.Issuer()
	httpjson.Write(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"jwks_uri":                              iss + "/.well-known/jwks.json",
		"authorization_endpoint":                iss + "/authorize",
		"response_types_supported":              []string{"token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"EdDSA"},
		"token_endpoint_auth_methods_supported": []string{"none"},
		"claims_supported":                      []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid", "clinic_id", "role", "grants"},
	})
}

func (a *API) jwks(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(a.App.JWKS())
}

type tokenResponse struct {
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type"`
	ExpiresAt   time.Time `json:"expires_at"`
	// TwoStepEnrollmentRequired: the session has no grants until the user
	// enrols a second factor (the clinic requires one).
	TwoStepEnrollmentRequired bool `json:"two_step_enrollment_required,omitempty"`
}

func writeToken(w http.ResponseWriter, status int, t app.Token) {
	httpjson.Write(w, status, tokenResponse{AccessToken: t.AccessToken, TokenType: "Bearer", ExpiresAt: t.ExpiresAt.UTC(),
		TwoStepEnrollmentRequired: t.EnrollmentRequired})
}

func (a *API) signIn(w http.ResponseWriter, r *http.Request) {
	if !a.allowSignIn(w, r) {
		return
	}
	var req struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if !httpjson.Read(w, r, &req) {
		return
	}
	res, err := a.App.SignIn(r.Context(), edgeauth.ClinicID(r.Context()), req.Email, req.Password, meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if res.Token != nil {
		writeToken(w, http.StatusCreated, *res.Token)
		return
	}
	out := map[string]any{"challenge_id": res.Challenge.ID, "methods": res.Challenge.Methods, "expires_at": res.Challenge.ExpiresAt}
	if len(res.Challenge.WebAuthnOptions) > 0 {
		out["webauthn"] = res.Challenge.WebAuthnOptions
	}
	httpjson.Write(w, http.StatusOK, out)
}

func (a *API) verify(w http.ResponseWriter, r *http.Request) {
	if !a.allowSignIn(w, r) {
		return
	}
	var req struct {
		ChallengeID string          `json:"challenge_id"`
		Method      string          `json:"method"`
		Code        string          `json:"code"`
		Credential  json.RawMessage `json:"credential"`
	}
	if !httpjson.Read(w, r, &req) {
		return
	}
	tok, err := a.App.Verify(r.Context(), edgeauth.ClinicID(r.Context()), req.ChallengeID, req.Method, req.Code, req.Credential, meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeToken(w, http.StatusCreated, tok)
}

func (a *API) requestReset(w http.ResponseWriter, r *http.Request) {
	if !a.allowSignIn(w, r) {
		return
	}
	var req struct {
		Email string `json:"email"`
	}
	if !httpjson.Read(w, r, &req) {
		return
	}
	if err := a.App.RequestPasswordReset(r.Context(), edgeauth.ClinicID(r.Context()), req.Email, meta(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusAccepted, map[string]string{"status": "if the account exists, a reset link is on its way"})
}

func (a *API) completeReset(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Password string `json:"password"`
	}
	if !httpjson.Read(w, r, &req) {
		return
	}
	if err := a.App.CompleteReset(r.Context(), edgeauth.ClinicID(r.Context()), r.PathValue("token"), req.Password, meta(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) acceptInvitation(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Password string `json:"password"`
	}
	if !httpjson.Read(w, r, &req) {
		return
	}
	if err := a.App.AcceptInvitation(r.Context(), edgeauth.ClinicID(r.Context()), r.PathValue("token"), req.Password, meta(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// signUpRequest is the body of POST /v1/patient-accounts.
type signUpRequest struct {
	Name        string `json:"name"`
	Email       string `json:"email"`
	Phone       string `json:"phone"`
	DateOfBirth string `json:"date_of_birth"`
}

// signUpAccepted is the one answer to a valid sign-up, whether or not the
// e-mail already had an account.
var signUpAccepted = map[string]string{"status": "if this e-mail can be used, a message is on its way to it"}

func (a *API) signUpPatient(w http.ResponseWriter, r *http.Request) {
	if !a.allowSignUp(w, r) {
		return
	}
	var req signUpRequest
	if !httpjson.Read(w, r, &req) {
		return
	}
	err := a.App.SignUpPatient(r.Context(), edgeauth.ClinicID(r.Context()), app.PatientSignUp{Name: req.Name, Email: req.Email,
		Phone: req.Phone, DateOfBirth: req.DateOfBirth}, meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusAccepted, signUpAccepted)
}

type userResponse struct {
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	Email     string       `json:"email"`
	Role      string       `json:"role"`
	Grants    authz.Grants `json:"grants"`
	Status    string       `json:"status"`
	PatientID string       `json:"patient_id,omitempty"`
	TwoStep   []string     `json:"two_step_methods,omitempty"`
	CreatedAt time.Time    `json:"created_at"`
	UpdatedAt time.Time    `json:"updated_at"`
}

func userToAPI(u domain.User) userResponse {
	return userResponse{ID: u.ID, Name: u.Name, Email: u.Email, Role: string(u.Role), Grants: u.Grants,
		Status: string(u.Status), PatientID: u.PatientID, CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC()}
}

func (a *API) me(w http.ResponseWriter, r *http.Request) {
	p := authn.Caller(r)
	u, methods, err := a.App.Me(r.Context(), p)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := userToAPI(u)
	out.TwoStep = methods
	httpjson.Write(w, http.StatusOK, map[string]any{"user": out, "clinic_id": p.ClinicID, "session_id": p.SessionID})
}

func (a *API) changePassword(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Current string `json:"current_password"`
		New     string `json:"new_password"`
	}
	if !httpjson.Read(w, r, &req) {
		return
	}
	if err := a.App.ChangePassword(r.Context(), authn.Caller(r), req.Current, req.New, meta(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) signOut(w http.ResponseWriter, r *http.Request) {
	if err := a.App.SignOut(r.Context(), authn.Caller(r), meta(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) signOutEverywhere(w http.ResponseWriter, r *http.Request) {
	n, err := a.App.SignOutEverywhere(r.Context(), authn.Caller(r), meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]int{"sessions_ended": n})
}

func (a *API) refresh(w http.ResponseWriter, r *http.Request) {
	tok, err := a.App.Refresh(r.Context(), authn.Caller(r), meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeToken(w, http.StatusOK, tok)
}

type passwordOnly struct {
	Password string `json:"password"`
}

func (a *API) enrollSMS(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Password string `json:"password"`
		Phone    string `json:"phone"`
	}
	if !httpjson.Read(w, r, &req) {
		return
	}
	if err := a.App.EnrollSMS(r.Context(), authn.Caller(r), req.Password, req.Phone, meta(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) beginTOTP(w http.ResponseWriter, r *http.Request) {
	var req passwordOnly
	if !httpjson.Read(w, r, &req) {
		return
	}
	secret, uri, err := a.App.BeginTOTP(r.Context(), authn.Caller(r), req.Password)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]string{"secret": secret, "otpauth_uri": uri})
}

func (a *API) confirmTOTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Password string `json:"password"`
		Secret   string `json:"secret"`
		Code     string `json:"code"`
	}
	if !httpjson.Read(w, r, &req) {
		return
	}
	if err := a.App.ConfirmTOTP(r.Context(), authn.Caller(r), req.Password, req.Secret, req.Code, meta(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) recoveryCodes(w http.ResponseWriter, r *http.Request) {
	var req passwordOnly
	if !httpjson.Read(w, r, &req) {
		return
	}
	codes, err := a.App.NewRecoveryCodes(r.Context(), authn.Caller(r), req.Password, meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusCreated, map[string][]string{"recovery_codes": codes})
}

func (a *API) beginPasskey(w http.ResponseWriter, r *http.Request) {
	var req passwordOnly
	if !httpjson.Read(w, r, &req) {
		return
	}
	id, opts, err := a.App.BeginPasskey(r.Context(), authn.Caller(r), req.Password)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"challenge_id": id, "webauthn": opts})
}

func (a *API) finishPasskey(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Credential json.RawMessage `json:"credential"`
	}
	if !httpjson.Read(w, r, &req) {
		return
	}
	if err := a.App.FinishPasskey(r.Context(), authn.Caller(r), r.PathValue("challenge_id"), req.Credential, meta(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name      string        `json:"name"`
		Email     string        `json:"email"`
		Role      string        `json:"role"`
		Password  string        `json:"password"`
		Grants    *authz.Grants `json:"grants"`
		PatientID string        `json:"patient_id"`
	}
	if !httpjson.Read(w, r, &req) {
		return
	}
	u, err := a.App.CreateUser(r.Context(), authn.Caller(r), app.NewUser{Name: req.Name, Email: req.Email, Role: req.Role,
		Password: req.Password, Grants: req.Grants, PatientID: req.PatientID}, meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "users/"+u.ID)
	httpjson.Write(w, http.StatusCreated, userToAPI(u))
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) {
	limit, ok := parseLimit(w, r)
	if !ok {
		return
	}
	users, err := a.App.ListUsers(r.Context(), authn.Caller(r), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	items := make([]userResponse, len(users))
	for i, u := range users {
		items[i] = userToAPI(u)
	}
	out := map[string]any{"items": items}
	if len(users) == limit {
		out["next_cursor"] = users[len(users)-1].ID
	}
	httpjson.Write(w, http.StatusOK, out)
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) {
	u, err := a.App.GetUser(r.Context(), authn.Caller(r), r.PathValue("id"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, userToAPI(u))
}

func (a *API) patchUser(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name      *string       `json:"name"`
		Role      *string       `json:"role"`
		Grants    *authz.Grants `json:"grants"`
		PatientID *string       `json:"patient_id"`
	}
	if !httpjson.Read(w, r, &req) {
		return
	}
	u, err := a.App.UpdateUser(r.Context(), authn.Caller(r), r.PathValue("id"), app.UserPatch{Name: req.Name, Role: req.Role,
		Grants: req.Grants, PatientID: req.PatientID}, meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, userToAPI(u))
}

func (a *API) deactivate(w http.ResponseWriter, r *http.Request) {
	u, err := a.App.Deactivate(r.Context(), authn.Caller(r), r.PathValue("id"), meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, userToAPI(u))
}

func (a *API) reactivate(w http.ResponseWriter, r *http.Request) {
	u, err := a.App.Reactivate(r.Context(), authn.Caller(r), r.PathValue("id"), meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, userToAPI(u))
}

type settingsResponse struct {
	IdleTimeoutMinutes int       `json:"idle_timeout_minutes"`
	SessionMaxHours    int       `json:"session_max_hours"`
	RequireTwoStep     bool      `json:"require_two_step"`
	PatientSelfSignup  bool      `json:"patient_self_signup"`
	UpdatedAt          time.Time `json:"updated_at"`
}

func settingsToAPI(s domain.Settings) settingsResponse {
	return settingsResponse{IdleTimeoutMinutes: int(s.IdleTimeout / time.Minute), SessionMaxHours: int(s.SessionMax / time.Hour),
		RequireTwoStep: s.RequireTwoStep, PatientSelfSignup: s.PatientSelfSignup, UpdatedAt: s.UpdatedAt.UTC()}
}

func (a *API) getSettings(w http.ResponseWriter, r *http.Request) {
	s, err := a.App.Settings(r.Context(), authn.Caller(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, settingsToAPI(s))
}

func (a *API) patchSettings(w http.ResponseWriter, r *http.Request) {
	var req struct {
		IdleTimeoutMinutes *int  `json:"idle_timeout_minutes"`
		RequireTwoStep     *bool `json:"require_two_step"`
		PatientSelfSignup  *bool `json:"patient_self_signup"`
	}
	if !httpjson.Read(w, r, &req) {
		return
	}
	s, err := a.App.UpdateSettings(r.Context(), authn.Caller(r), app.SettingsPatch{IdleTimeoutMinutes: req.IdleTimeoutMinutes,
		RequireTwoStep: req.RequireTwoStep, PatientSelfSignup: req.PatientSelfSignup}, meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, settingsToAPI(s))
}

type attemptResponse struct {
	ID         string    `json:"id"`
	UserID     string    `json:"user_id,omitempty"`
	Outcome    string    `json:"outcome"`
	Method     string    `json:"method"`
	IP         string    `json:"ip,omitempty"`
	UserAgent  string    `json:"user_agent,omitempty"`
	OccurredAt time.Time `json:"occurred_at"`
}

func (a *API) loginHistory(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, ok := parseLimit(w, r)
	if !ok {
		return
	}
	f := app.HistoryFilter{UserID: q.Get("user_id"), Outcome: domain.Outcome(q.Get("outcome")), Limit: limit}
	var bad []problem.FieldError
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(t.name); v != "" {
			parsed, err := time.Parse(time.RFC3339, v)
			if err != nil {
				bad = append(bad, problem.FieldError{Field: t.name, Reason: "must be an RFC 3339 time"})
			}
			*t.dst = parsed
		}
	}
	switch f.Outcome {
	case "", domain.OutcomeSuccess, domain.OutcomeFailure, domain.OutcomeLocked, domain.OutcomeTwoStepPending, domain.OutcomeTwoStepFailure:
	default:
		bad = append(bad, problem.FieldError{Field: "outcome", Reason: "must be success, failure, locked, two_step_required or two_step_failure"})
	}
	if c := q.Get("cursor"); c != "" {
		ts, id, found := strings.Cut(c, "_")
		n, err := strconv.ParseInt(ts, 10, 64)
		if !found || err != nil || id == "" {
			bad = append(bad, problem.FieldError{Field: "cursor", Reason: "is not a cursor this API returned"})
		} else {
			f.AfterTime, f.AfterID = time.Unix(0, n).UTC(), id
		}
	}
	if len(bad) > 0 {
		problem.Write(w, r, problem.Validation(bad...))
		return
	}
	items, err := a.App.LoginHistory(r.Context(), authn.Caller(r), f, meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]attemptResponse, len(items))
	for i, it := range items {
		out[i] = attemptResponse{ID: it.ID, UserID: it.UserID, Outcome: string(it.Outcome), Method: it.Method, IP: it.IP,
			UserAgent: it.UserAgent, OccurredAt: it.OccurredAt.UTC()}
	}
	resp := map[string]any{"items": out}
	if len(items) == limit {
		last := items[len(items)-1]
		resp["next_cursor"] = strconv.FormatInt(last.OccurredAt.UnixNano(), 10) + "_" + last.ID
	}
	httpjson.Write(w, http.StatusOK, resp)
}

func parseLimit(w http.ResponseWriter, r *http.Request) (int, bool) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 50, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 200 {
		problem.Write(w, r, problem.Validation(problem.FieldError{Field: "limit", Reason: "must be a whole number from 1 to 200"}))
		return 0, false
	}
	return n, true
}
