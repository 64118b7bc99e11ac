package fieldcrypt

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	vaultapi "github.com/hashicorp/vault/api"
)

// VaultKeys implements [Keys] with the transit secrets engine of the region's
// Vault: one aes256-gcm96 key per clinic, named clinic-<id>.
//
// Every service's token needs update on datakey/plaintext/clinic-*,
// decrypt/clinic-* and rewrap/clinic-* under the mount (NewDataKey, Unwrap,
// Rewrap). CreateKey, Rotate and Destroy also need create/update/delete on
// keys/clinic-* and update on keys/clinic-*/config and
// keys/clinic-*/rotate, which Haven grants to identity only
// (terraform/vault/policies); elsewhere they fail with Vault's 403. The
// client's own timeout and retry settings apply to every call.
type VaultKeys struct {
	client *vaultapi.Client
	mount  string
}

var _ Keys = (*VaultKeys)(nil)

// NewVaultKeys returns Keys backed by the transit engine mounted at mount
// (normally "transit"; empty means "transit").
func NewVaultKeys(c *vaultapi.Client, mount string) *VaultKeys {
	mount = strings.Trim(mount, "/")
	if mount == "" {
		mount = "transit"
	}
	return &VaultKeys{client: c, mount: mount}
}

// vaultKeyName is the transit key name of a clinic.
func vaultKeyName(clinicID string) (string, error) {
	if err := checkClinicID(clinicID); err != nil {
		return "", err
	}
	return "clinic-" + clinicID, nil
}

// CreateKey creates transit/keys/clinic-<id> of type aes256-gcm96, or
// confirms that it exists with that type.
func (v *VaultKeys) CreateKey(ctx context.Context, clinicID string) error {
	name, err := vaultKeyName(clinicID)
	if err != nil {
		return err
	}
	s, err := v.client.Logical().WriteWithContext(ctx, v.mount+"/keys/"+name, map[string]any{
		"type": "aes256-gcm96",
	})
	if err != nil {
		return vaultError("create key", name, err)
	}
	// An existing key is returned unchanged, whatever type was asked for.
	if s != nil && s.Data != nil {
		if t, ok := s.Data["type"].(string); ok && t != "aes256-gcm96" {
			return fmt.Errorf("vault create key %s: existing key has type %s, want aes256-gcm96", name, t)
		}
	}
	return nil
}

// NewDataKey asks transit/datakey/plaintext/clinic-<id> for a 256-bit key.
func (v *VaultKeys) NewDataKey(ctx context.Context, clinicID string) ([]byte, string, error) {
	name, err := vaultKeyName(clinicID)
	if err != nil {
		return nil, "", err
	}
	s, err := v.client.Logical().WriteWithContext(ctx, v.mount+"/datakey/plaintext/"+name, map[string]any{
		"bits": DataKeySize * 8,
	})
	if err != nil {
		return nil, "", vaultError("new data key", name, err)
	}
	wrapped, err := stringField(s, "ciphertext")
	if err != nil {
		return nil, "", fmt.Errorf("vault new data key %s: %w", name, err)
	}
	pt, err := keyField(s, "plaintext")
	if err != nil {
		return nil, "", fmt.Errorf("vault new data key %s: %w", name, err)
	}
	return pt, wrapped, nil
}

// Unwrap decrypts a wrapped data key with transit/decrypt/clinic-<id>.
func (v *VaultKeys) Unwrap(ctx context.Context, clinicID, wrapped string) ([]byte, error) {
	name, err := vaultKeyName(clinicID)
	if err != nil {
		return nil, err
	}
	s, err := v.client.Logical().WriteWithContext(ctx, v.mount+"/decrypt/"+name, map[string]any{
		"ciphertext": wrapped,
	})
	if err != nil {
		return nil, vaultError("unwrap", name, err)
	}
	pt, err := keyField(s, "plaintext")
	if err != nil {
		return nil, fmt.Errorf("vault unwrap %s: %w", name, err)
	}
	return pt, nil
}

// Rewrap re-encrypts a wrapped data key with transit/rewrap/clinic-<id>.
func (v *VaultKeys) Rewrap(ctx context.Context, clinicID, wrapped string) (string, error) {
	name, err := vaultKeyName(clinicID)
	if err != nil {
		return "", err
	}
	s, err := v.client.Logical().WriteWithContext(ctx, v.mount+"/rewrap/"+name, map[string]any{
		"ciphertext": wrapped,
	})
	if err != nil {
		return "", vaultError("rewrap", name, err)
	}
	out, err := stringField(s, "ciphertext")
	if err != nil {
		return "", fmt.Errorf("vault rewrap %s: %w", name, err)
	}
	return out, nil
}

// Rotate adds a key version with transit/keys/clinic-<id>/rotate.
func (v *VaultKeys) Rotate(ctx context.Context, clinicID string) error {
	name, err := vaultKeyName(clinicID)
	if err != nil {
		return err
	}
	if _, err := v.client.Logical().WriteWithContext(ctx, v.mount+"/keys/"+name+"/rotate", map[string]any{}); err != nil {
		return vaultError("rotate", name, err)
	}
	return nil
}

// Destroy allows deletion in transit/keys/clinic-<id>/config, then deletes
// the key. A key that is already gone counts as destroyed.
func (v *VaultKeys) Destroy(ctx context.Context, clinicID string) error {
	name, err := vaultKeyName(clinicID)
	if err != nil {
		return err
	}
	if _, err := v.client.Logical().WriteWithContext(ctx, v.mount+"/keys/"+name+"/config", map[string]any{
		"deletion_allowed": true,
	}); err != nil {
		err = vaultError("allow deletion", name, err)
		if errors.Is(err, ErrKeyDestroyed) {
			return nil
		}
		return err
	}
	if _, err := v.client.Logical().DeleteWithContext(ctx, v.mount+"/keys/"+name); err != nil {
		err = vaultError("delete key", name, err)
		if errors.Is(err, ErrKeyDestroyed) {
			return nil // deleted concurrently
		}
		return err
	}
	return nil
}

// vaultError classifies a Vault client error. The result names the
// operation, the key and Vault's status and messages; Vault's messages for
// these endpoints carry no key material.
func vaultError(op, name string, err error) error {
	var re *vaultapi.ResponseError
	if errors.As(err, &re) {
		msg := strings.Join(re.Errors, "; ")
		if re.RawError || len(msg) > 200 {
			msg = truncate(msg, 200)
		}
		switch {
		case keyMissing(re.StatusCode, re.Errors):
			return fmt.Errorf("vault %s %s: %w (status %d: %s)", op, name, ErrKeyDestroyed, re.StatusCode, msg)
		case re.StatusCode >= 500, re.StatusCode == http.StatusTooManyRequests,
			re.StatusCode == http.StatusPreconditionFailed, re.StatusCode == 473:
			// 503 sealed or standby, 5xx server errors, 429 rate limit or
			// performance standby, 412 and 473 replication/standby states.
			return fmt.Errorf("vault %s %s: %w (status %d: %s)", op, name, ErrUnavailable, re.StatusCode, msg)
		default:
			return fmt.Errorf("vault %s %s: status %d: %s", op, name, re.StatusCode, msg)
		}
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("vault %s %s: %w", op, name, err)
	}
	// Transport errors (refused, reset, DNS, TLS) and timeouts. They are not
	// wrapped: a url.Error repeats the request URL and nothing else useful.
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("vault %s %s: %w: %w", op, name, ErrUnavailable, context.DeadlineExceeded)
	}
	return fmt.Errorf("vault %s %s: %w: %s", op, name, ErrUnavailable, transportReason(err))
}

// keyMissing recognises transit's answers for a key that does not exist:
// "encryption key not found" (datakey, decrypt, rewrap), "key not found"
// (rotate), "no existing key named … could be found" (config) and
// "could not delete key; not found" (delete).
func keyMissing(status int, msgs []string) bool {
	switch status {
	case http.StatusBadRequest, http.StatusInternalServerError:
	case http.StatusNotFound:
		if len(msgs) == 0 {
			return true
		}
	default:
		return false
	}
	for _, m := range msgs {
		if strings.Contains(m, "no handler for route") {
			return false // the mount is missing: a configuration error
		}
		if strings.Contains(m, "not found") || strings.Contains(m, "could be found") {
			return true
		}
	}
	return false
}

// transportReason keeps the innermost error text, without the URL.
func transportReason(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return truncate(err.Error(), 200)
		}
		err = u
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func stringField(s *vaultapi.Secret, key string) (string, error) {
	if s == nil || s.Data == nil {
		return "", errors.New("empty response")
	}
	v, ok := s.Data[key].(string)
	if !ok || v == "" {
		return "", fmt.Errorf("response lacks %s", key)
	}
	return v, nil
}

func keyField(s *vaultapi.Secret, key string) ([]byte, error) {
	v, err := stringField(s, key)
	if err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("response %s is not base64", key)
	}
	if len(b) != DataKeySize {
		clear(b)
		return nil, fmt.Errorf("response %s has %d bytes, want %d", key, len(b), DataKeySize)
	}
	return b, nil
}
