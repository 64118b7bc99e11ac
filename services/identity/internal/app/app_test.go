package app_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/password"
	"github.com/havenhealth/haven/libs/provisioning"
	"github.com/havenhealth/haven/libs/residency"
	"github.com/havenhealth/haven/libs/store/storetest"
	"github.com/havenhealth/haven/services/identity/internal/app"
	"github.com/havenhealth/haven/services/identity/internal/domain"
	"github.com/havenhealth/haven/services/identity/internal/store"
	"github.com/havenhealth/haven/services/identity/migrations"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newApp(t *testing.T) (*app.App, *store.Store, *clock) {
	t.Helper()
	s := store.New(storetest.Open(t, migrations.FS))
	clk := &clock{t: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)}
	return app.New(s, residency.Sydney, clk.now), s, clk
}

func nz(id, slug string) provisioning.Clinic {
	return provisioning.Clinic{ID: id, Slug: slug, Name: "Harbour Physio", Country: "NZ", TimeZone: "Pacific/Auckland",
		Owner: provisioning.Owner{Name: "Aroha Ngata", Email: "aroha@example.org", Password: "a perfectly long passphrase"}}
}

func TestProvision_CreatesClinicAndOwnerWithHashedPassword(t *testing.T) {
	a, s, _ := newApp(t)
	ctx := context.Background()
	id := uuid.NewString()
	res, err := a.Provision(ctx, nz(id, "harbour"))
	require.NoError(t, err)
	require.True(t, res.Created)

	c, err := s.Clinic(ctx, id)
	require.NoError(t, err)
	require.Equal(t, "harbour", c.Slug)
	owner, err := s.Owner(ctx, id)
	require.NoError(t, err)
	require.Equal(t, res.OwnerID, owner.ID)
	require.Equal(t, domain.RoleOwner, owner.Role)
	require.NotContains(t, owner.PasswordHash, "passphrase")
	ok, _, err := password.Verify("a perfectly long passphrase", owner.PasswordHash)
	require.NoError(t, err)
	require.True(t, ok)
}

func TestProvision_IsIdempotentByClinicID(t *testing.T) {
	a, _, _ := newApp(t)
	ctx := context.Background()
	id := uuid.NewString()
	first, err := a.Provision(ctx, nz(id, "harbour"))
	require.NoError(t, err)
	again, err := a.Provision(ctx, nz(id, "harbour"))
	require.NoError(t, err)
	require.False(t, again.Created)
	require.Equal(t, first.OwnerID, again.OwnerID)
}

func TestProvision_Conflicts(t *testing.T) {
	a, _, _ := newApp(t)
	ctx := context.Background()
	id := uuid.NewString()
	_, err := a.Provision(ctx, nz(id, "harbour"))
	require.NoError(t, err)

	changed := nz(id, "harbour")
	changed.Name = "Another Clinic"
	_, err = a.Provision(ctx, changed)
	require.ErrorIs(t, err, domain.ErrConflict, "same id, other details")

	_, err = a.Provision(ctx, nz(uuid.NewString(), "harbour"))
	require.ErrorIs(t, err, domain.ErrConflict, "slug taken by another clinic")
}

func TestProvision_Validation(t *testing.T) {
	a, _, _ := newApp(t)
	tests := []struct {
		name  string
		edit  func(*provisioning.Clinic)
		field string
	}{
		{"clinic of another region", func(c *provisioning.Clinic) { c.Country = "GB"; c.TimeZone = "Europe/London" }, "country"},
		{"id not a UUID", func(c *provisioning.Clinic) { c.ID = "c1" }, "id"},
		{"common password", func(c *provisioning.Clinic) { c.Owner.Password = "password1234" }, "owner.password"},
		{"bad e-mail", func(c *provisioning.Clinic) { c.Owner.Email = "aroha" }, "owner.email"},
		{"bad zone", func(c *provisioning.Clinic) { c.TimeZone = "Local" }, "time_zone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := nz(uuid.NewString(), "harbour")
			tt.edit(&c)
			_, err := a.Provision(context.Background(), c)
			var verr *app.ValidationError
			require.True(t, errors.As(err, &verr), "got %v", err)
			var fields []string
			for _, f := range verr.Fields {
				fields = append(fields, f.Field)
			}
			require.Contains(t, fields, tt.field)
		})
	}
}

func TestUndoProvision_OnlyWhileFresh(t *testing.T) {
	a, s, clk := newApp(t)
	ctx := context.Background()
	fresh, old := uuid.NewString(), uuid.NewString()
	_, err := a.Provision(ctx, nz(old, "old-clinic"))
	require.NoError(t, err)
	clk.t = clk.t.Add(time.Hour)
	_, err = a.Provision(ctx, nz(fresh, "fresh-clinic"))
	require.NoError(t, err)

	require.NoError(t, a.UndoProvision(ctx, fresh))
	_, err = s.Clinic(ctx, fresh)
	require.ErrorIs(t, err, domain.ErrNotFound)
	_, err = s.Owner(ctx, fresh)
	require.ErrorIs(t, err, domain.ErrNotFound, "the owner goes with the clinic")
	require.NoError(t, a.UndoProvision(ctx, fresh), "undo is idempotent")

	require.ErrorIs(t, a.UndoProvision(ctx, old), domain.ErrTooLate)
	_, err = s.Clinic(ctx, old)
	require.NoError(t, err)
}
