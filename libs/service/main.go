package service

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/havenhealth/haven/libs/config"
)

// Main is the whole main() of a service that needs no configuration beyond
// config.Service: it loads the environment, runs until SIGINT or SIGTERM,
// and exits non-zero on failure.
func Main(spec Spec) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, spec)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", spec.Name, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, spec Spec) error {
	var cfg config.Service
	if done, err := config.LoadOrHelp(&cfg); done || err != nil {
		return err
	}
	if spec.Config != nil {
		if done, err := config.LoadOrHelp(spec.Config); done || err != nil {
			return err
		}
	}
	return Run(ctx, spec, cfg, nil)
}
