package workflows

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/havenhealth/haven/libs/config"
)

// The integration tests and benchmarks share one Temporal dev server per
// test binary, started on first use (the same `temporal server start-dev`
// the devstack runs per region) and stopped by TestMain.

const devNamespace = "haven-montreal"

var dev struct {
	once sync.Once
	addr string
	err  error
	cmd  *exec.Cmd
	done chan struct{}
	out  bytes.Buffer
}

func TestMain(m *testing.M) {
	code := m.Run()
	stopDevServer()
	os.Exit(code)
}

// temporalBin finds the Temporal CLI as the devstack's tests do:
// HAVEN_TEMPORAL_BIN, else the repository's bin/temporal.
func temporalBin() (string, error) {
	p := os.Getenv("HAVEN_TEMPORAL_BIN")
	if p == "" {
		_, file, _, _ := runtime.Caller(0)
		p = filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "bin", "temporal")
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("the Temporal CLI is needed: run `make test`, which builds it into bin/, or set HAVEN_TEMPORAL_BIN: %w", err)
	}
	return p, nil
}

// devServer returns the host:port of the shared dev server, starting it if
// needed; a missing CLI or a server that does not come up fails the test.
func devServer(t testing.TB) config.Temporal {
	t.Helper()
	dev.once.Do(func() { dev.addr, dev.err = startDevServer() })
	require.NoError(t, dev.err)
	return config.Temporal{Address: dev.addr, Namespace: devNamespace}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startDevServer() (string, error) {
	bin, err := temporalBin()
	if err != nil {
		return "", err
	}
	// Every port the dev server opens is named, so none defaults to an
	// offset of another that a concurrently running devstack may hold.
	var ports [4]int
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return "", err
		}
	}
	dev.cmd = exec.Command(bin, "server", "start-dev", "--headless", "--ip", "127.0.0.1",
		"--port", strconv.Itoa(ports[0]), "--ui-port", strconv.Itoa(ports[1]), "--metrics-port", strconv.Itoa(ports[2]),
		"--http-port", strconv.Itoa(ports[3]), "--namespace", devNamespace, "--log-level", "warn")
	dev.cmd.Stdout, dev.cmd.Stderr = &dev.out, &dev.out
	if err := dev.cmd.Start(); err != nil {
		return "", fmt.Errorf("start temporal dev server: %w", err)
	}
	dev.done = make(chan struct{})
	go func() { _ = dev.cmd.Wait(); close(dev.done) }()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	quiet := tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	for {
		last := func() error {
			nc, err := client.NewNamespaceClient(client.Options{HostPort: addr, Logger: quiet})
			if err != nil {
				return err
			}
			defer nc.Close()
			_, err = nc.Describe(ctx, devNamespace)
			return err
		}()
		if last == nil {
			return addr, nil
		}
		select {
		case <-dev.done:
			return "", fmt.Errorf("temporal dev server exited: %s", dev.out.String())
		case <-ctx.Done():
			return "", errors.Join(fmt.Errorf("temporal dev server not ready: %s", dev.out.String()), last)
		case <-tick.C:
		}
	}
}

func stopDevServer() {
	if dev.cmd == nil || dev.cmd.Process == nil {
		return
	}
	_ = dev.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-dev.done:
	case <-time.After(10 * time.Second):
		_ = dev.cmd.Process.Kill()
		<-dev.done
	}
}
