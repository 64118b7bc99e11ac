package authn_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/authn"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/redisclient/redistest"
)

// clock is a fake clock the tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: testT0} }

// Now returns the fake time.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the fake time forward by d.
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newSessions(t testing.TB) (*authn.Sessions, *clock, *redis.Client, string) {
	t.Helper()
	rdb, prefix := redistest.New(t)
	clk := newClock()
	return &authn.Sessions{Redis: rdb, Prefix: prefix, Now: clk.Now}, clk, rdb, prefix
}

// session returns a session of user uid in clinic c-1 starting now, with a
// 5-minute idle time-out and an 8-hour life.
func session(clk *clock, id, uid string) authn.Session {
	now := clk.Now()
	return authn.Session{
		ID: id, ClinicID: "c-1", UserID: uid,
		Role: authz.RolePractitioner, Grants: authz.RoleGrants(authz.RolePractitioner),
		CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(8 * time.Hour), IdleTimeout: 5 * time.Minute,
	}
}

// requireEnded asserts err is a SessionEndedError with reason.
func requireEnded(t *testing.T, err error, reason string) {
	t.Helper()
	require.ErrorIs(t, err, authn.ErrSessionEnded)
	var ended *authn.SessionEndedError
	require.True(t, errors.As(err, &ended))
	require.Equal(t, reason, ended.Reason)
}

func TestSessions_CreateThenTouchReturnsRecord(t *testing.T) {
	s, clk, rdb, prefix := newSessions(t)
	ctx := context.Background()
	want := session(clk, "s-1", "u-1")
	want.PatientID = "p-9"
	want.Grants.ChartPractitioners = []string{"u-7"}
	want.Grants.Charts = authz.ChartsOwn
	require.NoError(t, s.Create(ctx, want))

	clk.Advance(time.Minute)
	got, err := s.Touch(ctx, "c-1", "s-1")
	require.NoError(t, err)
	require.Equal(t, want.ID, got.ID)
	require.Equal(t, want.ClinicID, got.ClinicID)
	require.Equal(t, want.UserID, got.UserID)
	require.Equal(t, want.Role, got.Role)
	require.Equal(t, want.Grants, got.Grants)
	require.Equal(t, want.PatientID, got.PatientID)
	require.True(t, want.CreatedAt.Equal(got.CreatedAt))
	require.True(t, clk.Now().Equal(got.LastSeen), "Touch records the request")
	require.True(t, want.ExpiresAt.Equal(got.ExpiresAt))
	require.Equal(t, want.IdleTimeout, got.IdleTimeout)

	// Keys carry the clinic as a hash tag, and expire for cleanup.
	ttl, err := rdb.PTTL(ctx, prefix+"sess:{c-1}:s-1").Result()
	require.NoError(t, err)
	require.Greater(t, ttl, 8*time.Hour-time.Minute)
	require.LessOrEqual(t, ttl, 8*time.Hour+time.Minute)
	members, err := rdb.SMembers(ctx, prefix+"usess:{c-1}:u-1").Result()
	require.NoError(t, err)
	require.Equal(t, []string{"s-1"}, members)
}

func TestSessions_CreateRejectsDuplicateAndExpired(t *testing.T) {
	s, clk, _, _ := newSessions(t)
	ctx := context.Background()
	require.NoError(t, s.Create(ctx, session(clk, "s-1", "u-1")))
	require.Error(t, s.Create(ctx, session(clk, "s-1", "u-2")), "a session id is never reused")

	old := session(clk, "s-2", "u-1")
	old.ExpiresAt = clk.Now()
	require.Error(t, s.Create(ctx, old))

	bad := session(clk, "s-{3}", "u-1")
	require.Error(t, s.Create(ctx, bad), "braces would break the hash tag")
}

func TestSessions_IdleTimeout(t *testing.T) {
	s, clk, _, _ := newSessions(t)
	ctx := context.Background()
	require.NoError(t, s.Create(ctx, session(clk, "s-1", "u-1")))

	clk.Advance(4*time.Minute + 59*time.Second)
	_, err := s.Touch(ctx, "c-1", "s-1")
	require.NoError(t, err, "alive at 4m59s")

	clk.Advance(4*time.Minute + 59*time.Second)
	_, err = s.Touch(ctx, "c-1", "s-1")
	require.NoError(t, err, "the previous touch extended the session")

	clk.Advance(5*time.Minute + time.Second)
	_, err = s.Touch(ctx, "c-1", "s-1")
	requireEnded(t, err, authn.ReasonIdle)

	_, err = s.Touch(ctx, "c-1", "s-1")
	requireEnded(t, err, authn.ReasonRevoked) // deleted by the failed touch
}

func TestSessions_GetDoesNotExtend(t *testing.T) {
	s, clk, _, _ := newSessions(t)
	ctx := context.Background()
	require.NoError(t, s.Create(ctx, session(clk, "s-1", "u-1")))

	clk.Advance(3 * time.Minute)
	got, err := s.Get(ctx, "c-1", "s-1")
	require.NoError(t, err)
	require.True(t, testT0.Equal(got.LastSeen))

	clk.Advance(2*time.Minute + time.Second)
	_, err = s.Get(ctx, "c-1", "s-1")
	requireEnded(t, err, authn.ReasonIdle)
	_, err = s.Touch(ctx, "c-1", "s-1")
	requireEnded(t, err, authn.ReasonIdle) // Get left the record for Touch to delete
}

func TestSessions_AbsoluteExpiry(t *testing.T) {
	s, clk, _, _ := newSessions(t)
	ctx := context.Background()
	sess := session(clk, "s-1", "u-1")
	sess.ExpiresAt = clk.Now().Add(time.Hour)
	require.NoError(t, s.Create(ctx, sess))

	for range 14 { // 56 minutes of activity
		clk.Advance(4 * time.Minute)
		_, err := s.Touch(ctx, "c-1", "s-1")
		require.NoError(t, err)
	}
	clk.Advance(3*time.Minute + 59*time.Second)
	_, err := s.Touch(ctx, "c-1", "s-1")
	require.NoError(t, err, "a second before the absolute expiry")

	clk.Advance(time.Second)
	_, err = s.Touch(ctx, "c-1", "s-1")
	requireEnded(t, err, authn.ReasonExpired)
}

func TestSessions_Revoke(t *testing.T) {
	s, clk, rdb, prefix := newSessions(t)
	ctx := context.Background()
	require.NoError(t, s.Create(ctx, session(clk, "s-1", "u-1")))
	require.NoError(t, s.Create(ctx, session(clk, "s-2", "u-1")))

	require.NoError(t, s.Revoke(ctx, "c-1", "s-1"))
	_, err := s.Touch(ctx, "c-1", "s-1")
	requireEnded(t, err, authn.ReasonRevoked)
	_, err = s.Touch(ctx, "c-1", "s-2")
	require.NoError(t, err, "other sessions live on")

	members, err := rdb.SMembers(ctx, prefix+"usess:{c-1}:u-1").Result()
	require.NoError(t, err)
	require.Equal(t, []string{"s-2"}, members)

	require.NoError(t, s.Revoke(ctx, "c-1", "s-1"), "revoking twice is fine")
}

func TestSessions_OtherClinicCannotTouch(t *testing.T) {
	s, clk, _, _ := newSessions(t)
	ctx := context.Background()
	require.NoError(t, s.Create(ctx, session(clk, "s-1", "u-1")))
	_, err := s.Touch(ctx, "c-2", "s-1")
	requireEnded(t, err, authn.ReasonRevoked)
	_, err = s.Touch(ctx, "c-1", "s-1")
	require.NoError(t, err)
}

func TestSessions_RevokeUserKeepsExcept(t *testing.T) {
	s, clk, _, _ := newSessions(t)
	ctx := context.Background()
	for _, id := range []string{"s-1", "s-2", "s-3"} {
		require.NoError(t, s.Create(ctx, session(clk, id, "u-1")))
	}
	require.NoError(t, s.Create(ctx, session(clk, "s-9", "u-2")))

	n, err := s.RevokeUser(ctx, "c-1", "u-1", "s-2")
	require.NoError(t, err)
	require.Equal(t, 2, n)
	for _, id := range []string{"s-1", "s-3"} {
		_, err := s.Touch(ctx, "c-1", id)
		requireEnded(t, err, authn.ReasonRevoked)
	}
	_, err = s.Touch(ctx, "c-1", "s-2")
	require.NoError(t, err, "the excepted session survives")
	_, err = s.Touch(ctx, "c-1", "s-9")
	require.NoError(t, err, "another user's session survives")

	n, err = s.RevokeUser(ctx, "c-1", "u-1", "")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = s.Touch(ctx, "c-1", "s-2")
	requireEnded(t, err, authn.ReasonRevoked)
}

func TestSessions_UpdateUserAppliesOnNextTouch(t *testing.T) {
	s, clk, _, _ := newSessions(t)
	ctx := context.Background()
	require.NoError(t, s.Create(ctx, session(clk, "s-1", "u-1")))
	require.NoError(t, s.Create(ctx, session(clk, "s-2", "u-1")))
	require.NoError(t, s.Create(ctx, session(clk, "s-9", "u-2")))
	require.NoError(t, s.Revoke(ctx, "c-1", "s-2"))

	g := authz.RoleGrants(authz.RoleFrontDesk)
	require.NoError(t, s.UpdateUser(ctx, "c-1", "u-1", authz.RoleFrontDesk, g))

	got, err := s.Touch(ctx, "c-1", "s-1")
	require.NoError(t, err)
	require.Equal(t, authz.RoleFrontDesk, got.Role)
	require.Equal(t, g, got.Grants)

	other, err := s.Touch(ctx, "c-1", "s-9")
	require.NoError(t, err)
	require.Equal(t, authz.RolePractitioner, other.Role, "other users are untouched")

	_, err = s.Touch(ctx, "c-1", "s-2")
	requireEnded(t, err, authn.ReasonRevoked) // UpdateUser does not resurrect a revoked session
}

func TestSessions_SetIdleTimeoutAppliesToLiveSessions(t *testing.T) {
	s, clk, _, _ := newSessions(t)
	ctx := context.Background()
	require.NoError(t, s.Create(ctx, session(clk, "s-1", "u-1")))
	require.NoError(t, s.Create(ctx, session(clk, "s-2", "u-1")))

	require.NoError(t, s.SetIdleTimeout(ctx, "c-1", 2*time.Minute))
	clk.Advance(2*time.Minute + time.Second)
	_, err := s.Touch(ctx, "c-1", "s-1")
	requireEnded(t, err, authn.ReasonIdle)

	require.NoError(t, s.SetIdleTimeout(ctx, "c-1", 0))
	got, err := s.Touch(ctx, "c-1", "s-2")
	require.NoError(t, err, "back to the session's own 5 minutes")
	require.Equal(t, 5*time.Minute, got.IdleTimeout)
}

func TestSessions_CreatePrunesEndedSessionsFromUserSet(t *testing.T) {
	s, clk, rdb, prefix := newSessions(t)
	ctx := context.Background()
	require.NoError(t, s.Create(ctx, session(clk, "s-1", "u-1")))
	// Simulate Redis expiring the record on its own.
	require.NoError(t, rdb.Del(ctx, prefix+"sess:{c-1}:s-1").Err())
	require.NoError(t, s.Create(ctx, session(clk, "s-2", "u-1")))

	members, err := rdb.SMembers(ctx, prefix+"usess:{c-1}:u-1").Result()
	require.NoError(t, err)
	require.Equal(t, []string{"s-2"}, members)
}

func TestSessions_RedisDownIsNotSessionEnded(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	s := &authn.Sessions{Redis: rdb, Prefix: "x:"}
	_, err := s.Touch(context.Background(), "c-1", "s-1")
	require.Error(t, err)
	require.NotErrorIs(t, err, authn.ErrSessionEnded)
}
