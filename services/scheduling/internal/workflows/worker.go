package workflows

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/havenhealth/haven/libs/config"
	"github.com/havenhealth/haven/libs/temporalcodec"
)

// Dial connects to the region's Temporal namespace with everything
// scheduling's clients and workers need: payloads and failure messages
// sealed by codec, OpenTelemetry tracing of starts, signals, workflows and
// activities (the global tracer provider, as libs/telemetry sets it), and
// the SDK's logs through logger.
func Dial(ctx context.Context, cfg config.Temporal, codec *temporalcodec.Codec, logger *slog.Logger) (client.Client, error) {
	if cfg.Address == "" || cfg.Namespace == "" {
		return nil, errors.New("temporal: address and namespace are required")
	}
	if codec == nil {
		return nil, errors.New("temporal: a payload codec is required")
	}
	tracing, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{})
	if err != nil {
		return nil, fmt.Errorf("temporal tracing: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c, err := client.DialContext(ctx, client.Options{
		HostPort:         cfg.Address,
		Namespace:        cfg.Namespace,
		DataConverter:    codec.DataConverter(),
		FailureConverter: codec.FailureConverter(),
		Interceptors:     []interceptor.ClientInterceptor{tracing},
		Logger:           tlog.NewStructuredLogger(logger.With(slog.String("component", "temporal"))),
	})
	if err != nil {
		return nil, fmt.Errorf("temporal %s namespace %s: %w", cfg.Address, cfg.Namespace, err)
	}
	return c, nil
}

// WorkerDeps are what the reminder worker needs.
type WorkerDeps struct {
	Appointments Appointments
	Sender       Sender
	// Logger receives the activities' logs (ids only). Nil discards.
	Logger *slog.Logger
	// TaskQueue defaults to [TaskQueue].
	TaskQueue string
	// StopTimeout is how long Close lets running activities finish.
	// Default 10 seconds.
	StopTimeout time.Duration
}

// StartWorker registers the reminder workflow and its activities on the
// task queue and starts polling. Close stops it: no new tasks are taken,
// running activities get StopTimeout to finish, and a reminder whose timer
// fires meanwhile is picked up by the next worker. Close the worker before
// the client.
func StartWorker(c client.Client, d WorkerDeps) (io.Closer, error) {
	if c == nil || d.Appointments == nil || d.Sender == nil {
		return nil, errors.New("reminder worker: client, appointments and sender are required")
	}
	tq := d.TaskQueue
	if tq == "" {
		tq = TaskQueue
	}
	if d.StopTimeout <= 0 {
		d.StopTimeout = 10 * time.Second
	}
	w := worker.New(c, tq, worker.Options{WorkerStopTimeout: d.StopTimeout})
	w.RegisterWorkflowWithOptions(Reminder, workflow.RegisterOptions{Name: WorkflowName})
	w.RegisterActivity(&Activities{Appointments: d.Appointments, Sender: d.Sender, Logger: d.Logger})
	if err := w.Start(); err != nil {
		return nil, fmt.Errorf("start reminder worker on %s: %w", tq, err)
	}
	return &stopper{stop: w.Stop}, nil
}

// stopper closes a worker once.
type stopper struct {
	once sync.Once
	stop func()
}

// Close stops the worker and waits for it.
func (s *stopper) Close() error {
	s.once.Do(s.stop)
	return nil
}
