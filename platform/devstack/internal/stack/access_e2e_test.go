package stack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/require"
)

// callAs is call with a bearer token.
func callAs(t testing.TB, method, url, token string, body any) response {
	t.Helper()
	status, ctype, raw := send(t, method, url, token, body)
	r := response{status: status, ctype: ctype, body: map[string]any{}}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// send makes one request (JSON body, bearer token when set) and returns
// the status, the content type and the body as it came.
func send(t testing.TB, method, url, token string, body any) (int, string, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get("Content-Type"), raw
}

func signInAs(t testing.TB, base, email, password string) string {
	t.Helper()
	r := callAs(t, http.MethodPost, base+"/identity/v1/sessions", "", map[string]string{"email": email, "password": password})
	require.Equal(t, http.StatusCreated, r.status, "sign-in: %v", r.body)
	tok, _ := r.body["access_token"].(string)
	require.NotEmpty(t, tok)
	return tok
}

func TestDevstack_IdentityAndAccess(t *testing.T) {
	d, _, _, data := bootDevstack(t)
	router := d.manifest.RouterURL
	run := token(t)
	const ownerPW, billingPW = "owner passphrase for the e2e", "billing helper passphrase"

	nz := signup{country: "NZ", zone: "Pacific/Auckland", region: "sydney", slug: "acc-nz-" + run,
		ownerName: "OwnerNZ" + run, ownerEmail: "owner-nz-" + run + "@example.org"}
	gb := signup{country: "GB", zone: "Europe/London", region: "london", slug: "acc-gb-" + run,
		ownerName: "OwnerGB" + run, ownerEmail: "owner-gb-" + run + "@example.org"}
	for _, s := range []signup{nz, gb} {
		r := call(t, http.MethodPost, router+"/v1/clinics", signupBody(s, ownerPW))
		require.Equal(t, http.StatusCreated, r.status, "%v", r.body)
	}
	nzBase, gbBase := router+"/c/"+nz.slug, router+"/c/"+gb.slug

	// The owner signs in and sees themself.
	owner := signInAs(t, nzBase, nz.ownerEmail, ownerPW)
	me := callAs(t, http.MethodGet, nzBase+"/identity/v1/me", owner, nil)
	require.Equal(t, http.StatusOK, me.status, "%v", me.body)
	require.Equal(t, "owner", me.body["user"].(map[string]any)["role"])

	// A token from Sydney is refused on a London clinic, at the router.
	cross := callAs(t, http.MethodGet, gbBase+"/identity/v1/me", owner, nil)
	require.Equal(t, http.StatusUnauthorized, cross.status)
	require.Equal(t, "application/problem+json", cross.ctype)

	// The owner creates a billing user with a password; it signs in and is
	// a billing principal in every service of the region.
	created := callAs(t, http.MethodPost, nzBase+"/identity/v1/users", owner, map[string]string{
		"name": "Billing " + run, "email": "billing-" + run + "@example.org", "role": "billing", "password": billingPW})
	require.Equal(t, http.StatusCreated, created.status, "%v", created.body)
	billingID := created.body["id"].(string)
	billing := signInAs(t, nzBase, "billing-"+run+"@example.org", billingPW)
	p := callAs(t, http.MethodGet, nzBase+"/scheduling/v1/principal", billing, nil)
	require.Equal(t, http.StatusOK, p.status, "%v", p.body)
	require.Equal(t, "billing", p.body["role"])
	require.Equal(t, "none", p.body["grants"].(map[string]any)["charts"])

	// Deactivation ends access at once: over 50 trials, the time from the
	// owner's deactivate call until the billing token is refused by two
	// different services.
	var took []time.Duration
	for i := 0; i < 50; i++ {
		if i > 0 {
			billing = signInAs(t, nzBase, "billing-"+run+"@example.org", billingPW)
		}
		start := time.Now()
		r := callAs(t, http.MethodPost, nzBase+"/identity/v1/users/"+billingID+"/deactivate", owner, nil)
		require.Equal(t, http.StatusOK, r.status, "%v", r.body)
		deadline := start.Add(5 * time.Second)
		for {
			a := callAs(t, http.MethodGet, nzBase+"/identity/v1/me", billing, nil).status
			b := callAs(t, http.MethodGet, nzBase+"/scheduling/v1/principal", billing, nil).status
			if a == http.StatusUnauthorized && b == http.StatusUnauthorized {
				break
			}
			require.True(t, time.Now().Before(deadline), "billing token still accepted 5 s after deactivation (%d, %d)", a, b)
		}
		took = append(took, time.Since(start))
		r = callAs(t, http.MethodPost, nzBase+"/identity/v1/users/"+billingID+"/reactivate", owner, nil)
		require.Equal(t, http.StatusOK, r.status, "%v", r.body)
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	p50, p99 := took[len(took)/2], took[(len(took)*99+99)/100-1]
	t.Logf("revocation: deactivate → 401 from identity and scheduling, 50 trials: p50 %v, p99 %v, max %v", p50, p99, took[len(took)-1])
	fmt.Printf("REVOCATION p50=%v p99=%v\n", p50, p99)
	require.Less(t, p99, time.Second, "p99 time until a deactivated user's token is refused")

	// A stock OpenID Connect client discovers the Sydney issuer through the
	// router and verifies a Haven token with no Haven code.
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, d.manifest.PublicURL+"/r/sydney")
	require.NoError(t, err)
	idt, err := provider.Verifier(&oidc.Config{ClientID: "haven"}).Verify(ctx, owner)
	require.NoError(t, err)
	require.Equal(t, me.body["user"].(map[string]any)["id"], idt.Subject)
	london, err := oidc.NewProvider(ctx, d.manifest.PublicURL+"/r/london")
	require.NoError(t, err)
	_, err = london.Verifier(&oidc.Config{ClientID: "haven"}).Verify(ctx, owner)
	require.Error(t, err, "London's keys must not verify a Sydney token")

	// Lock-out: five wrong passwords, then even the right one gets 429; an
	// unknown e-mail is answered exactly like a wrong password.
	var answers []string
	for _, email := range []string{gb.ownerEmail, "nobody-" + run + "@example.org"} {
		r := callAs(t, http.MethodPost, gbBase+"/identity/v1/sessions", "", map[string]string{"email": email, "password": "not the passphrase at all"})
		require.Equal(t, http.StatusUnauthorized, r.status)
		answers = append(answers, fmt.Sprint(r.body["type"], r.body["title"], r.body["detail"]))
	}
	require.Equal(t, answers[0], answers[1], "unknown e-mail and wrong password must be indistinguishable")
	for i := 0; i < 4; i++ {
		callAs(t, http.MethodPost, gbBase+"/identity/v1/sessions", "", map[string]string{"email": gb.ownerEmail, "password": "not the passphrase at all"})
	}
	locked := callAs(t, http.MethodPost, gbBase+"/identity/v1/sessions", "", map[string]string{"email": gb.ownerEmail, "password": ownerPW})
	require.Equal(t, http.StatusTooManyRequests, locked.status, "the 6th attempt is refused even with the right password")

	// Password reset end to end: the link arrives, through the region's
	// messaging service, in its mail sink; it sets a new password and ends
	// the old sessions.
	r := callAs(t, http.MethodPost, nzBase+"/identity/v1/password-resets", "", map[string]string{"email": nz.ownerEmail})
	require.Equal(t, http.StatusAccepted, r.status)
	link := waitMail(t, d.manifest.Regions["sydney"].MailAPI, nz.ownerEmail, "/password-resets/").Text
	i := strings.Index(link, "/password-resets/")
	require.GreaterOrEqual(t, i, 0)
	resetToken := strings.Fields(link[i+len("/password-resets/"):])[0]
	r = callAs(t, http.MethodPost, nzBase+"/identity/v1/password-resets/"+resetToken, "", map[string]string{"password": "a fresh passphrase after reset"})
	require.Equal(t, http.StatusNoContent, r.status, "%v", r.body)
	require.Equal(t, http.StatusUnauthorized, callAs(t, http.MethodGet, nzBase+"/identity/v1/me", owner, nil).status, "old session ended")
	signInAs(t, nzBase, nz.ownerEmail, "a fresh passphrase after reset")
	require.Empty(t, filesContaining(t, filepath.Join(data, "london"), resetToken), "the reset link stays in the clinic's region")
	require.Empty(t, filesContaining(t, data, nz.ownerEmail, gb.ownerEmail, nz.ownerName, gb.ownerName),
		"no owner's e-mail or name is readable anywhere, the outbox included")

	// Closing a clinic destroys its key: its data becomes unreadable, its
	// sessions end, and the router answers 410 Gone once the directory
	// learns of it (this devstack runs with no grace period).
	au := signup{country: "AU", zone: "Australia/Sydney", region: "sydney", slug: "acc-au-" + run,
		ownerName: "OwnerAU" + run, ownerEmail: "owner-au-" + run + "@example.org"}
	require.Equal(t, http.StatusCreated, call(t, http.MethodPost, router+"/v1/clinics", signupBody(au, ownerPW)).status)
	auBase := router + "/c/" + au.slug
	auOwner := signInAs(t, auBase, au.ownerEmail, ownerPW)
	r = callAs(t, http.MethodPost, auBase+"/identity/v1/clinic/closure/challenge", auOwner, map[string]string{"password": ownerPW})
	require.Equal(t, http.StatusNoContent, r.status, "no second factor enrolled: no challenge")
	r = callAs(t, http.MethodPost, auBase+"/identity/v1/clinic/closure", auOwner, map[string]string{"password": ownerPW})
	require.Equal(t, http.StatusOK, r.status, "%v", r.body)
	require.Equal(t, "closed", r.body["status"])
	deadline := time.Now().Add(30 * time.Second)
	for {
		r = call(t, http.MethodGet, router+"/v1/clinics/"+au.slug, nil)
		if r.status == http.StatusGone {
			break
		}
		require.True(t, time.Now().Before(deadline), "the router still answers %d for a closed clinic", r.status)
	}
	require.Equal(t, http.StatusGone, callAs(t, http.MethodPost, auBase+"/identity/v1/sessions", "", map[string]string{"email": au.ownerEmail, "password": ownerPW}).status)
}
