// Package redistest gives a test a Redis: the real server named by
// HAVEN_TEST_REDIS_URL when set, otherwise an in-memory miniredis. Keys are
// isolated by a per-test prefix that is deleted at cleanup.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/havenhealth/haven/libs/redisclient"
)

// URLEnv names the variable pointing tests at a real Redis.
const URLEnv = "HAVEN_TEST_REDIS_URL"

// New returns a client and a key prefix unique to this test.
func New(t testing.TB) (*redis.Client, string) {
	t.Helper()
	ctx := context.Background()
	url := os.Getenv(URLEnv)
	if url == "" {
		mr := miniredis.RunT(t)
		url = "redis://" + mr.Addr()
	}
	c, err := redisclient.Open(ctx, url, "")
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		_ = c.Close()
	})
	return c, prefix
}
