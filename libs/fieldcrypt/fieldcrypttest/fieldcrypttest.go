// Package fieldcrypttest checks implementations of fieldcrypt.Keys against
// the behaviour fieldcrypt relies on, and measures them. The Vault-backed
// tests run it against VaultKeys with an in-process transit server, and
// against a real Vault when HAVEN_TEST_VAULT_ADDR is set.
package fieldcrypttest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/store/storetest"
)

// VaultAddrEnv names the variable pointing contract tests at a real Vault.
const VaultAddrEnv = "HAVEN_TEST_VAULT_ADDR"

// NewClinicID returns a random clinic id (a UUID), so tests against a
// shared Vault do not collide.
func NewClinicID(t testing.TB) string {
	t.Helper()
	return uuid.NewString()
}

// RunKeysContract runs the behaviour fieldcrypt expects of a Keys: key
// creation is idempotent; data keys are 32 fresh random bytes that unwrap
// only under their own clinic; rotation keeps old wraps usable and rewrap
// moves them to the new version; destruction is idempotent and makes every
// operation fail with ErrKeyDestroyed; ids that are not clinic ids never
// reach the key service. newKeys is called once per subtest. Failure
// messages never print key bytes.
func RunKeysContract(t *testing.T, newKeys func(t *testing.T) fieldcrypt.Keys) {
	t.Run("CreateKeyIsIdempotent", func(t *testing.T) {
		k, ctx, clinic := setup(t, newKeys)
		require.NoError(t, k.CreateKey(ctx, clinic))
		pt, wrapped := newDataKey(t, k, clinic)
		require.NoError(t, k.CreateKey(ctx, clinic), "second CreateKey")
		got, err := k.Unwrap(ctx, clinic, wrapped)
		require.NoError(t, err, "a repeated CreateKey must keep the existing key")
		requireSameKey(t, pt, got)
	})

	t.Run("DataKeysAreFreshAndUnwrap", func(t *testing.T) {
		k, ctx, clinic := setup(t, newKeys)
		require.NoError(t, k.CreateKey(ctx, clinic))
		pt1, w1 := newDataKey(t, k, clinic)
		pt2, w2 := newDataKey(t, k, clinic)
		require.False(t, bytes.Equal(pt1, pt2), "two data keys are equal")
		require.NotEqual(t, w1, w2, "two wrapped data keys are equal")
		require.False(t, bytes.Contains([]byte(w1), pt1), "wrapped form contains the plaintext key")
		got, err := k.Unwrap(ctx, clinic, w1)
		require.NoError(t, err)
		requireSameKey(t, pt1, got)
	})

	t.Run("WrapIsBoundToItsClinic", func(t *testing.T) {
		k, ctx, a := setup(t, newKeys)
		b := NewClinicID(t)
		require.NoError(t, k.CreateKey(ctx, a))
		require.NoError(t, k.CreateKey(ctx, b))
		t.Cleanup(func() { _ = k.Destroy(context.Background(), b) })
		pt, wrapped := newDataKey(t, k, a)
		got, err := k.Unwrap(ctx, b, wrapped)
		require.Error(t, err, "clinic B unwrapped clinic A's data key")
		require.False(t, bytes.Equal(pt, got), "clinic B recovered clinic A's data key")
		_, err = k.Rewrap(ctx, b, wrapped)
		require.Error(t, err, "clinic B rewrapped clinic A's data key")
	})

	t.Run("TamperedWrapFails", func(t *testing.T) {
		k, ctx, clinic := setup(t, newKeys)
		require.NoError(t, k.CreateKey(ctx, clinic))
		_, wrapped := newDataKey(t, k, clinic)
		// Change one character in the middle of the encoded ciphertext,
		// clear of any prefix and of base64 padding bits.
		b := []byte(wrapped)
		i := len(b) / 2
		for b[i] == ':' {
			i++
		}
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		_, err := k.Unwrap(ctx, clinic, string(b))
		require.Error(t, err)
		require.False(t, errors.Is(err, fieldcrypt.ErrUnavailable), "a bad wrap is not an outage: %v", err)
	})

	t.Run("RotateKeepsOldWrapsAndRewrapMovesThem", func(t *testing.T) {
		k, ctx, clinic := setup(t, newKeys)
		require.NoError(t, k.CreateKey(ctx, clinic))
		pt, old := newDataKey(t, k, clinic)
		require.NoError(t, k.Rotate(ctx, clinic))

		got, err := k.Unwrap(ctx, clinic, old)
		require.NoError(t, err, "a wrap made before rotation must still unwrap")
		requireSameKey(t, pt, got)

		rewrapped, err := k.Rewrap(ctx, clinic, old)
		require.NoError(t, err)
		require.NotEqual(t, old, rewrapped, "rewrap after rotation returned the same wrap")
		got, err = k.Unwrap(ctx, clinic, rewrapped)
		require.NoError(t, err)
		requireSameKey(t, pt, got)

		pt2, w2 := newDataKey(t, k, clinic)
		got, err = k.Unwrap(ctx, clinic, w2)
		require.NoError(t, err, "a data key made after rotation must unwrap")
		requireSameKey(t, pt2, got)
	})

	t.Run("DestroyMakesEverythingFail", func(t *testing.T) {
		k, ctx, clinic := setup(t, newKeys)
		other := NewClinicID(t)
		require.NoError(t, k.CreateKey(ctx, clinic))
		require.NoError(t, k.CreateKey(ctx, other))
		t.Cleanup(func() { _ = k.Destroy(context.Background(), other) })
		_, wrapped := newDataKey(t, k, clinic)
		otherPT, otherWrapped := newDataKey(t, k, other)

		require.NoError(t, k.Destroy(ctx, clinic))
		require.NoError(t, k.Destroy(ctx, clinic), "Destroy must be idempotent")

		_, err := k.Unwrap(ctx, clinic, wrapped)
		require.ErrorIs(t, err, fieldcrypt.ErrKeyDestroyed, "Unwrap")
		_, _, err = k.NewDataKey(ctx, clinic)
		require.ErrorIs(t, err, fieldcrypt.ErrKeyDestroyed, "NewDataKey")
		_, err = k.Rewrap(ctx, clinic, wrapped)
		require.ErrorIs(t, err, fieldcrypt.ErrKeyDestroyed, "Rewrap")
		require.ErrorIs(t, k.Rotate(ctx, clinic), fieldcrypt.ErrKeyDestroyed, "Rotate")

		got, err := k.Unwrap(ctx, other, otherWrapped)
		require.NoError(t, err, "destroying one clinic must not touch another")
		requireSameKey(t, otherPT, got)

		// Re-creating the name yields a new key: old wraps stay dead.
		require.NoError(t, k.CreateKey(ctx, clinic))
		_, err = k.Unwrap(ctx, clinic, wrapped)
		require.Error(t, err, "a destroyed key's wrap unwrapped under a re-created key")
	})

	t.Run("NeverCreatedKeyIsMissing", func(t *testing.T) {
		k, ctx, clinic := setup(t, newKeys)
		_, _, err := k.NewDataKey(ctx, clinic)
		require.ErrorIs(t, err, fieldcrypt.ErrKeyDestroyed)
	})

	t.Run("RejectsInvalidClinicIDs", func(t *testing.T) {
		k := newKeys(t)
		ctx := context.Background()
		for _, id := range []string{"", "../sys/seal", "ABCDEF", "a/b", "clinic 1", "x?y=1", "a%2fb",
			"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0"} {
			require.ErrorIs(t, k.CreateKey(ctx, id), fieldcrypt.ErrInvalidClinicID, "CreateKey %q", id)
			_, _, err := k.NewDataKey(ctx, id)
			require.ErrorIs(t, err, fieldcrypt.ErrInvalidClinicID, "NewDataKey %q", id)
			_, err = k.Unwrap(ctx, id, "x")
			require.ErrorIs(t, err, fieldcrypt.ErrInvalidClinicID, "Unwrap %q", id)
			_, err = k.Rewrap(ctx, id, "x")
			require.ErrorIs(t, err, fieldcrypt.ErrInvalidClinicID, "Rewrap %q", id)
			require.ErrorIs(t, k.Rotate(ctx, id), fieldcrypt.ErrInvalidClinicID, "Rotate %q", id)
			require.ErrorIs(t, k.Destroy(ctx, id), fieldcrypt.ErrInvalidClinicID, "Destroy %q", id)
		}
	})
}

// BenchmarkColdDataKey measures a Decrypt whose data key is not cached: the
// key row is read from a fresh test database (storetest) and unwrapped by
// keys. Each iteration forgets the clinic first. keys must allow creating a
// clinic key.
func BenchmarkColdDataKey(b *testing.B, keys fieldcrypt.Keys) {
	ctx := context.Background()
	db := storetest.Open(b, nil)
	if err := fieldcrypt.Migrate(ctx, db); err != nil {
		b.Fatal(err)
	}
	clinic := NewClinicID(b)
	if err := keys.CreateKey(ctx, clinic); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = keys.Destroy(context.Background(), clinic) })
	c := fieldcrypt.New(keys, db, fieldcrypt.Options{})
	scope := fieldcrypt.Scope{ClinicID: clinic, Table: "patients", Column: "email", RowID: "row-1"}
	ct, err := c.Encrypt(ctx, scope, []byte("benchmark value of about forty bytes...."))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.Forget(clinic)
		if _, err := c.Decrypt(ctx, scope, ct); err != nil {
			b.Fatal(err)
		}
	}
}

func setup(t *testing.T, newKeys func(t *testing.T) fieldcrypt.Keys) (fieldcrypt.Keys, context.Context, string) {
	k := newKeys(t)
	clinic := NewClinicID(t)
	t.Cleanup(func() { _ = k.Destroy(context.Background(), clinic) })
	return k, context.Background(), clinic
}

func newDataKey(t *testing.T, k fieldcrypt.Keys, clinic string) ([]byte, string) {
	t.Helper()
	pt, wrapped, err := k.NewDataKey(context.Background(), clinic)
	require.NoError(t, err)
	require.True(t, len(pt) == fieldcrypt.DataKeySize, "data key has %d bytes, want %d", len(pt), fieldcrypt.DataKeySize)
	require.NotEmpty(t, wrapped, "empty wrapped data key")
	return pt, wrapped
}

func requireSameKey(t *testing.T, want, got []byte) {
	t.Helper()
	require.True(t, bytes.Equal(want, got), "unwrapped key differs from the original (%d vs %d bytes)", len(want), len(got))
}
