package stack_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/havenhealth/haven/libs/edgeauth"
)

// BenchmarkMe measures GET /me through the router beside the same handler
// called directly on the identity service (signed as the router would),
// on a running devstack: the router's cost per authenticated request.
func BenchmarkMe(b *testing.B) {
	t := b
	temporal := temporalBin(t)
	bin := buildBinaries(t)
	d := startDevstack(t, bin, temporal, b.TempDir())
	b.Cleanup(func() { d.stop(t) })
	run := token(t)
	s := signup{country: "NZ", zone: "Pacific/Auckland", region: "sydney", slug: "bench-" + run,
		ownerName: "Owner" + run, ownerEmail: "owner-" + run + "@example.org"}
	const pw = "benchmark owner passphrase"
	if r := call(t, http.MethodPost, d.manifest.RouterURL+"/v1/clinics", signupBody(s, pw)); r.status != http.StatusCreated {
		b.Fatalf("sign-up: %d", r.status)
	}
	base := d.manifest.RouterURL + "/c/" + s.slug
	tok := signInAs(t, base, s.ownerEmail, pw)
	clinic := call(t, http.MethodGet, d.manifest.RouterURL+"/v1/clinics/"+s.slug, nil).body["id"].(string)
	sydney := d.manifest.Regions["sydney"]
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}

	get := func(b *testing.B, req func() *http.Request) {
		for b.Loop() {
			resp, err := client.Do(req())
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	}
	b.Run("baseline=direct", func(b *testing.B) {
		get(b, func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, sydney.Services["identity"]+"/v1/me", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			edgeauth.Sign(r, []byte(sydney.EdgeSecret), clinic, "sydney", time.Now())
			return r
		})
	})
	b.Run("via-router", func(b *testing.B) {
		get(b, func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, base+"/identity/v1/me", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			return r
		})
	})
}
