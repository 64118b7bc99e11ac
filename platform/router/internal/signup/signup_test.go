package signup_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/libs/provisioning"
	"github.com/havenhealth/haven/libs/residency"
	"github.com/havenhealth/haven/libs/store/storetest"
	"github.com/havenhealth/haven/platform/router/internal/directory"
	"github.com/havenhealth/haven/platform/router/internal/signup"
	"github.com/havenhealth/haven/platform/router/migrations"
)

// region stands in for a region's identity service; each test scripts how
// it answers so every branch of the saga is exercised.
type region struct {
	mu           sync.Mutex
	provisionErr error
	undoErr      error
	provisioned  map[string]provisioning.Clinic
	undone       []string
	closed       []string
}

func (r *region) Provision(_ context.Context, c provisioning.Clinic) (provisioning.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.provisioned == nil {
		r.provisioned = map[string]provisioning.Clinic{}
	}
	r.provisioned[c.ID] = c // a failure after the region's commit is the hard case
	if r.provisionErr != nil {
		return provisioning.Result{}, r.provisionErr
	}
	return provisioning.Result{ClinicID: c.ID, Slug: c.Slug}, nil
}

func (r *region) ClosedClinics(context.Context) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed, nil
}

func (r *region) Undo(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.undoErr != nil {
		return r.undoErr
	}
	delete(r.provisioned, id)
	r.undone = append(r.undone, id)
	return nil
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newService(t *testing.T) (*signup.Service, *region, *directory.Store, *clock) {
	t.Helper()
	dir := directory.New(storetest.Open(t, migrations.FS))
	sydney := &region{}
	clk := &clock{t: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)}
	regions := map[residency.Region]signup.Region{}
	for _, r := range residency.Regions() {
		regions[r] = &region{}
	}
	regions[residency.Sydney] = sydney
	return &signup.Service{
		Directory: dir, Regions: regions, Logger: slog.New(slog.DiscardHandler), Now: clk.now,
		StaleAfter: 2 * time.Minute, KeyTTL: 24 * time.Hour,
	}, sydney, dir, clk
}

func nzClinic(slug string) provisioning.Clinic {
	return provisioning.Clinic{Slug: slug, Name: "Harbour Physio", Country: "nz", TimeZone: "Pacific/Auckland",
		Owner: provisioning.Owner{Name: "Aroha", Email: "Aroha@Example.org", Password: "a perfectly long passphrase"}}
}

func TestSignUp_CreatesActiveEntryInHomeRegion(t *testing.T) {
	svc, sydney, dir, _ := newService(t)
	ans, err := svc.SignUp(context.Background(), "", nzClinic("harbour"))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, ans.Status)
	require.Equal(t, "sydney", ans.Clinic.Region)

	e, err := dir.BySlug(context.Background(), "harbour")
	require.NoError(t, err)
	require.Equal(t, directory.StatusActive, e.Status)
	require.Contains(t, sydney.provisioned, e.ID)
	require.Equal(t, "aroha@example.org", sydney.provisioned[e.ID].Owner.Email, "e-mail normalised before it leaves the router")
	require.Equal(t, "NZ", sydney.provisioned[e.ID].Country)
}

func TestSignUp_RejectsTakenSlug(t *testing.T) {
	svc, _, _, _ := newService(t)
	_, err := svc.SignUp(context.Background(), "", nzClinic("harbour"))
	require.NoError(t, err)
	ans, err := svc.SignUp(context.Background(), "", nzClinic("harbour"))
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, ans.Status)
}

func TestSignUp_ValidationFailuresNameFieldsNotValues(t *testing.T) {
	svc, _, _, _ := newService(t)
	c := nzClinic("Bad Slug!")
	c.Country, c.TimeZone, c.Owner.Email, c.Owner.Password = "XX", "Mars/Olympus", "not-an-email", "short"
	ans, err := svc.SignUp(context.Background(), "", c)
	require.NoError(t, err)
	require.Equal(t, http.StatusBadRequest, ans.Status)
	fields := map[string]bool{}
	for _, fe := range ans.Problem.Errors {
		fields[fe.Field] = true
		require.NotContains(t, fe.Reason, "not-an-email")
		require.NotContains(t, fe.Reason, "short")
	}
	require.Equal(t, map[string]bool{"slug": true, "country": true, "time_zone": true, "owner.email": true, "owner.password": true}, fields)
}

func TestSignUp_RegionFailureLeavesNothingAnywhere(t *testing.T) {
	svc, sydney, dir, _ := newService(t)
	sydney.provisionErr = errors.New("connection reset")
	ans, err := svc.SignUp(context.Background(), "", nzClinic("harbour"))
	require.NoError(t, err)
	require.Equal(t, http.StatusBadGateway, ans.Status)
	require.Empty(t, sydney.provisioned, "the region's half must be undone")
	_, err = dir.BySlug(context.Background(), "harbour")
	require.ErrorIs(t, err, directory.ErrNotFound)

	sydney.provisionErr = nil
	ans, err = svc.SignUp(context.Background(), "", nzClinic("harbour"))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, ans.Status, "the slug is free again")
}

func TestSignUp_RegionRefusalIsPassedOn(t *testing.T) {
	svc, sydney, dir, _ := newService(t)
	sydney.provisionErr = &provisioning.RejectedError{Problem: *problem.Validation(problem.FieldError{Field: "country", Reason: "belongs to another region"})}
	ans, err := svc.SignUp(context.Background(), "", nzClinic("harbour"))
	require.NoError(t, err)
	require.Equal(t, http.StatusBadRequest, ans.Status)
	_, err = dir.BySlug(context.Background(), "harbour")
	require.ErrorIs(t, err, directory.ErrNotFound)
}

func TestSignUp_UnreachableRegionIsReconciledLater(t *testing.T) {
	svc, sydney, dir, clk := newService(t)
	sydney.provisionErr = errors.New("timeout")
	sydney.undoErr = errors.New("still down")
	ans, err := svc.SignUp(context.Background(), "", nzClinic("harbour"))
	require.NoError(t, err)
	require.Equal(t, http.StatusBadGateway, ans.Status)

	e, err := dir.BySlug(context.Background(), "harbour")
	require.NoError(t, err)
	require.Equal(t, directory.StatusProvisioning, e.Status, "slug stays reserved while the region may hold the clinic")

	require.Error(t, func() error { clk.t = clk.t.Add(5 * time.Minute); return svc.Reconcile(context.Background()) }())
	sydney.undoErr = nil
	require.NoError(t, svc.Reconcile(context.Background()))
	require.Empty(t, sydney.provisioned)
	_, err = dir.BySlug(context.Background(), "harbour")
	require.ErrorIs(t, err, directory.ErrNotFound)
}

func TestSignUp_IdempotencyKey(t *testing.T) {
	svc, sydney, _, _ := newService(t)
	ctx := context.Background()
	first, err := svc.SignUp(ctx, "key-1", nzClinic("harbour"))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, first.Status)

	again, err := svc.SignUp(ctx, "key-1", nzClinic("harbour"))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, again.Status, "a retry gets the first answer, not a 409")
	require.Equal(t, first.Clinic.ID, again.Clinic.ID)
	require.Len(t, sydney.provisioned, 1)

	other, err := svc.SignUp(ctx, "key-1", nzClinic("another-slug"))
	require.NoError(t, err)
	require.Equal(t, http.StatusUnprocessableEntity, other.Status)
}

func TestSignUp_IdempotencyKeyReleasedAfterTransientFailure(t *testing.T) {
	svc, sydney, _, _ := newService(t)
	ctx := context.Background()
	sydney.provisionErr = errors.New("timeout")
	ans, err := svc.SignUp(ctx, "key-2", nzClinic("harbour"))
	require.NoError(t, err)
	require.Equal(t, http.StatusBadGateway, ans.Status)

	sydney.provisionErr = nil
	ans, err = svc.SignUp(ctx, "key-2", nzClinic("harbour"))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, ans.Status)
}

func TestReconcile_MarksClinicsClosedInTheirRegion(t *testing.T) {
	svc, sydney, dir, _ := newService(t)
	ctx := context.Background()
	ans, err := svc.SignUp(ctx, "", nzClinic("harbour"))
	require.NoError(t, err)
	other, err := svc.SignUp(ctx, "", nzClinic("bondi"))
	require.NoError(t, err)

	sydney.closed = []string{ans.Clinic.ID, "unknown-id"}
	require.NoError(t, svc.Reconcile(ctx))
	e, err := dir.BySlug(ctx, "harbour")
	require.NoError(t, err)
	require.Equal(t, directory.StatusClosed, e.Status)
	e, err = dir.BySlug(ctx, "bondi")
	require.NoError(t, err)
	require.Equal(t, directory.StatusActive, e.Status, "only the reported clinic closes")
	_ = other
}
