// Package signing adapts the region's Vault transit key to the audit
// domain's Signer: digests are signed inside Vault, and the key id a digest
// carries is derived from the public key of the version that signed it.
package signing

import (
	"context"
	"fmt"
	"sync"

	"github.com/havenhealth/haven/libs/vaultclient"
	"github.com/havenhealth/haven/services/audit/internal/domain"
)

// Key is the transit key that signs a region's digests.
const Key = "audit-digests"

// Vault is a domain.Signer over a transit Ed25519 key.
type Vault struct {
	signer *vaultclient.Signer

	mu  sync.Mutex
	ids map[int]string // key version -> key id
}

var _ domain.Signer = (*Vault)(nil)

// NewVault returns a signer on s; call Ensure before the first digest.
func NewVault(s *vaultclient.Signer) *Vault { return &Vault{signer: s, ids: map[int]string{}} }

// Ensure creates the transit key if the region has none yet.
func (v *Vault) Ensure(ctx context.Context) error { return v.signer.Ensure(ctx) }

// Sign implements domain.Signer.
func (v *Vault) Sign(ctx context.Context, msg []byte) ([]byte, string, error) {
	sig, version, err := v.signer.Sign(ctx, msg)
	if err != nil {
		return nil, "", err
	}
	v.mu.Lock()
	id, ok := v.ids[version]
	v.mu.Unlock()
	if !ok { // first use, or the key was rotated
		if _, err := v.PublicKeys(ctx); err != nil {
			return nil, "", err
		}
		v.mu.Lock()
		id, ok = v.ids[version]
		v.mu.Unlock()
		if !ok {
			return nil, "", fmt.Errorf("vault signed with key version %d, which it does not list", version)
		}
	}
	return sig, id, nil
}

// PublicKeys implements domain.Signer.
func (v *Vault) PublicKeys(ctx context.Context) ([]domain.PublicKey, error) {
	versions, err := v.signer.PublicKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]domain.PublicKey, len(versions))
	v.mu.Lock()
	defer v.mu.Unlock()
	for i, k := range versions {
		out[i] = domain.PublicKey{ID: domain.KeyIDFor(k.Public), Key: k.Public}
		v.ids[k.Version] = out[i].ID
	}
	return out, nil
}
