// Command audit keeps a region's tamper-evident activity log: it consumes the
// region's audit topic into a per-clinic hash chain sealed by signed digests.
package main

import (
	"context"
	"io"
	_ "time/tzdata" // IANA zones must resolve in a distroless image too

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/httpserver"
	"github.com/havenhealth/haven/libs/service"
	"github.com/havenhealth/haven/services/audit/internal/consumer"
	"github.com/havenhealth/haven/services/audit/internal/store"
	"github.com/havenhealth/haven/services/audit/migrations"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { service.Main(newSpec()) }

func newSpec() service.Spec {
	return service.Spec{Name: "audit", Version: version, Migrations: migrations.FS, Register: register}
}

// register starts the consumer of the region's audit topic when Kafka is
// configured; it stops after the HTTP server has drained.
func register(ctx context.Context, d service.Deps, _ httpserver.Routes) ([]io.Closer, error) {
	brokers := d.Config.Kafka.BrokerList()
	if d.DB == nil || len(brokers) == 0 {
		return nil, nil
	}
	c := &consumer.Consumer{
		Reader: consumer.NewReader(brokers, audit.Topic(string(d.Region)), "haven-audit"),
		Store:  store.New(d.DB), Region: string(d.Region), Logger: d.Logger,
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(runCtx)
	}()
	return []io.Closer{closer(func() error { cancel(); <-done; return c.Reader.Close() })}, nil
}

type closer func() error

func (f closer) Close() error { return f() }
