package authn_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/authn"
)

// jwksServer serves whatever key set is current and counts fetches.
type jwksServer struct {
	*httptest.Server
	keys    atomic.Pointer[[]authn.Key]
	fetches atomic.Int64
	failing atomic.Bool
	gate    chan struct{} // when non-nil, each fetch waits for it to close
}

func newJWKSServer(t *testing.T, keys ...authn.Key) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.rotate(keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		if s.gate != nil {
			<-s.gate
		}
		if s.failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_ = json.NewEncoder(w).Encode(authn.PublicJWKS(*s.keys.Load()))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) rotate(keys ...authn.Key) { s.keys.Store(&keys) }

func TestStaticKeys(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	ks := authn.StaticKeys{k1, k2}
	got, err := ks.Key(context.Background(), k2.ID)
	require.NoError(t, err)
	require.Equal(t, k2.Private.Public(), got)
	_, err = ks.Key(context.Background(), "nope")
	require.ErrorIs(t, err, authn.ErrUnknownKey)
}

func TestJWKSCache_RefetchesForNewKid(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	srv := newJWKSServer(t, k1)
	clk := newClock()
	cache := &authn.JWKSCache{URL: srv.URL, HTTP: srv.Client(), Now: clk.Now}
	ctx := context.Background()

	got, err := cache.Key(ctx, k1.ID)
	require.NoError(t, err)
	require.Equal(t, ed25519.PublicKey(k1.Private.Public().(ed25519.PublicKey)), got)
	_, err = cache.Key(ctx, k1.ID)
	require.NoError(t, err)
	require.EqualValues(t, 1, srv.fetches.Load(), "a known kid is served from the cache")

	// Identity rotates: k2 signs from now on, k1 still verifies.
	srv.rotate(k1, k2)
	clk.Advance(authn.DefaultMinRefresh)
	got, err = cache.Key(ctx, k2.ID)
	require.NoError(t, err)
	require.Equal(t, k2.Private.Public(), got)
	require.EqualValues(t, 2, srv.fetches.Load())

	// k1 is withdrawn; after MaxAge the cache drops it.
	srv.rotate(k2)
	clk.Advance(authn.DefaultMaxAge)
	_, err = cache.Key(ctx, k1.ID)
	require.ErrorIs(t, err, authn.ErrUnknownKey)
	require.EqualValues(t, 3, srv.fetches.Load())
}

func TestJWKSCache_UnknownKidFloodFetchesAtMostOncePerMinRefresh(t *testing.T) {
	k1 := newKey(t)
	srv := newJWKSServer(t, k1)
	clk := newClock()
	cache := &authn.JWKSCache{URL: srv.URL, HTTP: srv.Client(), Now: clk.Now, MinRefresh: time.Minute}
	ctx := context.Background()
	_, err := cache.Key(ctx, k1.ID)
	require.NoError(t, err)
	require.EqualValues(t, 1, srv.fetches.Load())

	flood := func() {
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Go(func() {
				_, err := cache.Key(ctx, fmt.Sprintf("bogus-%d", i))
				assert.ErrorIs(t, err, authn.ErrUnknownKey)
			})
		}
		wg.Wait()
	}

	flood() // within MinRefresh of the last fetch: no fetch at all
	require.EqualValues(t, 1, srv.fetches.Load())

	clk.Advance(time.Minute)
	flood() // MinRefresh has passed: exactly one fetch for all 100
	require.EqualValues(t, 2, srv.fetches.Load())

	clk.Advance(59 * time.Second)
	flood()
	require.EqualValues(t, 2, srv.fetches.Load())
}

func TestJWKSCache_ConcurrentColdStartFetchesOnce(t *testing.T) {
	k1 := newKey(t)
	srv := newJWKSServer(t, k1)
	srv.gate = make(chan struct{})
	cache := &authn.JWKSCache{URL: srv.URL, HTTP: srv.Client(), Now: newClock().Now}

	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			_, err := cache.Key(context.Background(), k1.ID)
			errs <- err
		})
	}
	// Let the first fetch finish only once it is under way.
	deadline := time.Now().Add(5 * time.Second)
	for srv.fetches.Load() == 0 {
		require.True(t, time.Now().Before(deadline), "no fetch started")
		time.Sleep(time.Millisecond)
	}
	close(srv.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, srv.fetches.Load())
}

func TestJWKSCache_IdentityDown(t *testing.T) {
	k1 := newKey(t)
	srv := newJWKSServer(t, k1)
	clk := newClock()
	cache := &authn.JWKSCache{URL: srv.URL, HTTP: srv.Client(), Now: clk.Now}
	ctx := context.Background()
	_, err := cache.Key(ctx, k1.ID)
	require.NoError(t, err)

	srv.failing.Store(true)
	clk.Advance(authn.DefaultMaxAge)
	_, err = cache.Key(ctx, k1.ID)
	require.NoError(t, err, "a stale known key is still served while identity is down")

	_, err = cache.Key(ctx, "new-kid")
	require.ErrorIs(t, err, authn.ErrKeysUnavailable, "an unknown kid may be real: unavailable, not invalid")
	require.NotErrorIs(t, err, authn.ErrUnknownKey)

	srv.failing.Store(false)
	clk.Advance(authn.DefaultMinRefresh)
	_, err = cache.Key(ctx, "new-kid")
	require.ErrorIs(t, err, authn.ErrUnknownKey)
}

func TestVerifier_WithJWKSCache(t *testing.T) {
	k := newKey(t)
	srv := newJWKSServer(t, k)
	clk := newClock()
	tok, _, err := (&authn.Signer{Key: k, Issuer: testIssuer, Now: clk.Now}).Sign(testClaims())
	require.NoError(t, err)
	v := &authn.Verifier{Issuer: testIssuer, Keys: &authn.JWKSCache{URL: srv.URL, HTTP: srv.Client(), Now: clk.Now}, Now: clk.Now}
	c, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	require.Equal(t, "u-1", c.Subject)
}
