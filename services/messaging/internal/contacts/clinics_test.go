package contacts_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/services/messaging/internal/contacts"
)

func TestIdentity_SlugIsAskedOnceWithAnInternalSignature(t *testing.T) {
	secret := []byte("montreal-edge-secret-0123456789")
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		clinic, err := edgeauth.VerifyInternal(r, secret, "montreal", time.Now())
		if err != nil || r.URL.Path != "/internal/v1/clinic" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if clinic != "c0ffee00-0000-4000-8000-000000000001" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_, _ = w.Write([]byte(`{"id":"` + clinic + `","slug":"harbour-physio"}`))
	}))
	defer srv.Close()

	c := &contacts.Identity{BaseURL: srv.URL, Secret: secret, Region: "montreal"}
	for range 3 {
		slug, err := c.Slug(context.Background(), "c0ffee00-0000-4000-8000-000000000001")
		require.NoError(t, err)
		require.Equal(t, "harbour-physio", slug)
	}
	require.EqualValues(t, 1, calls.Load(), "slugs never change: asked once")

	_, err := c.Slug(context.Background(), "c0ffee00-0000-4000-8000-000000000002")
	require.ErrorContains(t, err, "status 404")

	wrong := &contacts.Identity{BaseURL: srv.URL, Secret: []byte("another-secret-0123456789"), Region: "montreal"}
	_, err = wrong.Slug(context.Background(), "c0ffee00-0000-4000-8000-000000000001")
	require.ErrorContains(t, err, "status 401")
}
