package fieldcrypt_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/fieldcrypt"
)

// These tests pin VaultKeys' requests and its reading of Vault's answers
// with canned HTTP responses. The behaviour against a real transit engine is
// checked by fieldcrypttest.RunKeysContract in the Vault-backed module.

type vaultCall struct {
	Method, Path string
	Body         map[string]any
}

type fakeVault struct {
	mu    sync.Mutex
	calls []vaultCall
	// reply answers a request: status and JSON body.
	reply func(c vaultCall) (int, any)
}

func (f *fakeVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	c := vaultCall{Method: r.Method, Path: r.URL.Path}
	_ = json.Unmarshal(raw, &c.Body)
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	status, body := f.reply(c)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if body != nil {
		_ = json.NewEncoder(w).Encode(body)
	}
}

func (f *fakeVault) Calls() []vaultCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]vaultCall(nil), f.calls...)
}

func newFakeVault(t *testing.T, reply func(c vaultCall) (int, any)) (*fieldcrypt.VaultKeys, *fakeVault, *httptest.Server) {
	t.Helper()
	f := &fakeVault{reply: reply}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg := vaultapi.DefaultConfig()
	cfg.Address = srv.URL
	cfg.MaxRetries = 0
	client, err := vaultapi.NewClient(cfg)
	require.NoError(t, err)
	client.SetToken("test-token")
	client.SetNamespace("")
	return fieldcrypt.NewVaultKeys(client, "transit"), f, srv
}

func vaultErrors(msgs ...string) map[string]any { return map[string]any{"errors": msgs} }

const clinicID = "0b7e8f3c-1d2a-4c5b-9e6f-7a8b9c0d1e2f"

func TestVaultKeys_UsesTransitEndpoints(t *testing.T) {
	dataKey := bytes.Repeat([]byte{7}, 32)
	keys, f, _ := newFakeVault(t, func(c vaultCall) (int, any) {
		switch c.Path {
		case "/v1/transit/keys/clinic-" + clinicID:
			if c.Method == http.MethodDelete {
				return http.StatusNoContent, nil
			}
			return http.StatusOK, map[string]any{"data": map[string]any{"type": "aes256-gcm96"}}
		case "/v1/transit/datakey/plaintext/clinic-" + clinicID:
			return http.StatusOK, map[string]any{"data": map[string]any{
				"plaintext": base64.StdEncoding.EncodeToString(dataKey), "ciphertext": "vault:v1:wrapped",
			}}
		case "/v1/transit/decrypt/clinic-" + clinicID:
			return http.StatusOK, map[string]any{"data": map[string]any{"plaintext": base64.StdEncoding.EncodeToString(dataKey)}}
		case "/v1/transit/rewrap/clinic-" + clinicID:
			return http.StatusOK, map[string]any{"data": map[string]any{"ciphertext": "vault:v2:rewrapped"}}
		default: // rotate, config
			return http.StatusNoContent, nil
		}
	})
	ctx := context.Background()

	require.NoError(t, keys.CreateKey(ctx, clinicID))
	pt, wrapped, err := keys.NewDataKey(ctx, clinicID)
	require.NoError(t, err)
	require.True(t, bytes.Equal(dataKey, pt))
	require.Equal(t, "vault:v1:wrapped", wrapped)
	got, err := keys.Unwrap(ctx, clinicID, wrapped)
	require.NoError(t, err)
	require.True(t, bytes.Equal(dataKey, got))
	rewrapped, err := keys.Rewrap(ctx, clinicID, wrapped)
	require.NoError(t, err)
	require.Equal(t, "vault:v2:rewrapped", rewrapped)
	require.NoError(t, keys.Rotate(ctx, clinicID))
	require.NoError(t, keys.Destroy(ctx, clinicID))

	name := "clinic-" + clinicID
	require.Equal(t, []vaultCall{
		{http.MethodPut, "/v1/transit/keys/" + name, map[string]any{"type": "aes256-gcm96"}},
		{http.MethodPut, "/v1/transit/datakey/plaintext/" + name, map[string]any{"bits": float64(256)}},
		{http.MethodPut, "/v1/transit/decrypt/" + name, map[string]any{"ciphertext": "vault:v1:wrapped"}},
		{http.MethodPut, "/v1/transit/rewrap/" + name, map[string]any{"ciphertext": "vault:v1:wrapped"}},
		{http.MethodPut, "/v1/transit/keys/" + name + "/rotate", map[string]any{}},
		{http.MethodPut, "/v1/transit/keys/" + name + "/config", map[string]any{"deletion_allowed": true}},
		{http.MethodDelete, "/v1/transit/keys/" + name, nil},
	}, f.Calls())
}

func TestVaultKeys_MapsVaultErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		status int
		body   any
		want   error // nil: an error that is neither sentinel
	}{
		"missing key":        {http.StatusBadRequest, vaultErrors("encryption key not found"), fieldcrypt.ErrKeyDestroyed},
		"sealed":             {http.StatusServiceUnavailable, vaultErrors("Vault is sealed"), fieldcrypt.ErrUnavailable},
		"server error":       {http.StatusInternalServerError, vaultErrors("internal error"), fieldcrypt.ErrUnavailable},
		"rate limited":       {http.StatusTooManyRequests, vaultErrors("rate limit quota exceeded"), fieldcrypt.ErrUnavailable},
		"permission denied":  {http.StatusForbidden, vaultErrors("permission denied"), nil},
		"bad ciphertext":     {http.StatusBadRequest, vaultErrors("cipher: message authentication failed"), nil},
		"mount missing":      {http.StatusNotFound, vaultErrors(`no handler for route "transit/decrypt/x"`), nil},
		"short data key":     {http.StatusOK, map[string]any{"data": map[string]any{"plaintext": base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))}}, nil},
		"no data in success": {http.StatusOK, map[string]any{}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			keys, _, _ := newFakeVault(t, func(vaultCall) (int, any) { return tc.status, tc.body })
			pt, err := keys.Unwrap(context.Background(), clinicID, "vault:v1:x")
			require.Error(t, err)
			require.Nil(t, pt)
			require.NotContains(t, err.Error(), "test-token")
			require.NotContains(t, err.Error(), "MDEyMzQ1", "no key material in errors")
			for _, s := range []error{fieldcrypt.ErrKeyDestroyed, fieldcrypt.ErrUnavailable} {
				require.Equal(t, s == tc.want, errors.Is(err, s), "errors.Is(%v, %v)", err, s)
			}
		})
	}
}

func TestVaultKeys_UnreachableIsUnavailable(t *testing.T) {
	keys, _, srv := newFakeVault(t, func(vaultCall) (int, any) { return http.StatusOK, nil })
	srv.Close()
	_, _, err := keys.NewDataKey(context.Background(), clinicID)
	require.ErrorIs(t, err, fieldcrypt.ErrUnavailable)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = keys.Unwrap(ctx, clinicID, "vault:v1:x")
	require.ErrorIs(t, err, context.Canceled)
}

func TestVaultKeys_DestroyOfMissingKeySucceeds(t *testing.T) {
	keys, f, _ := newFakeVault(t, func(c vaultCall) (int, any) {
		return http.StatusBadRequest, vaultErrors("no existing key named clinic-" + clinicID + " could be found")
	})
	require.NoError(t, keys.Destroy(context.Background(), clinicID))
	require.Len(t, f.Calls(), 1, "no DELETE after the key was found missing")

	keys, _, _ = newFakeVault(t, func(c vaultCall) (int, any) {
		if c.Method == http.MethodDelete {
			return http.StatusInternalServerError, vaultErrors("error deleting policy clinic-x: could not delete key; not found")
		}
		return http.StatusNoContent, nil
	})
	require.NoError(t, keys.Destroy(context.Background(), clinicID), "deleted concurrently")
}

func TestVaultKeys_CreateKeyRefusesAnExistingKeyOfAnotherType(t *testing.T) {
	keys, _, _ := newFakeVault(t, func(vaultCall) (int, any) {
		return http.StatusOK, map[string]any{"data": map[string]any{"type": "chacha20-poly1305"}}
	})
	require.ErrorContains(t, keys.CreateKey(context.Background(), clinicID), "chacha20-poly1305")
}

func TestVaultKeys_InvalidClinicIDNeverReachesVault(t *testing.T) {
	keys, f, _ := newFakeVault(t, func(vaultCall) (int, any) { return http.StatusOK, nil })
	ctx := context.Background()
	for _, id := range []string{"", "../../sys/seal", "x/../../sys", "ABC", "a?b", "a b"} {
		require.ErrorIs(t, keys.CreateKey(ctx, id), fieldcrypt.ErrInvalidClinicID)
		_, _, err := keys.NewDataKey(ctx, id)
		require.ErrorIs(t, err, fieldcrypt.ErrInvalidClinicID)
		_, err = keys.Unwrap(ctx, id, "w")
		require.ErrorIs(t, err, fieldcrypt.ErrInvalidClinicID)
		_, err = keys.Rewrap(ctx, id, "w")
		require.ErrorIs(t, err, fieldcrypt.ErrInvalidClinicID)
		require.ErrorIs(t, keys.Rotate(ctx, id), fieldcrypt.ErrInvalidClinicID)
		require.ErrorIs(t, keys.Destroy(ctx, id), fieldcrypt.ErrInvalidClinicID)
	}
	require.Empty(t, f.Calls())
}
