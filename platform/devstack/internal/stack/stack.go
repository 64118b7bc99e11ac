// Package stack runs the whole four-region Haven system on one machine:
// per region an in-memory Redis-protocol server, a Kafka-protocol broker
// persisting to disk, a Temporal dev server and the six service binaries;
// and globally the router with its directory. Each region keeps everything
// it holds under <data>/<region>/.
package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"github.com/havenhealth/haven/libs/mailsink"
	"github.com/havenhealth/haven/libs/residency"
	"github.com/havenhealth/haven/libs/smssink"
	"github.com/havenhealth/haven/platform/vaultdev"
)

// Services are the six regional binaries, in start order.
var Services = []string{"identity", "scheduling", "charting", "billing", "messaging", "audit"}

// Options configures a stack.
type Options struct {
	// RouterAddr is where the router listens (127.0.0.1:8080 by default).
	RouterAddr string
	// DataDir holds every region's files (.haven by default).
	DataDir string
	// BinDir holds the router and service binaries.
	BinDir string
	// TemporalBin is the Temporal CLI used for the dev servers.
	TemporalBin string
	// RandomPorts gives every part a free port instead of the fixed layout.
	RandomPorts bool
	// SignupPerMinute is the router's per-IP sign-up limit (60 when zero:
	// one developer scripting sign-ups should not trip it).
	SignupPerMinute int
	// ClosureGrace is how long a closing clinic lives before its key is
	// destroyed (the devstack default is 2 minutes; 0 closes at once).
	ClosureGrace time.Duration
	Logger       *slog.Logger
}

// Region describes where one region's parts listen.
type Region struct {
	Name     string            `json:"name"`
	Dir      string            `json:"dir"`
	Services map[string]string `json:"services"`
	Redis    string            `json:"redis"`
	Kafka    string            `json:"kafka"`
	Temporal string            `json:"temporal"`
	// Vault is the region's Vault API (Vault's own transit engine, in-process).
	Vault      string `json:"vault"`
	VaultToken string `json:"vault_token"`
	// TemporalNamespace is the namespace created for the region.
	TemporalNamespace string `json:"temporal_namespace"`
	// EdgeSecret lets local tools call a service directly, as the router
	// would. The manifest is written readable by its owner only.
	EdgeSecret string `json:"edge_secret"`
	// MailSMTP is the region's mail sink (SMTP, no TLS or auth) and MailAPI
	// its read API (GET /api/messages?to=…); messages are kept under
	// <dir>/mail.
	MailSMTP string `json:"mail_smtp"`
	MailAPI  string `json:"mail_api"`
	// SMSAPI is the region's SMS sink, speaking Twilio's Messages API with
	// SMSAccountSID and SMSAuthToken (GET /api/messages to read).
	SMSAPI        string `json:"sms_api"`
	SMSAccountSID string `json:"sms_account_sid"`
	SMSAuthToken  string `json:"sms_auth_token"`
}

// Manifest is written to <data>/devstack.json for tools and tests.
type Manifest struct {
	RouterURL string `json:"router_url"`
	// PublicURL names the token issuers: PublicURL/r/<region>.
	PublicURL string            `json:"public_url"`
	GlobalDir string            `json:"global_dir"`
	Regions   map[string]Region `json:"regions"`
	PID       int               `json:"pid"`
}

// Stack is a running system.
type Stack struct {
	opts     Options
	log      *slog.Logger
	Manifest Manifest

	mu       sync.Mutex
	router   *child
	services []*child
	temporal []*child
	brokers  []*kfake.Cluster
	redises  []*miniredis.Miniredis
	vaults   []*vaultdev.Server
	mails    []*mailsink.Sink
	smss     []*smssink.Sink
}

// Start brings up everything and returns once the router is ready.
// On error, whatever was started is stopped.
func Start(ctx context.Context, o Options) (s *Stack, err error) {
	if o.RouterAddr == "" {
		o.RouterAddr = "127.0.0.1:8080"
	}
	if o.DataDir == "" {
		o.DataDir = ".haven"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SignupPerMinute == 0 {
		o.SignupPerMinute = 60
	}
	abs, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, err
	}
	o.DataDir = abs
	st := &Stack{opts: o, log: o.Logger}
	s = st
	defer func() {
		if err != nil {
			st.Stop() // s itself is nil on the error returns
		}
	}()
	for _, bin := range append([]string{"router"}, Services...) {
		if _, err := os.Stat(filepath.Join(o.BinDir, bin)); err != nil {
			return nil, fmt.Errorf("binary %s not found in %s (run make build): %w", bin, o.BinDir, err)
		}
	}
	if _, err := os.Stat(o.TemporalBin); err != nil {
		return nil, fmt.Errorf("temporal CLI not found at %s (make installs it into bin/): %w", o.TemporalBin, err)
	}

	ports := &portPlan{random: o.RandomPorts}
	secrets := map[string]string{}
	s.Manifest = Manifest{Regions: map[string]Region{}, GlobalDir: filepath.Join(o.DataDir, "global"), PID: os.Getpid()}

	// Temporal dev servers take a few seconds each: start all four first,
	// then bring up the rest while they boot.
	type pendingTemporal struct {
		region residency.Region
		addr   string
	}
	var temporals []pendingTemporal
	for i, region := range residency.Regions() {
		dir := filepath.Join(o.DataDir, string(region))
		if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
			return nil, err
		}
		tport, err := ports.next(i, 30)
		if err != nil {
			return nil, err
		}
		addr := "127.0.0.1:" + strconv.Itoa(tport)
		if err := s.startTemporal(i, region, dir, tport, ports); err != nil {
			return nil, err
		}
		temporals = append(temporals, pendingTemporal{region: region, addr: addr})
	}

	for i, region := range residency.Regions() {
		dir := filepath.Join(o.DataDir, string(region))
		reg := Region{Name: string(region), Dir: dir, Services: map[string]string{}, Temporal: temporals[i].addr,
			TemporalNamespace: "haven-" + string(region)}

		rport, err := ports.next(i, 10)
		if err != nil {
			return nil, err
		}
		mr := miniredis.NewMiniRedis()
		if err := mr.StartAddr("127.0.0.1:" + strconv.Itoa(rport)); err != nil {
			return nil, fmt.Errorf("%s redis: %w", region, err)
		}
		s.redises = append(s.redises, mr)
		reg.Redis = mr.Addr()

		kport, err := ports.next(i, 20)
		if err != nil {
			return nil, err
		}
		broker, err := kfake.NewCluster(
			kfake.Ports(kport),
			kfake.DataDir(filepath.Join(dir, "kafka")),
			kfake.SeedTopics(3, Topics(region)...),
		)
		if err != nil {
			return nil, fmt.Errorf("%s kafka: %w", region, err)
		}
		s.brokers = append(s.brokers, broker)
		reg.Kafka = strings.Join(broker.ListenAddrs(), ",")
		vport, err := ports.next(i, 40)
		if err != nil {
			return nil, err
		}
		vtoken := randomSecret()
		vault, err := vaultdev.Start(ctx, vaultdev.Options{Addr: "127.0.0.1:" + strconv.Itoa(vport),
			Dir: filepath.Join(dir, "vault"), Token: vtoken, Logger: o.Logger})
		if err != nil {
			return nil, fmt.Errorf("%s vault: %w", region, err)
		}
		s.vaults = append(s.vaults, vault)
		reg.Vault, reg.VaultToken = vault.URL(), vtoken
		if err := s.startSinks(i, &reg, dir, ports, o.Logger); err != nil {
			return nil, fmt.Errorf("%s: %w", region, err)
		}
		secrets[string(region)] = randomSecret()
		reg.EdgeSecret = secrets[string(region)]
		s.Manifest.Regions[string(region)] = reg
	}

	for _, t := range temporals {
		if err := waitTemporal(ctx, t.addr, "haven-"+string(t.region)); err != nil {
			return nil, fmt.Errorf("%s temporal: %w (see %s)", t.region, err,
				filepath.Join(o.DataDir, string(t.region), "logs", "temporal.log"))
		}
	}

	routerAddr := o.RouterAddr
	if o.RandomPorts {
		p, err := ports.free()
		if err != nil {
			return nil, err
		}
		routerAddr = "127.0.0.1:" + strconv.Itoa(p)
	}
	// Tokens name their issuer by the router's public URL. "localhost"
	// rather than an IP address, because WebAuthn refuses IP addresses as
	// relying-party ids.
	_, routerPort, _ := net.SplitHostPort(routerAddr)
	publicURL := "http://localhost:" + routerPort
	s.Manifest.PublicURL = publicURL

	// Every service of a region gets its port up front, so each one can be
	// told where its peers are (identity's key set, charting's recipients,
	// messaging for codes and reminders).
	serviceAddr := map[residency.Region]map[string]string{}
	for i, region := range residency.Regions() {
		serviceAddr[region] = map[string]string{}
		for j, svc := range Services {
			port, err := ports.next(i, j)
			if err != nil {
				return nil, err
			}
			serviceAddr[region][svc] = "127.0.0.1:" + strconv.Itoa(port)
		}
	}

	var upstreams, edgeSecrets []string
	for _, region := range residency.Regions() {
		reg := s.Manifest.Regions[string(region)]
		edgeSecrets = append(edgeSecrets, string(region)+"="+secrets[string(region)])
		peers := serviceAddr[region]
		for _, svc := range Services {
			addr := peers[svc]
			env := []string{
				"HAVEN_REGION=" + string(region),
				"HAVEN_HTTP_ADDR=" + addr,
				"HAVEN_HTTP_SHUTDOWN_TIMEOUT=3s",
				"HAVEN_DATABASE_URL=sqlite://" + filepath.Join(reg.Dir, svc+".db"),
				"HAVEN_REDIS_URL=redis://" + reg.Redis + "/0",
				"HAVEN_KAFKA_BROKERS=" + reg.Kafka,
				"HAVEN_TEMPORAL_ADDRESS=" + reg.Temporal,
				"HAVEN_TEMPORAL_NAMESPACE=" + reg.TemporalNamespace,
				"HAVEN_VAULT_ADDR=" + reg.Vault,
				"HAVEN_VAULT_TOKEN=" + reg.VaultToken,
				"HAVEN_EDGE_SECRET=" + secrets[string(region)],
				"HAVEN_PUBLIC_URL=" + publicURL,
				"HAVEN_IDENTITY_URL=http://" + peers["identity"],
				"HAVEN_CHARTING_URL=http://" + peers["charting"],
				"HAVEN_MESSAGING_URL=http://" + peers["messaging"],
				"HAVEN_SCHEDULING_URL=http://" + peers["scheduling"],
				// Messaging delivers to the region's mail and SMS sinks.
				"HAVEN_MAIL_SMTP_ADDR=" + reg.MailSMTP,
				"HAVEN_MAIL_FROM=Haven <no-reply@haven.localhost>",
				"HAVEN_MAIL_TLS=none",
				"HAVEN_SMS_ACCOUNT_SID=" + reg.SMSAccountSID,
				"HAVEN_SMS_AUTH_TOKEN=" + reg.SMSAuthToken,
				"HAVEN_SMS_FROM=+15005550006",
				"HAVEN_SMS_API_URL=" + reg.SMSAPI,
				"HAVEN_DISPATCH_EVERY=2s",
				"HAVEN_SIGN_IN_PER_MINUTE=" + strconv.Itoa(o.SignupPerMinute*10),
				"HAVEN_CLOSURE_GRACE=" + o.ClosureGrace.String(),
				"HAVEN_CLOSURE_CHECK_EVERY=5s",
				"HAVEN_AUDIT_DIGEST_EVERY=1m",
			}
			c, err := s.spawn(string(region)+"/"+svc, filepath.Join(o.BinDir, svc), nil, env,
				filepath.Join(reg.Dir, "logs", svc+".log"))
			if err != nil {
				return nil, err
			}
			s.services = append(s.services, c)
			reg.Services[svc] = "http://" + addr
			upstreams = append(upstreams, string(region)+"/"+svc+"=http://"+addr)
		}
		s.Manifest.Regions[string(region)] = reg
	}
	for _, reg := range s.Manifest.Regions {
		for svc, u := range reg.Services {
			if err := waitReady(ctx, u); err != nil {
				logPath := filepath.Join(reg.Dir, "logs", svc+".log")
				return nil, fmt.Errorf("%s/%s did not become ready: %w (see %s; it ends with:\n%s)", reg.Name, svc, err,
					logPath, logTail(logPath, 15))
			}
		}
	}

	// The router is global: its directory and its rate-limit Redis live
	// under <data>/global, apart from every region.
	global := s.Manifest.GlobalDir
	if err := os.MkdirAll(filepath.Join(global, "logs"), 0o755); err != nil {
		return nil, err
	}
	gport, err := ports.global(0)
	if err != nil {
		return nil, err
	}
	gr := miniredis.NewMiniRedis()
	if err := gr.StartAddr("127.0.0.1:" + strconv.Itoa(gport)); err != nil {
		return nil, fmt.Errorf("router redis: %w", err)
	}
	s.redises = append(s.redises, gr)
	routerEnv := []string{
		"HAVEN_HTTP_ADDR=" + routerAddr,
		"HAVEN_HTTP_SHUTDOWN_TIMEOUT=2s",
		"HAVEN_DATABASE_URL=sqlite://" + filepath.Join(global, "directory.db"),
		"HAVEN_REDIS_URL=redis://" + gr.Addr() + "/0",
		"HAVEN_UPSTREAMS=" + strings.Join(upstreams, ","),
		"HAVEN_EDGE_SECRETS=" + strings.Join(edgeSecrets, ","),
		"HAVEN_SIGNUP_PER_MINUTE=" + strconv.Itoa(o.SignupPerMinute),
		"HAVEN_PUBLIC_URL=" + publicURL,
		// Closures and half-made sign-ups reach the directory within seconds.
		"HAVEN_RECONCILE_EVERY=2s",
	}
	s.router, err = s.spawn("router", filepath.Join(o.BinDir, "router"), nil, routerEnv, filepath.Join(global, "logs", "router.log"))
	if err != nil {
		return nil, err
	}
	s.Manifest.RouterURL = "http://" + routerAddr
	if err := waitReady(ctx, s.Manifest.RouterURL); err != nil {
		return nil, fmt.Errorf("router did not become ready: %w (see %s)", err, filepath.Join(global, "logs", "router.log"))
	}
	m, _ := json.MarshalIndent(s.Manifest, "", "  ")
	if err := os.WriteFile(filepath.Join(o.DataDir, "devstack.json"), m, 0o600); err != nil {
		return nil, err
	}
	return s, nil
}

// Topics are the Kafka topics each region's broker is created with.
func Topics(region residency.Region) []string {
	return []string{
		"haven." + string(region) + ".audit.v1",
		"haven." + string(region) + ".charting.v1",
	}
}

func (s *Stack) startTemporal(i int, region residency.Region, dir string, port int, ports *portPlan) error {
	httpPort, err := ports.next(i, 31)
	if err != nil {
		return err
	}
	metricsPort, err := ports.next(i, 32)
	if err != nil {
		return err
	}
	uiPort, err := ports.next(i, 33)
	if err != nil {
		return err
	}
	args := []string{"server", "start-dev", "--headless",
		"--ip", "127.0.0.1",
		"--port", strconv.Itoa(port),
		"--http-port", strconv.Itoa(httpPort),
		"--metrics-port", strconv.Itoa(metricsPort),
		"--ui-port", strconv.Itoa(uiPort),
		"--db-filename", filepath.Join(dir, "temporal.db"),
		"--namespace", "haven-" + string(region),
		"--log-level", "warn",
	}
	c, err := s.spawn(string(region)+"/temporal", s.opts.TemporalBin, args, nil, filepath.Join(dir, "logs", "temporal.log"))
	if err != nil {
		return err
	}
	s.temporal = append(s.temporal, c)
	return nil
}

// Stop shuts down in order — router, services, Temporal, then brokers and
// Redis — and returns when no child process is left.
func (s *Stack) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.router != nil {
		stopAll([]*child{s.router}, 3*time.Second)
		s.router = nil
	}
	stopAll(s.services, 3*time.Second)
	s.services = nil
	stopAll(s.temporal, 3*time.Second)
	s.temporal = nil
	for _, b := range s.brokers {
		b.Close()
	}
	s.brokers = nil
	for _, r := range s.redises {
		r.Close()
	}
	s.redises = nil
	for _, v := range s.vaults {
		_ = v.Close()
	}
	s.vaults = nil
	for _, m := range s.mails {
		_ = m.Close()
	}
	s.mails = nil
	for _, m := range s.smss {
		_ = m.Close()
	}
	s.smss = nil
}

// startSinks starts the region's mail sink (SMTP on slot 50, its read API
// on 51) and SMS sink (slot 52), where messaging delivers in development.
func (s *Stack) startSinks(i int, reg *Region, dir string, ports *portPlan, log *slog.Logger) error {
	var addrs [3]string
	for k := range addrs {
		p, err := ports.next(i, 50+k)
		if err != nil {
			return err
		}
		addrs[k] = "127.0.0.1:" + strconv.Itoa(p)
	}
	mail, err := mailsink.Start(mailsink.Options{SMTPAddr: addrs[0], HTTPAddr: addrs[1], Dir: filepath.Join(dir, "mail"),
		RejectDomains: []string{"bounce.invalid"}, Logger: log})
	if err != nil {
		return fmt.Errorf("mail sink: %w", err)
	}
	s.mails = append(s.mails, mail)
	reg.MailSMTP, reg.MailAPI = mail.SMTPAddr(), mail.URL()
	reg.SMSAccountSID, reg.SMSAuthToken = "AC"+randomHex(16), randomHex(16)
	sms, err := smssink.Start(smssink.Options{Addr: addrs[2], AccountSID: reg.SMSAccountSID, AuthToken: reg.SMSAuthToken, Logger: log})
	if err != nil {
		return fmt.Errorf("sms sink: %w", err)
	}
	s.smss = append(s.smss, sms)
	reg.SMSAPI = sms.URL()
	return nil
}

// Exited reports the first child that exits on its own, so the caller can
// stop the stack instead of running half a system.
func (s *Stack) Exited() <-chan string {
	out := make(chan string, 1)
	s.mu.Lock()
	all := append(append([]*child{s.router}, s.services...), s.temporal...)
	s.mu.Unlock()
	for _, c := range all {
		go func() {
			<-c.done
			select {
			case out <- c.name:
			default:
			}
		}()
	}
	return out
}

// child is a started process whose output goes to a log file.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	log  io.Closer
}

func (s *Stack) spawn(name, bin string, args, env []string, logPath string) (*child, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(minimalEnv(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	// Own process group: the terminal's Ctrl-C reaches only the devstack,
	// which stops children in order. Pdeathsig kills a child if the devstack
	// itself dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{}), log: f}
	go func() {
		_ = cmd.Wait()
		_ = f.Close()
		close(c.done)
	}()
	s.log.Debug("started", slog.String("part", name), slog.Int("pid", cmd.Process.Pid))
	return c, nil
}

// minimalEnv passes through what a child needs from the devstack's own
// environment (PATH, HOME, TMPDIR, OTEL_*), and no HAVEN_* settings meant
// for another part.
func minimalEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "PATH" || k == "HOME" || k == "TMPDIR" || k == "TZ" || strings.HasPrefix(k, "OTEL_") {
			out = append(out, kv)
		}
	}
	return out
}

// stopAll sends SIGTERM to every child's process group, waits up to grace,
// then SIGKILLs what is left and waits for it.
func stopAll(children []*child, grace time.Duration) {
	for _, c := range children {
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGTERM)
	}
	deadline := time.After(grace)
	for _, c := range children {
		select {
		case <-c.done:
		case <-deadline:
		}
	}
	for _, c := range children {
		select {
		case <-c.done:
		default:
			_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
			<-c.done
		}
	}
}

// portPlan gives fixed, predictable ports (region i, slot j → 18000+100i+j;
// global parts 18900+j) or free random ones, never the same one twice (the
// kernel may offer a just-closed port again).
type portPlan struct {
	random bool
	used   map[int]bool
}

func (p *portPlan) next(region, slot int) (int, error) {
	if p.random {
		return p.free()
	}
	return 18000 + 100*region + slot, nil
}

func (p *portPlan) global(slot int) (int, error) {
	if p.random {
		return p.free()
	}
	return 18900 + slot, nil
}

func (p *portPlan) free() (int, error) {
	if p.used == nil {
		p.used = map[int]bool{}
	}
	for range 100 {
		port, err := freePort()
		if err != nil {
			return 0, err
		}
		if !p.used[port] {
			p.used[port] = true
			return port, nil
		}
	}
	return 0, errors.New("no unused free port found")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls base/readyz until it answers 200 or ctx ends.
// logTail returns the last n lines of a child's log (services log ids
// only, so it is safe to show).
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func waitReady(ctx context.Context, base string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		resp, err := hc.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("readyz answered %d", resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// waitTemporal waits until the frontend answers and the namespace exists.
func waitTemporal(ctx context.Context, addr, namespace string) error {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		last = func() error {
			c, err := client.Dial(client.Options{HostPort: addr, Namespace: namespace, Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler))})
			if err != nil {
				return err
			}
			defer c.Close()
			nc, err := client.NewNamespaceClient(client.Options{HostPort: addr, Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler))})
			if err != nil {
				return err
			}
			defer nc.Close()
			_, err = nc.Describe(ctx, namespace)
			return err
		}()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), last)
		case <-tick.C:
		}
	}
}

func randomSecret() string { return randomHex(24) }

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := randRead(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return fmt.Sprintf("%x", b)
}
