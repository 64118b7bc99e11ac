package vaultdev

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/sdk/physical"
	"github.com/stretchr/testify/require"
)

func openTestStore(t *testing.T, dir string) *fileStore {
	t.Helper()
	s, err := openFileStore(dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Vault's own conformance checks for storage backends.
func TestFileStore_PassesVaultBackendSuite(t *testing.T) {
	t.Run("physical.ExerciseBackend", func(t *testing.T) {
		physical.ExerciseBackend(t, openTestStore(t, t.TempDir()))
	})
	t.Run("physical.ExerciseBackend_ListPrefix", func(t *testing.T) {
		physical.ExerciseBackend_ListPrefix(t, openTestStore(t, t.TempDir()))
	})
	t.Run("logical.TestStorage", func(t *testing.T) {
		logical.TestStorage(t, logical.NewLogicalStorage(openTestStore(t, t.TempDir())))
	})
}

func TestFileStore_ListUsesPlainStringPrefix(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir())
	for _, k := range []string{"foo", "foo/a", "foo/b/c", "foo/b/d", "foobar", "fop"} {
		require.NoError(t, s.Put(ctx, &physical.Entry{Key: k, Value: []byte(k)}))
	}

	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", []string{"foo", "foo/", "foobar", "fop"}},
		{"foo", []string{"", "/", "bar"}},
		{"foo/", []string{"a", "b/"}},
		{"foo/b/", []string{"c", "d"}},
		{"nothing/", nil},
	} {
		got, err := s.List(ctx, tc.prefix)
		require.NoError(t, err)
		require.Equal(t, tc.want, got, "List(%q)", tc.prefix)
	}
}

func TestFileStore_ReopenSeesPutsAndDeletes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keys := []string{"policy/clinic-abc", "archive/clinic-abc", "odd/../key", ".hidden", "100%/ünï", "a b"}

	s, err := openFileStore(dir)
	require.NoError(t, err)
	for _, k := range keys {
		require.NoError(t, s.Put(ctx, &physical.Entry{Key: k, Value: []byte("v:" + k)}))
	}
	require.NoError(t, s.Put(ctx, &physical.Entry{Key: "policy/clinic-abc", Value: []byte("v2")}))
	require.NoError(t, s.Delete(ctx, "archive/clinic-abc"))
	require.NoError(t, s.Close())
	_, err = s.Get(ctx, "policy/clinic-abc")
	require.ErrorIs(t, err, errStoreClosed)

	// A temp file from an interrupted write is discarded.
	require.NoError(t, os.WriteFile(filepath.Join(dir, tempPrefix+"123"), []byte("torn"), 0o600))

	s = openTestStore(t, dir)
	e, err := s.Get(ctx, "policy/clinic-abc")
	require.NoError(t, err)
	require.Equal(t, "v2", string(e.Value))
	e, err = s.Get(ctx, "archive/clinic-abc")
	require.NoError(t, err)
	require.Nil(t, e)
	for _, k := range keys[2:] {
		e, err := s.Get(ctx, k)
		require.NoError(t, err)
		require.Equal(t, "v:"+k, string(e.Value), k)
	}
	_, err = os.Stat(filepath.Join(dir, tempPrefix+"123"))
	require.ErrorIs(t, err, os.ErrNotExist)

	des, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, des, len(keys)-1, "one file per key, nothing outside dir")
}

func TestFileStore_RejectsKeysItCannotStore(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir())
	require.Error(t, s.Put(ctx, &physical.Entry{Key: ""}))
	long := make([]byte, 200)
	for i := range long {
		long[i] = '/'
	}
	require.Error(t, s.Put(ctx, &physical.Entry{Key: string(long)}))
}

func TestFileStore_GetReturnsACopy(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir())
	v := []byte("abc")
	require.NoError(t, s.Put(ctx, &physical.Entry{Key: "k", Value: v}))
	v[0] = 'X'
	e, err := s.Get(ctx, "k")
	require.NoError(t, err)
	e.Value[1] = 'Y'
	e, err = s.Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, "abc", string(e.Value))
}
