// Package service runs a regional Haven service the same way for all six:
// telemetry, store (opened and migrated), Redis, the HTTP server with its
// shared middleware and health endpoints, GET /v1/info, and an ordered
// shutdown (stop accepting → drain → close workers → close stores).
package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authn"
	"github.com/havenhealth/haven/libs/config"
	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/httpjson"
	"github.com/havenhealth/haven/libs/httpserver"
	"github.com/havenhealth/haven/libs/redisclient"
	"github.com/havenhealth/haven/libs/residency"
	"github.com/havenhealth/haven/libs/store"
	"github.com/havenhealth/haven/libs/telemetry"
	"github.com/havenhealth/haven/libs/vaultclient"
)

// Spec describes one service binary.
type Spec struct {
	Name       string // identity, scheduling, ...
	Version    string
	Migrations fs.FS
	// SQLitePageSize is the page size of the service's database when it is
	// a new embedded (SQLite) file; 0 means libs/store's default.
	SQLitePageSize int
	// Register adds the service's routes to mux. It may return closers for
	// workers it started; they run after the HTTP server has drained and
	// before the stores close.
	Register func(ctx context.Context, d Deps, mux httpserver.Routes) ([]io.Closer, error)
	// Config, when not nil, points to the service's own settings struct; it
	// is loaded from the same environment (prefix HAVEN_) before Run.
	Config any
	// LogOutput overrides where logs go (tests); stdout when nil.
	LogOutput io.Writer
}

// Deps are the dependencies every service gets.
type Deps struct {
	Config     config.Service
	Region     residency.Region
	EdgeSecret []byte
	Logger     *slog.Logger
	Telemetry  *telemetry.Telemetry
	DB         *store.DB
	// Redis is nil when HAVEN_REDIS_URL is empty.
	Redis *redis.Client
	// Sessions and Auth check bearer tokens against the region's JWKS and
	// the session store; nil without Redis.
	Sessions *authn.Sessions
	Auth     *authn.Authenticator
	// Keys and Crypter encrypt personal fields under each clinic's key in
	// the region's Vault; nil without HAVEN_VAULT_ADDR.
	Keys    fieldcrypt.Keys
	Crypter *fieldcrypt.Crypter
}

// SessionPrefix namespaces the session keys in the region's Redis; identity
// writes and every service reads them.
const SessionPrefix = "haven:"

// Authenticated wraps a clinic endpoint: router signature, then bearer
// token and live session. Without an authenticator it answers 503.
func (d Deps) Authenticated(h http.Handler) http.Handler {
	inner := authn.NotConfigured
	if d.Auth != nil {
		inner = d.Auth.Require(h)
	}
	return edgeauth.Require(d.EdgeSecret, string(d.Region), inner)
}

// Info is the body of GET /v1/info.
type Info struct {
	Service string `json:"service"`
	Region  string `json:"region"`
	Version string `json:"version"`
}

// registerBase adds the routes every service has.
func registerBase(mux httpserver.Routes, d Deps, info Info) {
	mux.HandleFunc("GET /v1/info", func(w http.ResponseWriter, _ *http.Request) { httpjson.Write(w, http.StatusOK, info) })
	mux.Handle("GET /v1/principal", d.Authenticated(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := authn.PrincipalFrom(r.Context())
		httpjson.Write(w, http.StatusOK, map[string]any{
			"clinic_id": p.ClinicID, "user_id": p.UserID, "session_id": p.SessionID, "role": p.Role, "grants": p.Grants,
		})
	})))
}

// Run starts the service and blocks until ctx is cancelled and everything
// has shut down. ready, when not nil, receives the bound address once the
// server accepts connections.
func Run(ctx context.Context, spec Spec, cfg config.Service, ready func(addr string)) (err error) {
	if err := cfg.Validate(); err != nil {
		return err
	}
	region, _ := residency.ParseRegion(cfg.Region)
	tel, err := telemetry.Setup(ctx, telemetry.Options{
		Service: spec.Name, Version: spec.Version, Region: cfg.Region, LogLevel: cfg.Log.Level, LogOutput: spec.LogOutput,
	})
	if err != nil {
		return err
	}
	log := tel.Logger
	defer tel.Close()
	log.Info("starting", slog.String("version", spec.Version), slog.String("config", config.String(&cfg)))

	db, err := store.Open(ctx, cfg.Database.URL, store.Options{Logger: log, Migrations: spec.Migrations, SQLitePageSize: spec.SQLitePageSize})
	if err != nil {
		return fmt.Errorf("%s store: %w", spec.Name, err)
	}
	defer func() {
		if cerr := db.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close store: %w", cerr))
		}
	}()

	checks := []httpserver.Check{{Name: "database", Func: db.Ping}}
	var rdb *redis.Client
	if cfg.Redis.URL != "" {
		rdb, err = redisclient.Open(ctx, cfg.Redis.URL, cfg.Redis.Password)
		if err != nil {
			return fmt.Errorf("%s redis: %w", spec.Name, err)
		}
		defer func() { _ = rdb.Close() }()
		checks = append(checks, httpserver.Check{Name: "redis", Func: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }})
	}

	deps := Deps{Config: cfg, Region: region, EdgeSecret: []byte(cfg.EdgeSecret), Logger: log, Telemetry: tel, DB: db, Redis: rdb}
	if rdb != nil {
		deps.Sessions = &authn.Sessions{Redis: rdb, Prefix: SessionPrefix}
		var keys authn.KeySource = authn.StaticKeys(nil)
		if cfg.IdentityURL != "" {
			keys = &authn.JWKSCache{URL: strings.TrimSuffix(cfg.IdentityURL, "/") + "/.well-known/jwks.json",
				HTTP: &http.Client{Timeout: 5 * time.Second, Transport: otelhttp.NewTransport(http.DefaultTransport)}}
		}
		deps.Auth = &authn.Authenticator{Verifier: &authn.Verifier{Issuer: cfg.Issuer(), Keys: keys}, Sessions: deps.Sessions, Logger: log}
	}
	// Every service keeps an audit outbox: events are written in the same
	// transaction as the change they record; the relay publishes them to
	// the region's audit topic when Kafka is configured.
	if err := audit.Migrate(ctx, db); err != nil {
		return fmt.Errorf("%s audit outbox: %w", spec.Name, err)
	}
	var relayStop io.Closer
	if brokers := cfg.Kafka.BrokerList(); len(brokers) > 0 {
		relay := &audit.Relay{DB: db, Writer: audit.NewWriter(brokers, audit.Topic(cfg.Region)), Logger: log}
		relayStop = runUntilClosed(context.WithoutCancel(ctx), relay.Run, closerFunc(func() error {
			// One last pass for what was recorded while the server drained;
			// anything left stays in the outbox for the next start.
			fctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			if _, err := relay.Flush(fctx); err != nil {
				log.Warn("audit relay: final flush incomplete; events stay in the outbox", slog.String("error", err.Error()))
			}
			return relay.Writer.Close()
		}))
	}
	if cfg.Vault.Addr != "" {
		vc, err := vaultclient.Open(ctx, cfg.Vault)
		if err != nil {
			return err
		}
		if err := fieldcrypt.Migrate(ctx, db); err != nil {
			return fmt.Errorf("%s field-encryption tables: %w", spec.Name, err)
		}
		fieldcrypt.RegisterSerializer()
		deps.Keys = fieldcrypt.NewVaultKeys(vc, cfg.Vault.Mount)
		deps.Crypter = fieldcrypt.New(deps.Keys, db, fieldcrypt.Options{})
	}
	mux := http.NewServeMux()
	registerBase(mux, deps, Info{Service: spec.Name, Region: cfg.Region, Version: spec.Version})
	var closers []io.Closer
	if relayStop != nil {
		closers = append(closers, relayStop) // closed last: flushes what the service recorded while draining
	}
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			if cerr := closers[i].Close(); cerr != nil {
				err = errors.Join(err, cerr)
			}
		}
	}()
	if spec.Register != nil {
		more, rerr := spec.Register(ctx, deps, mux)
		closers = append(closers, more...)
		if rerr != nil {
			return fmt.Errorf("%s setup: %w", spec.Name, rerr)
		}
	}

	srv := httpserver.New(mux, httpserver.Options{
		HTTP: cfg.HTTP, Logger: log, TracerProvider: tel.TracerProvider, Propagator: tel.Propagator, Checks: checks,
	})
	if err := srv.Listen(); err != nil {
		return err
	}
	if ready != nil {
		ready(srv.Addr())
	}
	if err := srv.Run(ctx); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// RegisterBase adds the routes every service shares to mux, for route
// listings such as the OpenAPI contract check.
func RegisterBase(mux httpserver.Routes) { registerBase(mux, Deps{}, Info{}) }
