// Command vaultdev runs the devstack's dev-only stand-in for Vault (the
// transit engine behind Vault's HTTP API) by hand:
//
//	vaultdev -addr 127.0.0.1:8200 -dir ./.vaultdev -token dev-root
//	VAULT_ADDR=http://127.0.0.1:8200 VAULT_TOKEN=dev-root vault write -f transit/keys/demo
//
// Never point anything real at it: keys are stored unencrypted.
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/havenhealth/haven/platform/vaultdev"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(context.Background(), log, os.Args[1:]); err != nil {
		log.Error("vaultdev", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("vaultdev", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8200", "address to listen on")
	dir := fs.String("dir", ".vaultdev", "storage directory (created if missing)")
	token := fs.String("token", os.Getenv("VAULTDEV_TOKEN"), "the accepted X-Vault-Token (default $VAULTDEV_TOKEN)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *token == "" {
		return errors.New("a token is required: -token or VAULTDEV_TOKEN")
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	srv, err := vaultdev.Start(ctx, vaultdev.Options{Addr: *addr, Dir: *dir, Token: *token, Logger: log})
	if err != nil {
		return err
	}
	log.Info("vaultdev: ready", "VAULT_ADDR", srv.URL())

	<-ctx.Done()
	log.Info("vaultdev: shutting down")
	return srv.Close()
}
