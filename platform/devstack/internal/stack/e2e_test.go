package stack_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/platform/devstack/internal/stack"
)

// devstack is one running `devstack` process, started the way `make run`
// starts it.
type devstack struct {
	cmd      *exec.Cmd
	out      *bytes.Buffer
	done     chan struct{}
	manifest stack.Manifest
}

func buildBinaries(t testing.TB) string {
	t.Helper()
	bin := t.TempDir()
	cmds := []string{"github.com/havenhealth/haven/platform/router/cmd/router", "github.com/havenhealth/haven/platform/devstack/cmd/devstack"}
	for _, s := range stack.Services {
		cmds = append(cmds, "github.com/havenhealth/haven/services/"+s+"/cmd/"+s)
	}
	build := exec.Command("go", append([]string{"build", "-o", bin + "/"}, cmds...)...)
	build.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

func temporalBin(t testing.TB) string {
	t.Helper()
	p := os.Getenv("HAVEN_TEMPORAL_BIN")
	if p == "" {
		_, file, _, _ := runtime.Caller(0)
		p = filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "bin", "temporal")
	}
	_, err := os.Stat(p)
	require.NoError(t, err, "the Temporal CLI is needed: run `make test`, which builds it into bin/, or set HAVEN_TEMPORAL_BIN")
	return p
}

// bootDevstack skips the test under -short; otherwise it builds the binaries
// and starts a devstack on a fresh data directory, stopped when t ends.
func bootDevstack(t *testing.T) (d *devstack, bin, temporal, data string) {
	t.Helper()
	if testing.Short() {
		t.Skip("the end-to-end tests start the whole system: 4 regions, 25 processes, 4 Temporal servers")
	}
	temporal = temporalBin(t)
	bin = buildBinaries(t)
	data = t.TempDir()
	return startDevstack(t, bin, temporal, data), bin, temporal, data
}

func startDevstack(t testing.TB, bin, temporal, data string) *devstack {
	t.Helper()
	manifestPath := filepath.Join(data, "devstack.json")
	_ = os.Remove(manifestPath)
	d := &devstack{out: &bytes.Buffer{}, done: make(chan struct{})}
	d.cmd = exec.Command(filepath.Join(bin, "devstack"), "--random-ports", "--data", data, "--bin", bin, "--temporal", temporal,
		"--closure-grace", "0s")
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	require.NoError(t, d.cmd.Start())
	go func() { _ = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			_ = d.cmd.Process.Signal(os.Interrupt)
			<-d.done
		}
	})

	// Poll for the manifest the devstack writes once the router is ready.
	deadline := time.After(3 * time.Minute)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(manifestPath); err == nil && json.Unmarshal(b, &d.manifest) == nil && d.manifest.RouterURL != "" {
			return d
		}
		select {
		case <-d.done:
			t.Fatalf("devstack exited during start-up:\n%s", d.out.String())
		case <-deadline:
			t.Fatalf("devstack not ready in time:\n%s", d.out.String())
		case <-tick.C:
		}
	}
}

// stop sends Ctrl-C and waits; the devstack must be gone within 10 s.
func (d *devstack) stop(t testing.TB) {
	t.Helper()
	require.NoError(t, d.cmd.Process.Signal(os.Interrupt))
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("devstack did not stop within 10 s of Ctrl-C:\n%s", d.out.String())
	}
}

type response struct {
	status int
	body   map[string]any
	ctype  string
}

func call(t testing.TB, method, url string, body any) response {
	t.Helper()
	return callAs(t, method, url, "", body)
}

type signup struct {
	country, zone, region string
	slug, ownerName       string
	ownerEmail            string
}

func token(t testing.TB) string {
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

func signupBody(s signup, password string) map[string]any {
	return map[string]any{
		"name": "Clinic " + s.slug, "slug": s.slug, "country": s.country, "time_zone": s.zone,
		"owner": map[string]any{"name": s.ownerName, "email": s.ownerEmail, "password": password},
	}
}

// filesContaining returns the files under root whose bytes contain needle.
// The regions' mail sinks (<region>/mail) are skipped: they stand for the
// recipients' own mailboxes, outside Haven, where a delivered message is
// meant to be readable.
func filesContaining(t *testing.T, root string, needles ...string) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil // SQLite and Temporal journals come and go
			}
			return err
		}
		if d.IsDir() {
			if d.Name() == "mail" {
				return filepath.SkipDir
			}
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				hits = append(hits, path+" contains "+n)
			}
		}
		return nil
	})
	require.NoError(t, err)
	return hits
}

// processesUsing lists live processes whose command line or environment
// mentions dir.
func processesUsing(dir string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		for _, f := range []string{"cmdline", "environ"} {
			b, err := os.ReadFile(filepath.Join("/proc", e.Name(), f))
			if err == nil && bytes.Contains(b, []byte(dir)) {
				out = append(out, fmt.Sprintf("pid %d (%s)", pid, strings.ReplaceAll(string(b[:min(len(b), 120)]), "\x00", " ")))
				break
			}
		}
	}
	return out
}

func TestDevstack_EndToEnd(t *testing.T) {
	d, bin, temporal, data := bootDevstack(t)
	router := d.manifest.RouterURL
	const password = "a perfectly long passphrase 42"

	// Liveness through the router.
	require.Equal(t, http.StatusOK, call(t, http.MethodGet, router+"/healthz", nil).status)

	// Sign-up places each clinic in its home region.
	run := token(t)
	signups := []signup{
		{country: "NZ", zone: "Pacific/Auckland", region: "sydney"},
		{country: "US", zone: "America/New_York", region: "portland"},
		{country: "KY", zone: "America/Cayman", region: "portland"},
		{country: "GB", zone: "Europe/London", region: "london"},
		{country: "CA", zone: "America/Toronto", region: "montreal"},
		{country: "BR", zone: "America/Sao_Paulo", region: "montreal"},
		{country: "de", zone: "Europe/Berlin", region: "london"},
	}
	for i := range signups {
		s := &signups[i]
		s.slug = fmt.Sprintf("e2e-%s-%s", strings.ToLower(s.country), run)
		s.ownerName = fmt.Sprintf("Owner%s%s", s.country, run)
		s.ownerEmail = fmt.Sprintf("owner-%s-%s@example.org", strings.ToLower(s.country), run)
		r := call(t, http.MethodPost, router+"/v1/clinics", signupBody(*s, password))
		require.Equal(t, http.StatusCreated, r.status, "sign-up %s: %v", s.country, r.body)
		require.Equal(t, s.region, r.body["region"], "country %s", s.country)
		require.Equal(t, s.slug, r.body["slug"])
		require.Equal(t, "active", r.body["status"])
		require.NotContains(t, r.body, "name")
		require.NotContains(t, r.body, "owner")

		got := call(t, http.MethodGet, router+"/v1/clinics/"+s.slug, nil)
		require.Equal(t, http.StatusOK, got.status)
		require.Equal(t, s.region, got.body["region"])
	}

	// Refusals are problem+json 4xx.
	bad := signups[0]
	bad.slug, bad.country = "e2e-xx-"+run, "XX"
	r := call(t, http.MethodPost, router+"/v1/clinics", signupBody(bad, password))
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, "application/problem+json", r.ctype)

	r = call(t, http.MethodPost, router+"/v1/clinics", signupBody(signups[0], password))
	require.Equal(t, http.StatusConflict, r.status, "same slug twice")
	require.Equal(t, "application/problem+json", r.ctype)

	short := signups[0]
	short.slug = "e2e-short-" + run
	r = call(t, http.MethodPost, router+"/v1/clinics", signupBody(short, "abc"))
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, "application/problem+json", r.ctype)

	r = call(t, http.MethodPost, router+"/v1/clinics", nil)
	require.Equal(t, http.StatusBadRequest, r.status, "no body")
	require.Equal(t, "application/problem+json", r.ctype)

	// A proxied call reaches the clinic's home region.
	nz := signups[0]
	info := call(t, http.MethodGet, router+"/c/"+nz.slug+"/scheduling/v1/info", nil)
	require.Equal(t, http.StatusOK, info.status)
	require.Equal(t, "sydney", info.body["region"])
	require.Equal(t, "scheduling", info.body["service"])
	clinic := call(t, http.MethodGet, router+"/c/"+nz.slug+"/identity/v1/clinic", nil)
	require.Equal(t, http.StatusOK, clinic.status)
	require.Equal(t, "NZ", clinic.body["country"])

	// Every owner can sign in by e-mail in the home region (the data is
	// there) and creates a staff member with a phone-enrolled second factor.
	var staff []string
	for _, s := range signups {
		base := router + "/c/" + s.slug
		owner := signInAs(t, base, s.ownerEmail, password)
		name, email := "Staff"+s.country+run, "staff-"+strings.ToLower(s.country)+"-"+run+"@example.org"
		r := callAs(t, http.MethodPost, base+"/identity/v1/users", owner, map[string]string{"name": name, "email": email, "role": "front_desk", "password": password})
		require.Equal(t, http.StatusCreated, r.status, "%v", r.body)
		staff = append(staff, name, email)
		r = callAs(t, http.MethodPost, base+"/identity/v1/me/two-step/sms", owner, map[string]string{"password": password, "phone": "+6421" + phoneDigits(run)})
		require.Equal(t, http.StatusNoContent, r.status, "%v", r.body)
		staff = append(staff, "+6421"+phoneDigits(run))
	}

	// Residency and encryption: no owner's e-mail or name is readable in any
	// file of any region — the home region holds them only encrypted under
	// the clinic's key — nor in the directory, nor in any log.
	d.stop(t) // flushes SQLite, Kafka and Temporal files to disk
	require.Empty(t, processesUsing(data), "processes left behind after Ctrl-C")
	for _, s := range signups {
		for _, region := range []string{"montreal", "portland", "sydney", "london"} {
			require.Empty(t, filesContaining(t, filepath.Join(data, region), s.ownerEmail, s.ownerName),
				"%s clinic's owner readable in %s", s.country, region)
		}
		require.Empty(t, filesContaining(t, data, staff...), "staff names, e-mails or phones readable under the data directory")
		require.Empty(t, filesContaining(t, d.manifest.GlobalDir, s.ownerEmail, s.ownerName), "owner data in the global directory or router logs")
		for _, region := range []string{"montreal", "portland", "sydney", "london"} {
			require.Empty(t, filesContaining(t, filepath.Join(data, region, "logs"), s.ownerEmail, s.ownerName, password), "personal data in %s logs", region)
		}
		require.NotContains(t, d.out.String(), s.ownerEmail)
	}

	// A second start keeps the clinics.
	d2 := startDevstack(t, bin, temporal, data)
	again := call(t, http.MethodGet, d2.manifest.RouterURL+"/v1/clinics/"+nz.slug, nil)
	require.Equal(t, http.StatusOK, again.status)
	require.Equal(t, "sydney", again.body["region"])
	clinic = call(t, http.MethodGet, d2.manifest.RouterURL+"/c/"+nz.slug+"/identity/v1/clinic", nil)
	require.Equal(t, http.StatusOK, clinic.status)
	d2.stop(t)
	require.Empty(t, processesUsing(data), "processes left behind after the second Ctrl-C")
}

// phoneDigits turns the run token into 7 digits for a test phone number.
func phoneDigits(run string) string {
	var b strings.Builder
	for _, r := range run {
		b.WriteByte(byte('0' + int(r)%10))
		if b.Len() == 7 {
			break
		}
	}
	return b.String()
}
