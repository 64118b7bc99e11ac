package vaultdev

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"
)

const testToken = "test-root-token"

// startServer runs a server on dir (a fresh one when dir is "") and returns
// it with an official Vault client pointed at it. The server is closed when
// the test ends; closing it earlier is fine.
func startServer(tb testing.TB, dir string) (*Server, *api.Client) {
	tb.Helper()
	if dir == "" {
		dir = tb.TempDir()
	}
	srv, err := Start(context.Background(), Options{Addr: "127.0.0.1:0", Dir: dir, Token: testToken})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = srv.Close() })
	return srv, newClient(tb, srv.URL(), testToken)
}

func newClient(tb testing.TB, addr, token string) *api.Client {
	tb.Helper()
	cfg := api.DefaultConfig()
	cfg.Address = addr
	cfg.MaxRetries = 0
	c, err := api.NewClient(cfg)
	require.NoError(tb, err)
	c.SetToken(token)
	return c
}

// responseError unwraps the *api.ResponseError the client returns for a
// non-2xx answer.
func responseError(t *testing.T, err error) *api.ResponseError {
	t.Helper()
	var re *api.ResponseError
	require.ErrorAs(t, err, &re)
	return re
}

func createKey(t *testing.T, c *api.Client, name string) {
	t.Helper()
	_, err := c.Logical().Write("transit/keys/"+name, map[string]any{"type": "aes256-gcm96"})
	require.NoError(t, err)
}

func encrypt(t *testing.T, c *api.Client, key string, plaintext []byte) string {
	t.Helper()
	s, err := c.Logical().Write("transit/encrypt/"+key, map[string]any{
		"plaintext": base64.StdEncoding.EncodeToString(plaintext),
	})
	require.NoError(t, err)
	ct, ok := s.Data["ciphertext"].(string)
	require.True(t, ok, "ciphertext in %v", s.Data)
	return ct
}

func decrypt(c *api.Client, key, ciphertext string) ([]byte, error) {
	s, err := c.Logical().Write("transit/decrypt/"+key, map[string]any{"ciphertext": ciphertext})
	if err != nil {
		return nil, err
	}
	pt, ok := s.Data["plaintext"].(string)
	if !ok {
		return nil, fmt.Errorf("no plaintext in %v", s.Data)
	}
	return base64.StdEncoding.DecodeString(pt)
}

func TestHealth_ReportsActiveUnsealedNodeWithoutToken(t *testing.T) {
	_, c := startServer(t, "")
	c.ClearToken()

	h, err := c.Sys().Health()
	require.NoError(t, err)
	require.True(t, h.Initialized)
	require.False(t, h.Sealed)
	require.False(t, h.Standby)
	require.Equal(t, "1.21.4", h.Version)
	require.Equal(t, "disabled", h.ReplicationDRMode)
	require.NotEmpty(t, h.ClusterID)
	require.NotZero(t, h.ServerTimeUTC)
}

func TestAuth_RejectsMissingAndWrongToken(t *testing.T) {
	srv, _ := startServer(t, "")

	for _, tc := range []struct {
		name, token string
		want        []string
	}{
		{"missing", "", []string{"permission denied"}},
		{"wrong", "not-the-token", []string{"2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, srv.URL(), tc.token)
			if tc.token == "" {
				c.ClearToken()
			}
			_, err := c.Logical().Write("transit/keys/clinic-abc", nil)
			re := responseError(t, err)
			require.Equal(t, http.StatusForbidden, re.StatusCode)
			require.Equal(t, tc.want, re.Errors)

			// Nothing was created.
			s, err := newClient(t, srv.URL(), testToken).Logical().Read("transit/keys/clinic-abc")
			require.NoError(t, err)
			require.Nil(t, s)
		})
	}
}

func TestTransit_CreateAndReadKey(t *testing.T) {
	_, c := startServer(t, "")
	createKey(t, c, "clinic-abc")

	s, err := c.Logical().Read("transit/keys/clinic-abc")
	require.NoError(t, err)
	require.NotNil(t, s)
	require.NotEmpty(t, s.RequestID)
	require.Equal(t, "clinic-abc", s.Data["name"])
	require.Equal(t, "aes256-gcm96", s.Data["type"])
	require.Equal(t, "1", fmt.Sprint(s.Data["latest_version"]))

	list, err := c.Logical().List("transit/keys")
	require.NoError(t, err)
	require.Equal(t, []any{"clinic-abc"}, list.Data["keys"])
}

func TestTransit_DatakeyCiphertextDecryptsToItsPlaintext(t *testing.T) {
	_, c := startServer(t, "")
	createKey(t, c, "clinic-abc")

	s, err := c.Logical().Write("transit/datakey/plaintext/clinic-abc", nil)
	require.NoError(t, err)
	pt, err := base64.StdEncoding.DecodeString(s.Data["plaintext"].(string))
	require.NoError(t, err)
	require.Len(t, pt, 32, "a 256-bit data key")
	ct := s.Data["ciphertext"].(string)
	require.True(t, strings.HasPrefix(ct, "vault:v1:"), ct)

	got, err := decrypt(c, "clinic-abc", ct)
	require.NoError(t, err)
	require.Equal(t, pt, got)
}

func TestTransit_EncryptDecryptRoundTrip(t *testing.T) {
	_, c := startServer(t, "")
	createKey(t, c, "clinic-abc")

	msg := []byte("allergy: penicillin")
	ct := encrypt(t, c, "clinic-abc", msg)
	require.True(t, strings.HasPrefix(ct, "vault:v1:"), ct)
	require.NotContains(t, ct, base64.StdEncoding.EncodeToString(msg))

	got, err := decrypt(c, "clinic-abc", ct)
	require.NoError(t, err)
	require.Equal(t, msg, got)

	_, err = decrypt(c, "clinic-abc", "vault:v1:bm90IGEgY2lwaGVydGV4dA==")
	re := responseError(t, err)
	require.Equal(t, http.StatusBadRequest, re.StatusCode)
}

// Vault's router turns a write to a missing resource into a create; transit
// then creates the key on first encrypt.
func TestTransit_EncryptCreatesMissingKey(t *testing.T) {
	_, c := startServer(t, "")

	ct := encrypt(t, c, "clinic-new", []byte("x"))
	require.True(t, strings.HasPrefix(ct, "vault:v1:"), ct)

	s, err := c.Logical().Read("transit/keys/clinic-new")
	require.NoError(t, err)
	require.NotNil(t, s)
	require.Equal(t, "aes256-gcm96", s.Data["type"])
}

func TestTransit_RotateKeepsOldCiphertextAndRewrapUpgradesIt(t *testing.T) {
	_, c := startServer(t, "")
	createKey(t, c, "clinic-abc")
	msg := []byte("dob: 1980-02-29")
	v1 := encrypt(t, c, "clinic-abc", msg)

	_, err := c.Logical().Write("transit/keys/clinic-abc/rotate", nil)
	require.NoError(t, err)

	got, err := decrypt(c, "clinic-abc", v1)
	require.NoError(t, err)
	require.Equal(t, msg, got)

	s, err := c.Logical().Write("transit/rewrap/clinic-abc", map[string]any{"ciphertext": v1})
	require.NoError(t, err)
	v2 := s.Data["ciphertext"].(string)
	require.True(t, strings.HasPrefix(v2, "vault:v2:"), v2)

	got, err = decrypt(c, "clinic-abc", v2)
	require.NoError(t, err)
	require.Equal(t, msg, got)

	require.True(t, strings.HasPrefix(encrypt(t, c, "clinic-abc", msg), "vault:v2:"))
}

func TestTransit_DeleteNeedsDeletionAllowed(t *testing.T) {
	_, c := startServer(t, "")
	createKey(t, c, "clinic-abc")

	_, err := c.Logical().Delete("transit/keys/clinic-abc")
	re := responseError(t, err)
	require.Equal(t, http.StatusBadRequest, re.StatusCode)
	require.Equal(t, []string{"error deleting policy clinic-abc: deletion is not allowed for this key"}, re.Errors)
}

func TestTransit_DeletedKeyNoLongerDecrypts(t *testing.T) {
	_, c := startServer(t, "")
	createKey(t, c, "clinic-abc")
	ct := encrypt(t, c, "clinic-abc", []byte("x"))

	_, err := c.Logical().Write("transit/keys/clinic-abc/config", map[string]any{"deletion_allowed": true})
	require.NoError(t, err)
	_, err = c.Logical().Delete("transit/keys/clinic-abc")
	require.NoError(t, err)

	_, err = decrypt(c, "clinic-abc", ct)
	re := responseError(t, err)
	require.Equal(t, http.StatusBadRequest, re.StatusCode)
	require.Equal(t, []string{"encryption key not found"}, re.Errors)

	s, err := c.Logical().Read("transit/keys/clinic-abc")
	require.NoError(t, err)
	require.Nil(t, s, "the key is gone (404)")
}

func TestTransit_UnknownPathsAre404(t *testing.T) {
	_, c := startServer(t, "")

	for _, tc := range []struct{ path, want string }{
		{"transit/no-such-endpoint", "1 error occurred:\n\t* unsupported path\n\n"},
		{"secret/data/foo", `no handler for route "secret/data/foo". route entry not found.`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			_, err := c.Logical().Write(tc.path, map[string]any{"a": "b"})
			re := responseError(t, err)
			require.Equal(t, http.StatusNotFound, re.StatusCode)
			require.Equal(t, []string{tc.want}, re.Errors)
		})
	}
}

func TestTransit_BatchWithAFailedItemReturns400AndPerItemResults(t *testing.T) {
	_, c := startServer(t, "")
	createKey(t, c, "clinic-abc")
	good := encrypt(t, c, "clinic-abc", []byte("ok"))

	s, err := c.Logical().Write("transit/decrypt/clinic-abc", map[string]any{
		"batch_input": []map[string]any{{"ciphertext": good}, {"ciphertext": "garbage"}},
	})
	re := responseError(t, err)
	require.Equal(t, http.StatusBadRequest, re.StatusCode)
	require.Nil(t, s)

	s, err = c.Logical().Write("transit/decrypt/clinic-abc", map[string]any{
		"batch_input":                   []map[string]any{{"ciphertext": good}, {"ciphertext": "garbage"}},
		"partial_failure_response_code": http.StatusMultiStatus,
	})
	require.NoError(t, err)
	results := s.Data["batch_results"].([]any)
	require.Len(t, results, 2)
	require.Equal(t, base64.StdEncoding.EncodeToString([]byte("ok")), results[0].(map[string]any)["plaintext"])
	require.NotEmpty(t, results[1].(map[string]any)["error"])
}

func TestServer_StateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	srv, c := startServer(t, dir)
	h1, err := c.Sys().Health()
	require.NoError(t, err)
	for _, k := range []string{"clinic-abc", "clinic-gone"} {
		createKey(t, c, k)
	}
	msg := []byte("insurance: 12345")
	v1 := encrypt(t, c, "clinic-abc", msg)
	_, err = c.Logical().Write("transit/keys/clinic-abc/rotate", nil)
	require.NoError(t, err)
	v2 := encrypt(t, c, "clinic-abc", msg)
	gone := encrypt(t, c, "clinic-gone", msg)
	_, err = c.Logical().Write("transit/keys/clinic-gone/config", map[string]any{"deletion_allowed": true})
	require.NoError(t, err)
	_, err = c.Logical().Delete("transit/keys/clinic-gone")
	require.NoError(t, err)
	require.NoError(t, srv.Close())

	_, err = c.Sys().Health()
	require.Error(t, err, "the first server is down")

	srv2, c2 := startServer(t, dir)
	h2, err := c2.Sys().Health()
	require.NoError(t, err)
	require.Equal(t, h1.ClusterID, h2.ClusterID)

	for _, ct := range []string{v1, v2} {
		got, err := decrypt(c2, "clinic-abc", ct)
		require.NoError(t, err)
		require.Equal(t, msg, got)
	}
	s, err := c2.Logical().Read("transit/keys/clinic-abc")
	require.NoError(t, err)
	require.Equal(t, "2", fmt.Sprint(s.Data["latest_version"]))

	_, err = decrypt(c2, "clinic-gone", gone)
	re := responseError(t, err)
	require.Equal(t, []string{"encryption key not found"}, re.Errors)
	list, err := c2.Logical().List("transit/keys")
	require.NoError(t, err)
	require.Equal(t, []any{"clinic-abc"}, list.Data["keys"])

	require.NoError(t, srv2.Close())
	require.NoError(t, srv2.Close(), "Close is idempotent")
}

func TestTransit_ConcurrentRequestsAreSafe(t *testing.T) {
	_, c := startServer(t, "")
	createKey(t, c, "clinic-abc")

	const workers, rounds = 8, 20
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				key := "clinic-abc"
				if i%4 == 0 {
					key = fmt.Sprintf("clinic-w%d", w) // upserted on first use
				}
				if w == 0 && i%10 == 5 {
					if _, err := c.Logical().Write("transit/keys/clinic-abc/rotate", nil); err != nil {
						errs <- fmt.Errorf("rotate: %w", err)
						return
					}
				}
				msg := fmt.Appendf(nil, "worker %d round %d", w, i)
				s, err := c.Logical().Write("transit/encrypt/"+key, map[string]any{
					"plaintext": base64.StdEncoding.EncodeToString(msg),
				})
				if err != nil {
					errs <- fmt.Errorf("encrypt: %w", err)
					return
				}
				got, err := decrypt(c, key, s.Data["ciphertext"].(string))
				if err != nil {
					errs <- fmt.Errorf("decrypt: %w", err)
					return
				}
				if string(got) != string(msg) {
					errs <- fmt.Errorf("got %q, want %q", got, msg)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	require.NoError(t, errors.Join(func() []error {
		var all []error
		for err := range errs {
			all = append(all, err)
		}
		return all
	}()...))

	s, err := c.Logical().Read("transit/keys/clinic-abc")
	require.NoError(t, err)
	require.Equal(t, "3", fmt.Sprint(s.Data["latest_version"]))
}

// BenchmarkTransitEncrypt is one encrypt call over HTTP through the official
// client: the cost of "one Vault call per field".
func BenchmarkTransitEncrypt(b *testing.B) {
	_, c := startServer(b, "")
	_, err := c.Logical().Write("transit/keys/bench", map[string]any{"type": "aes256-gcm96"})
	require.NoError(b, err)
	data := map[string]any{"plaintext": base64.StdEncoding.EncodeToString([]byte("+1 555 0100"))}

	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Logical().Write("transit/encrypt/bench", data); err != nil {
			b.Fatal(err)
		}
	}
}
