// Package redisclient opens the region's Redis (go-redis v9) from a URL.
package redisclient

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Open parses rawURL (redis:// or rediss://), applies password when set,
// and checks the connection.
func Open(ctx context.Context, rawURL, password string) (*redis.Client, error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	if password != "" {
		opts.Password = password
	}
	c := redis.NewClient(opts)
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("redis ping: %w", err)
	}
	return c, nil
}
