package vaultdev_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"os"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/fieldcrypt/fieldcrypttest"
	"github.com/havenhealth/haven/libs/store/storetest"
	"github.com/havenhealth/haven/platform/vaultdev"
)

// devVault starts the devstack's transit server and returns an official
// Vault API client pointed at it.
func devVault(t testing.TB) *vaultapi.Client {
	t.Helper()
	srv, err := vaultdev.Start(context.Background(), vaultdev.Options{Addr: "127.0.0.1:0", Dir: t.TempDir(), Token: "dev-root-token"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return client(t, srv.URL(), "dev-root-token")
}

func client(t testing.TB, addr, token string) *vaultapi.Client {
	t.Helper()
	cfg := vaultapi.DefaultConfig()
	cfg.Address = addr
	c, err := vaultapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(token)
	return c
}

// TestFieldcryptContract runs fieldcrypt's Keys contract through
// hashicorp/vault/api against Vault's transit engine as the devstack serves
// it, and also against a real Vault (transit mounted) when
// HAVEN_TEST_VAULT_ADDR is set — the GitHub workflow runs the official
// Vault image in dev mode for that.
func TestFieldcryptContract(t *testing.T) {
	t.Run("devstack-transit", func(t *testing.T) {
		c := devVault(t)
		fieldcrypttest.RunKeysContract(t, func(*testing.T) fieldcrypt.Keys { return fieldcrypt.NewVaultKeys(c, "transit") })
	})
	if addr := os.Getenv(fieldcrypttest.VaultAddrEnv); addr != "" {
		t.Run("real-vault", func(t *testing.T) {
			c := client(t, addr, os.Getenv("HAVEN_TEST_VAULT_TOKEN"))
			fieldcrypttest.RunKeysContract(t, func(*testing.T) fieldcrypt.Keys { return fieldcrypt.NewVaultKeys(c, "transit") })
		})
	}
}

// BenchmarkFieldEncryption compares encrypting and decrypting one typical
// field three ways in one run: raw AES-256-GCM (the floor), fieldcrypt with a
// cached data key (what services do), and one Vault transit call per field
// each way (what fieldcrypt avoids).
func BenchmarkFieldEncryption(b *testing.B) {
	ctx := context.Background()
	c := devVault(b)
	keys := fieldcrypt.NewVaultKeys(c, "transit")
	clinic := fieldcrypttest.NewClinicID(b)
	if err := keys.CreateKey(ctx, clinic); err != nil {
		b.Fatal(err)
	}
	field := []byte("aroha.ngata+clinic@example.org")

	b.Run("baseline=raw-aes-gcm", func(b *testing.B) {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		block, _ := aes.NewCipher(key)
		gcm, _ := cipher.NewGCM(block)
		nonce := make([]byte, gcm.NonceSize())
		for b.Loop() {
			_, _ = rand.Read(nonce)
			sealed := gcm.Seal(nil, nonce, field, nil)
			if _, err := gcm.Open(nil, nonce, sealed, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fieldcrypt-cached", func(b *testing.B) {
		db := storetest.Open(b, nil)
		if err := fieldcrypt.Migrate(ctx, db); err != nil {
			b.Fatal(err)
		}
		cr := fieldcrypt.New(keys, db, fieldcrypt.Options{})
		if err := cr.EnsureClinic(ctx, clinic); err != nil {
			b.Fatal(err)
		}
		scope := fieldcrypt.Scope{ClinicID: clinic, Table: "users", Column: "email", RowID: "u1"}
		for b.Loop() {
			ct, err := cr.Encrypt(ctx, scope, field)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := cr.Decrypt(ctx, scope, ct); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("vault-transit-per-field", func(b *testing.B) {
		name := "transit/encrypt/clinic-" + clinic
		for b.Loop() {
			s, err := c.Logical().WriteWithContext(ctx, name, map[string]any{"plaintext": base64.StdEncoding.EncodeToString(field)})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.Logical().WriteWithContext(ctx, "transit/decrypt/clinic-"+clinic, map[string]any{"ciphertext": s.Data["ciphertext"]}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cold-data-key", func(b *testing.B) { fieldcrypttest.BenchmarkColdDataKey(b, keys) })
}
