// Command scheduling serves a region's practitioners, locations, treatments, availability and appointments.
package main

import (
	_ "time/tzdata" // IANA zones must resolve in a distroless image too

	"github.com/havenhealth/haven/libs/service"
	"github.com/havenhealth/haven/services/scheduling/migrations"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { service.Main(newSpec()) }

func newSpec() service.Spec {
	return service.Spec{Name: "scheduling", Version: version, Migrations: migrations.FS}
}
