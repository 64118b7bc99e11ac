package servicetest

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/havenhealth/haven/libs/authn"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/redisclient/redistest"
	"github.com/havenhealth/haven/libs/residency"
	"github.com/havenhealth/haven/libs/service"
)

// Auth is what a service's HTTP tests need to call it as the router would:
// a clinic, live sessions in Redis (HAVEN_TEST_REDIS_URL or miniredis),
// signed access tokens, and Deps whose Authenticated runs the production
// checks (router signature, token, live session).
type Auth struct {
	t        testing.TB
	Region   residency.Region
	Secret   []byte
	ClinicID string
	Sessions *authn.Sessions
	Deps     service.Deps
	signer   *authn.Signer
}

// Caller is a signed-in user.
type Caller struct {
	authz.Principal
	Token string
}

// NewAuth sets up sessions and token keys for one clinic in region.
func NewAuth(t testing.TB, region residency.Region) *Auth {
	t.Helper()
	rdb, prefix := redistest.New(t)
	sessions := &authn.Sessions{Redis: rdb, Prefix: prefix}
	key, err := authn.GenerateKey(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://localhost:8080/r/" + string(region)
	secret := []byte(string(region) + "-edge-secret-0123456789")
	return &Auth{
		t: t, Region: region, Secret: secret, ClinicID: uuid.NewString(), Sessions: sessions,
		signer: &authn.Signer{Key: key, Issuer: issuer},
		Deps: service.Deps{Region: region, EdgeSecret: secret, Auth: &authn.Authenticator{
			Verifier: &authn.Verifier{Issuer: issuer, Keys: authn.StaticKeys{key}}, Sessions: sessions,
		}},
	}
}

// SignIn creates a live session for a new user of role (with the role's
// template grants when grants is nil) and returns the caller.
func (a *Auth) SignIn(role authz.Role, grants *authz.Grants) Caller {
	a.t.Helper()
	g := authz.RoleGrants(role)
	if grants != nil {
		g = *grants
	}
	now := time.Now()
	p := authz.Principal{ClinicID: a.ClinicID, UserID: uuid.NewString(), SessionID: uuid.NewString(), Role: role, Grants: g}
	if err := a.Sessions.Create(context.Background(), authn.Session{
		ID: p.SessionID, ClinicID: p.ClinicID, UserID: p.UserID, Role: role, Grants: g,
		CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour),
	}); err != nil {
		a.t.Fatal(err)
	}
	tok, _, err := a.signer.Sign(authn.Claims{Subject: p.UserID, ClinicID: p.ClinicID, SessionID: p.SessionID, Role: string(role), Grants: g})
	if err != nil {
		a.t.Fatal(err)
	}
	return Caller{Principal: p, Token: tok}
}

// Request is a request as the router forwards it: signed for the clinic
// and region, from client address 203.0.113.7, with c's token (none when c
// is nil) and body as JSON when not empty.
func (a *Auth) Request(c *Caller, method, path, body string) *http.Request {
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, path, nil)
	} else {
		r = httptest.NewRequest(method, path, bytes.NewReader([]byte(body)))
		r.Header.Set("Content-Type", "application/json")
	}
	if c != nil {
		r.Header.Set("Authorization", "Bearer "+c.Token)
	}
	edgeauth.Sign(r, a.Secret, a.ClinicID, string(a.Region), time.Now())
	r.Header.Set(edgeauth.HeaderClientIP, "203.0.113.7")
	return r
}
