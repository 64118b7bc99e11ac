// Command scheduling serves a region's practitioners, locations, treatments, availability and appointments.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
	_ "time/tzdata" // IANA zones must resolve in a distroless image too

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/havenhealth/haven/libs/httpserver"
	"github.com/havenhealth/haven/libs/messagingclient"
	"github.com/havenhealth/haven/libs/service"
	"github.com/havenhealth/haven/libs/temporalcodec"
	"github.com/havenhealth/haven/services/scheduling/internal/app"
	"github.com/havenhealth/haven/services/scheduling/internal/events"
	"github.com/havenhealth/haven/services/scheduling/internal/httpapi"
	"github.com/havenhealth/haven/services/scheduling/internal/store"
	"github.com/havenhealth/haven/services/scheduling/internal/workflows"
	"github.com/havenhealth/haven/services/scheduling/migrations"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { service.Main(newSpec()) }

func newSpec() service.Spec {
	return service.Spec{Name: "scheduling", Version: version, Migrations: migrations.FS, Register: register}
}

// syncEvery is how often bookings whose reminder workflow could not be
// told at once are retried.
const syncEvery = time.Minute

func register(ctx context.Context, d service.Deps, mux httpserver.Routes) ([]io.Closer, error) {
	api := &httpapi.API{Authenticated: d.Authenticated, Logger: d.Logger}
	defer api.Register(mux)
	if d.DB == nil {
		return nil, nil
	}
	st := store.New(d.DB)
	deps := app.Deps{Store: st, Region: string(d.Region), Crypter: d.Crypter, Logger: d.Logger}
	var closers []io.Closer
	// Reminders need the region's Temporal and Vault (the workflow payloads
	// are sealed under the region's key) and messaging to send through.
	var a *app.App
	if d.Config.Temporal.Address != "" && d.Crypter != nil {
		sched, more, err := startReminders(ctx, d, st, func(ctx context.Context, clinicID string) (workflows.ReminderSettings, error) {
			offsets, channels, tz, err := a.ReminderSettings(ctx, clinicID)
			return workflows.ReminderSettings{Offsets: offsets, Channels: channels, TimeZone: tz}, err
		})
		closers = append(closers, more...)
		if err != nil {
			return closers, err
		}
		deps.Reminders = sched
	} else {
		d.Logger.Warn("reminders disabled: HAVEN_TEMPORAL_ADDRESS or HAVEN_VAULT_ADDR is not set")
	}
	a = app.New(deps)
	api.App = a
	if deps.Reminders != nil {
		closers = append(closers, service.Every(context.WithoutCancel(ctx), syncEvery, func(ctx context.Context) { _ = a.SyncReminders(ctx) }))
	}
	if brokers := d.Config.Kafka.BrokerList(); len(brokers) > 0 {
		closers = append(closers, events.StartChartConsumer(context.WithoutCancel(ctx), brokers, string(d.Region), a, d.Logger))
	}
	return closers, nil
}

// startReminders connects to the region's Temporal namespace with payloads
// sealed under the region's key and starts the reminder worker. The
// closers it returns stop the worker, then the client.
func startReminders(ctx context.Context, d service.Deps, st *store.Store,
	settings func(context.Context, string) (workflows.ReminderSettings, error)) (*workflows.Scheduler, []io.Closer, error) {
	// The region key is created by whoever may create transit keys: here
	// when scheduling's Vault role allows it (devstack), else by an operator
	// (README: "Deploying a region").
	if err := temporalcodec.CreateRegionKey(ctx, d.Keys, d.Region); err != nil {
		d.Logger.Info("region key for workflow payloads not created here; expecting it to exist", slog.String("error", err.Error()))
	}
	codec, err := temporalcodec.New(d.Crypter, d.Region, temporalcodec.Options{})
	if err != nil {
		return nil, nil, err
	}
	if err := codec.Prepare(ctx); err != nil {
		return nil, nil, fmt.Errorf("workflow payload key: %w", err)
	}
	c, err := workflows.Dial(ctx, d.Config.Temporal, codec, d.Logger)
	if err != nil {
		return nil, nil, err
	}
	closers := []io.Closer{closeFunc(func() error { c.Close(); return nil })}
	if d.Config.MessagingURL == "" {
		return nil, closers, errors.New("reminders need HAVEN_MESSAGING_URL")
	}
	sender := &messagingclient.Client{BaseURL: d.Config.MessagingURL, Secret: d.EdgeSecret, Region: string(d.Region),
		HTTP: &http.Client{Timeout: 15 * time.Second, Transport: otelhttp.NewTransport(http.DefaultTransport)}}
	w, err := workflows.StartWorker(c, workflows.WorkerDeps{Appointments: st, Sender: sender, Logger: d.Logger})
	if err != nil {
		return nil, closers, err
	}
	return &workflows.Scheduler{Client: c, Settings: settings}, append(closers, w), nil
}

type closeFunc func() error

func (f closeFunc) Close() error { return f() }
