package store

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/havenhealth/haven/services/identity/internal/domain"
)

// Lockout counts failed sign-ins per account key in Redis: after
// domain.MaxFailures failures within domain.FailureWindow the key is locked
// for domain.LockDuration. Keys are hashed e-mail lookups, never e-mails.
type Lockout struct {
	Redis  redis.UniversalClient
	Prefix string
}

// failScript increments the counter; the first failure starts the window,
// the failure that reaches the limit restarts it as the lock period.
var failScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if n == tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return n`)

func (l *Lockout) key(k string) string { return l.Prefix + "lock:" + k }

// Locked implements app.Lockout.
func (l *Lockout) Locked(ctx context.Context, k string) (time.Duration, error) {
	n, err := l.Redis.Get(ctx, l.key(k)).Int()
	if err == redis.Nil {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if n < domain.MaxFailures {
		return 0, nil
	}
	ttl, err := l.Redis.PTTL(ctx, l.key(k)).Result()
	if err != nil || ttl <= 0 {
		return 0, err
	}
	return ttl, nil
}

// Fail implements app.Lockout.
func (l *Lockout) Fail(ctx context.Context, k string) error {
	return failScript.Run(ctx, l.Redis, []string{l.key(k)},
		domain.FailureWindow.Milliseconds(), domain.LockDuration.Milliseconds(), domain.MaxFailures).Err()
}

// Clear implements app.Lockout.
func (l *Lockout) Clear(ctx context.Context, k string) error {
	return l.Redis.Del(ctx, l.key(k)).Err()
}
