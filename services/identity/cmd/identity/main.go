// Command identity serves a region's clinics, accounts and sign-in.
package main

import (
	"context"
	"io"
	_ "time/tzdata" // IANA zones must resolve in a distroless image too

	"github.com/havenhealth/haven/libs/httpserver"
	"github.com/havenhealth/haven/libs/service"
	"github.com/havenhealth/haven/services/identity/internal/app"
	"github.com/havenhealth/haven/services/identity/internal/httpapi"
	"github.com/havenhealth/haven/services/identity/internal/store"
	"github.com/havenhealth/haven/services/identity/migrations"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { service.Main(newSpec()) }

func newSpec() service.Spec {
	return service.Spec{
		Name:       "identity",
		Version:    version,
		Migrations: migrations.FS,
		Register: func(_ context.Context, d service.Deps, mux httpserver.Routes) ([]io.Closer, error) {
			api := &httpapi.API{
				App:    app.New(store.New(d.DB), d.Region, nil),
				Region: string(d.Region),
				Secret: d.EdgeSecret,
				Logger: d.Logger,
			}
			api.Register(mux)
			return nil, nil
		},
	}
}
