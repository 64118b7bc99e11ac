package vaultdev_test

import (
	"context"
	"crypto/ed25519"
	"testing"

	"github.com/havenhealth/haven/libs/vaultclient"
)

// TestSigner signs through Vault's transit engine with an Ed25519 key the
// signer creates, verifies offline with the public key Vault publishes, and
// keeps old signatures verifiable after a rotation.
func TestSigner(t *testing.T) {
	ctx := context.Background()
	c := devVault(t)
	s := &vaultclient.Signer{Client: c, Key: "audit-digests"}
	if err := s.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Ensure(ctx); err != nil {
		t.Fatalf("Ensure is idempotent: %v", err)
	}
	msg := []byte(`{"clinic_id":"c1","head_seq":3}`)
	sig, v, err := s.Sign(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	if v != 1 {
		t.Fatalf("version = %d, want 1", v)
	}
	keys, err := s.PublicKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !ed25519.Verify(keys[0].Public, msg, sig) {
		t.Fatalf("signature does not verify with the published key (%d keys)", len(keys))
	}
	if ed25519.Verify(keys[0].Public, []byte("tampered"), sig) {
		t.Fatal("signature verifies over another message")
	}

	if _, err := c.Logical().Write("transit/keys/audit-digests/rotate", nil); err != nil {
		t.Fatal(err)
	}
	sig2, v2, err := s.Sign(ctx, msg)
	if err != nil || v2 != 2 {
		t.Fatalf("after rotation: version %d, %v", v2, err)
	}
	keys, err = s.PublicKeys(ctx)
	if err != nil || len(keys) != 2 || keys[0].Version != 1 || keys[1].Version != 2 {
		t.Fatalf("keys after rotation: %+v, %v", keys, err)
	}
	if !ed25519.Verify(keys[0].Public, msg, sig) || !ed25519.Verify(keys[1].Public, msg, sig2) {
		t.Fatal("old and new signatures must verify with their versions")
	}

	aes := &vaultclient.Signer{Client: c, Key: "not-for-signing"}
	if _, err := c.Logical().Write("transit/keys/not-for-signing", map[string]any{"type": "aes256-gcm96"}); err != nil {
		t.Fatal(err)
	}
	if err := aes.Ensure(ctx); err == nil {
		t.Fatal("Ensure must refuse a key that cannot sign")
	}
}
