// Command scheduling serves a region's practitioners, locations, treatments, availability and appointments.
package main

import (
	"context"
	"io"
	_ "time/tzdata" // IANA zones must resolve in a distroless image too

	"github.com/havenhealth/haven/libs/httpserver"
	"github.com/havenhealth/haven/libs/service"
	"github.com/havenhealth/haven/services/scheduling/internal/app"
	"github.com/havenhealth/haven/services/scheduling/internal/httpapi"
	"github.com/havenhealth/haven/services/scheduling/internal/store"
	"github.com/havenhealth/haven/services/scheduling/migrations"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { service.Main(newSpec()) }

func newSpec() service.Spec {
	return service.Spec{Name: "scheduling", Version: version, Migrations: migrations.FS, Register: register}
}

func register(_ context.Context, d service.Deps, mux httpserver.Routes) ([]io.Closer, error) {
	api := &httpapi.API{Authenticated: d.Authenticated, Logger: d.Logger}
	if d.DB != nil {
		api.App = app.New(app.Deps{Store: store.New(d.DB), Region: string(d.Region), Crypter: d.Crypter, Logger: d.Logger})
	}
	api.Register(mux)
	return nil, nil
}
