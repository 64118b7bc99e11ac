package authn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/havenhealth/haven/libs/authz"
)

// ErrSessionEnded reports a session that is no longer live. The error a
// Sessions method returns is a *SessionEndedError saying why.
var ErrSessionEnded = errors.New("authn: session ended")

// Why a session ended, as SessionEndedError.Reason.
const (
	// ReasonIdle: no request within the idle time-out.
	ReasonIdle = "idle"
	// ReasonExpired: the session reached its absolute expiry.
	ReasonExpired = "expired"
	// ReasonRevoked: signed out, revoked by an administrator, or unknown.
	ReasonRevoked = "revoked"
)

// SessionEndedError is ErrSessionEnded with its reason (ReasonIdle,
// ReasonExpired or ReasonRevoked).
type SessionEndedError struct {
	Reason string
}

// Error describes the error without naming the session.
func (e *SessionEndedError) Error() string { return ErrSessionEnded.Error() + ": " + e.Reason }

// Unwrap makes errors.Is(err, ErrSessionEnded) true.
func (e *SessionEndedError) Unwrap() error { return ErrSessionEnded }

// Session is a signed-in user's server-side session, the record that makes
// sign-out, deactivation and grant changes take effect at once.
type Session struct {
	// ID is the session id (the token's "sid").
	ID string
	// ClinicID and UserID say whose session it is.
	ClinicID string
	UserID   string
	// Role and Grants are the user's current permissions; UpdateUser
	// changes them in every live session of the user.
	Role   authz.Role
	Grants authz.Grants
	// PatientID links a patient-role user to their patient profile.
	PatientID string
	// CreatedAt is when the user signed in; LastSeen the last Touch.
	CreatedAt time.Time
	LastSeen  time.Time
	// ExpiresAt is the absolute end of the session, however active.
	ExpiresAt time.Time
	// IdleTimeout ends the session when no request arrives for that long;
	// zero means no idle limit. On a returned Session it is the limit in
	// force, which is the clinic's (SetIdleTimeout) when one is set.
	IdleTimeout time.Duration
}

// Sessions keeps sessions in Redis. Every request costs one round trip
// (Touch, a server-side script). All of a clinic's keys carry the clinic id
// as a hash tag, so they live in one Redis Cluster slot and the scripts
// touching several of them stay atomic. It is safe for concurrent use.
//
// Keys (Prefix must not contain '{' or '}'):
//
//	{Prefix}sess:{<clinicID>}:<sessionID>   hash, the session record
//	{Prefix}usess:{<clinicID>}:<userID>     set of the user's session ids
//	{Prefix}idle:{<clinicID>}               the clinic's idle time-out (ms)
//
// The scripts reach a clinic's other keys by name (a session's user set,
// a user's sessions); Redis Cluster allows that because the hash tag puts
// them in the same slot as the declared key.
//
// Times are stored as unix milliseconds from Now, never Redis's clock, so
// that every replica and every test judges idleness by the same clock.
// Redis key expiry only cleans up: a session key lives until ExpiresAt
// plus a minute.
type Sessions struct {
	// Redis is the region's Redis (a client, a cluster client or a ring).
	Redis redis.UniversalClient
	// Prefix is put in front of every key, e.g. "identity:".
	Prefix string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// keyGrace keeps a session key a little past ExpiresAt, so that Touch can
// still say "expired" rather than "revoked" for a session that just ran out.
const keyGrace = time.Minute

// Hash fields of a session record.
const (
	fUser      = "uid"
	fRole      = "role"
	fGrants    = "grants"
	fPatient   = "pid"
	fCreatedAt = "created"
	fLastSeen  = "seen"
	fExpiresAt = "expires"
	fIdle      = "idle"
)

// createScript stores a new session and adds it to its user's set, first
// dropping ids from that set whose sessions have ended.
//
//	KEYS: session, user set. ARGV: session key prefix, session id, key TTL (ms), field/value pairs...
var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for _, m in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('EXISTS', ARGV[1] .. m) == 0 then redis.call('SREM', KEYS[2], m) end
end
local ttl = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('SADD', KEYS[2], ARGV[2])
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return 1
`)

// touchScript is the per-request check. It judges the session at ARGV[1]
// and, in "touch" mode, deletes an ended session or records the request.
// It returns {reason} for an ended session, else {"ok", uid, role, grants,
// pid, created, seen, expires, idle}.
//
//	KEYS: session, clinic idle time-out. ARGV: now (ms), "touch"|"peek", user set key prefix, session id.
var touchScript = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'uid', 'role', 'grants', 'pid', 'created', 'seen', 'expires', 'idle')
if not v[1] then return {'revoked'} end
local clinicIdle = redis.call('GET', KEYS[2])
if clinicIdle then v[8] = clinicIdle end
local now, seen, expires, idle = tonumber(ARGV[1]), tonumber(v[6]), tonumber(v[7]), tonumber(v[8]) or 0
local touch = ARGV[2] == 'touch'
local reason
if idle > 0 and now - seen > idle then
  reason = 'idle'
elseif now >= expires then
  reason = 'expired'
end
if reason then
  if touch then
    redis.call('DEL', KEYS[1])
    redis.call('SREM', ARGV[3] .. v[1], ARGV[4])
  end
  return {reason}
end
if touch and now > seen then
  redis.call('HSET', KEYS[1], 'seen', ARGV[1])
  v[6] = ARGV[1]
end
return {'ok', v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]}
`)

// revokeScript deletes one session and removes it from its user's set.
//
//	KEYS: session. ARGV: user set key prefix, session id.
var revokeScript = redis.NewScript(`
local uid = redis.call('HGET', KEYS[1], 'uid')
if not uid then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', ARGV[1] .. uid, ARGV[2])
return 1
`)

// revokeUserScript deletes every session of a user but one, returning how
// many live sessions it ended.
//
//	KEYS: user set. ARGV: session key prefix, session id to keep ("" for none).
var revokeUserScript = redis.NewScript(`
local n = 0
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if m ~= ARGV[2] then
    n = n + redis.call('DEL', ARGV[1] .. m)
    redis.call('SREM', KEYS[1], m)
  end
end
return n
`)

// updateUserScript rewrites role and grants in every live session of a
// user, dropping ended ones from the set.
//
//	KEYS: user set. ARGV: session key prefix, role, grants JSON.
var updateUserScript = redis.NewScript(`
local n = 0
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local k = ARGV[1] .. m
  if redis.call('EXISTS', k) == 1 then
    redis.call('HSET', k, 'role', ARGV[2], 'grants', ARGV[3])
    n = n + 1
  else
    redis.call('SREM', KEYS[1], m)
  end
end
return n
`)

// Create stores a new session. It fails if a session with the same id
// exists or if s has already expired.
func (s *Sessions) Create(ctx context.Context, sess Session) error {
	if err := checkIDs(sess.ClinicID, sess.ID, sess.UserID); err != nil {
		return fmt.Errorf("authn: create session: %w", err)
	}
	now := clock(s.Now)()
	ttl := sess.ExpiresAt.Sub(now)
	if ttl <= 0 {
		return errors.New("authn: create session: already expired")
	}
	if sess.IdleTimeout < 0 {
		return errors.New("authn: create session: negative idle time-out")
	}
	grants, err := json.Marshal(sess.Grants)
	if err != nil {
		return fmt.Errorf("authn: create session: grants: %w", err)
	}
	lastSeen := sess.LastSeen
	if lastSeen.IsZero() {
		lastSeen = now
	}
	createdAt := sess.CreatedAt
	if createdAt.IsZero() {
		createdAt = now
	}
	created, err := createScript.Run(ctx, s.Redis,
		[]string{s.sessionKey(sess.ClinicID, sess.ID), s.userKey(sess.ClinicID, sess.UserID)},
		s.sessionKey(sess.ClinicID, ""), sess.ID, (ttl + keyGrace).Milliseconds(),
		fUser, sess.UserID,
		fRole, string(sess.Role),
		fGrants, grants,
		fPatient, sess.PatientID,
		fCreatedAt, createdAt.UnixMilli(),
		fLastSeen, lastSeen.UnixMilli(),
		fExpiresAt, sess.ExpiresAt.UnixMilli(),
		fIdle, sess.IdleTimeout.Milliseconds(),
	).Int()
	if err != nil {
		return fmt.Errorf("authn: create session %s: %w", sess.ID, err)
	}
	if created == 0 {
		return fmt.Errorf("authn: create session %s: id already in use", sess.ID)
	}
	return nil
}

// Touch is the per-request check: it returns the live session and records
// the request as its last activity. A session past its idle time-out or
// its absolute expiry is deleted; that, or a revoked or unknown session,
// yields a *SessionEndedError. Any other error means Redis could not be
// asked.
func (s *Sessions) Touch(ctx context.Context, clinicID, sessionID string) (Session, error) {
	return s.judge(ctx, clinicID, sessionID, "touch")
}

// Get returns the live session like Touch, without recording activity and
// without deleting an ended session.
func (s *Sessions) Get(ctx context.Context, clinicID, sessionID string) (Session, error) {
	return s.judge(ctx, clinicID, sessionID, "peek")
}

// judge runs touchScript in mode and decodes its answer.
func (s *Sessions) judge(ctx context.Context, clinicID, sessionID, mode string) (Session, error) {
	if err := checkIDs(clinicID, sessionID); err != nil {
		return Session{}, &SessionEndedError{Reason: ReasonRevoked}
	}
	now := clock(s.Now)()
	res, err := touchScript.Run(ctx, s.Redis,
		[]string{s.sessionKey(clinicID, sessionID), s.idleKey(clinicID)},
		now.UnixMilli(), mode, s.userKey(clinicID, ""), sessionID,
	).StringSlice()
	if err != nil {
		return Session{}, fmt.Errorf("authn: %s session %s: %w", mode, sessionID, err)
	}
	if len(res) == 1 {
		return Session{}, &SessionEndedError{Reason: res[0]}
	}
	if len(res) != 9 || res[0] != "ok" {
		return Session{}, fmt.Errorf("authn: %s session %s: unexpected script reply", mode, sessionID)
	}
	sess := Session{ID: sessionID, ClinicID: clinicID, UserID: res[1], Role: authz.Role(res[2]), PatientID: res[4]}
	if err := json.Unmarshal([]byte(res[3]), &sess.Grants); err != nil {
		return Session{}, fmt.Errorf("authn: %s session %s: corrupt grants", mode, sessionID)
	}
	var ms [4]int64
	for i, f := range res[5:9] {
		if ms[i], err = strconv.ParseInt(f, 10, 64); err != nil {
			return Session{}, fmt.Errorf("authn: %s session %s: corrupt record", mode, sessionID)
		}
	}
	sess.CreatedAt = time.UnixMilli(ms[0])
	sess.LastSeen = time.UnixMilli(ms[1])
	sess.ExpiresAt = time.UnixMilli(ms[2])
	sess.IdleTimeout = time.Duration(ms[3]) * time.Millisecond
	return sess, nil
}

// Revoke ends one session (sign-out). Revoking a session that has already
// ended is not an error.
func (s *Sessions) Revoke(ctx context.Context, clinicID, sessionID string) error {
	if err := checkIDs(clinicID, sessionID); err != nil {
		return fmt.Errorf("authn: revoke session: %w", err)
	}
	err := revokeScript.Run(ctx, s.Redis, []string{s.sessionKey(clinicID, sessionID)},
		s.userKey(clinicID, ""), sessionID).Err()
	if err != nil {
		return fmt.Errorf("authn: revoke session %s: %w", sessionID, err)
	}
	return nil
}

// RevokeUser ends every session of a user except exceptSessionID (pass ""
// to end them all): on deactivation, password change or reset, or "sign
// out everywhere". It returns how many live sessions it ended.
func (s *Sessions) RevokeUser(ctx context.Context, clinicID, userID, exceptSessionID string) (int, error) {
	if err := checkIDs(clinicID, userID); err != nil {
		return 0, fmt.Errorf("authn: revoke user sessions: %w", err)
	}
	n, err := revokeUserScript.Run(ctx, s.Redis, []string{s.userKey(clinicID, userID)},
		s.sessionKey(clinicID, ""), exceptSessionID).Int()
	if err != nil {
		return 0, fmt.Errorf("authn: revoke sessions of user %s: %w", userID, err)
	}
	return n, nil
}

// UpdateUser sets the role and grants of every live session of a user, so
// a permission change applies from the user's next request.
func (s *Sessions) UpdateUser(ctx context.Context, clinicID, userID string, role authz.Role, grants authz.Grants) error {
	if err := checkIDs(clinicID, userID); err != nil {
		return fmt.Errorf("authn: update user sessions: %w", err)
	}
	g, err := json.Marshal(grants)
	if err != nil {
		return fmt.Errorf("authn: update user sessions: grants: %w", err)
	}
	err = updateUserScript.Run(ctx, s.Redis, []string{s.userKey(clinicID, userID)},
		s.sessionKey(clinicID, ""), string(role), g).Err()
	if err != nil {
		return fmt.Errorf("authn: update sessions of user %s: %w", userID, err)
	}
	return nil
}

// SetIdleTimeout sets a clinic's idle time-out for all its sessions, the
// live ones included: from their next request they are judged by d instead
// of the IdleTimeout they were created with. d <= 0 removes the clinic
// setting, so each session falls back to its own IdleTimeout.
func (s *Sessions) SetIdleTimeout(ctx context.Context, clinicID string, d time.Duration) error {
	if err := checkIDs(clinicID); err != nil {
		return fmt.Errorf("authn: set idle time-out: %w", err)
	}
	var err error
	if d > 0 {
		err = s.Redis.Set(ctx, s.idleKey(clinicID), d.Milliseconds(), 0).Err()
	} else {
		err = s.Redis.Del(ctx, s.idleKey(clinicID)).Err()
	}
	if err != nil {
		return fmt.Errorf("authn: set idle time-out of clinic %s: %w", clinicID, err)
	}
	return nil
}

// sessionKey is the key of a session; with an empty id, the prefix of the
// clinic's session keys.
func (s *Sessions) sessionKey(clinicID, sessionID string) string {
	return s.Prefix + "sess:{" + clinicID + "}:" + sessionID
}

// userKey is the key of a user's session set; with an empty id, the prefix
// of the clinic's user sets.
func (s *Sessions) userKey(clinicID, userID string) string {
	return s.Prefix + "usess:{" + clinicID + "}:" + userID
}

// idleKey holds a clinic's idle time-out.
func (s *Sessions) idleKey(clinicID string) string {
	return s.Prefix + "idle:{" + clinicID + "}"
}

// errBadID reports an id that cannot be part of a key.
var errBadID = errors.New("empty id or id containing braces")

// checkIDs rejects ids that are empty or would break the hash tag.
func checkIDs(ids ...string) error {
	for _, id := range ids {
		if id == "" || strings.ContainsAny(id, "{}") {
			return errBadID
		}
	}
	return nil
}
