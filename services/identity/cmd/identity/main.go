// Command identity serves a region's clinics, accounts, sign-in, sessions
// and token signing keys.
package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"
	_ "time/tzdata" // IANA zones must resolve in a distroless image too

	"github.com/go-redis/redis_rate/v10"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/havenhealth/haven/libs/authn"
	"github.com/havenhealth/haven/libs/httpserver"
	"github.com/havenhealth/haven/libs/messagingclient"
	"github.com/havenhealth/haven/libs/service"
	"github.com/havenhealth/haven/services/identity/internal/app"
	"github.com/havenhealth/haven/services/identity/internal/charting"
	"github.com/havenhealth/haven/services/identity/internal/domain"
	"github.com/havenhealth/haven/services/identity/internal/httpapi"
	"github.com/havenhealth/haven/services/identity/internal/mfa"
	"github.com/havenhealth/haven/services/identity/internal/notify"
	"github.com/havenhealth/haven/services/identity/internal/store"
	"github.com/havenhealth/haven/services/identity/migrations"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { service.Main(newSpec()) }

func newSpec() service.Spec {
	return service.Spec{Name: "identity", Version: version, Migrations: migrations.FS, Register: register}
}

func register(ctx context.Context, d service.Deps, mux httpserver.Routes) ([]io.Closer, error) {
	appDeps := app.Deps{
		Region: d.Region, Issuer: d.Config.Issuer(), PublicURL: d.Config.PublicURL,
		CodeKey: deriveKey(d.EdgeSecret, "identity two-step codes"), Logger: d.Logger,
		ClosureGrace: d.Config.Closure.Grace,
	}
	if d.Sessions != nil {
		appDeps.Sessions = d.Sessions
	}
	if d.Redis != nil {
		appDeps.Lockout = &store.Lockout{Redis: d.Redis, Prefix: service.SessionPrefix}
	}
	// Messages go through the region's messaging service; the devstack's
	// outbox is the fallback where there is none.
	switch {
	case d.Config.MessagingURL != "":
		appDeps.Notifier = &notify.Messaging{Client: &messagingclient.Client{BaseURL: d.Config.MessagingURL, Secret: d.EdgeSecret,
			Region: string(d.Region), HTTP: peerClient()}}
	case d.Config.Dev.Outbox != "":
		appDeps.Notifier = &notify.Outbox{Dir: d.Config.Dev.Outbox}
	}
	// Patients' own sign-ups create their profile in the region's charting.
	if d.Config.ChartingURL != "" {
		appDeps.Profiles = &charting.Client{BaseURL: d.Config.ChartingURL, Secret: d.EdgeSecret, Region: string(d.Region), HTTP: peerClient()}
	}
	if u, err := url.Parse(d.Config.PublicURL); err == nil && u.Hostname() != "" {
		w, err := mfa.NewWebAuthn(u.Hostname(), "Haven", []string{u.Scheme + "://" + u.Host})
		if err != nil {
			d.Logger.Warn("passkeys disabled", slog.String("error", err.Error()))
		} else {
			appDeps.WebAuthn = w
		}
	}
	api := &httpapi.API{Region: string(d.Region), Secret: d.EdgeSecret, Auth: d.Auth, Logger: d.Logger}
	if d.DB != nil && d.Auth != nil {
		// Identity verifies tokens against its own keys, not its own JWKS
		// over the network.
		api.Auth = &authn.Authenticator{Verifier: &authn.Verifier{Issuer: d.Config.Issuer()}, Sessions: d.Sessions, Logger: d.Logger}
	}
	if d.DB != nil {
		if d.Crypter == nil {
			return nil, fmt.Errorf("identity stores personal data only encrypted: set HAVEN_VAULT_ADDR")
		}
		appDeps.Store = store.New(d.DB, d.Crypter)
		appDeps.Keys, appDeps.Crypter = d.Keys, d.Crypter
		a := app.New(appDeps)
		if err := a.LoadKeys(ctx); err != nil {
			return nil, err
		}
		api.App = a
		if api.Auth != nil {
			api.Auth.Verifier.Keys = a.KeySource()
			refresh := *api.Auth.Verifier
			refresh.Leeway = domain.MaxSessionLifetime
			api.RefreshAuth = &authn.Authenticator{Verifier: &refresh, Sessions: d.Sessions, Logger: d.Logger}
		}
	}
	if d.Redis != nil {
		api.Limiter, api.SignInLimit, api.LimitPrefix = redis_rate.NewLimiter(d.Redis), redis_rate.PerMinute(d.Config.SignInPerMinute), service.SessionPrefix
	}
	api.Register(mux)
	if api.App == nil {
		return nil, nil
	}
	return []io.Closer{service.Every(ctx, d.Config.Closure.CheckEvery, func(ctx context.Context) {
		if err := api.App.CloseDue(ctx); err != nil {
			d.Logger.Error("carrying out due clinic closures", slog.String("error", err.Error()))
		}
	})}, nil
}

// peerClient calls the region's other services, traced.
func peerClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: otelhttp.NewTransport(http.DefaultTransport)}
}

// deriveKey derives a purpose-bound key from the region's edge secret, so a
// server-side key exists without another secret to provision.
func deriveKey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}
