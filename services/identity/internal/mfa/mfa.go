// Package mfa holds the primitives of 2-step verification: one-time codes
// sent by SMS or e-mail, TOTP authenticator apps, recovery codes and WebAuthn
// passkeys used as a second factor.
//
// The package does no I/O of its own. Every function returns the values the
// caller must keep (code hashes, TOTP secrets and last used steps, recovery
// code hashes, WebAuthn sessions and credentials) and is handed them back when
// an answer is checked; identity's app layer stores them.
package mfa

import "errors"

// Errors callers can test with errors.Is.
var (
	// ErrShortKey is a CodeHasher whose key is shorter than MinCodeKeyLen.
	ErrShortKey = errors.New("mfa: code key too short")
	// ErrNoPasskeys is a passkey sign-in begun for an account without passkeys.
	ErrNoPasskeys = errors.New("mfa: account has no passkeys")
	// ErrBadSession is a WebAuthn session that is not one this package made.
	ErrBadSession = errors.New("mfa: unreadable webauthn session")
	// ErrRejected is a WebAuthn response that does not verify: forged,
	// tampered, from another origin, for another challenge, expired, or replayed.
	ErrRejected = errors.New("mfa: webauthn response rejected")
	// ErrSignCount is an assertion whose signature counter did not advance past
	// the stored one: a replayed response or a cloned authenticator. It always
	// comes wrapped together with ErrRejected.
	ErrSignCount = errors.New("mfa: passkey signature counter did not advance")
)
