// Command audit keeps a region's tamper-evident activity log: it consumes the
// region's audit topic into a per-clinic hash chain sealed by signed digests,
// and serves the activity report and integrity check.
package main

import (
	"context"
	"io"
	"log/slog"
	_ "time/tzdata" // IANA zones must resolve in a distroless image too

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/httpserver"
	"github.com/havenhealth/haven/libs/service"
	"github.com/havenhealth/haven/libs/vaultclient"
	"github.com/havenhealth/haven/services/audit/internal/consumer"
	"github.com/havenhealth/haven/services/audit/internal/httpapi"
	"github.com/havenhealth/haven/services/audit/internal/signing"
	"github.com/havenhealth/haven/services/audit/internal/store"
	"github.com/havenhealth/haven/services/audit/migrations"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { service.Main(newSpec()) }

func newSpec() service.Spec {
	return service.Spec{
		Name: "audit", Version: version, Register: register,
		Migrations: migrations.FS, SQLitePageSize: migrations.SQLitePageSize,
	}
}

// register adds the report routes, starts the periodic digests and, when
// Kafka is configured, the consumer of the region's audit topic; workers
// stop after the HTTP server has drained.
func register(ctx context.Context, d service.Deps, mux httpserver.Routes) ([]io.Closer, error) {
	if d.DB == nil { // route listing
		(&httpapi.API{Region: string(d.Region), Authenticated: d.Authenticated}).Register(mux)
		return nil, nil
	}
	chain := store.New(d.DB)
	if d.Config.Vault.Addr != "" {
		vc, err := vaultclient.Open(ctx, d.Config.Vault)
		if err != nil {
			return nil, err
		}
		sg := signing.NewVault(&vaultclient.Signer{Client: vc, Mount: d.Config.Vault.Mount, Key: signing.Key})
		if err := sg.Ensure(ctx); err != nil {
			return nil, err
		}
		chain.WithSigner(sg)
	} else {
		d.Logger.Warn("no Vault configured: audit digests are signed with a key kept in the audit database (development only)")
	}
	(&httpapi.API{
		Chain: chain, Region: string(d.Region), Outbox: d.DB, Crypter: d.Crypter, Logger: d.Logger,
		Authenticated: d.Authenticated, EdgeSecret: d.EdgeSecret,
	}).Register(mux)

	closers := []io.Closer{service.Every(ctx, d.Config.Audit.DigestEvery, func(ctx context.Context) { digestGrown(ctx, chain, d.Logger) })}
	if brokers := d.Config.Kafka.BrokerList(); len(brokers) > 0 {
		c := &consumer.Consumer{
			Reader: consumer.NewReader(brokers, audit.Topic(string(d.Region)), "haven-audit"),
			Store:  chain, Region: string(d.Region), Logger: d.Logger, Parallel: consumer.ParallelFor(d.DB),
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.Run(runCtx)
		}()
		closers = append(closers, closer(func() error { cancel(); <-done; return c.Reader.Close() }))
	}
	return closers, nil
}

// digestGrown signs a digest for every clinic whose chain grew since its
// last digest.
func digestGrown(ctx context.Context, chain *store.Store, log *slog.Logger) {
	ids, err := chain.Stale(ctx)
	if err != nil {
		log.WarnContext(ctx, "audit digests: listing clinics failed", slog.String("error", err.Error()))
		return
	}
	for _, id := range ids {
		if _, err := chain.Digest(ctx, id); err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "audit digest failed", slog.String("clinic_id", id), slog.String("error", err.Error()))
		}
	}
}

type closer func() error

func (f closer) Close() error { return f() }
