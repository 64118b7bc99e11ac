// Command audit serves a region's the tamper-evident activity log.
package main

import (
	_ "time/tzdata" // IANA zones must resolve in a distroless image too

	"github.com/havenhealth/haven/libs/service"
	"github.com/havenhealth/haven/services/audit/migrations"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { service.Main(newSpec()) }

func newSpec() service.Spec {
	return service.Spec{Name: "audit", Version: version, Migrations: migrations.FS}
}
