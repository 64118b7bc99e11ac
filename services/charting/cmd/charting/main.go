// Command charting serves a region's patient profiles, intake forms and chart entries.
package main

import (
	_ "time/tzdata" // IANA zones must resolve in a distroless image too

	"github.com/havenhealth/haven/libs/service"
	"github.com/havenhealth/haven/services/charting/migrations"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { service.Main(newSpec()) }

func newSpec() service.Spec {
	return service.Spec{Name: "charting", Version: version, Migrations: migrations.FS}
}
