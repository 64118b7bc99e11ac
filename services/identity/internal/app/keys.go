package app

import (
	"context"
	"crypto"
	"fmt"
	"sort"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/havenhealth/haven/libs/authn"
)

// LoadKeys reads the region's signing keys, creating the first one if there
// is none, and prepares the signer (the newest key). Call it at start-up.
func (a *App) LoadKeys(ctx context.Context) error {
	keys, err := a.d.Store.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	if len(keys) == 0 {
		k, err := authn.GenerateKey(a.now())
		if err != nil {
			return fmt.Errorf("generate signing key: %w", err)
		}
		if err := a.d.Store.AddSigningKey(ctx, k); err != nil {
			return fmt.Errorf("store signing key: %w", err)
		}
		// Another replica may have raced us; re-read so all agree.
		if keys, err = a.d.Store.SigningKeys(ctx); err != nil {
			return fmt.Errorf("load signing keys: %w", err)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].CreatedAt.Before(keys[j].CreatedAt) })
	a.keyMu.Lock()
	defer a.keyMu.Unlock()
	a.keys = keys
	a.signer = &authn.Signer{Key: keys[len(keys)-1], Issuer: a.d.Issuer, TTL: a.d.TokenTTL, Now: a.d.Now}
	return nil
}

// JWKS is the region's public key set.
func (a *App) JWKS() jose.JSONWebKeySet {
	a.keyMu.RLock()
	defer a.keyMu.RUnlock()
	return authn.PublicJWKS(a.keys)
}

// KeySource verifies tokens against the region's current keys without a
// network round trip (identity's own middleware uses it).
func (a *App) KeySource() authn.KeySource { return keySource{a} }

type keySource struct{ a *App }

func (k keySource) Key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	k.a.keyMu.RLock()
	keys := authn.StaticKeys(k.a.keys)
	k.a.keyMu.RUnlock()
	return keys.Key(ctx, kid)
}

// Issuer is the region's token issuer.
func (a *App) Issuer() string { return a.d.Issuer }

func (a *App) sign(c authn.Claims) (string, time.Time, error) {
	a.keyMu.RLock()
	s := a.signer
	a.keyMu.RUnlock()
	if s == nil {
		return "", time.Time{}, fmt.Errorf("signing keys not loaded")
	}
	return s.Sign(c)
}
