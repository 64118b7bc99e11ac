// Command router is Haven's public edge: sign-up, the global clinic
// directory, and the residency proxy that forwards each clinic's requests
// to its home region only.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // sign-up validates IANA zones, in a distroless image too

	"github.com/go-redis/redis_rate/v10"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/havenhealth/haven/libs/authn"
	"github.com/havenhealth/haven/libs/config"
	"github.com/havenhealth/haven/libs/httpserver"
	"github.com/havenhealth/haven/libs/provisioning"
	"github.com/havenhealth/haven/libs/redisclient"
	"github.com/havenhealth/haven/libs/residency"
	"github.com/havenhealth/haven/libs/service"
	"github.com/havenhealth/haven/libs/store"
	"github.com/havenhealth/haven/libs/telemetry"
	"github.com/havenhealth/haven/platform/router/internal/directory"
	"github.com/havenhealth/haven/platform/router/internal/httpapi"
	"github.com/havenhealth/haven/platform/router/internal/signup"
	"github.com/havenhealth/haven/platform/router/internal/upstreams"
	"github.com/havenhealth/haven/platform/router/migrations"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Config is the router's configuration (HAVEN_* variables; --help lists them).
type Config struct {
	HTTP     config.HTTP
	Database config.Database
	Redis    struct {
		URL      string `conf:"required,help:redis://host:6379/0 for rate limits"`
		Password string `conf:"mask"`
	}
	Upstreams       string        `conf:"required,help:comma-separated region/service=url for all four regions and six services"`
	EdgeSecrets     string        `conf:"required,mask,help:comma-separated region=secret; each region's services verify it"`
	SignupPerMinute int           `conf:"default:10,help:sign-ups allowed per client IP per minute"`
	TrustedProxies  string        `conf:"help:CIDRs of load balancers whose X-Forwarded-For is trusted"`
	ReconcileEvery  time.Duration `conf:"default:1m,help:how often half-made sign-ups are undone"`
	PublicURL       string        `conf:"default:http://localhost:8080,help:this router's public base URL; each region's token issuer is PUBLIC_URL/r/REGION"`
	Log             config.Log
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "router: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	var cfg Config
	if done, err := config.LoadOrHelp(&cfg); done || err != nil {
		return err
	}
	ups, err := upstreams.Parse(cfg.Upstreams, cfg.EdgeSecrets, httpapi.Services)
	if err != nil {
		return err
	}
	trusted, err := upstreams.ParsePrefixes(config.List(cfg.TrustedProxies))
	if err != nil {
		return err
	}

	tel, err := telemetry.Setup(ctx, telemetry.Options{Service: "router", Version: version, LogLevel: cfg.Log.Level})
	if err != nil {
		return err
	}
	log := tel.Logger
	defer tel.Close()
	log.Info("starting", slog.String("version", version), slog.String("config", config.String(&cfg)))

	db, err := store.Open(ctx, cfg.Database.URL, store.Options{Logger: log, Migrations: migrations.FS})
	if err != nil {
		return fmt.Errorf("directory store: %w", err)
	}
	defer func() { _ = db.Close() }()
	rdb, err := redisclient.Open(ctx, cfg.Redis.URL, cfg.Redis.Password)
	if err != nil {
		return err
	}
	defer func() { _ = rdb.Close() }()

	dir := directory.New(db)
	// Traced, so a sign-up shows as one trace from the router into the region.
	upstreamClient := &http.Client{Timeout: 20 * time.Second, Transport: otelhttp.NewTransport(http.DefaultTransport)}
	regions := map[residency.Region]signup.Region{}
	verifiers := map[residency.Region]*authn.Verifier{}
	for region, svcs := range ups {
		id := svcs["identity"]
		regions[region] = &provisioning.Client{BaseURL: id.URL.String(), Region: string(region), Secret: id.Secret, HTTP: upstreamClient}
		verifiers[region] = &authn.Verifier{
			Issuer: strings.TrimSuffix(cfg.PublicURL, "/") + "/r/" + string(region),
			Keys:   &authn.JWKSCache{URL: strings.TrimSuffix(id.URL.String(), "/") + "/.well-known/jwks.json", HTTP: upstreamClient},
		}
	}
	signups := &signup.Service{Directory: dir, Regions: regions, Logger: log, StaleAfter: 2 * time.Minute, KeyTTL: 24 * time.Hour}
	api := &httpapi.API{
		SignUp: signups, Directory: dir, Upstreams: ups,
		Limiter: redis_rate.NewLimiter(rdb), SignupLimit: redis_rate.PerMinute(cfg.SignupPerMinute), LimitPrefix: "haven:router:",
		TrustedProxies: trusted, Logger: log, Verifiers: verifiers,
	}
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httpserver.New(mux, httpserver.Options{
		HTTP: cfg.HTTP, Logger: log, TracerProvider: tel.TracerProvider, Propagator: tel.Propagator,
		Checks: []httpserver.Check{
			{Name: "directory", Func: dir.Ping},
			{Name: "redis", Func: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }},
		},
	})

	reconciler := service.Every(ctx, cfg.ReconcileEvery, func(ctx context.Context) {
		if err := signups.Reconcile(ctx); err != nil && ctx.Err() == nil {
			log.Warn("reconcile sign-ups and closures", slog.String("error", err.Error()))
		}
	})

	err = srv.Run(ctx)
	_ = reconciler.Close()
	log.Info("stopped")
	return err
}
