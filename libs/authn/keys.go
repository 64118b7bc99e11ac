package authn

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// StaticKeys is a KeySource over a fixed set of keys: identity verifies its
// own tokens with it, and tests use it instead of a JWKS endpoint.
type StaticKeys []Key

// Key returns the public half of the key with id kid.
func (ks StaticKeys) Key(_ context.Context, kid string) (crypto.PublicKey, error) {
	for _, k := range ks {
		if k.ID == kid {
			return k.Public(), nil
		}
	}
	return nil, ErrUnknownKey
}

// Defaults for JWKSCache.
const (
	// DefaultMinRefresh is the least time between two fetches of the key set.
	DefaultMinRefresh = 30 * time.Second
	// DefaultMaxAge is how long a fetched key set is used before it is
	// fetched again, so a key identity withdraws stops verifying.
	DefaultMaxAge = time.Hour
)

// jwksFetchTimeout bounds one fetch of the key set; maxJWKSBytes bounds
// the document read.
const (
	jwksFetchTimeout = 10 * time.Second
	maxJWKSBytes     = 1 << 20
)

// JWKSCache is a KeySource that reads the region's key set from identity's
// JWKS endpoint and keeps it in memory. A kid that is not in the cached set
// triggers a refetch, at most once per MinRefresh, so a flood of tokens
// naming made-up keys costs identity at most one request per MinRefresh.
// Only one fetch runs at a time; callers arriving meanwhile wait for it and
// use its result. The zero value is not usable: set URL. It is safe for
// concurrent use and must not be copied after first use.
type JWKSCache struct {
	// URL is identity's JWKS document, e.g. http://identity/.well-known/jwks.json.
	URL string
	// HTTP is the client used to fetch it; nil means http.DefaultClient.
	// Each fetch is also bounded by a 10-second deadline.
	HTTP *http.Client
	// MinRefresh is the least time between two fetches; zero means
	// DefaultMinRefresh.
	MinRefresh time.Duration
	// MaxAge is how long a fetched set is trusted before the next lookup
	// refreshes it (keeping the old set if the refresh fails); zero means
	// DefaultMaxAge.
	MaxAge time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu        sync.RWMutex
	keys      map[string]ed25519.PublicKey
	fetchedAt time.Time // last successful fetch
	triedAt   time.Time // last fetch attempt, successful or not
	lastErr   error     // error of the last attempt, nil if it succeeded

	semOnce sync.Once
	sem     chan struct{} // one fetch at a time
}

// Key returns the public key with id kid, fetching the key set when kid is
// unknown (rate-limited by MinRefresh) or the set is older than MaxAge.
func (c *JWKSCache) Key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	now := clock(c.Now)()
	k, ok, fresh := c.lookup(kid, now)
	if ok && fresh {
		return k, nil
	}
	if !c.mayFetch(now) {
		return c.answer(k, ok)
	}

	c.semOnce.Do(func() { c.sem = make(chan struct{}, 1) })
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, ctx.Err())
	}
	defer func() { <-c.sem }()

	// Another caller may have fetched while this one waited.
	now = clock(c.Now)()
	k, ok, fresh = c.lookup(kid, now)
	if (ok && fresh) || !c.mayFetch(now) {
		return c.answer(k, ok)
	}
	if err := c.refresh(ctx, now); err != nil && ok {
		return k, nil // stale but known: keep serving while identity is unreachable
	}
	k, ok, _ = c.lookup(kid, now)
	return c.answer(k, ok)
}

// lookup reads kid from the cached set and reports whether the set is
// still within MaxAge.
func (c *JWKSCache) lookup(kid string, now time.Time) (ed25519.PublicKey, bool, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	k, ok := c.keys[kid]
	maxAge := c.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	return k, ok, now.Sub(c.fetchedAt) < maxAge
}

// mayFetch reports whether MinRefresh has passed since the last attempt.
func (c *JWKSCache) mayFetch(now time.Time) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	minRefresh := c.MinRefresh
	if minRefresh <= 0 {
		minRefresh = DefaultMinRefresh
	}
	return c.triedAt.IsZero() || now.Sub(c.triedAt) >= minRefresh
}

// answer turns a cache lookup into Key's result. When the key is unknown
// and the last fetch failed, the set is reported unavailable rather than
// the token invalid: the key may well exist.
func (c *JWKSCache) answer(k ed25519.PublicKey, ok bool) (crypto.PublicKey, error) {
	if ok {
		return k, nil
	}
	c.mu.RLock()
	lastErr := c.lastErr
	c.mu.RUnlock()
	if lastErr != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, lastErr)
	}
	return nil, ErrUnknownKey
}

// refresh fetches the key set and replaces the cache with it. It records
// the attempt either way. The fetch is detached from the caller's
// cancellation: its result serves every waiting caller.
func (c *JWKSCache) refresh(ctx context.Context, now time.Time) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jwksFetchTimeout)
	defer cancel()
	keys, err := c.fetch(fctx)

	c.mu.Lock()
	defer c.mu.Unlock()
	c.triedAt = now
	c.lastErr = err
	if err != nil {
		return err
	}
	c.keys = keys
	c.fetchedAt = now
	return nil
}

// fetch downloads and parses the JWKS document, keeping the Ed25519
// signing keys.
func (c *JWKSCache) fetch(ctx context.Context) (map[string]ed25519.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks request: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	client := c.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwks fetch: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks fetch: status %d", resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJWKSBytes)).Decode(&set); err != nil {
		return nil, fmt.Errorf("jwks decode: %w", err)
	}
	keys := make(map[string]ed25519.PublicKey, len(set.Keys))
	for _, k := range set.Keys {
		pub, ok := k.Key.(ed25519.PublicKey)
		if !ok || k.KeyID == "" || (k.Use != "" && k.Use != "sig") ||
			(k.Algorithm != "" && k.Algorithm != string(jose.EdDSA)) {
			continue
		}
		keys[k.KeyID] = pub
	}
	return keys, nil
}
