package authn_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/authn"
	"github.com/havenhealth/haven/libs/authz"
)

const testIssuer = "https://identity.sydney.haven.test"

// testT0 is the fake clocks' starting time.
var testT0 = time.Date(2031, 3, 4, 9, 0, 0, 0, time.UTC)

func newKey(t testing.TB) authn.Key {
	t.Helper()
	k, err := authn.GenerateKey(testT0)
	require.NoError(t, err)
	return k
}

func testClaims() authn.Claims {
	return authn.Claims{
		Subject: "u-1", ClinicID: "c-1", SessionID: "s-1",
		Role: string(authz.RolePractitioner), Grants: authz.RoleGrants(authz.RolePractitioner),
	}
}

// tokenParts splits a compact JWS and decodes its header.
func tokenParts(t *testing.T, token string) (header map[string]any, payload, sig string) {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &header))
	return header, parts[1], parts[2]
}

func b64JSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestGenerateKey_IDIsRFC7638Thumbprint(t *testing.T) {
	k := newKey(t)
	jwk := jose.JSONWebKey{Key: k.Private.Public()}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	require.NoError(t, err)
	require.Equal(t, base64.RawURLEncoding.EncodeToString(tp), k.ID)
	require.Equal(t, testT0, k.CreatedAt)

	other := newKey(t)
	require.NotEqual(t, k.ID, other.ID)
}

func TestPublicJWKS_PublishesOnlyPublicKeys(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	set := authn.PublicJWKS([]authn.Key{k1, k2})
	require.Len(t, set.Keys, 2)
	for i, k := range []authn.Key{k1, k2} {
		got := set.Keys[i]
		require.Equal(t, k.ID, got.KeyID)
		require.Equal(t, "EdDSA", got.Algorithm)
		require.Equal(t, "sig", got.Use)
		require.True(t, got.IsPublic())
		require.Equal(t, k.Private.Public(), got.Key)
	}
	doc, err := json.Marshal(set)
	require.NoError(t, err)
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(doc, &raw))
	for _, k := range raw.Keys {
		require.NotContains(t, k, "d", "private key material in JWKS")
		require.Equal(t, "OKP", k["kty"])
		require.Equal(t, "Ed25519", k["crv"])
	}
}

func TestSignVerify_RoundTrip(t *testing.T) {
	clk := newClock()
	k := newKey(t)
	s := &authn.Signer{Key: k, Issuer: testIssuer, Now: clk.Now}
	tok, exp, err := s.Sign(testClaims())
	require.NoError(t, err)
	require.Equal(t, clk.Now().Add(authn.DefaultTokenTTL), exp)

	h, _, _ := tokenParts(t, tok)
	require.Equal(t, "EdDSA", h["alg"])
	require.Equal(t, "at+jwt", h["typ"])
	require.Equal(t, k.ID, h["kid"])

	v := &authn.Verifier{Issuer: testIssuer, Keys: authn.StaticKeys{k}, Now: clk.Now}
	c, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	want := testClaims()
	require.Equal(t, want.Subject, c.Subject)
	require.Equal(t, want.ClinicID, c.ClinicID)
	require.Equal(t, want.SessionID, c.SessionID)
	require.Equal(t, want.Role, c.Role)
	require.Equal(t, want.Grants, c.Grants)
	require.Equal(t, testIssuer, c.Issuer)
	require.Equal(t, jwt.Audience{"haven"}, c.Audience)
	require.Equal(t, clk.Now(), c.IssuedAt.Time().UTC())
	require.Equal(t, clk.Now(), c.NotBefore.Time().UTC())
	require.Equal(t, exp, c.Expiry.Time().UTC())
	require.NotEmpty(t, c.ID)

	tok2, _, err := s.Sign(testClaims())
	require.NoError(t, err)
	c2, err := v.Verify(context.Background(), tok2)
	require.NoError(t, err)
	require.NotEqual(t, c.ID, c2.ID, "jti must be unique per token")
}

func TestSign_RequiresSessionIdentity(t *testing.T) {
	s := &authn.Signer{Key: newKey(t), Issuer: testIssuer}
	for _, c := range []authn.Claims{
		{ClinicID: "c-1", SessionID: "s-1"},
		{Subject: "u-1", SessionID: "s-1"},
		{Subject: "u-1", ClinicID: "c-1"},
	} {
		_, _, err := s.Sign(c)
		require.Error(t, err)
	}
}

func TestVerify_Rejects(t *testing.T) {
	clk := newClock()
	k := newKey(t)
	signer := &authn.Signer{Key: k, Issuer: testIssuer, Now: clk.Now, TTL: 10 * time.Minute}
	good, _, err := signer.Sign(testClaims())
	require.NoError(t, err)
	header, payload, sig := tokenParts(t, good)

	// signWith signs c with an arbitrary go-jose key and headers.
	signWith := func(alg jose.SignatureAlgorithm, key any, kid, typ string, c any) string {
		opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ))
		sg, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, opts)
		require.NoError(t, err)
		tok, err := jwt.Signed(sg).Claims(c).Serialize()
		require.NoError(t, err)
		return tok
	}
	fullClaims := func() authn.Claims {
		c := testClaims()
		c.Issuer = testIssuer
		c.Audience = jwt.Audience{"haven"}
		c.IssuedAt = jwt.NewNumericDate(clk.Now())
		c.NotBefore = jwt.NewNumericDate(clk.Now())
		c.Expiry = jwt.NewNumericDate(clk.Now().Add(5 * time.Minute))
		return c
	}
	_, otherPriv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	otherSigner := &authn.Signer{Key: newKey(t), Issuer: testIssuer, Now: clk.Now}
	unknownKid, _, err := otherSigner.Sign(testClaims())
	require.NoError(t, err)
	foreignIssuer, _, err := (&authn.Signer{Key: k, Issuer: "https://identity.london.haven.test", Now: clk.Now}).Sign(testClaims())
	require.NoError(t, err)

	noneHeader := map[string]any{"alg": "none", "typ": "at+jwt", "kid": k.ID}
	tamperedClaims := fullClaims()
	tamperedClaims.ClinicID = "c-2"
	flippedSig := []byte(sig)
	if flippedSig[5] == 'A' {
		flippedSig[5] = 'B'
	} else {
		flippedSig[5] = 'A'
	}
	wrongAud := fullClaims()
	wrongAud.Audience = jwt.Audience{"billing"}
	noExp := fullClaims()
	noExp.Expiry = nil
	future := fullClaims()
	future.NotBefore = jwt.NewNumericDate(clk.Now().Add(5 * time.Minute))
	future.Expiry = jwt.NewNumericDate(clk.Now().Add(15 * time.Minute))
	noSession := fullClaims()
	noSession.SessionID = ""

	tests := []struct {
		name    string
		token   string
		advance time.Duration
		want    error
	}{
		{"empty", "", 0, authn.ErrInvalidToken},
		{"garbage", "not-a-token", 0, authn.ErrInvalidToken},
		{"oversized", strings.Repeat("a", 9000), 0, authn.ErrInvalidToken},
		{"tampered signature", b64JSON(t, header) + "." + payload + "." + string(flippedSig), 0, authn.ErrInvalidToken},
		{"tampered payload", b64JSON(t, header) + "." + b64JSON(t, tamperedClaims) + "." + sig, 0, authn.ErrInvalidToken},
		{"signed by another key under our kid", signWith(jose.EdDSA, otherPriv, k.ID, "at+jwt", fullClaims()), 0, authn.ErrInvalidToken},
		{"alg none", b64JSON(t, noneHeader) + "." + b64JSON(t, fullClaims()) + ".", 0, authn.ErrInvalidToken},
		{"HS256 forged with the public key", signWith(jose.HS256, []byte(k.Private.Public().(ed25519.PublicKey)), k.ID, "at+jwt", fullClaims()), 0, authn.ErrInvalidToken},
		{"not an access token", signWith(jose.EdDSA, k.Private, k.ID, "JWT", fullClaims()), 0, authn.ErrInvalidToken},
		{"unknown kid", unknownKid, 0, authn.ErrInvalidToken},
		{"wrong issuer", foreignIssuer, 0, authn.ErrWrongIssuer},
		{"wrong audience", signWith(jose.EdDSA, k.Private, k.ID, "at+jwt", wrongAud), 0, authn.ErrInvalidToken},
		{"no expiry", signWith(jose.EdDSA, k.Private, k.ID, "at+jwt", noExp), 0, authn.ErrInvalidToken},
		{"no session", signWith(jose.EdDSA, k.Private, k.ID, "at+jwt", noSession), 0, authn.ErrInvalidToken},
		{"not yet valid", signWith(jose.EdDSA, k.Private, k.ID, "at+jwt", future), 0, authn.ErrInvalidToken},
		{"expired beyond leeway", good, 10*time.Minute + 30*time.Second, authn.ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			c.Advance(tt.advance)
			v := &authn.Verifier{Issuer: testIssuer, Keys: authn.StaticKeys{k}, Now: c.Now}
			_, err := v.Verify(context.Background(), tt.token)
			require.ErrorIs(t, err, tt.want)
			require.ErrorIs(t, err, authn.ErrInvalidToken, "every token failure is an invalid token")
			if tt.token != "" {
				require.NotContains(t, err.Error(), tt.token)
				require.NotContains(t, err.Error(), sig)
			}
		})
	}
}

func TestVerify_LeewayAtExpiry(t *testing.T) {
	clk := newClock()
	k := newKey(t)
	tok, _, err := (&authn.Signer{Key: k, Issuer: testIssuer, Now: clk.Now, TTL: time.Minute}).Sign(testClaims())
	require.NoError(t, err)
	v := &authn.Verifier{Issuer: testIssuer, Keys: authn.StaticKeys{k}, Now: clk.Now}

	clk.Advance(time.Minute + 29*time.Second)
	_, err = v.Verify(context.Background(), tok)
	require.NoError(t, err, "within the default 30s leeway")

	clk.Advance(time.Second)
	_, err = v.Verify(context.Background(), tok)
	require.ErrorIs(t, err, authn.ErrExpired)

	strictClk := newClock()
	strictClk.Advance(time.Minute)
	strict := &authn.Verifier{Issuer: testIssuer, Keys: authn.StaticKeys{k}, Now: strictClk.Now, Leeway: -1}
	_, err = strict.Verify(context.Background(), tok)
	require.ErrorIs(t, err, authn.ErrExpired, "negative leeway means none")
}

// failingKeys is a KeySource whose key set cannot be reached.
type failingKeys struct{}

func (failingKeys) Key(context.Context, string) (crypto.PublicKey, error) {
	return nil, authn.ErrKeysUnavailable
}

func TestVerify_KeySetUnavailableIsNotAnInvalidToken(t *testing.T) {
	clk := newClock()
	tok, _, err := (&authn.Signer{Key: newKey(t), Issuer: testIssuer, Now: clk.Now}).Sign(testClaims())
	require.NoError(t, err)
	_, err = (&authn.Verifier{Issuer: testIssuer, Keys: failingKeys{}, Now: clk.Now}).Verify(context.Background(), tok)
	require.ErrorIs(t, err, authn.ErrKeysUnavailable)
	require.NotErrorIs(t, err, authn.ErrInvalidToken)
}

func BenchmarkVerify(b *testing.B) {
	k := newKey(b)
	clk := newClock()
	tok, _, err := (&authn.Signer{Key: k, Issuer: testIssuer, Now: clk.Now}).Sign(testClaims())
	require.NoError(b, err)
	v := &authn.Verifier{Issuer: testIssuer, Keys: authn.StaticKeys{k}, Now: clk.Now}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}
