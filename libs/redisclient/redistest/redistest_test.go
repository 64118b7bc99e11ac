package redistest

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNew_UsesTheConfiguredServer proves CI's HAVEN_TEST_REDIS_URL is
// honoured (and the in-memory fallback otherwise), and that keys are isolated.
func TestNew_UsesTheConfiguredServer(t *testing.T) {
	c, prefix := New(t)
	ctx := context.Background()
	if url := os.Getenv(URLEnv); url != "" {
		require.True(t, strings.Contains(url, c.Options().Addr), "client must talk to %s, talks to %s", url, c.Options().Addr)
	}
	require.NoError(t, c.Set(ctx, prefix+"k", "v", 0).Err())
	other, otherPrefix := New(t)
	require.NotEqual(t, prefix, otherPrefix)
	n, err := other.Exists(ctx, otherPrefix+"k").Result()
	require.NoError(t, err)
	require.Zero(t, n)
}
