// Command charting serves a region's patient profiles, intake forms and chart entries.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
	_ "time/tzdata" // IANA zones must resolve in a distroless image too

	"github.com/havenhealth/haven/libs/httpserver"
	"github.com/havenhealth/haven/libs/service"
	"github.com/havenhealth/haven/services/charting/internal/app"
	"github.com/havenhealth/haven/services/charting/internal/events"
	"github.com/havenhealth/haven/services/charting/internal/httpapi"
	"github.com/havenhealth/haven/services/charting/internal/store"
	"github.com/havenhealth/haven/services/charting/migrations"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// relayEvery is how often the events relay looks at the outbox.
const relayEvery = 200 * time.Millisecond

func main() { service.Main(newSpec()) }

func newSpec() service.Spec {
	return service.Spec{Name: "charting", Version: version, Migrations: migrations.FS, Register: register}
}

func register(ctx context.Context, d service.Deps, mux httpserver.Routes) ([]io.Closer, error) {
	api := &httpapi.API{Authenticated: d.Authenticated, Logger: d.Logger, EdgeSecret: d.EdgeSecret, Region: string(d.Region)}
	if d.DB != nil {
		if d.Crypter == nil {
			return nil, fmt.Errorf("charting stores patient data only encrypted: set HAVEN_VAULT_ADDR")
		}
		api.App = app.New(app.Deps{Store: store.New(d.DB, d.Crypter), Crypter: d.Crypter, Region: d.Region, Logger: d.Logger})
		api.Names = httpapi.IdentityNames{URL: d.Config.IdentityURL, Secret: d.EdgeSecret, Region: string(d.Region),
			Client: &http.Client{Timeout: 2 * time.Second}}
	}
	api.Register(mux)
	brokers := d.Config.Kafka.BrokerList()
	if d.DB == nil || len(brokers) == 0 {
		return nil, nil
	}
	// chart.signed and later facts for other services: the outbox is
	// written with each change; the relay publishes it.
	relay := &events.Relay{DB: d.DB, Writer: events.NewWriter(brokers, events.Topic(string(d.Region))), Logger: d.Logger}
	final := closer(func() error {
		// One last pass for what was written while the server drained; the
		// rest stays in the outbox for the next start.
		fctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		relay.Poll(fctx)
		return relay.Writer.Close()
	})
	// Closers run last to first: stop polling, then flush and close.
	return []io.Closer{final, service.Every(context.WithoutCancel(ctx), relayEvery, relay.Poll)}, nil
}

type closer func() error

func (f closer) Close() error { return f() }
