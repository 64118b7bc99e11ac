package vaultclient

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	vaultapi "github.com/hashicorp/vault/api"
)

// Signer signs with an Ed25519 key of Vault's transit engine. The private
// key is created inside Vault and never leaves it: the service only asks for
// signatures and reads public keys.
type Signer struct {
	Client *vaultapi.Client
	Mount  string // transit mount; default "transit"
	Key    string // key name
}

// VersionedKey is one version of a transit key's public half.
type VersionedKey struct {
	Version int
	Public  ed25519.PublicKey
}

func (s *Signer) mount() string {
	if s.Mount == "" {
		return "transit"
	}
	return strings.Trim(s.Mount, "/")
}

// Ensure creates the key as type ed25519 if it does not exist yet, and
// refuses a key of another type.
func (s *Signer) Ensure(ctx context.Context) error {
	path := s.mount() + "/keys/" + s.Key
	sec, err := s.Client.Logical().ReadWithContext(ctx, path)
	if err != nil {
		return fmt.Errorf("vault: read signing key %s: %w", s.Key, err)
	}
	if sec == nil {
		if _, err := s.Client.Logical().WriteWithContext(ctx, path, map[string]any{"type": "ed25519"}); err != nil {
			return fmt.Errorf("vault: create signing key %s: %w", s.Key, err)
		}
		return nil
	}
	if t, _ := sec.Data["type"].(string); t != "ed25519" {
		return fmt.Errorf("vault: signing key %s is of type %q, not ed25519", s.Key, t)
	}
	return nil
}

// Sign returns an Ed25519 signature over msg made by the key's latest
// version, and that version.
func (s *Signer) Sign(ctx context.Context, msg []byte) ([]byte, int, error) {
	sec, err := s.Client.Logical().WriteWithContext(ctx, s.mount()+"/sign/"+s.Key,
		map[string]any{"input": base64.StdEncoding.EncodeToString(msg)})
	if err != nil {
		return nil, 0, fmt.Errorf("vault: sign with %s: %w", s.Key, err)
	}
	if sec == nil {
		return nil, 0, fmt.Errorf("vault: sign with %s: empty answer", s.Key)
	}
	sig, _ := sec.Data["signature"].(string)
	return parseSignature(sig)
}

// parseSignature splits Vault's "vault:v<version>:<base64>" form.
func parseSignature(s string) ([]byte, int, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) != 3 || parts[0] != "vault" || !strings.HasPrefix(parts[1], "v") {
		return nil, 0, errors.New("vault: signature not in vault:v<n>:<base64> form")
	}
	version, err := strconv.Atoi(strings.TrimPrefix(parts[1], "v"))
	if err != nil || version < 1 {
		return nil, 0, errors.New("vault: bad key version in signature")
	}
	sig, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, 0, errors.New("vault: signature is not a base64 Ed25519 signature")
	}
	return sig, version, nil
}

// PublicKeys returns every version of the key, oldest first.
func (s *Signer) PublicKeys(ctx context.Context) ([]VersionedKey, error) {
	sec, err := s.Client.Logical().ReadWithContext(ctx, s.mount()+"/keys/"+s.Key)
	if err != nil {
		return nil, fmt.Errorf("vault: read signing key %s: %w", s.Key, err)
	}
	if sec == nil {
		return nil, fmt.Errorf("vault: signing key %s does not exist", s.Key)
	}
	raw, _ := sec.Data["keys"].(map[string]any)
	keys := make(map[int]ed25519.PublicKey, len(raw))
	for ver, entry := range raw {
		n, err := strconv.Atoi(ver)
		if err != nil {
			continue
		}
		m, _ := entry.(map[string]any)
		b64, _ := m["public_key"].(string)
		pub, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("vault: signing key %s version %d has no Ed25519 public key", s.Key, n)
		}
		keys[n] = pub
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("vault: signing key %s has no versions", s.Key)
	}
	out := make([]VersionedKey, 0, len(keys))
	for _, n := range slices.Sorted(maps.Keys(keys)) {
		out = append(out, VersionedKey{Version: n, Public: keys[n]})
	}
	return out, nil
}
