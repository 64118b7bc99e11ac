// Package authn answers "who is calling?" for every Haven service.
//
// Identity signs short-lived access tokens (JWT, EdDSA over Ed25519) with
// the region's current key and publishes the public keys as a JWKS
// document. Services verify tokens against that key set, then look the
// token's session up in Redis: the session, not the token, is what can be
// revoked at once, times out when idle and carries the user's current role
// and grants. Authenticator.Require does all of this in front of a handler
// and leaves an authz.Principal in the request context.
//
// Nothing in this package logs, wraps or returns a token or any personal
// data; errors and logs carry ids only.
package authn

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/havenhealth/haven/libs/authz"
)

// Audience is the only audience Haven access tokens are issued for and
// accepted with.
const Audience = "haven"

// TokenType is the JOSE "typ" header of a Haven access token (RFC 9068).
// Verify rejects JWTs of any other type, so another kind of JWT signed with
// the same key can never pass for an access token.
const TokenType = "at+jwt"

// Defaults applied when the corresponding field is zero.
const (
	// DefaultTokenTTL is how long an access token is valid.
	DefaultTokenTTL = 10 * time.Minute
	// DefaultLeeway is the clock skew tolerated when checking exp, nbf and iat.
	DefaultLeeway = 30 * time.Second
)

// maxTokenLen bounds the input Verify is willing to parse. Real tokens are
// well under 2 KiB; anything bigger is refused before any decoding work.
const maxTokenLen = 8 << 10

// Errors a token operation can fail with. Every Verify failure about the
// token itself wraps ErrInvalidToken; expiry and a foreign issuer also wrap
// ErrExpired or ErrWrongIssuer. A key set that cannot be reached wraps
// ErrKeysUnavailable instead, since the token may well be fine.
var (
	ErrInvalidToken    = errors.New("authn: invalid access token")
	ErrExpired         = errors.New("authn: access token expired")
	ErrWrongIssuer     = errors.New("authn: access token from another issuer")
	ErrUnknownKey      = errors.New("authn: unknown signing key")
	ErrKeysUnavailable = errors.New("authn: signing keys unavailable")
)

// invalid returns an error wrapping ErrInvalidToken with a fixed reason. It
// deliberately drops the underlying parser error: those can quote pieces of
// their input, and the input is a credential.
func invalid(reason string) error {
	return fmt.Errorf("%w: %s", ErrInvalidToken, reason)
}

// Key is one of the region's token signing keys.
type Key struct {
	// ID is the key's RFC 7638 JWK thumbprint (SHA-256, base64url without
	// padding); it is the "kid" of every token the key signs.
	ID string
	// Private is the Ed25519 signing key.
	Private ed25519.PrivateKey
	// CreatedAt is when the key was generated; the newest key signs.
	CreatedAt time.Time
}

// Public returns the key's public half.
func (k Key) Public() ed25519.PublicKey {
	return k.Private.Public().(ed25519.PublicKey)
}

// GenerateKey creates a new Ed25519 signing key created at now.
func GenerateKey(now time.Time) (Key, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, fmt.Errorf("generate ed25519 key: %w", err)
	}
	id, err := thumbprint(pub)
	if err != nil {
		return Key{}, err
	}
	return Key{ID: id, Private: priv, CreatedAt: now}, nil
}

// thumbprint returns the RFC 7638 SHA-256 thumbprint of pub, base64url.
func thumbprint(pub ed25519.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// PublicJWKS returns the public halves of keys as the JWKS document that
// identity publishes and JWKSCache reads. Private material never leaves.
func PublicJWKS(keys []Key) jose.JSONWebKeySet {
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{
			Key:       k.Public(),
			KeyID:     k.ID,
			Algorithm: string(jose.EdDSA),
			Use:       "sig",
		})
	}
	return set
}

// Claims are the contents of a Haven access token.
type Claims struct {
	// Issuer is the region's identity service (set by Signer).
	Issuer string `json:"iss,omitempty"`
	// Subject is the user id.
	Subject string `json:"sub,omitempty"`
	// Audience is always {"haven"} (set by Signer).
	Audience jwt.Audience `json:"aud,omitempty"`
	// IssuedAt, NotBefore and Expiry bound the token's life (set by Signer).
	IssuedAt  *jwt.NumericDate `json:"iat,omitempty"`
	NotBefore *jwt.NumericDate `json:"nbf,omitempty"`
	Expiry    *jwt.NumericDate `json:"exp,omitempty"`
	// ID is a random token id (set by Signer).
	ID string `json:"jti,omitempty"`
	// ClinicID is the clinic the session belongs to.
	ClinicID string `json:"clinic_id"`
	// SessionID is the server-side session the token was issued for.
	SessionID string `json:"sid"`
	// Role is the user's role when the token was issued. Informational for
	// clients: Authenticator takes the role from the live session.
	Role string `json:"role"`
	// Grants are the user's grants when the token was issued. Informational
	// for clients: Authenticator takes the grants from the live session.
	Grants authz.Grants `json:"grants"`
}

// Signer issues access tokens with one key. It is used by identity only.
type Signer struct {
	// Key signs every token; its ID becomes the "kid" header.
	Key Key
	// Issuer is written to "iss".
	Issuer string
	// TTL is how long a token is valid; zero means DefaultTokenTTL.
	TTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Sign fills in the registered claims of c (iss, aud, iat, nbf, exp and a
// random jti), signs it and returns the compact token and its expiry. The
// caller provides the subject, clinic, session, role and grants.
func (s *Signer) Sign(c Claims) (token string, expiresAt time.Time, err error) {
	if c.Subject == "" || c.ClinicID == "" || c.SessionID == "" {
		return "", time.Time{}, errors.New("authn: sign: subject, clinic id and session id are required")
	}
	if s.Issuer == "" || s.Key.ID == "" || len(s.Key.Private) != ed25519.PrivateKeySize {
		return "", time.Time{}, errors.New("authn: sign: signer needs an issuer and an Ed25519 key")
	}
	ttl := s.TTL
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	now := clock(s.Now)().Truncate(time.Second)
	expiresAt = now.Add(ttl)

	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", time.Time{}, fmt.Errorf("authn: sign: token id: %w", err)
	}
	c.Issuer = s.Issuer
	c.Audience = jwt.Audience{Audience}
	c.IssuedAt = jwt.NewNumericDate(now)
	c.NotBefore = jwt.NewNumericDate(now)
	c.Expiry = jwt.NewNumericDate(expiresAt)
	c.ID = base64.RawURLEncoding.EncodeToString(jti)

	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: s.Key.Private, KeyID: s.Key.ID}},
		(&jose.SignerOptions{}).WithType(TokenType),
	)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("authn: sign: new signer: %w", err)
	}
	token, err = jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("authn: sign: %w", err)
	}
	return token, expiresAt, nil
}

// KeySource finds the public key a token names in its "kid" header.
// Implementations return an error wrapping ErrUnknownKey when the key is
// not in the set, and one wrapping ErrKeysUnavailable when the set cannot
// be read.
type KeySource interface {
	Key(ctx context.Context, kid string) (crypto.PublicKey, error)
}

// Verifier checks access tokens. It is safe for concurrent use.
type Verifier struct {
	// Issuer is the only accepted "iss".
	Issuer string
	// Keys resolves "kid" to a public key.
	Keys KeySource
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Leeway is the tolerated clock skew; zero means DefaultLeeway and a
	// negative value means none.
	Leeway time.Duration
}

// acceptedAlgs is the one signature algorithm Haven uses. Anything else —
// "none", HMAC with the public key as secret, RSA, ECDSA — fails to parse.
var acceptedAlgs = []jose.SignatureAlgorithm{jose.EdDSA}

// Verify checks token's algorithm, type, key, signature, issuer, audience
// and validity window, and returns its claims. Errors wrap ErrInvalidToken
// (with ErrExpired or ErrWrongIssuer where they apply) or, when the key set
// cannot be read, ErrKeysUnavailable. They never contain the token.
func (v *Verifier) Verify(ctx context.Context, token string) (Claims, error) {
	if token == "" || len(token) > maxTokenLen {
		return Claims{}, invalid("missing or oversized")
	}
	tok, err := jwt.ParseSigned(token, acceptedAlgs)
	if err != nil {
		return Claims{}, invalid("malformed or disallowed algorithm")
	}
	if len(tok.Headers) != 1 {
		return Claims{}, invalid("malformed")
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !isAccessTokenType(typ) {
		return Claims{}, invalid("not an access token")
	}
	if h.KeyID == "" {
		return Claims{}, invalid("no key id")
	}
	if v.Keys == nil {
		return Claims{}, fmt.Errorf("%w: verifier has no key source", ErrKeysUnavailable)
	}
	key, err := v.Keys.Key(ctx, h.KeyID)
	switch {
	case errors.Is(err, ErrUnknownKey):
		return Claims{}, invalid("unknown key")
	case err != nil:
		return Claims{}, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok || len(pub) != ed25519.PublicKeySize {
		return Claims{}, invalid("key is not Ed25519")
	}

	var c Claims
	if err := tok.Claims(pub, &c); err != nil {
		return Claims{}, invalid("signature or payload")
	}
	if err := v.validate(c); err != nil {
		return Claims{}, err
	}
	return c, nil
}

// validate checks the registered and Haven claims of a signature-checked
// token.
func (v *Verifier) validate(c Claims) error {
	if v.Issuer == "" || c.Issuer != v.Issuer {
		return fmt.Errorf("%w: %w", ErrInvalidToken, ErrWrongIssuer)
	}
	if !c.Audience.Contains(Audience) {
		return invalid("wrong audience")
	}
	if c.Expiry == nil {
		return invalid("no expiry")
	}
	if c.Subject == "" || c.ClinicID == "" || c.SessionID == "" {
		return invalid("missing subject, clinic or session")
	}
	leeway := v.Leeway
	switch {
	case leeway == 0:
		leeway = DefaultLeeway
	case leeway < 0:
		leeway = 0
	}
	now := clock(v.Now)()
	if !now.Before(c.Expiry.Time().Add(leeway)) {
		return fmt.Errorf("%w: %w", ErrInvalidToken, ErrExpired)
	}
	if c.NotBefore != nil && now.Add(leeway).Before(c.NotBefore.Time()) {
		return invalid("not yet valid")
	}
	if c.IssuedAt != nil && now.Add(leeway).Before(c.IssuedAt.Time()) {
		return invalid("issued in the future")
	}
	return nil
}

// isAccessTokenType reports whether a "typ" header names an access token
// (RFC 9068 §2.1; media types compare case-insensitively).
func isAccessTokenType(typ string) bool {
	return strings.EqualFold(typ, TokenType) || strings.EqualFold(typ, "application/"+TokenType)
}

// clock returns now, or time.Now when now is nil.
func clock(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}
