// Command devstack runs all four Haven regions on one machine with embedded
// parts (see `make run`). Ctrl-C stops everything in order.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/havenhealth/haven/platform/devstack/internal/stack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "devstack: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	exe, _ := os.Executable()
	defaultBin := filepath.Dir(exe)
	var o stack.Options
	flag.StringVar(&o.RouterAddr, "addr", envOr("HAVEN_DEVSTACK_ADDR", "127.0.0.1:8080"), "address the router listens on (env HAVEN_DEVSTACK_ADDR)")
	flag.StringVar(&o.DataDir, "data", envOr("HAVEN_DEVSTACK_DATA", ".haven"), "directory holding every region's data (env HAVEN_DEVSTACK_DATA)")
	flag.StringVar(&o.BinDir, "bin", defaultBin, "directory holding the router and service binaries")
	flag.StringVar(&o.TemporalBin, "temporal", filepath.Join(defaultBin, "temporal"), "Temporal CLI binary")
	flag.BoolVar(&o.RandomPorts, "random-ports", false, "give every part a free port (the router too) instead of the fixed layout")
	flag.IntVar(&o.SignupPerMinute, "signup-limit", 60, "sign-ups the router allows per client IP per minute")
	flag.DurationVar(&o.ClosureGrace, "closure-grace", 2*time.Minute, "time between a clinic closure request and the destruction of its key")
	verbose := flag.Bool("v", false, "log each part as it starts")
	flag.Parse()

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	fmt.Println("Starting Haven: 4 regions × 6 services, Temporal, Kafka and Redis per region, and the router…")
	s, err := stack.Start(ctx, o)
	if err != nil {
		return err
	}
	defer func() {
		fmt.Println("Stopping Haven…")
		s.Stop()
		fmt.Println("Stopped.")
	}()

	m := s.Manifest
	fmt.Printf("\nHaven is running.\n\n  Router:  %s   (try: curl %s/healthz)\n  Data:    %s\n\n", m.RouterURL, m.RouterURL, filepath.Dir(m.GlobalDir))
	names := make([]string, 0, len(m.Regions))
	for n := range m.Regions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r := m.Regions[n]
		fmt.Printf("  %-9s identity %s  kafka %s  redis %s  temporal %s  vault %s  data %s\n",
			n, r.Services["identity"], r.Kafka, r.Redis, r.Temporal, r.Vault, r.Dir)
	}
	fmt.Printf("\nLogs are under each region's logs/ directory. Press Ctrl-C to stop.\n")

	select {
	case <-ctx.Done():
	case name := <-s.Exited():
		return fmt.Errorf("%s exited unexpectedly; see its log under %s", name, filepath.Dir(m.GlobalDir))
	}
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
